"""The ``reproduce`` entry point: train what the store lacks for the asked targets, then draw the
figures and write the claims table and the summary; and the views the book's pages read."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dnt._io import atomic_write, atomic_write_json, content_hash
from dnt.baselines import baseline_policies
from dnt.repro.claims import claims, claims_markdown
from dnt.repro.executor import Executor, batches, run_cells, store_twin, twin_job
from dnt.repro.figure_data import claims_csv
from dnt.repro.figures import draw_figures, one_step_predictions
from dnt.repro.specs import (
    FIGURES,
    ablation_cells,
    base_config,
    figure_cells,
    figure_configs,
    train_config,
    twin_settings,
)
from dnt.repro.store import ResultStore, project_root
from dnt.repro.summary import method_row, summary
from dnt.sim.config import SystemConfig
from dnt.sim.evaluation import evaluate_policy
from dnt.sim.gru import GRUPredictor, twin_path
from dnt.sim.twin import BayesPredictor, HoldLastPredictor, twin_key
from dnt.sim.twin_data import evaluate_predictors, make_twin_dataset

__all__ = [
    "ALL",
    "TARGETS",
    "baselines_for",
    "fig2_data",
    "reproduce",
    "training_summary",
    "twin_report",
]

#: ``reproduce all``: the paper's figures and the budget study (summary.json needs both).
ALL = (*FIGURES, "budget")
#: Everything ``reproduce`` can be asked for.
TARGETS = (*ALL, "ablations")


def reproduce(
    figs: tuple[str, ...] = ALL,
    seeds: int = 5,
    jobs: int | None = None,
    quick: bool = False,
    root: str | Path | None = None,
    progress: bool = True,
    draw: bool = True,
    executor: str = "local",
    address: str | None = None,
    allow_stale: bool = False,
) -> dict[str, Any]:
    """Run what is missing for ``figs`` (any of :data:`TARGETS`), then draw them and write the
    claims table and ``summary.json``.

    Training runs go to ``jobs`` worker processes (default: the number of cores), or to Ray
    tasks with ``executor="ray"`` (on the cluster at ``address`` if given); the numbers do not
    depend on the executor. The seeds of one setting train side by side in one worker
    (:func:`run_cells`, the same numbers as one process per seed). Results are read from and
    written to the store at ``root`` (default ``results`` or, with ``quick``,
    ``results/quick``). Runs made by other code are *stale*: they are counted, reported and
    retrained, or, with ``allow_stale``, reused and marked stale in the claims, the captions and
    the summary. The claims table covers every figure whose runs are all in the store, not only
    ``figs``. ``draw=False`` only fills the store. Returns a summary with the paths written.
    """
    bad = [f for f in figs if f not in TARGETS]
    if bad:
        raise ValueError(f"figure(s) {bad} unknown: must be among {TARGETS}, or 'all'")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} is invalid: must be an integer >= 1")
    jobs = jobs or os.cpu_count() or 1
    root = Path(root) if root is not None else Path("results") / ("quick" if quick else "")
    store = ResultStore(root, allow_stale)
    start = time.perf_counter()
    cells = {c.filename(): c for f in figs for c in figure_cells(f, seeds, quick)}
    status = {name: store.run_status(c) for name, c in cells.items()}
    stale = [cells[n] for n, s in status.items() if s == "stale"]
    todo = [
        cells[n] for n, s in status.items() if s == "missing" or (not allow_stale and s == "stale")
    ]
    if stale:
        what = "reused and marked stale" if allow_stale else "retrained"
        print(
            f"{len(stale)} of {len(cells)} stored runs are stale (made by other code than the "
            f"current {store.version}): {what}",
            file=sys.stderr,
        )
    configs = {c.cfg.config_hash(): c.cfg for c in cells.values()}
    if "fig2" in figs:
        configs.setdefault(base_config().config_hash(), base_config())
    scenarios: dict[str, SystemConfig] = {}
    for cfg in configs.values():
        scenarios.setdefault(twin_key(cfg), cfg)
    twins = [(c, str(root), quick, allow_stale) for c in scenarios.values()]
    work = [(g, str(root), quick) for g in batches(todo, jobs)]
    with Executor(executor, jobs, address) as ex:
        list(ex.map(twin_job, twins))
        bar = tqdm(total=len(todo), desc="training runs", unit="run", disable=not progress)
        for done in ex.map(run_cells, work):
            for name, metrics in done:
                store.save_run(cells[name], metrics)
                bar.update(1)
        bar.close()
    out = {
        "root": str(root),
        "figures": [],
        "runs": len(cells),
        "trained_now": len(todo),
        "stale": len(stale),
        "code_version": store.version,
    }
    if draw:
        out |= _draw(store, figs, seeds, quick)
    else:
        baselines_for(store, configs, quick)
    out["seconds"] = time.perf_counter() - start
    return out


def _draw(store: ResultStore, figs: tuple[str, ...], seeds: int, quick: bool) -> dict[str, Any]:
    """Figures, claims and summary from the store; the claims cover every ready figure."""
    root = store.root

    def ready(f: str) -> bool:
        if f == "fig2":
            return f in figs or any((root / "fig2").glob("*.json"))
        return f in figs or all(store.load_run(c) for c in figure_cells(f, seeds, quick))

    done = tuple(f for f in ALL if ready(f))
    cells = {c.filename(): c for f in done for c in figure_cells(f, seeds, quick)}
    runs = {name: store.load_run(c) for name, c in cells.items()}
    base = baselines_for(store, {c.cfg.config_hash(): c.cfg for c in cells.values()}, quick)
    fig2 = fig2_data(store, quick) if "fig2" in done else None
    out: dict[str, Any] = {}
    summ = summary(seeds, quick, runs, base) if "fig3" in done else None
    if summ is not None:
        summ["code_versions"] = sorted({r["code_version"] for r in runs.values()})
        summ["stale"] = any(r.get("stale") for r in runs.values())
        atomic_write_json(root / "summary.json", summ)
        out["summary"] = str(root / "summary.json")
    drawn = tuple(f for f in figs if f in done)
    written = draw_figures(drawn, seeds, quick, runs, cells, base, fig2, summ, root / "figures")
    out["figures"] = [str(p) for p in written]
    table = claims(seeds, quick, runs, cells, base, fig2, tuple(f for f in FIGURES if f in done))
    atomic_write_json(root / "claims.json", table)
    atomic_write(root / "claims.md", lambda p: p.write_text(claims_markdown(table)))
    claims_csv(table, root / "claims.csv")
    out["claims"] = [str(root / n) for n in ("claims.json", "claims.md", "claims.csv")]
    return out


def baselines_for(
    store: ResultStore, configs: dict[str, SystemConfig], quick: bool
) -> dict[str, Any]:
    """Baseline results per config hash, evaluated (and stored) when missing or stale;
    deterministic, on the same evaluation episodes as the trained policies."""
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
    """Fig. 2 and the twin claims: the default scenario's GRU twin on its test split
    (recomputed when missing or stale)."""
    cfg = base_config()
    tc, n_traj = twin_settings(quick)
    path = store.root / "fig2" / f"{twin_key(cfg)}-n{n_traj}-{content_hash(str(tc))[:8]}.json"
    d = store.current(store.load(path))
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
        "code_version": store.version,
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
    the twin's training record. Reads the committed results as they are (stale or not)."""
    store = ResultStore(root if root is not None else project_root() / "results", True)
    d = dict(fig2_data(store, quick))
    tc, n_traj = twin_settings(quick)
    path = twin_path(base_config(), store.twins, tc, n_traj)
    d["train_info"] = GRUPredictor.load(path, base_config()).train_info
    d["twin_file"] = path.name
    return d


def training_summary(
    seeds: int = 5, quick: bool = False, root: str | Path | None = None
) -> dict[str, Any]:
    """What the training page shows, from the store (trained when missing; stale results are
    reused and marked): ``summary`` (Fig. 3's methods and the budget study, as in
    ``summary.json``), Fig. 3's ``curves`` per method with their gradient steps ``x``, the
    ``ablations`` (one row per variant: :func:`dnt.repro.summary.method_row` plus the mean
    training time), and the baselines under the printed reading of eq. (16)."""
    root = Path(root) if root is not None else project_root() / "results"
    reproduce(
        ("fig3", "budget", "ablations"),
        seeds=seeds,
        quick=quick,
        root=root,
        progress=False,
        allow_stale=True,
    )
    store = ResultStore(root, allow_stale=True)
    summ = store.load(root / "summary.json")
    fig3 = [c for c in figure_cells("fig3", seeds, quick)]
    curves, x = {}, None
    for algo in ("vdn", "iql"):
        ms = [store.load_run(c)["metrics"] for c in fig3 if c.algo == algo]
        curves[algo.upper()] = np.array([[r["eval_reward"] for r in m["curve"]] for m in ms])
        x = np.array([r["gradient_steps"] for r in ms[0]["curve"]])
    ablations = {}
    for name, cells in ablation_cells(seeds, quick).items():
        found = [store.load_run(c) for c in cells]
        row = method_row([r["metrics"]["final"] for r in found], any(r.get("stale") for r in found))
        row["train_seconds"] = float(np.mean([r["metrics"]["train_wall_seconds"] for r in found]))
        ablations[name] = row
    cfg = figure_configs("fig3")[0].replace(serve_condition="exactly_once")
    printed = baselines_for(store, {cfg.config_hash(): cfg}, quick)[cfg.config_hash()]
    return {
        "summary": summ,
        "curves": curves,
        "x": x,
        "ablations": ablations,
        "printed_baselines": printed,
    }
