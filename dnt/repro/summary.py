"""The reproduction's machine-readable summary, ``results/summary.json``: Fig. 3's methods (the
learners, every rule and the one-slot optimiser) with their rewards, and the budget study. The
book's pages and the claims read it; it is written by ``reproduce`` from the store."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnt.repro.intervals import mean_ci
from dnt.repro.specs import budget_cells, chosen_budget, figure_cells, figure_configs

__all__ = ["METRICS", "REFERENCES", "learner_targets", "method_row", "summary"]

#: The rules a learned BS could express, the threshold rule and the one-slot optimiser, as drawn
#: next to the learners (labels for figures).
REFERENCES = {
    "nearest_always_update": "nearest BS, always update",
    "nearest_skip_overlap_always_update": "nearest BS, skip overlaps, always update",
    "nearest_threshold_1": "threshold rule (sees the twin's error)",
    "myopic_oracle": "one-slot optimiser (full state)",
}


#: The numbers of a method's row (None in a pending row).
METRICS = ("reward", "reward_ci", "sum_rate", "dnt_error", "updates_per_slot")


def method_row(
    finals: list[dict[str, Any]], stale: bool = False, needed: int | None = None
) -> dict[str, Any]:
    """A learned method's row from the final evaluations of its seeds: mean reward with a 95%
    Student-t interval over seeds, mean sum rate and DNT error, and the seed count (and
    ``seeds_needed`` when ``needed`` is given). With no seed at all the row is *pending*: its
    numbers are None."""
    if not finals:
        row: dict[str, Any] = dict.fromkeys(METRICS) | {"seeds": 0, "pending": True}
        return row | ({"seeds_needed": needed} if needed is not None else {})
    rew = np.array([f["reward"] for f in finals])
    mean, lo, hi = mean_ci(rew[:, None])
    row = {
        "reward": float(mean[0]),
        "reward_ci": [float(lo[0]), float(hi[0])],
        "sum_rate": float(np.mean([f["sum_rate"] for f in finals])),
        "dnt_error": float(np.mean([f["dnt_error"] for f in finals])),
        "updates_per_slot": float(np.mean([f["updates_per_slot"] for f in finals])),
        "seeds": len(finals),
    }
    row |= {"seeds_needed": needed} if needed is not None else {}
    return row | ({"stale": True} if stale else {})


def _rows(cells, runs) -> tuple[list[dict[str, Any]], bool]:
    """The final evaluations of the ``cells`` present in ``runs``, and whether any is stale."""
    found = [runs[c.filename()] for c in cells if c.filename() in runs]
    return [r["metrics"]["final"] for r in found], any(r.get("stale") for r in found)


def summary(seeds: int, quick: bool, runs: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The summary from the store's usable runs (by file name; Fig. 3's and the budget study's
    cells) and baselines (by config hash). Baselines are deterministic: their interval is a
    point and ``seeds`` is 1. A learned row averages the seeds present in ``runs`` (a
    part-rebuilt store) and records ``seeds_needed``; the budget study is written when each of
    its rows has a seed."""
    cfg = figure_configs("fig3")[0]
    methods: dict[str, Any] = {}
    for algo in ("vdn", "iql"):
        cells = [c for c in figure_cells("fig3", seeds, quick) if c.algo == algo]
        finals, stale = _rows(cells, runs)
        methods[algo.upper()] = method_row(finals, stale, len(cells))
    for name, res in base[cfg.config_hash()].items():
        methods[name] = {
            "reward": res["reward"],
            "reward_ci": [res["reward"], res["reward"]],
            "sum_rate": res["sum_rate"],
            "dnt_error": res["dnt_error"],
            "updates_per_slot": res["updates_per_slot"],
            "seeds": 1,
        }
    oracle = methods["myopic_oracle"]["reward"]
    for row in methods.values():
        if not row.get("pending"):
            row["percent_of_oracle"] = 100 * row["reward"] / oracle
    out: dict[str, Any] = {
        "seeds": seeds,
        "quick": quick,
        "fig3": {"config": cfg.to_dict(), "methods": methods},
    }
    study = budget_cells(seeds, quick)
    if all(any(c.filename() in runs for c in cs) for cs in study.values()):
        budget: dict[str, Any] = {"chosen_gradient_steps": chosen_budget(quick)}
        for algo in ("vdn", "iql"):
            rows = []
            for (a, label), cells in study.items():
                if a != algo:
                    continue
                finals, stale = _rows(cells, runs)
                row = {"gradient_steps": cells[0].tc.gradient_steps}
                row |= method_row(finals, stale, len(cells))
                if label == "paper-literal":
                    row["env_steps_per_update"] = cells[0].tc.env_steps_per_update
                    budget[f"{algo.upper()}_paper_literal"] = row
                else:
                    rows.append(row)
            budget[algo.upper()] = sorted(rows, key=lambda r: r["gradient_steps"])
        out["budget_study"] = budget
    return out


def learner_targets(
    summ: dict[str, Any],
    printed_vdn: dict[str, Any] | None = None,
    printed_baselines: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The learner's targets at Fig. 3's settings, each with the measured value, the bar and
    whether it is met: VDN against the rules it could express, the threshold rule and the
    oracle; the budget study's monotonicity; and, given the printed-reading rows, VDN against
    the nearest-BS rule under the printed reading of eq. (16)."""
    m = summ["fig3"]["methods"]
    vdn = m["VDN"]["reward"]
    out = []

    def add(text: str, value: float | None, bar: float | None, stretch: bool = False) -> None:
        if value is None or bar is None:  # a pending row (no current seed): nothing to compare
            return
        out.append(
            {"target": text, "value": value, "bar": bar, "met": value >= bar, "stretch": stretch}
        )

    add("VDN >= nearest BS, always update", vdn, m["nearest_always_update"]["reward"])
    add(
        "VDN >= nearest BS, skip overlaps, always update",
        vdn,
        m["nearest_skip_overlap_always_update"]["reward"],
    )
    add("VDN >= 95% of the threshold rule", vdn, 0.95 * m["nearest_threshold_1"]["reward"])
    add("VDN >= 85% of the one-slot optimiser", vdn, 0.85 * m["myopic_oracle"]["reward"])
    add("VDN >= the threshold rule (stretch)", vdn, m["nearest_threshold_1"]["reward"], True)
    study = summ.get("budget_study")
    if study:
        chosen = study["chosen_gradient_steps"]
        for label in ("VDN", "IQL"):
            rows = {r["gradient_steps"]: r for r in study[label]}
            if chosen in rows and 2 * chosen in rows:
                base = rows[chosen]
                half = (base["reward_ci"][1] - base["reward_ci"][0]) / 2
                add(
                    f"{label}: doubling the chosen budget loses at most the CI half width",
                    rows[2 * chosen]["reward"],
                    base["reward"] - half,
                )
    if printed_vdn is not None and printed_baselines is not None:
        add(
            "printed reading: VDN >= half of nearest BS, always update",
            printed_vdn["reward"],
            0.5 * printed_baselines["nearest_always_update"]["reward"],
        )
    return out
