"""The ``reproduce`` entry point: train what the store lacks for the asked figures, then draw
them and write the claims table; and the summaries the book's pages read from the store."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dnt._io import atomic_write, atomic_write_json, content_hash
from dnt.baselines import baseline_policies
from dnt.repro.claims import claims, claims_markdown, mean_ci
from dnt.repro.executor import Executor, batches, run_cells, store_twin, twin_job
from dnt.repro.figures import draw_figures, one_step_predictions
from dnt.repro.specs import (
    ABLATION_SEEDS,
    FIGURES,
    Cell,
    ablation_cells,
    base_config,
    figure_cells,
    figure_configs,
    train_config,
    twin_settings,
)
from dnt.repro.store import ResultStore, code_version, project_root
from dnt.sim.config import SystemConfig
from dnt.sim.evaluation import evaluate_policy
from dnt.sim.gru import GRUPredictor, twin_path
from dnt.sim.twin import BayesPredictor, HoldLastPredictor, twin_key
from dnt.sim.twin_data import evaluate_predictors, make_twin_dataset

__all__ = ["baselines_for", "fig2_data", "reproduce", "training_summary", "twin_report"]


def reproduce(
    figs: tuple[str, ...] = FIGURES,
    seeds: int = 5,
    jobs: int | None = None,
    quick: bool = False,
    root: str | Path | None = None,
    progress: bool = True,
    draw: bool = True,
    executor: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Run what is missing for ``figs``, then draw them and write the claims table.

    Training runs go to a pool of ``jobs`` processes (default: the number of cores); the
    seeds of one cell train side by side in one process (:func:`run_cells`, same numbers as
    one process per seed, less time); results are read from and written to the store at
    ``root`` (default ``results`` or, with ``quick``, ``results/quick``). The claims table
    covers every figure whose runs are all in the store, not only ``figs``. ``draw=False``
    only fills the store. ``executor`` runs the work units in a local process pool
    (``"local"``) or as Ray tasks (``"ray"``, on the cluster at ``address`` if given); the
    numbers do not depend on it.
    Returns a summary with the paths written.
    """
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
    scenarios: dict[str, SystemConfig] = {}
    for cfg in configs.values():
        scenarios.setdefault(twin_key(cfg), cfg)
    twins = [(c, str(root), quick) for c in scenarios.values()]
    work = [(g, str(root), quick) for g in batches(missing, jobs)]
    with Executor(executor, jobs, address) as ex:
        list(ex.map(twin_job, twins))
        bar = tqdm(total=len(missing), desc="training runs", unit="run", disable=not progress)
        for done in ex.map(run_cells, work):
            for name, metrics in done:
                store.save_run(cells[name], metrics)
                bar.update(1)
        bar.close()
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
        base = baselines_for(store, {c.cfg.config_hash(): c.cfg for c in cells.values()}, quick)
        fig2 = fig2_data(store, quick) if "fig2" in ready else None
        written = draw_figures(figs, seeds, quick, runs, cells, base, fig2, root / "figures")
        out["figures"] = [str(p) for p in written]
        table = claims(seeds, quick, runs, cells, base, fig2, tuple(ready))
        atomic_write_json(root / "claims.json", table)
        atomic_write(root / "claims.md", lambda p: p.write_text(claims_markdown(table)))
        out["claims"] = [str(root / "claims.json"), str(root / "claims.md")]
    else:
        baselines_for(store, configs, quick)
    out["seconds"] = time.perf_counter() - start
    return out


def baselines_for(
    store: ResultStore, configs: dict[str, SystemConfig], quick: bool
) -> dict[str, Any]:
    """Baseline results per config hash, evaluated (and stored) when missing; deterministic,
    on the same evaluation episodes as the trained policies."""
    episodes = train_config("vdn", quick).eval_episodes
    base: dict[str, Any] = {}
    for h, cfg in configs.items():
        d = store.load_baselines(cfg, episodes)
        if d is None:
            pred = store_twin(cfg, store, quick)
            res = {
                name: evaluate_policy(cfg, pol, episodes=episodes, predictor=pred)
                for name, pol in baseline_policies(cfg).items()
            }
            store.save_baselines(cfg, episodes, res)
            d = store.load_baselines(cfg, episodes)
        base[h] = d["results"]
    return base


def fig2_data(store: ResultStore, quick: bool) -> dict[str, Any]:
    """Fig. 2 and the twin claims: the default scenario's GRU twin on its test split."""
    cfg = base_config()
    tc, n_traj = twin_settings(quick)
    path = store.root / "fig2" / f"{twin_key(cfg)}-n{n_traj}-{content_hash(str(tc))[:8]}.json"
    d = store.load(path)
    if d is not None and d.get("config") == cfg.to_dict():
        return d
    gru = store_twin(cfg, store, quick)
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


def twin_report(quick: bool = False, root: str | Path | None = None) -> dict[str, Any]:
    """The default scenario's GRU twin from the store (trained and stored when missing):
    one-step and closed-loop errors against hold-last and the Bayes floor, Fig. 2 data, and
    the twin's training record."""
    store = ResultStore(root if root is not None else project_root() / "results")
    d = dict(fig2_data(store, quick))
    tc, n_traj = twin_settings(quick)
    path = twin_path(base_config(), store.twins, tc, n_traj)
    d["train_info"] = GRUPredictor.load(path, base_config()).train_info
    d["twin_file"] = path.name
    return d


def training_summary(
    seeds: int = 5, quick: bool = False, root: str | Path | None = None
) -> dict[str, Any]:
    """Fig. 3's runs, the ablations and the baselines, from the store (run when missing).

    Returns ``rows``: one per (variant, method) with the final greedy evaluation (mean and 95%
    bootstrap interval over seeds of the reward; means of sum rate, DNT error, updates per
    slot), ``baselines`` per reading of eq. (16), the Fig. 3 ``curves`` and training times.
    """
    root = root if root is not None else project_root() / "results"
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
