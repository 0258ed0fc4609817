"""Equal tuning effort for VDN and IQL: the same grid, the same number of trials, the same
budget and seeds for both methods, scored only on validation episodes (seeds
``VALIDATION_SEED_BASE + e``, disjoint from the training episodes and from the fixed evaluation
episodes every figure uses). Each method keeps its own best trial; the reproduction trains with
those settings (:data:`dnt.repro.specs.TUNED`, checked against the committed study by a test).

``python -m dnt reproduce tuning`` runs the study into the store and writes ``tuning.json``.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dnt._io import atomic_write_json
from dnt.repro.executor import Executor, batches, run_cells, twin_job
from dnt.repro.records import file_hash, record
from dnt.repro.specs import QUICK_TRAIN, Cell, figure_configs
from dnt.repro.store import ResultStore
from dnt.repro.summary import method_row
from dnt.rl.config import TrainConfig

__all__ = ["GRID", "TUNING_SEEDS", "trial_cells", "tune"]

#: The grid searched for both methods: every combination is one trial.
GRID: dict[str, tuple[Any, ...]] = {
    "lr": (3e-4, 1e-3, 3e-3),
    "hidden": (32, 64),
    "target_tau": (0.005, 0.02),
}
#: Seeds per trial.
TUNING_SEEDS = 2


def trials() -> list[dict[str, Any]]:
    """The grid's trials in a fixed order."""
    keys = list(GRID)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*GRID.values())]


def trial_cells(algo: str, quick: bool) -> list[tuple[dict[str, Any], list[Cell]]]:
    """Each trial of ``algo`` with its cells: Fig. 3's settings, the library's defaults
    changed by the trial, scored on validation episodes only."""
    cfg = figure_configs("fig3")[0]
    out = []
    for trial in trials():
        base = TrainConfig(algo=algo, **(QUICK_TRAIN if quick else {}))
        ch = {k: v for k, v in trial.items() if not (quick and k == "hidden")}
        tc = base.replace(**ch, validation=True)
        tc = tc.replace(eval_every=tc.gradient_steps)
        out.append((trial, [Cell(cfg, tc, s) for s in range(TUNING_SEEDS)]))
    return out


def tune(
    quick: bool = False,
    root: str | Path | None = None,
    jobs: int = 2,
    progress: bool = True,
    executor: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Run the study's missing trials and write ``tuning.json`` at the store's root: every
    trial's validation reward (mean and 95% interval over seeds) for both methods, and each
    method's best trial."""
    root = Path(root) if root is not None else Path("results") / ("quick" if quick else "")
    store = ResultStore(root, quick=quick)
    start = time.perf_counter()
    per_algo = {algo: trial_cells(algo, quick) for algo in ("vdn", "iql")}
    cells = {c.filename(): c for t in per_algo.values() for _, cs in t for c in cs}
    todo = [c for c in cells.values() if store.load_run(c) is None]
    cfg = figure_configs("fig3")[0]
    with Executor(executor, jobs, address) as ex:
        list(ex.map(twin_job, [(cfg, str(root), quick, False)]))
        bar = tqdm(total=len(todo), desc="tuning runs", unit="run", disable=not progress)
        for done in ex.map(run_cells, [(g, str(root), quick) for g in batches(todo, jobs)]):
            for name, metrics in done:
                store.save_run(cells[name], metrics)
                bar.update(1)
        bar.close()
    out: dict[str, Any] = {
        "grid": {k: list(v) for k, v in GRID.items()},
        "seeds": TUNING_SEEDS,
        "quick": quick,
        "scored_on": "validation episodes",
        "code_version": store.version,
        "records": record("tuning", {n: file_hash(store.run_path(c)) for n, c in cells.items()}),
    }
    for algo, t in per_algo.items():
        rows = []
        for trial, cs in t:
            finals = [store.load_run(c)["metrics"]["final"] for c in cs]
            rows.append({"trial": trial, **method_row(finals)})
        best = int(np.argmax([r["reward"] for r in rows]))
        out[algo] = {"trials": rows, "best": rows[best]["trial"]}
    out["seconds"] = time.perf_counter() - start
    atomic_write_json(root / "tuning.json", {k: v for k, v in out.items() if k != "seconds"})
    return out
