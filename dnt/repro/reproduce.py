"""The ``reproduce`` entry point: train what the store lacks for the asked targets, then draw the
figures and write the claims table and the summary; and the views the book's pages read."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dnt._io import atomic_write, atomic_write_json, content_hash
from dnt.baselines import baseline_policies
from dnt.repro.claims import claims, claims_markdown
from dnt.repro.executor import Executor, run_cells, store_twin, twin_job
from dnt.repro.figure_data import claims_csv
from dnt.repro.figures import draw_figures, one_step_predictions
from dnt.repro.records import record
from dnt.repro.specs import (
    FIGURES,
    Cell,
    ablation_cells,
    base_config,
    figure_cells,
    figure_configs,
    train_config,
    twin_settings,
)
from dnt.repro.status import CostModel, completeness, plan_groups, priority, store_status
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
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Train what the store lacks for ``figs`` (any of :data:`TARGETS`), then draw them and
    write the claims table and ``summary.json``.

    Missing and stale cells train in the fixed order of :func:`dnt.repro.status.priority` (the
    cells the claims read, Fig. 3's first; the rest of each figure's curve; the budget study and
    the ablations), the seeds of one setting side by side in one worker (:func:`run_cells`, the
    same numbers as one process per seed), on ``jobs`` worker processes (default: the number of
    cores) or Ray tasks with ``executor="ray"`` (on the cluster at ``address`` if given); the
    numbers depend on neither. Every finished batch is written to the store at once, so a killed
    reproduction loses at most the batches in flight.

    ``time_limit`` (minutes; None: no limit) starts no batch that cannot finish within the limit
    by its estimate (:class:`dnt.repro.status.CostModel`; a batch is cut to the seeds that fit),
    and stops taking batches at the first that cannot start; ``0`` trains no run and only
    redraws. What remains is reported and is taken up by the next call. Runs made by other code
    are *stale*: retrained, or, with ``allow_stale``, reused and marked stale. The claims table,
    the summary and the figures are drawn from the store as it then is: from current runs only
    (stale ones too with ``allow_stale``), with every incomplete number marked (how many seeds
    are current, pending where fewer than 2), and ``claims.json`` and ``summary.json`` record
    the store's completeness. Results are read from and written to ``root`` (default
    ``results`` or, with ``quick``, ``results/quick``). ``draw=False`` only fills the store.
    Returns a summary with the paths written and ``remaining`` (:func:`store_status`).
    """
    bad = [f for f in figs if f not in TARGETS]
    if bad:
        raise ValueError(f"figure(s) {bad} unknown: must be among {TARGETS}, or 'all'")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} is invalid: must be an integer >= 1")
    if time_limit is not None and not (isinstance(time_limit, int | float) and time_limit >= 0):
        raise ValueError(f"time_limit={time_limit!r} is invalid: must be minutes >= 0 or None")
    jobs = jobs or os.cpu_count() or 1
    root = Path(root) if root is not None else Path("results") / ("quick" if quick else "")
    store = ResultStore(root, allow_stale, quick)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + 60 * time_limit
    ordered = [c for c, _, _ in priority(figs, seeds, quick)]
    status = {c.filename(): store.run_status(c) for c in ordered}
    stale = [c for c in ordered if status[c.filename()] == "stale"]
    todo = [
        c for c in ordered if status[c.filename()] == "missing" or (not allow_stale and c in stale)
    ]
    if stale:
        what = "reused and marked stale" if allow_stale else "to retrain"
        print(
            f"{len(stale)} of {len(ordered)} stored runs are stale (made by other code than the "
            f"current {store.version}): {what}",
            file=sys.stderr,
        )
    configs = {c.cfg.config_hash(): c.cfg for c in ordered}
    if "fig2" in figs:
        configs.setdefault(base_config().config_hash(), base_config())
    trained: list[str] = []
    blocked: dict[str, Any] | None = None
    if todo and time_limit != 0:
        model = CostModel(store)
        cost = {c.filename(): model.estimate(c)[0] for c in todo}
        scenarios: dict[str, SystemConfig] = {}
        for c in todo:
            scenarios.setdefault(twin_key(c.cfg), c.cfg)
        twins = [(c, str(root), quick, allow_stale) for c in scenarios.values()]
        with Executor(executor, jobs, address) as ex:
            list(ex.map(twin_job, twins))
            trained, blocked = _train(ex, store, todo, cost, jobs, deadline, quick, progress)
    out = {
        "root": str(root),
        "figures": [],
        "runs": len(ordered),
        "trained_now": len(trained),
        "stale": len(stale),
        "code_version": store.version,
        "blocked": blocked,
    }
    if draw:
        out |= _draw(store, figs, seeds, quick)
    elif time_limit != 0:
        baselines_for(store, configs, quick)
    out["remaining"] = store_status(figs, seeds, quick, store, jobs)
    out["seconds"] = time.perf_counter() - start
    return out


def _train(
    ex: Executor,
    store: ResultStore,
    todo: list[Cell],
    cost: dict[str, float],
    jobs: int,
    deadline: float | None,
    quick: bool,
    progress: bool,
) -> tuple[list[str], dict[str, Any] | None]:
    """Train ``todo`` (in priority order) in batches (:func:`plan_groups`) on ``jobs`` threads
    that each hand one batch at a time to the executor and write its runs when it returns.
    With a ``deadline`` (a :func:`time.perf_counter` value) a batch starts only if its estimate
    (``cost`` per cell, seconds) ends before it, cut to the seeds that fit; the first batch of
    which not even one seed fits stops all threads from taking more. Returns the file names
    trained and, if the deadline stopped it, that batch's first cell and estimated seconds."""
    queue = plan_groups(todo, jobs)
    lock = threading.Lock()
    done: list[str] = []
    stop = False
    blocked: dict[str, Any] | None = None
    bar = tqdm(total=len(todo), desc="training runs", unit="run", disable=not progress)

    def take() -> list[Cell] | None:
        nonlocal stop, blocked
        with lock:
            if stop or not queue:
                return None
            group = queue.pop(0)
            if deadline is None:
                return group
            left, fits = deadline - time.perf_counter(), 0
            while fits < len(group) and sum(cost[c.filename()] for c in group[: fits + 1]) <= left:
                fits += 1
            if fits == 0:
                queue.insert(0, group)
                stop = True
                first = group[0].filename()
                blocked = {"cell": first, "seconds": cost[first], "left_seconds": left}
                return None
            if fits < len(group):
                queue.insert(0, group[fits:])
            return group[:fits]

    def worker() -> None:
        while (group := take()) is not None:
            (result,) = ex.map(run_cells, [(group, str(store.root), quick)])
            names = {c.filename(): c for c in group}
            with lock:
                for name, metrics in result:
                    store.save_run(names[name], metrics, batch_seeds=len(group))
                    done.append(name)
                    bar.update(1)

    with ThreadPoolExecutor(max_workers=jobs) as threads:
        for f in [threads.submit(worker) for _ in range(jobs)]:
            f.result()
    bar.close()
    return done, blocked


def _draw(store: ResultStore, figs: tuple[str, ...], seeds: int, quick: bool) -> dict[str, Any]:
    """Figures, claims and summary from the store as it is: the usable runs (current, or stale
    where allowed) of every target of :data:`ALL`; the claims cover every figure with at least
    one usable run, the figures drawn are those asked for, and claims.json and summary.json
    record the store's completeness (:func:`completeness`)."""
    root = store.root
    cells = {c.filename(): c for f in ALL for c in figure_cells(f, seeds, quick)}
    runs = {name: r for name, c in cells.items() if (r := store.load_run(c)) is not None}

    def ready(f: str) -> bool:
        if f == "fig2":
            return f in figs or any((root / "fig2").glob("*.json"))
        return any(c.filename() in runs for c in figure_cells(f, seeds, quick))

    done = tuple(f for f in ALL if ready(f))
    shown = {
        c.cfg.config_hash(): c.cfg for f in {*done, *figs} for c in figure_cells(f, seeds, quick)
    }
    base = baselines_for(store, shown, quick)
    fig2 = fig2_data(store, quick) if "fig2" in done else None
    state = completeness(ALL, seeds, quick, store)
    out: dict[str, Any] = {}
    summ = summary(seeds, quick, runs, base) if "fig3" in done or "fig3" in figs else None
    if summ is not None:
        summ["code_versions"] = sorted({r["code_version"] for r in runs.values()})
        summ["stale"] = any(r.get("stale") for r in runs.values())
        summ["store"] = state
        atomic_write_json(root / "summary.json", summ)
        out["summary"] = str(root / "summary.json")
    written = draw_figures(figs, seeds, quick, runs, cells, base, fig2, summ, root / "figures")
    out["figures"] = [str(p) for p in written]
    judged = tuple(f for f in FIGURES if f in done or f in figs)  # pending rows stay visible
    table = claims(seeds, quick, runs, cells, base, fig2, judged)
    table["store"] = state
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
    d = store.current(store.load(path), store.run_inputs(cfg, twin=True))
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
        "records": record("fig2", store.run_inputs(cfg, twin=True)),
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
    store = ResultStore(root if root is not None else project_root() / "results", True, quick)
    d = dict(fig2_data(store, quick))
    tc, n_traj = twin_settings(quick)
    path = twin_path(base_config(), store.twins, tc, n_traj)
    d["train_info"] = GRUPredictor.load(path, base_config()).train_info
    d["twin_file"] = path.name
    return d


def training_summary(
    seeds: int = 5, quick: bool = False, root: str | Path | None = None
) -> dict[str, Any]:
    """What the training page shows, from the store as it is (never trained for the page, but
    with ``quick``, when everything is trained into ``root``): ``summary`` (Fig. 3's methods and
    the budget study, as in ``summary.json``), Fig. 3's ``curves`` per method (current seeds)
    with their gradient steps ``x``, the ``ablations`` (one row per variant with a current run:
    :func:`dnt.repro.summary.method_row` over its current seeds, ``seeds_needed``, and the mean
    training time), and the baselines under the printed reading of eq. (16)."""
    root = Path(root) if root is not None else project_root() / "results"
    reproduce(
        ("fig3", "budget", "ablations"),
        seeds=seeds,
        quick=quick,
        root=root,
        progress=False,
        time_limit=None if quick else 0,
    )
    store = ResultStore(root, quick=quick)
    summ = store.load(root / "summary.json")
    fig3 = [c for c in figure_cells("fig3", seeds, quick)]
    curves, x = {}, None
    for algo in ("vdn", "iql"):
        ms = [r["metrics"] for c in fig3 if c.algo == algo and (r := store.load_run(c))]
        if ms:
            curves[algo.upper()] = np.array([[r["eval_reward"] for r in m["curve"]] for m in ms])
            x = np.array([r["gradient_steps"] for r in ms[0]["curve"]])
    ablations = {}
    for name, cells in ablation_cells(seeds, quick).items():
        found = [r for c in cells if (r := store.load_run(c)) is not None]
        if not found:
            continue
        row = method_row([r["metrics"]["final"] for r in found])
        row["seeds_needed"] = len(cells)
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
