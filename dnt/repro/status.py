"""How complete the result store is, what is left to train, in which order, and how long it takes.

A reproduction is rebuilt in slices (``reproduce all --time-limit MINUTES``, repeated until
``reproduce status --require-complete`` passes), so the store may hold only part of it. This
module answers, without training anything:

- :func:`priority`: every cell a set of targets needs, in the fixed order a time-limited
  reproduction trains them (the cells the claims read, Fig. 3's first; then the rest of each
  figure's curve; then the budget study and the ablations);
- :class:`CostModel`: the estimated wall time of a cell, from the wall times the stored runs
  record (every run records its batch's wall time; the number of seeds that shared the batch is
  recorded since the slices work, and inferred for older runs from the runs of the same setting
  that share the same wall time), or, where the store holds no comparable run, from a short
  calibration run on this machine;
- :func:`plan_groups` and :func:`makespan`: the batches of seeds trained side by side and the
  wall time of a list of them on ``jobs`` workers;
- :func:`store_status`: per target, the cells needed, current, stale and missing, and the time
  the rest takes (the report of ``python -m dnt reproduce status``).

Whether a cell is current is asked of the store (:meth:`dnt.repro.store.ResultStore.run_status`),
never decided here.
"""

from __future__ import annotations

import heapq
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnt.repro.specs import CLAIM_EPS, CLAIM_USERS, Cell, figure_cells
from dnt.repro.store import ResultStore

__all__ = [
    "TIERS",
    "CostModel",
    "completeness",
    "makespan",
    "plan_groups",
    "priority",
    "status_text",
    "store_status",
]

#: The order of a time-limited reproduction, one tier after the other.
TIERS = (
    "cells the claims read (Fig. 3's first)",
    "the rest of each figure's curve",
    "the budget study and the ablations",
)
#: Targets in the order their cells are taken within a tier.
_ORDER = ("fig3", "fig4", "fig5", "fig6", "budget", "ablations")


def _tier(target: str, cell: Cell) -> int:
    if target in ("fig3", "fig6"):
        return 0
    if target == "fig4":
        return 0 if cell.cfg.epsilon in CLAIM_EPS else 1
    if target == "fig5":
        return 0 if cell.cfg.num_users in CLAIM_USERS else 1
    return 2


def priority(targets: Iterable[str], seeds: int, quick: bool) -> list[tuple[Cell, str, int]]:
    """Every distinct cell the targets need as (cell, target, tier), in training order: by
    tier (:data:`TIERS`), then target (:data:`_ORDER`), then the target's own cell order. A cell
    two targets share (Fig. 3's cells are the budget study's chosen budget, Fig. 6's are Fig.
    5's U = 12) is listed once, under its earliest place."""
    keyed: dict[str, tuple[tuple[int, int, int], Cell, str]] = {}
    for target in targets:
        if target == "fig2":
            continue
        for i, c in enumerate(figure_cells(target, seeds, quick)):
            t = _tier(target, c)
            key = (t, _ORDER.index(target), i)
            name = c.filename()
            if name not in keyed or key < keyed[name][0]:
                keyed[name] = (key, c, target)
    ordered = sorted(keyed.values(), key=lambda v: v[0])
    return [(c, target, key[0]) for key, c, target in ordered]


def plan_groups(cells: list[Cell], jobs: int) -> list[list[Cell]]:
    """The batches that train ``cells`` (in priority order): the cells of one setting train
    side by side, a setting's batch takes the place of its first cell; while there are fewer
    batches than ``jobs`` the largest is halved (so every worker has work). A cell's numbers do
    not depend on its batch."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        groups.setdefault(c.setting(), []).append(c)
    out = list(groups.values())
    while out and len(out) < jobs and max(len(g) for g in out) > 1:
        i = max(range(len(out)), key=lambda j: len(out[j]))
        big = out[i]
        half = (len(big) + 1) // 2
        out[i : i + 1] = [big[:half], big[half:]]
    return out


def makespan(durations: Iterable[float], jobs: int) -> float:
    """Wall time of batches of the given durations started in order on ``jobs`` workers (each
    batch starts on the first worker to be free)."""
    free = [0.0] * max(1, jobs)
    for d in durations:
        heapq.heapreplace(free, free[0] + d)
    return max(free)


def _kind(d: dict[str, Any]) -> tuple[Any, ...]:
    """What a run's cost per gradient step depends on, besides the budget."""
    t, c = d["train"], d["config"]
    return (
        t.get("head"),
        t.get("hidden"),
        c.get("num_users"),
        t.get("envs"),
        t.get("env_steps_per_update"),
        t.get("batch_size"),
    )


class CostModel:
    """Estimated wall time, in seconds on one core, of one seed of a cell trained in a batch.

    Read from the store's run files (any code version: the cost of code that has since changed
    is still the best guess of the cost of the new code). A run file records its batch's wall
    time (``metrics.train_wall_seconds``) and, since the slices work, the batch's seed count
    (``timing.batch_seeds``); for older files the count is inferred: the runs of one setting
    that record the very same wall time were trained in one batch. One seed's cost is its
    batch's wall time over the batch's seeds. A cell is estimated, in this order, from

    1. ``"this setting"``: the median cost of the stored runs of its own setting;
    2. ``"same network, scaled by gradient steps"``: the median cost per gradient step of the
       stored runs with the same network, users and batch sizes, times its gradient steps;
    3. ``"same head, scaled by gradient steps"``: as 2, over the runs with the same Q-network head;
    4. ``"calibration"``: two short runs of the first such cell's setting on this machine (two
       budgets, so that the fixed cost and the cost per gradient step are both measured), once
       per Q-network head; only when the store holds no run with the same head.
       ``calibrate=False`` raises instead.
    """

    def __init__(self, store: ResultStore, calibrate: bool = True) -> None:
        self.store, self.calibrate = store, calibrate
        self.records: list[dict[str, Any]] = []
        self.machines: set[str] = set()
        self._calibrated: dict[str, tuple[float, float]] = {}
        self._read(store.root / "runs")

    def _read(self, folder: Path) -> None:
        batches: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
        for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                d = json.loads(f.read_text())
                wall = float(d["metrics"]["train_wall_seconds"])
                kind, steps = _kind(d), int(d["train"]["gradient_steps"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            setting = f.name.rsplit("-seed", 1)[0]
            rec = {"setting": setting, "kind": kind, "steps": steps, "wall": wall}
            rec["seeds"] = (d.get("timing") or {}).get("batch_seeds")
            machine = d["metrics"].get("machine") or {}
            self.machines.add(f"{machine.get('cpu', '?')} ({machine.get('capability', '?')})")
            batches[setting, wall].append(rec)
        for members in batches.values():
            for rec in members:
                k = rec["seeds"] or len(members)  # inferred for runs that predate the field
                rec["cost"] = rec["wall"] / k
                self.records.append(rec)

    def estimate(self, cell: Cell) -> tuple[float, str]:
        """(seconds, how it was estimated) for one seed of ``cell``."""
        setting = cell.setting()
        own = [r["cost"] for r in self.records if r["setting"] == setting]
        if own:
            return statistics.median(own), "this setting"
        d = cell.settings()
        kind, steps = _kind(d), cell.tc.gradient_steps
        same = [r["cost"] / r["steps"] for r in self.records if r["kind"] == kind]
        if same:
            return statistics.median(same) * steps, "same network, scaled by gradient steps"
        head = [r["cost"] / r["steps"] for r in self.records if r["kind"][0] == kind[0]]
        if head:
            return statistics.median(head) * steps, "same head, scaled by gradient steps"
        if not self.calibrate:
            raise ValueError(
                f"calibrate=False, but the store holds no run to estimate {cell!r} from"
            )
        fixed, per_step = self._calibration(cell)
        return fixed + per_step * steps, "calibration"

    def _calibration(self, cell: Cell) -> tuple[float, float]:
        """(fixed seconds, seconds per gradient step) of the cell's head, from two short runs of
        one seed of the cell's setting on this machine (one thread)."""
        key = cell.tc.head
        if key not in self._calibrated:
            import torch

            from dnt.repro.executor import store_twin
            from dnt.rl.train import train_seeds

            torch.set_num_threads(1)
            quick = cell.tc.gradient_steps < 100
            pred = None
            if cell.cfg.twin_predictor == "gru":
                pred = store_twin(cell.cfg, ResultStore(self.store.root, True, quick), quick)
            walls = []
            steps = (20, 60)
            for s in steps:
                tc = cell.tc.replace(gradient_steps=s, eval_every=s)
                start = time.perf_counter()
                train_seeds(cell.cfg, tc, [cell.seed], predictor=pred, progress=False)
                walls.append(time.perf_counter() - start)
            per_step = max(0.0, (walls[1] - walls[0]) / (steps[1] - steps[0]))
            self._calibrated[key] = (max(0.0, walls[0] - per_step * steps[0]), per_step)
        return self._calibrated[key]


def store_status(
    targets: Iterable[str],
    seeds: int,
    quick: bool,
    store: ResultStore,
    jobs: int = 1,
    model: CostModel | None = None,
    from_empty: bool = False,
) -> dict[str, Any]:
    """What ``reproduce status`` reports: per target (and in total, each cell counted once) the
    cells needed, current, stale and missing, the seconds the rest takes on ``jobs`` workers
    (at most the cores of this machine) and how the estimates were made; ``complete`` when no
    cell is stale or missing. ``from_empty``: as if the store held no run (the cost of the
    whole reproduction), still estimated from the stored wall times. Trains nothing (unless an
    estimate needs a calibration run)."""
    targets = tuple(targets)
    model = model or CostModel(store)
    workers = max(1, min(jobs, os.cpu_count() or 1))
    ordered = priority(targets, seeds, quick)
    state = {c.filename(): "missing" if from_empty else store.run_status(c) for c, _, _ in ordered}
    todo = [c for c, _, _ in ordered if state[c.filename()] != "current"]
    cost: dict[str, float] = {}
    how: dict[str, int] = defaultdict(int)
    for c in todo:
        cost[c.filename()], way = model.estimate(c)
        how[way] += 1

    def counts(cells: list[Cell]) -> dict[str, Any]:
        left = [c for c in cells if state[c.filename()] != "current"]
        n = {s: sum(state[c.filename()] == s for c in cells) for s in ("current", "stale")}
        groups = plan_groups(left, workers)
        seconds = makespan([sum(cost[c.filename()] for c in g) for g in groups], workers)
        return {
            "needed": len(cells),
            "current": n["current"],
            "stale": n["stale"],
            "missing": len(cells) - n["current"] - n["stale"],
            "core_seconds": sum(cost[c.filename()] for c in left),
            "seconds": seconds,
        }

    order = [c for c, _, _ in ordered]
    per_target = {}
    for t in targets:
        if t == "fig2":
            continue
        own = {c.filename() for c in figure_cells(t, seeds, quick)}
        cells = [c for c in order if c.filename() in own]
        per_target[t] = counts(cells)
    total = counts(order)
    stale_versions = _stale_versions(store, order, state)
    why = {c.filename(): store.why_stale(c) for c in order if state[c.filename()] == "stale"}
    others = {k: v for k, v in store.audit().items() if v and not k.startswith("runs/")}
    reasons: dict[str, int] = defaultdict(int)
    for rs in why.values():
        for r in rs:
            reasons[r] += 1
    return {
        "root": str(store.root),
        "seeds": seeds,
        "quick": quick,
        "jobs": jobs,
        "workers": workers,
        "code_version": store.version,
        "targets": per_target,
        "total": total,
        "complete": total["stale"] == 0 and total["missing"] == 0 and not others,
        "stale_artifacts": others,
        "from_empty": from_empty,
        "stale_code_versions": stale_versions,
        "stale_cells": why,
        "stale_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "estimate": {
            "how": dict(sorted(how.items())),
            "runs_read": len(model.records),
            "recorded_on": sorted(model.machines),
        },
    }


def _stale_versions(store: ResultStore, cells: list[Cell], state: dict[str, str]) -> list[str]:
    """The code versions recorded by the stale runs among ``cells`` (``state`` by file name)."""
    return sorted(
        {
            (store.load(store.run_path(c)) or {}).get("code_version", "?")
            for c in cells
            if state[c.filename()] == "stale"
        }
    )


def completeness(targets: Iterable[str], seeds: int, quick: bool, store: ResultStore) -> dict:
    """The store's completeness as claims.json and summary.json record it (counts only, no
    timings, so that redrawing an unchanged store rewrites the same files): ``complete``, the
    runs needed, current, stale and missing in total and per target, and the code versions
    that made the stale runs."""
    ordered = priority(targets, seeds, quick)
    state = {c.filename(): store.run_status(c) for c, _, _ in ordered}

    def counts(names: Iterable[str]) -> dict[str, int]:
        got = [state[n] for n in names]
        n = {s: got.count(s) for s in ("current", "stale", "missing")}
        return {"needed": len(got), **n}

    per_target = {
        t: counts(c.filename() for c in figure_cells(t, seeds, quick))
        for t in targets
        if t != "fig2"
    }
    total = counts(state)
    stale = _stale_versions(store, [c for c, _, _ in ordered], state)
    return {
        "complete": total["current"] == total["needed"],
        "runs": total,
        "targets": per_target,
        "stale_code_versions": stale,
    }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def status_text(st: dict[str, Any]) -> str:
    """:func:`store_status` as the table ``reproduce status`` prints."""
    lines = [
        f"result store {st['root']} ({st['seeds']} seeds{', quick' if st['quick'] else ''}; "
        f"current code {st['code_version']})"
        + ("; as if it held no run (--from-empty)" if st.get("from_empty") else ""),
        "",
        f"{'target':<10} {'needed':>7} {'current':>8} {'stale':>6} {'missing':>8}   "
        f"time left at --jobs {st['jobs']}",
    ]
    rows = [*st["targets"].items(), ("total", st["total"])]
    for name, r in rows:
        left = _minutes(r["seconds"]) if r["current"] < r["needed"] else "-"
        lines.append(
            f"{name:<10} {r['needed']:>7} {r['current']:>8} {r['stale']:>6} {r['missing']:>8}   "
            f"{left}"
        )
    lines.append("")
    for path, why in st.get("stale_artifacts", {}).items():
        lines.append(f"stale: {path} ({'; '.join(why)}); remade by the next reproduce")
    if st["complete"]:
        lines.append("complete: every run and every artifact it reads is current.")
    else:
        est = st["estimate"]
        how = ", ".join(f"{n} from {w}" for w, n in est["how"].items())
        lines += [
            f"not complete: {st['total']['stale'] + st['total']['missing']} runs to train, about "
            f"{_minutes(st['total']['seconds'])} of wall time on {st['workers']} worker(s) "
            f"({_minutes(st['total']['core_seconds'])} of one core); a target's time assumes it "
            "trains alone.",
            f"estimates: {how}; read from the wall times of {est['runs_read']} stored runs "
            f"(recorded on {', '.join(est['recorded_on']) or 'no machine'}); this machine may "
            "be faster or slower.",
        ]
        if st["stale_reasons"]:
            top = list(st["stale_reasons"].items())
            lines.append(
                f"stale runs (made by code {', '.join(st['stale_code_versions'])}), what "
                "changed: "
                + "; ".join(f"{r} ({n} runs)" for r, n in top[:6])
                + (f"; and {len(top) - 6} more (--json lists each run's)" if len(top) > 6 else "")
            )
        lines.append(
            "resume with: python -m dnt reproduce all --time-limit MINUTES (repeat until "
            "reproduce status --require-complete passes)"
        )
    return "\n".join(lines)
