"""Running experiments and storing their results: atomic writes, confidence intervals over seeds,
decision-time measurements (the result store of the reproduction comes later)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import stats

from dnt._io import atomic_write, atomic_write_json

__all__ = [
    "atomic_write",
    "atomic_write_json",
    "mean_ci",
    "measure_decision_time",
    "reproduce",
    "training_summary",
    "twin_report",
]


# --------------------------------------------------------------------------------------------
# statistics over seeds


def mean_ci(
    values: np.ndarray, confidence: float = 0.95, seed: int = 0, n_resamples: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) with a percentile-bootstrap confidence interval.

    ``values`` (S, ...) one row per seed. Uses ``scipy.stats.bootstrap`` (seeded); with fewer
    than 2 seeds the interval collapses to the mean. Returns (mean, low, high).
    """
    v = np.asarray(values, dtype=float)
    mean = v.mean(axis=0)
    if v.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    if np.all(v == v[:1]):  # no spread: bootstrap is degenerate
        return mean, mean.copy(), mean.copy()
    res = stats.bootstrap(
        (v,),
        np.mean,
        axis=0,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low = np.where(np.isnan(res.confidence_interval.low), mean, res.confidence_interval.low)
    high = np.where(np.isnan(res.confidence_interval.high), mean, res.confidence_interval.high)
    return mean, low, high


# --------------------------------------------------------------------------------------------
# decision time per slot (Section IV-A, eqs. 25-26)


def measure_decision_time(
    users: tuple[int, ...] = (4, 6, 8, 10, 12),
    rbs: tuple[int, ...] = (6, 12, 18, 24),
    hidden: int = 128,
    repeats: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Wall time of one slot's decisions as U and N grow, next to the orders of eq. (25).

    For each U (N fixed at 12): the M Q-networks' forward pass with the full 2**(U+1) head (the
    cost eq. 25 counts, ``O(M theta^h (U + theta^h + |A|))``) and with only the available actions
    (what ``dnt.marl`` evaluates). For each N (U fixed at 12): Algorithm 1 with every covered
    user associated to its nearest BS (worst case ``O(sum_m |U^m|^2 N)``). Times are medians over
    ``repeats`` random slots, in milliseconds.
    """
    import torch

    from dnt.allocation import allocate
    from dnt.baselines import nearest_association
    from dnt.channel import coverage
    from dnt.config import SystemConfig
    from dnt.env import decode_actions
    from dnt.marl import QNetwork, feature_size
    from dnt.mobility import initial_positions

    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {"users": [], "rbs": [], "hidden": hidden, "repeats": repeats}

    def median_ms(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))

    for u in users:
        cfg = SystemConfig(num_users=u)
        net = QNetwork(cfg.num_bs, feature_size(cfg, True), hidden, cfg.num_actions)
        net.reset_parameters(gen)
        x = torch.zeros(cfg.num_bs, 1, feature_size(cfg, True))
        h = torch.zeros(cfg.num_bs, 1, hidden)
        pos = initial_positions(cfg, rng)
        cov = coverage(cfg, pos)

        def full_head(net=net, x=x, h=h, cfg=cfg):
            with torch.no_grad():
                hn = net.step(x, h)
                for m in range(cfg.num_bs):
                    net.q_all(hn[m], m).max()

        def available_only(net=net, x=x, h=h, cov=cov, cfg=cfg):
            with torch.no_grad():
                hn = net.step(x, h)
                net.q_max(hn[:, 0], np.arange(cfg.num_bs), cov)

        m_bs, a = cfg.num_bs, cfg.num_actions
        out["users"].append(
            {
                "U": u,
                "actions": a,
                "full_head_ms": median_ms(full_head),
                "available_ms": median_ms(available_only),
                "order_eq25_q": m_bs * hidden * (u + hidden + a),
            }
        )
    for n in rbs:
        cfg = SystemConfig(num_rbs=n)
        samples = []
        for _ in range(repeats):
            pos = initial_positions(cfg, rng)
            cov = coverage(cfg, pos)
            obs = {"state": pos[None], "coverage": cov[None]}
            sync, assoc = decode_actions(nearest_association(cfg, obs)[0] | 1, cfg.num_users)
            fading = rng.exponential(size=cfg.num_users)
            samples.append((pos, fading, assoc, sync))
        it = iter(samples * 2)

        def alloc(it=it, cfg=cfg):
            pos, fading, assoc, sync = next(it)
            allocate(cfg, pos, fading, assoc, sync)

        per_bs = np.array([s[2].sum(1) for s in samples])  # |U^m| per slot
        out["rbs"].append(
            {
                "N": n,
                "allocation_ms": median_ms(alloc),
                "order_eq25_hungarian": float((per_bs**2).sum(1).mean() * n),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# the reproduction of Section V: experiment specs, result store, parallel runner


FIGURES = ("fig2", "fig3", "fig4", "fig5", "fig6")
#: Fig. 4: epsilon values (the paper's axis is not given numerically; six values incl. 0.8).
EPS_VALUES = (0.1, 0.3, 0.5, 0.8, 0.9, 0.99)
#: Fig. 5: numbers of users (four values including 12).
USER_VALUES = (6, 8, 10, 12)
#: --quick: a budget for tests and CI (same pipeline, tiny training).
QUICK_TRAIN = {
    "epochs": 4,
    "hidden": 16,
    "envs_per_epoch": 4,
    "updates_per_epoch": 1,
    "batch_episodes": 4,
    "buffer_episodes": 64,
    "eval_episodes": 4,
    "eps_decay_epochs": 2,
}
QUICK_TWIN = {"hidden": 16, "max_epochs": 1}
QUICK_TWIN_TRAJ = 60


def code_version() -> str:
    """Package version and a hash of the library's source files (informational)."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("dnt")
    except PackageNotFoundError:  # running from a source tree
        v = "unknown"
    return f"{v}+{h.hexdigest()[:12]}"


def _hash(obj: Any) -> str:
    import hashlib
    import json

    blob = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def base_config(**changes: Any) -> Any:
    """The Section V scenario every figure starts from: the GRU twin, and eq. (16) read as
    "no user served twice" (``serve_condition="at_most_once"``): under the printed condition
    VDN learns only to serve nobody (see the training notes), which would make every
    comparison degenerate."""
    from dnt.config import SystemConfig

    return SystemConfig(twin_predictor="gru", serve_condition="at_most_once").replace(**changes)


class Cell:
    """One training run of the reproduction: (config, training settings, algorithm, seed)."""

    def __init__(self, cfg: Any, tc: Any, seed: int) -> None:
        self.cfg, self.tc, self.seed = cfg, tc, int(seed)

    @property
    def algo(self) -> str:
        return self.tc.algo

    def settings(self) -> dict[str, Any]:
        import dataclasses

        t = dataclasses.asdict(self.tc)
        t.pop("algo")
        return {"config": self.cfg.to_dict(), "train": t}

    def run_hash(self) -> str:
        """Content hash of the config and the training settings (the algorithm aside)."""
        return _hash(self.settings())

    def setting(self) -> str:
        """Everything but the seed: cells with the same setting can train side by side."""
        return f"{self.run_hash()}-{self.algo}"

    def filename(self) -> str:
        return f"{self.setting()}-seed{self.seed}.json"

    def __repr__(self) -> str:
        return f"Cell({self.cfg.config_hash()}, {self.algo}, seed={self.seed})"


def figure_configs(fig: str) -> list[Any]:
    """The system configs a figure needs (Section V settings)."""
    if fig == "fig3":
        return [base_config(epsilon=0.3, num_rbs=12)]
    if fig == "fig4":
        return [base_config(epsilon=e, num_rbs=9) for e in EPS_VALUES]
    if fig in ("fig5",):
        return [base_config(epsilon=0.25, num_rbs=12, num_users=u) for u in USER_VALUES]
    if fig == "fig6":
        return [base_config(epsilon=0.25, num_rbs=12, num_users=12)]
    if fig == "fig2":
        return []
    raise ValueError(f"figure {fig!r} unknown: must be one of {FIGURES}")


def train_config(algo: str, quick: bool, curve: bool = True) -> Any:
    """Training settings of the reproduction: the library defaults (or the quick budget);
    ``curve=False`` evaluates only after the last epoch (Figs. 4-6 use final figures only)."""
    from dnt.marl import TrainConfig

    tc = TrainConfig(algo=algo, **(QUICK_TRAIN if quick else {}))
    return tc if curve else tc.__class__(**{**tc.__dict__, "eval_every": tc.epochs})


#: Seeds of the training ablations (``reproduce ablations``, see :func:`ablation_cells`).
ABLATION_SEEDS = 2


def ablation_cells(seeds: int, quick: bool) -> dict[str, list[Cell]]:
    """The training ablations (not a paper figure) by name, at Fig. 3's settings: the printed
    reading of eq. (16) for both methods, VDN without the locally known extras, and VDN with the
    plain head; at most ``ABLATION_SEEDS`` seeds. The reference runs are Fig. 3's own cells."""
    import dataclasses

    n = min(seeds, ABLATION_SEEDS)
    cfg = figure_configs("fig3")[0]
    printed = cfg.replace(serve_condition="exactly_once")
    vdn = train_config("vdn", quick)
    return {
        "printed_reward": [
            Cell(printed, train_config(a, quick), s) for a in ("vdn", "iql") for s in range(n)
        ],
        "no_extras": [Cell(cfg, dataclasses.replace(vdn, extras=False), s) for s in range(n)],
        "plain_head": [Cell(cfg, dataclasses.replace(vdn, head="plain"), s) for s in range(n)],
    }


def figure_cells(fig: str, seeds: int, quick: bool) -> list[Cell]:
    if fig == "ablations":
        return [c for cells in ablation_cells(seeds, quick).values() for c in cells]
    return [
        Cell(cfg, train_config(algo, quick, curve=fig == "fig3"), s)
        for cfg in figure_configs(fig)
        for algo in ("vdn", "iql")
        for s in range(seeds)
    ]


class ResultStore:
    """Content-addressed results under ``root``: ``runs/``, ``baselines/``, ``twins/``, ``fig2/``.

    A run file holds its config, training settings, seed, code version and metrics; it is used
    only if the settings stored inside hash to its name and match the request, else redone.
    """

    def __init__(self, root: Any = "results") -> None:
        from pathlib import Path

        self.root = Path(root)

    @property
    def twins(self) -> Any:
        return self.root / "twins"

    def _load(self, path: Any) -> dict[str, Any] | None:
        import json

        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def run_path(self, cell: Cell) -> Any:
        return self.root / "runs" / cell.filename()

    def load_run(self, cell: Cell) -> dict[str, Any] | None:
        d = self._load(self.run_path(cell))
        if d is None:
            return None
        stored = {"config": d.get("config"), "train": d.get("train")}
        ok = (
            _hash(stored) == cell.run_hash()
            and stored == cell.settings()
            and d.get("algo") == cell.algo
            and d.get("seed") == cell.seed
            and "metrics" in d
        )
        return d if ok else None

    def save_run(self, cell: Cell, metrics: dict[str, Any]) -> None:
        data = {
            **cell.settings(),
            "algo": cell.algo,
            "seed": cell.seed,
            "code_version": code_version(),
            "metrics": metrics,
        }
        atomic_write_json(self.run_path(cell), data)

    def baseline_path(self, cfg: Any, episodes: int) -> Any:
        return self.root / "baselines" / f"{cfg.config_hash()}-ep{episodes}.json"

    def load_baselines(self, cfg: Any, episodes: int) -> dict[str, Any] | None:
        d = self._load(self.baseline_path(cfg, episodes))
        if d is None or d.get("config") != cfg.to_dict() or d.get("episodes") != episodes:
            return None
        return d

    def save_baselines(self, cfg: Any, episodes: int, results: dict[str, Any]) -> None:
        data = {
            "config": cfg.to_dict(),
            "episodes": episodes,
            "code_version": code_version(),
            "results": results,
        }
        atomic_write_json(self.baseline_path(cfg, episodes), data)


def _twin_settings(quick: bool) -> tuple[Any, int]:
    from dnt.twin import GRUTrainConfig

    return (GRUTrainConfig(**QUICK_TWIN), QUICK_TWIN_TRAJ) if quick else (GRUTrainConfig(), 2000)


def _twin_path(cfg: Any, store: ResultStore, quick: bool) -> Any:
    """Where the store keeps a scenario's twin: keyed by the scenario and the training settings."""
    import dataclasses

    from dnt.twin import twin_key

    tc, n_traj = _twin_settings(quick)
    return store.twins / f"gru-{twin_key(cfg)}-{_hash(dataclasses.asdict(tc))[:8]}-n{n_traj}.pt"


def _scenario_twin(cfg: Any, store: ResultStore, quick: bool) -> Any:
    """The scenario's GRU twin from the store (trained once per scenario when missing)."""
    from dnt._gru import GRUPredictor, train_gru
    from dnt.twin import make_twin_dataset

    tc, n_traj = _twin_settings(quick)
    path = _twin_path(cfg, store, quick)
    if path.exists():
        try:
            return GRUPredictor.load(path, cfg)
        except (ValueError, RuntimeError, OSError):
            pass  # a damaged or foreign file: retrain
    data = make_twin_dataset(cfg, 0, num_traj=n_traj)
    pred = train_gru(cfg, data, 0, tc, progress=False)
    atomic_write(path, pred.save)
    return pred


def run_cell(args: tuple[Cell, str, bool]) -> tuple[str, dict[str, Any]]:
    """Worker: train one cell in this process (one thread), return its metrics."""
    cell, root, quick = args
    return run_cells(([cell], root, quick))[0]


def run_cells(args: tuple[list[Cell], str, bool]) -> list[tuple[str, dict[str, Any]]]:
    """Worker: train cells that differ only by seed side by side in this process (one thread,
    :func:`dnt.marl.train_seeds`); each cell's metrics equal those of :func:`run_cell`."""
    import torch

    from dnt.marl import train_seeds

    cells, root, quick = args
    if len({c.setting() for c in cells}) != 1:
        raise ValueError("cells: run_cells takes cells that differ only by seed")
    first = cells[0]
    torch.set_num_threads(1)
    store = ResultStore(root)
    pred = _scenario_twin(first.cfg, store, quick) if first.cfg.twin_predictor == "gru" else None
    runs = train_seeds(first.cfg, first.tc, [c.seed for c in cells], predictor=pred, progress=False)
    trainer = runs[0]["trainer"]
    out = []
    for i, (c, m) in enumerate(zip(cells, runs, strict=True)):
        per_slot = trainer.final_records[i]["per_slot"]  # the last evaluation, (T, E)
        metrics = {
            "final": m["final"],
            "curve": trainer.curves[i],
            "train_wall_seconds": m["train_wall_seconds"],
            "episode0": {k: [row[0] for row in v] for k, v in per_slot.items()},
            "slot_mean": {k: np.mean(v, axis=1).tolist() for k, v in per_slot.items()},
        }
        out.append((c.filename(), metrics))
    return out


def _batches(cells: list[Cell], jobs: int) -> list[list[Cell]]:
    """Cells grouped by everything but the seed (one process trains a group side by side),
    largest work first; groups are halved while there are fewer groups than ``jobs``. A cell's
    numbers do not depend on its group, so the grouping only changes the time taken."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        groups.setdefault(c.setting(), []).append(c)
    out = list(groups.values())
    while len(out) < jobs and max(len(g) for g in out) > 1:
        big = max(out, key=len)
        out.remove(big)
        half = (len(big) + 1) // 2
        out += [big[:half], big[half:]]
    return sorted(out, key=lambda g: (-len(g) * g[0].cfg.num_users, g[0].filename()))


def _twin_job(args: tuple[Any, str, bool]) -> str:
    import torch

    cfg, root, quick = args
    torch.set_num_threads(1)
    _scenario_twin(cfg, ResultStore(root), quick)
    return cfg.config_hash()


def _fig2_data(store: ResultStore, quick: bool) -> dict[str, Any]:
    """Fig. 2 and the twin claims: the default scenario's GRU twin on its test split."""
    from dnt.plots import one_step_predictions
    from dnt.twin import (
        BayesPredictor,
        HoldLastPredictor,
        evaluate_predictors,
        make_twin_dataset,
        twin_key,
    )

    cfg = base_config()
    tc, n_traj = _twin_settings(quick)
    path = store.root / "fig2" / f"{twin_key(cfg)}-n{n_traj}-{_hash(str(tc))[:8]}.json"
    d = store._load(path)
    if d is not None and d.get("config") == cfg.to_dict():
        return d
    gru = _scenario_twin(cfg, store, quick)
    data = make_twin_dataset(cfg, 0, num_traj=n_traj)
    ev = evaluate_predictors(
        cfg, {"gru": gru, "hold_last": HoldLastPredictor(), "bayes": BayesPredictor(cfg)}, data.test
    )
    traj = data.test[0]
    pred = one_step_predictions(gru, traj, cfg.history_len)
    d = {
        "config": cfg.to_dict(),
        "code_version": code_version(),
        "evaluation": ev,
        "trajectory": traj.tolist(),
        "predicted": pred.tolist(),
        "users": [1, 3, 6],
        "users_mse": [float(((pred[:, u] - traj[1:, u]) ** 2).mean()) for u in (1, 3, 6)],
        "users_test_mse": [ev["one_step_per_user"]["gru"][u] for u in (1, 3, 6)],
    }
    atomic_write_json(path, d)
    return d


def reproduce(
    figs: tuple[str, ...] = FIGURES,
    seeds: int = 5,
    jobs: int | None = None,
    quick: bool = False,
    root: Any = None,
    progress: bool = True,
    draw: bool = True,
) -> dict[str, Any]:
    """Run what is missing for ``figs``, then draw them and write the claims table.

    Training runs go to a pool of ``jobs`` processes (default: the number of cores); the
    seeds of one cell train side by side in one process (:func:`run_cells`, same numbers as
    one process per seed, less time); results are read from and written to the store at
    ``root`` (default ``results`` or, with ``quick``, ``results/quick``). The claims table
    covers every figure whose runs are all in the store, not only ``figs``. ``draw=False``
    only fills the store. Returns a summary with the paths written.
    """
    import multiprocessing as mp
    import os
    from pathlib import Path

    from tqdm.auto import tqdm

    for f in figs:
        if f not in (*FIGURES, "ablations"):
            raise ValueError(
                f"figure {f!r} unknown: must be one of {FIGURES}, 'all' or 'ablations'"
            )
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} is invalid: must be an integer >= 1")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise ValueError(f"jobs={jobs!r} is invalid: must be an integer >= 1")
    root = Path(root) if root is not None else Path("results") / ("quick" if quick else "")
    store = ResultStore(root)
    start = time.perf_counter()
    cells = {c.filename(): c for f in figs for c in figure_cells(f, seeds, quick)}
    missing = [c for c in cells.values() if store.load_run(c) is None]
    configs = {c.cfg.config_hash(): c.cfg for c in cells.values()}
    if "fig2" in figs:
        configs.setdefault(base_config().config_hash(), base_config())
    ctx = mp.get_context("spawn")
    scenarios: dict[str, Any] = {}
    for cfg in configs.values():
        from dnt.twin import twin_key

        scenarios.setdefault(twin_key(cfg), cfg)
    with ctx.Pool(jobs) as pool:
        list(pool.imap_unordered(_twin_job, [(c, str(root), quick) for c in scenarios.values()]))
        bar = tqdm(total=len(missing), desc="training runs", unit="run", disable=not progress)
        work = [(g, str(root), quick) for g in _batches(missing, jobs)] if missing else []
        for done in pool.imap_unordered(run_cells, work):
            for name, metrics in done:
                store.save_run(cells[name], metrics)
                bar.update(1)
        bar.close()
        pool.close()  # let the workers exit on their own before the pool is torn down
        pool.join()
    out = {"root": str(root), "figures": [], "runs": len(cells), "trained_now": len(missing)}
    if draw:
        # the claims cover every figure the store can support, whatever was asked for now
        ready = [
            f
            for f in FIGURES
            if f in figs
            or (
                f == "fig2"
                and (store.root / "fig2").exists()
                and any((store.root / "fig2").glob("*.json"))
            )
            or (f != "fig2" and all(store.load_run(c) for c in figure_cells(f, seeds, quick)))
        ]
        cells = {c.filename(): c for f in ready for c in figure_cells(f, seeds, quick)}
        runs = {name: store.load_run(c) for name, c in cells.items()}
        base = _baselines(store, {c.cfg.config_hash(): c.cfg for c in cells.values()}, quick)
        fig2 = _fig2_data(store, quick) if "fig2" in ready else None
        written = draw_figures(figs, seeds, quick, runs, cells, base, fig2, root / "figures")
        out["figures"] = [str(p) for p in written]
        table = claims(seeds, quick, runs, cells, base, fig2, tuple(ready))
        atomic_write_json(root / "claims.json", table)
        atomic_write(root / "claims.md", lambda p: p.write_text(claims_markdown(table)))
        out["claims"] = [str(root / "claims.json"), str(root / "claims.md")]
    else:
        _baselines(store, configs, quick)
    out["seconds"] = time.perf_counter() - start
    return out


def _baselines(store: ResultStore, configs: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Baseline results per config hash, evaluated (and stored) when missing; deterministic,
    on the same evaluation episodes as the trained policies."""
    from dnt.baselines import baseline_policies, evaluate_policy

    episodes = train_config("vdn", quick).eval_episodes
    base: dict[str, Any] = {}
    for h, cfg in configs.items():
        d = store.load_baselines(cfg, episodes)
        if d is None:
            pred = _scenario_twin(cfg, store, quick)
            res = {
                name: evaluate_policy(cfg, pol, episodes=episodes, predictor=pred)
                for name, pol in baseline_policies(cfg).items()
            }
            store.save_baselines(cfg, episodes, res)
            d = store.load_baselines(cfg, episodes)
        base[h] = d["results"]
    return base


def _collect(
    fig: str, seeds: int, quick: bool, runs: dict[str, Any], cells: dict[str, Cell]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Stored metrics of a figure's cells: {algo: {config hash: [metrics per seed]}}."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"vdn": {}, "iql": {}}
    for c in figure_cells(fig, seeds, quick):
        m = runs[c.filename()]["metrics"]
        out[c.algo].setdefault(c.cfg.config_hash(), []).append(m)
    return out


def _sweep_arrays(fig: str, seeds: int, quick: bool, runs, cells, base):
    """(methods, baselines) arrays for Figs. 4 and 5: per-user DNT error and data rate."""
    cfgs = figure_configs(fig)
    col = _collect(fig, seeds, quick, runs, cells)
    methods = {}
    for algo, label in (("vdn", "VDN"), ("iql", "IQL")):
        err = np.array(
            [[m["final"]["dnt_error"] for m in col[algo][c.config_hash()]] for c in cfgs]
        ).T
        rate = np.array(
            [
                [m["final"]["sum_rate"] / c.num_users for m in col[algo][c.config_hash()]]
                for c in cfgs
            ]
        ).T
        methods[label] = {"dnt_error": err, "rate": rate}
    names = list(base[cfgs[0].config_hash()])
    baselines = {
        n: {
            "dnt_error": np.array([base[c.config_hash()][n]["dnt_error"] for c in cfgs]),
            "rate": np.array([base[c.config_hash()][n]["sum_rate"] / c.num_users for c in cfgs]),
        }
        for n in names
        if n != "random"
    }
    return methods, baselines


def draw_figures(figs, seeds, quick, runs, cells, base, fig2, folder) -> list[Any]:
    """Draw each requested figure to ``folder`` as PNG and PDF; returns the paths."""
    from dnt import plots

    written = []
    caption = f"{seeds} seeds{' (quick budget)' if quick else ''}"
    for fig in figs:
        if fig == "ablations":  # a table in the book, no figure
            continue
        if fig == "fig2":
            f = plots.figure2(
                np.array(fig2["trajectory"]),
                np.array(fig2["predicted"]),
                users=fig2["users"],
                title="Fig. 2: GRU twin, one-step predictions on a test trajectory",
            )
        elif fig == "fig3":
            col = _collect("fig3", seeds, quick, runs, cells)
            (h,) = col["vdn"]
            curves = {
                label: np.array([[r["eval_reward"] for r in m["curve"]] for m in col[a][h]])
                for a, label in (("vdn", "VDN"), ("iql", "IQL"))
            }
            f = plots.figure3(
                curves, title=f"Fig. 3: convergence of VDN and IQL (eps = 0.3, N = 12; {caption})"
            )
        elif fig in ("fig4", "fig5"):
            methods, baselines = _sweep_arrays(fig, seeds, quick, runs, cells, base)
            if fig == "fig4":
                f = plots.figure4(EPS_VALUES, methods, baselines)
            else:
                f = plots.figure5(USER_VALUES, methods, baselines)
        else:  # fig6
            col = _collect("fig6", seeds, quick, runs, cells)
            (h,) = col["vdn"]
            methods = {
                label: {
                    "updates": np.array([m["episode0"]["updates_sent"] for m in col[a][h]]),
                    "dnt_error": np.array([m["episode0"]["dnt_error"] for m in col[a][h]]),
                }
                for a, label in (("vdn", "VDN"), ("iql", "IQL"))
            }
            f = plots.figure6(methods)
        for ext in ("png", "pdf"):
            path = folder / f"{fig}.{ext}"
            # no creation date in the PDF: redrawing the same results gives the same file
            meta = {"CreationDate": None} if ext == "pdf" else None
            atomic_write(
                path, lambda p, f=f, e=ext, m=meta: f.savefig(p, format=e, dpi=130, metadata=m)
            )
            written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# the claims of Section V, checked


def _boot(stat, samples: tuple[np.ndarray, ...], seed: int = 0) -> tuple[float, float, float]:
    """Statistic with a 95% percentile bootstrap CI, resampling seeds within each sample."""
    import warnings

    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(stat(*samples))
    if min(len(s) for s in samples) < 2 or not np.isfinite(value):
        return value, value, value
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            samples,
            stat,
            vectorized=False,
            paired=False,
            n_resamples=2000,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    lo, hi = res.confidence_interval.low, res.confidence_interval.high
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo = hi = value
    return value, float(lo), float(hi)


def _gain(a: np.ndarray, b: np.ndarray) -> float:
    """Percentage gain of a over b: ``100 (mean a - mean b) / |mean b|``."""
    return float(100 * (np.mean(a) - np.mean(b)) / abs(np.mean(b)))


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a) - np.mean(b))


def _verdict(ci: tuple[float, float, float], paper: float) -> tuple[str, str]:
    """Quantitative claim: reproduced when our interval is on the paper's side of 0 (a real
    effect in the paper's direction) and contains the paper's value."""
    _, lo, hi = ci
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "not comparable", "our value is undefined (division by a zero mean)"
    side = lo > 0 if paper > 0 else hi < 0
    if side and lo <= paper <= hi:
        return "reproduced", "same direction, and the paper's value lies in our interval"
    if side:
        return "not reproduced", "same direction, but the paper's value lies outside our interval"
    if hi < 0 if paper > 0 else lo > 0:
        return "not reproduced", "significant effect in the opposite direction"
    return "not reproduced", "no significant effect (our interval contains 0)"


def _both(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    if a[0] == b[0] == "reproduced":
        return "reproduced", "both parts hold"
    if "not comparable" in (a[0], b[0]):
        return "not comparable", f"{a[1]}; {b[1]}"
    return "not reproduced", f"rate: {a[1]}; DNT error: {b[1]}"


def _claim(cid, figure, text, paper, ours, verdict, reason, how) -> dict[str, Any]:
    return {
        "id": cid,
        "figure": figure,
        "claim": text,
        "paper": paper,
        "ours": ours,
        "verdict": verdict,
        "reason": reason,
        "how": how,
    }


def _fmt(v: tuple[float, float, float], unit: str = "") -> str:
    return f"{v[0]:.3g}{unit} [{v[1]:.3g}, {v[2]:.3g}]"


def claims(seeds, quick, runs, cells, base, fig2, figs) -> dict[str, Any]:
    """Each quantitative or trend claim of Section V with the paper's and our numbers."""
    out: list[dict[str, Any]] = []
    ci = "mean over seeds [95% bootstrap CI]"
    if "fig3" in figs:
        col = _collect("fig3", seeds, quick, runs, cells)
        (h,) = col["vdn"]
        v = np.array([m["final"]["reward"] for m in col["vdn"][h]])
        q = np.array([m["final"]["reward"] for m in col["iql"][h]])
        g = _boot(_gain, (v, q)) if abs(q.mean()) > 1e-9 else None
        curves_v = np.array([[r["eval_reward"] for r in m["curve"]] for m in col["vdn"][h]])
        curves_q = np.array([[r["eval_reward"] for r in m["curve"]] for m in col["iql"][h]])
        with np.errstate(divide="ignore", invalid="ignore"):
            per_epoch = 100 * (curves_v.mean(0) - curves_q.mean(0)) / np.abs(curves_q.mean(0))
        if g is None:
            verdict, reason = "not comparable", "IQL's mean reward is 0: the gain is undefined"
        else:
            verdict, reason = _verdict(g, 28.96)
        out.append(
            _claim(
                "fig3-gain",
                "Fig. 3",
                "VDN improves the weighted sum (the reward) over IQL by up to 28.96%",
                "28.96%",
                {
                    "final_gain_pct": g,
                    "vdn_final_reward": _boot(np.mean, (v,)),
                    "iql_final_reward": _boot(np.mean, (q,)),
                    "max_over_epochs_gain_pct": float(np.nanmax(per_epoch))
                    if np.isfinite(per_epoch).any()
                    else None,
                    "text": ("n/a" if g is None else _fmt(g, "%"))
                    + f"; VDN {v.mean():.3g}, IQL {q.mean():.3g}",
                },
                verdict,
                reason,
                "gain = 100 (R_VDN - R_IQL) / |R_IQL| of the final greedy evaluation reward "
                f"per slot (eps = 0.3, N = 12), {ci}; also the largest per-epoch gain of the "
                "mean curves",
            )
        )
    if "fig4" in figs:
        methods, _ = _sweep_arrays("fig4", seeds, quick, runs, cells, base)
        i8 = EPS_VALUES.index(0.8)
        i99 = EPS_VALUES.index(0.99)
        rv, rq = methods["VDN"]["rate"][:, i8], methods["IQL"]["rate"][:, i8]
        ev, eq = methods["VDN"]["dnt_error"][:, i8], methods["IQL"]["dnt_error"][:, i8]
        g, d = _boot(_gain, (rv, rq)), _boot(_diff, (ev, eq))
        part_d = ("reproduced", "VDN higher") if d[1] > 0 else _verdict(d, 1.0)
        verdict, reason = _both(_verdict(g, 31.79), part_d)
        out.append(
            _claim(
                "fig4-rate-eps0.8",
                "Fig. 4",
                "at eps = 0.8 VDN's average data rate is 31.79% higher than IQL's, with a "
                "higher DNT error",
                "+31.79% rate; VDN DNT error higher",
                {
                    "rate_gain_pct": g,
                    "dnt_error_diff": d,
                    "text": f"rate {_fmt(g, '%')}; DNT error diff {_fmt(d)}",
                },
                verdict,
                reason,
                f"per-user data rate and DNT error of the final greedy evaluation, N = 9, {ci}; "
                "the DNT-error part needs VDN's error to be significantly higher",
            )
        )
        a, b = methods["IQL"]["rate"][:, i99], methods["IQL"]["rate"][:, i8]
        d2 = _boot(_diff, (a, b))
        out.append(
            _claim(
                "fig4-iql-rate-falls",
                "Fig. 4",
                "IQL's average data rate falls as eps goes from 0.8 to 0.99",
                "falls",
                {"rate_change": d2, "text": f"change {_fmt(d2)} (rate at 0.99 minus at 0.8)"},
                "reproduced" if d2[2] < 0 else "not reproduced",
                "the whole interval is below 0" if d2[2] < 0 else "no significant fall",
                f"IQL per-user rate at eps 0.99 minus at 0.8, {ci}",
            )
        )
    if "fig5" in figs:
        methods, _ = _sweep_arrays("fig5", seeds, quick, runs, cells, base)
        i12 = USER_VALUES.index(12)
        rv, rq = methods["VDN"]["rate"][:, i12], methods["IQL"]["rate"][:, i12]
        ev, eq = methods["VDN"]["dnt_error"][:, i12], methods["IQL"]["dnt_error"][:, i12]
        g, d = _boot(_gain, (rv, rq)), _boot(_diff, (ev, eq))
        verdict, reason = _both(_verdict(g, 10.15), _verdict(d, 0.2))
        out.append(
            _claim(
                "fig5-u12",
                "Fig. 5",
                "with 12 users VDN's data rate is 10.15% higher than IQL's and its DNT error "
                "0.2 higher",
                "+10.15% rate; +0.2 DNT error",
                {
                    "rate_gain_pct": g,
                    "dnt_error_diff": d,
                    "text": f"rate {_fmt(g, '%')}; DNT error diff {_fmt(d)}",
                },
                verdict,
                reason,
                f"per-user data rate and DNT error of the final greedy evaluation, eps = 0.25, "
                f"N = 12, {ci}",
            )
        )
        for key, word, sign in (("dnt_error", "rises", 1), ("rate", "falls", -1)):
            parts, holds = [], True
            for label in ("VDN", "IQL"):
                arr = methods[label][key]
                dd = _boot(_diff, (arr[:, -1], arr[:, 0]))
                parts.append(f"{label} {_fmt(dd)}")
                holds &= (dd[1] > 0) if sign > 0 else (dd[2] < 0)
            out.append(
                _claim(
                    f"fig5-{key}-trend",
                    "Fig. 5",
                    f"the {'DNT error' if key == 'dnt_error' else 'data rate'} of both methods "
                    f"{word} as the number of users grows",
                    word,
                    {"text": "; ".join(parts)},
                    "reproduced" if holds else "not reproduced",
                    "significant for both methods" if holds else "not significant for both",
                    f"value at U = {USER_VALUES[-1]} minus at U = {USER_VALUES[0]}, {ci}",
                )
            )
    if "fig6" in figs:
        col = _collect("fig6", seeds, quick, runs, cells)
        (h,) = col["vdn"]
        v = np.array([np.mean(m["episode0"]["dnt_error"]) for m in col["vdn"][h]])
        q = np.array([np.mean(m["episode0"]["dnt_error"]) for m in col["iql"][h]])
        d = _boot(_diff, (v, q))
        out.append(
            _claim(
                "fig6-dnt-error",
                "Fig. 6",
                "VDN keeps a smaller DNT error than IQL over the evaluation episode",
                "VDN lower",
                {"dnt_error_diff": d, "text": f"VDN minus IQL {_fmt(d)}"},
                "reproduced" if d[2] < 0 else "not reproduced",
                "the whole interval is below 0"
                if d[2] < 0
                else "no significant difference in VDN's favour",
                f"mean DNT error over the slots of evaluation episode 0, {ci}",
            )
        )
    if "fig2" in figs and fig2 is not None:
        ours = fig2["users_test_mse"]
        bayes = [fig2["evaluation"]["one_step_per_user"]["bayes"][u] for u in fig2["users"]]
        out.append(
            _claim(
                "fig2-mse",
                "Fig. 2",
                "the GRU's positioning MSEs of users 2, 4 and 7 are 0.188, 0.075 and 0.320",
                "0.188 / 0.075 / 0.320",
                {
                    "test_mse": ours,
                    "bayes_floor": bayes,
                    "trajectory_mse": fig2["users_mse"],
                    "text": " / ".join(f"{x:.3f}" for x in ours)
                    + " (Bayes floor "
                    + " / ".join(f"{x:.3f}" for x in bayes)
                    + ")",
                },
                "not comparable",
                "each user's error is set by its move probabilities, which the paper does not "
                "give; ours are drawn from a Dirichlet and the GRU sits near the Bayes floor",
                "one-step MSE per user over the test trajectories, normalised as eq. (14)",
            )
        )
    return {
        "seeds": seeds,
        "quick": quick,
        "code_version": code_version(),
        "claims": out,
    }


def claims_markdown(table: dict[str, Any]) -> str:
    """The claims table as Markdown."""
    note = " (quick budget: not a result)" if table["quick"] else ""
    lines = [
        "# Claims of Section V, checked",
        "",
        f"{table['seeds']} seeds per setting{note}; code {table['code_version']}. "
        "Intervals are 95% bootstrap intervals over seeds.",
        "",
        "| figure | claim | paper | ours | verdict | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in table["claims"]:
        lines.append(
            f"| {c['figure']} | {c['claim']} | {c['paper']} | {c['ours']['text']} | "
            f"**{c['verdict']}** | {c['reason']} |"
        )
    lines += ["", "How each number was computed:", ""]
    for c in table["claims"]:
        lines.append(f"- `{c['id']}`: {c['how']}.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Algorithm 1 studies (book/hungarian_allocation.ipynb)


def random_slots(cfg: Any, slots: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random slots, nearest-BS association, every BS updating: (pos, fading, assoc, sync)."""
    from dnt.baselines import nearest_association
    from dnt.channel import coverage
    from dnt.env import decode_actions
    from dnt.mobility import initial_positions

    rng = np.random.default_rng(seed)
    pos = initial_positions(cfg, rng, (slots,))
    fading = rng.exponential(size=(slots, cfg.num_users))
    cov = coverage(cfg, pos)
    acts = nearest_association(cfg, {"state": pos, "coverage": cov}) | 1
    sync, assoc = decode_actions(acts, cfg.num_users)
    return pos, fading, assoc, sync


def allocation_study(cfg: Any, slots: int = 500, seed: int = 0, rounds: int = 50) -> dict[str, Any]:
    """What the extra rounds and the printed eq. (3) change, on random slots.

    Extra rounds: Algorithm 1 followed by up to ``rounds`` re-optimisation rounds; the share of
    slots that converged, the rounds used, and the sum rate and successful updates before and
    after. Printed eq. (3)/(5): the allocation chosen under the printed model, rated by the
    physical model, against the physical model's own allocation; and how far the printed model's
    own rate estimate is from the physical rate of the same allocation.
    """
    from dnt.allocation import allocate_batch
    from dnt.channel import rates, update_success

    pos, fading, assoc, sync = random_slots(cfg, slots, seed)

    def outcome(c: Any, x: np.ndarray, y: np.ndarray, model_cfg: Any = None) -> tuple:
        ur, cr = rates(model_cfg or c, pos, fading, x, y)
        return ur.sum(-1), update_success(c, y, cr).sum(-1)

    phys = cfg.replace(interference_model="physical", allocation_rounds=1)
    x1, y1, _ = allocate_batch(phys, pos, fading, assoc, sync)
    rate1, ok1 = outcome(phys, x1, y1)
    more = phys.replace(allocation_rounds=rounds)
    xr, yr, info = allocate_batch(more, pos, fading, assoc, sync)
    rate_r, ok_r = outcome(phys, xr, yr)
    printed = phys.replace(interference_model="printed")
    xp, yp, _ = allocate_batch(printed, pos, fading, assoc, sync)
    rate_p_phys, ok_p = outcome(phys, xp, yp)
    rate_p_own, _ = outcome(phys, xp, yp, model_cfg=printed)
    return {
        "slots": slots,
        "rounds_limit": rounds,
        "rounds_converged_share": float(info.converged.mean()),
        "rounds_used_median": float(np.median(info.rounds)),
        "rounds_used_max": int(info.rounds.max()),
        "sum_rate_one_pass": float(rate1.mean()),
        "sum_rate_rounds": float(rate_r.mean()),
        "updates_ok_one_pass": float(ok1.mean()),
        "updates_ok_rounds": float(ok_r.mean()),
        "sum_rate_printed_alloc_physical": float(rate_p_phys.mean()),
        "sum_rate_printed_own_estimate": float(rate_p_own.mean()),
        "updates_ok_printed": float(ok_p.mean()),
        "same_allocation_share": float(
            ((xp == x1).all(axis=(1, 2, 3)) & (yp == y1).all(axis=(1, 2))).mean()
        ),
    }


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (for the book's pages)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def find_project_root(start: Any = None) -> Any:
    """The nearest folder at or above ``start`` (default: cwd) holding ``pyproject.toml`` and
    ``results/`` (the book's pages run from ``book/`` or from the top)."""
    from pathlib import Path

    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").exists() and (d / "dnt").is_dir():
            return d
    return here


def twin_report(quick: bool = False, root: Any = None) -> dict[str, Any]:
    """The default scenario's GRU twin from the store (trained and stored when missing):
    one-step and closed-loop errors against hold-last and the Bayes floor, Fig. 2 data, and
    the twin's training record."""
    from dnt._gru import GRUPredictor

    store = ResultStore(root if root is not None else find_project_root() / "results")
    d = dict(_fig2_data(store, quick))
    path = _twin_path(base_config(), store, quick)
    d["train_info"] = GRUPredictor.load(path, base_config()).train_info
    d["twin_file"] = path.name
    return d


def bruteforce_check(cfg: Any, instances: int = 100, seed: int = 0) -> dict[str, Any]:
    """Each stage of Algorithm 1 against an exhaustive search over matchings (small U and N).

    For random slots (nearest-BS association, every BS updating), compares every BS's stage
    value (the total rate of its users given the BSs before it) with the best over all
    matchings of its users to its free RBs. Returns the number of stages checked, how many
    matched, and the largest relative shortfall.
    """
    import itertools

    from dnt.allocation import trace

    pos, fading, assoc, sync = random_slots(cfg, instances, seed)
    checked = matched = 0
    worst = 0.0
    for i in range(instances):
        for st in trace(cfg, pos[i], fading[i], assoc[i], sync[i]):
            w = st["rates"]
            if w.size == 0:
                continue
            k, f = w.shape
            r = min(k, f)
            best = max(
                sum(w[u, n] for u, n in zip(us, ns, strict=True))
                for us in itertools.combinations(range(k), r)
                for ns in itertools.permutations(range(f), r)
            )
            checked += 1
            ok = st["stage_value"] >= best * (1 - 1e-12)
            matched += int(ok)
            worst = max(worst, (best - st["stage_value"]) / best if best > 0 else 0.0)
    return {"stages": checked, "optimal": matched, "worst_shortfall": worst}


def training_summary(seeds: int = 5, quick: bool = False, root: Any = None) -> dict[str, Any]:
    """Fig. 3's runs, the ablations and the baselines, from the store (run when missing).

    Returns ``rows``: one per (variant, method) with the final greedy evaluation (mean and 95%
    bootstrap interval over seeds of the reward; means of sum rate, DNT error, updates per
    slot), ``baselines`` per reading of eq. (16), the Fig. 3 ``curves`` and training times.
    """
    root = root if root is not None else find_project_root() / "results"
    reproduce(
        ("fig3", "ablations"), seeds=seeds, quick=quick, root=root, progress=False, draw=False
    )
    store = ResultStore(root)
    n_ab = min(seeds, ABLATION_SEEDS)
    ref = [c for c in figure_cells("fig3", seeds, quick)]
    groups: dict[str, list[Cell]] = {
        "reference (at-most-once reading)": [c for c in ref if c.seed < n_ab],
    }
    for name, cells in ablation_cells(seeds, quick).items():
        groups[name] = cells
    rows = []
    for variant, cells in groups.items():
        for algo in ("vdn", "iql"):
            sel = [store.load_run(c)["metrics"] for c in cells if c.algo == algo]
            if not sel:
                continue
            rew = np.array([m["final"]["reward"] for m in sel])
            mean, lo, hi = mean_ci(rew[:, None])
            rows.append(
                {
                    "variant": variant,
                    "method": algo.upper(),
                    "seeds": len(sel),
                    "reward": float(mean[0]),
                    "reward_ci": (float(lo[0]), float(hi[0])),
                    "sum_rate": float(np.mean([m["final"]["sum_rate"] for m in sel])),
                    "dnt_error": float(np.mean([m["final"]["dnt_error"] for m in sel])),
                    "updates": float(np.mean([m["final"]["updates_per_slot"] for m in sel])),
                    "train_seconds": float(np.mean([m["train_wall_seconds"] for m in sel])),
                }
            )
    episodes = train_config("vdn", quick).eval_episodes
    cfg = figure_configs("fig3")[0]
    baselines = {
        "at-most-once": store.load_baselines(cfg, episodes)["results"],
        "printed": store.load_baselines(cfg.replace(serve_condition="exactly_once"), episodes)[
            "results"
        ],
    }
    curves = {
        a.upper(): np.array(
            [
                [r["eval_reward"] for r in store.load_run(c)["metrics"]["curve"]]
                for c in ref
                if c.algo == a
            ]
        )
        for a in ("vdn", "iql")
    }
    return {"rows": rows, "baselines": baselines, "curves": curves}


def book_glue(name: str, value: Any, display: bool = False) -> None:
    """``myst_nb.glue`` for the book's pages, with numpy scalars turned into Python numbers
    (myst-nb formats ``{glue:text}`key:.2f``` from the plain-text form of the value)."""
    from myst_nb import glue

    if isinstance(value, np.generic):
        value = value.item()
    glue(name, value, display=display)
