"""Executors: where the reproduction's work units run.

A work unit is a plain function applied to picklable arguments: train the GRU twin of one
scenario (:func:`twin_job`) or train the cells of one setting side by side
(:func:`run_cells`). The driver writes every result to the store itself, with the same atomic
writes whatever ran the unit, so a run's numbers never depend on the executor.

``local`` (default): a pool of ``jobs`` processes on this machine. ``ray``: the same units as
Ray tasks of one CPU each, on a local Ray instance (``ray.init()``) or, with ``address``, on an
existing cluster; Ray is the optional extra ``pip install -e ".[cluster]"``.
"""

from __future__ import annotations

import multiprocessing as mp
import platform
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dnt.repro.specs import Cell, twin_settings
from dnt.repro.store import ResultStore
from dnt.rl.train import train_seeds
from dnt.sim.config import SystemConfig
from dnt.sim.gru import GRUPredictor, scenario_twin

__all__ = [
    "EXECUTORS",
    "Executor",
    "batches",
    "machine",
    "run_cell",
    "run_cells",
    "store_twin",
    "twin_job",
]

EXECUTORS = ("local", "ray")


def store_twin(cfg: SystemConfig, store: ResultStore, quick: bool) -> GRUPredictor:
    """The scenario's GRU twin from the store's ``twins/`` (trained once when missing, or when
    stale and the store does not allow stale files)."""
    tc, n_traj = twin_settings(quick)
    return scenario_twin(cfg, store.twins, tc, n_traj, allow_stale=store.allow_stale)


def twin_job(args: tuple[SystemConfig, str, bool, bool]) -> str:
    """Work unit: make sure the store holds the scenario's twin (one thread). ``args``:
    (config, store root, quick, allow stale)."""
    cfg, root, quick, allow_stale = args
    torch.set_num_threads(1)
    store_twin(cfg, ResultStore(root, allow_stale), quick)
    return cfg.config_hash()


def run_cell(args: tuple[Cell, str, bool]) -> tuple[str, dict[str, Any]]:
    """Worker: train one cell in this process (one thread), return its metrics."""
    cell, root, quick = args
    return run_cells(([cell], root, quick))[0]


def run_cells(args: tuple[list[Cell], str, bool]) -> list[tuple[str, dict[str, Any]]]:
    """Work unit: train cells that differ only by seed side by side in this process (one
    thread, :func:`dnt.rl.train.train_seeds`); each cell's metrics equal those of
    :func:`run_cell`. ``args``: (cells, store root, quick). Returns (file name, metrics) per
    cell; nothing is written here (the driver writes)."""
    cells, root, quick = args
    if len({c.setting() for c in cells}) != 1:
        raise ValueError("cells: run_cells takes cells that differ only by seed")
    first = cells[0]
    torch.set_num_threads(1)
    store = ResultStore(root, allow_stale=True)  # the driver has made the twins it needs
    pred = store_twin(first.cfg, store, quick) if first.cfg.twin_predictor == "gru" else None
    runs = train_seeds(first.cfg, first.tc, [c.seed for c in cells], predictor=pred, progress=False)
    trainer = runs[0]["trainer"]
    out = []
    for i, (c, m) in enumerate(zip(cells, runs, strict=True)):
        per_slot = trainer.final[i]["per_slot"]  # the last evaluation, (T, E)
        metrics = {
            "final": m["final"],
            "curve": trainer.curves[i],
            "train_wall_seconds": m["train_wall_seconds"],
            "machine": machine(),
            "episode0": {k: [row[0] for row in v] for k, v in per_slot.items()},
            "slot_mean": {k: np.mean(v, axis=1).tolist() for k, v in per_slot.items()},
        }
        out.append((c.filename(), metrics))
    return out


def machine() -> dict[str, str]:
    """What decides float rounding here: the CPU model and the vector instructions torch uses,
    and the torch and numpy versions (the determinism contract's "same machine")."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def batches(cells: list[Cell], jobs: int) -> list[list[Cell]]:
    """Cells grouped by everything but the seed (one process trains a group side by side),
    largest work first; groups are halved while there are fewer groups than ``jobs``. A cell's
    numbers do not depend on its group, so the grouping only changes the time taken."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        groups.setdefault(c.setting(), []).append(c)
    out = list(groups.values())
    while out and len(out) < jobs and max(len(g) for g in out) > 1:
        big = max(out, key=len)
        out.remove(big)
        half = (len(big) + 1) // 2
        out += [big[:half], big[half:]]
    return sorted(out, key=lambda g: (-len(g) * g[0].cfg.num_users, g[0].filename()))


class Executor:
    """Runs work units and yields their results as they finish; use as a context manager.

    ``kind="local"``: one pool of ``jobs`` processes (spawned) for all the units of the session.
    ``kind="ray"``: Ray tasks of one CPU each, on the cluster at ``address`` or on a local
    instance started for the session (``ray.init()``) and shut down at its end.
    """

    def __init__(self, kind: str = "local", jobs: int = 1, address: str | None = None) -> None:
        if kind not in EXECUTORS:
            raise ValueError(f"executor={kind!r} is invalid: must be one of {EXECUTORS}")
        if not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs={jobs!r} is invalid: must be an integer >= 1")
        self.kind, self.jobs, self.address = kind, jobs, address
        self._pool: Any = None
        self._ray: Any = None
        self._started_ray = False

    def __enter__(self) -> Executor:
        if self.kind == "ray":
            try:
                import ray  # the optional extra: pip install -e ".[cluster]"
            except ImportError:
                raise ValueError(
                    'executor "ray" needs Ray: pip install -e ".[cluster]" (or use local)'
                ) from None
            self._ray = ray
            if not ray.is_initialized():
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
                self._started_ray = True
        else:
            self._pool = mp.get_context("spawn").Pool(self.jobs)
        return self

    def map(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[Any]:
        """``fn`` applied to every unit, results in the order they finish."""
        units = list(units)
        if not units:
            return
        if self._ray is not None:
            task = self._ray.remote(num_cpus=1)(fn)
            pending = [task.remote(u) for u in units]
            while pending:
                done, pending = self._ray.wait(pending, num_returns=1)
                yield self._ray.get(done[0])
        else:
            if self._pool is None:
                raise RuntimeError("use the Executor as a context manager (with Executor(...))")
            yield from self._pool.imap_unordered(fn, units)

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()  # let the workers exit on their own before the pool goes
            self._pool.join()
            self._pool = None
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False
