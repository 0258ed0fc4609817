"""The numbers behind every figure and the claims table, as CSV files a reader can open.

Each drawing function of :mod:`dnt.repro.figures` records what it plots with :func:`record`
as it plots it, so a figure's CSV holds exactly the drawn values (no second computation that
could drift from the picture). One tidy table per figure, one row per drawn point:

* ``panel``: the axes the point is on (e.g. ``"DNT error"``, ``"user 2"``);
* ``series``: the line or marker set (a method, a rule, ``"true"``/``"predicted"``);
* ``x``, ``y``: the point; ``low``, ``high``: its 95% interval where one is drawn (empty for a
  single seed or a deterministic rule); ``seeds``: how many seeds the point averages (in a
  part-rebuilt store, the seeds present, point by point);
* ``point``: the point's position along its series (Fig. 2's time step).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dnt._io import atomic_write

__all__ = ["COLUMNS", "claims_csv", "claims_frame", "figure_frame", "record", "write_csv"]

#: The columns of every figure's CSV, in order.
COLUMNS = ("panel", "series", "point", "x", "y", "low", "high", "seeds")


def record(
    fig: Figure,
    panel: str,
    series: str,
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    low: Sequence[float] | np.ndarray | None = None,
    high: Sequence[float] | np.ndarray | None = None,
    seeds: int | Sequence[int] | np.ndarray | None = None,
) -> None:
    """Note on ``fig`` the points of one drawn series (arrays of equal length); ``seeds`` is
    one count for every point or a count per point (a part-rebuilt store)."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    lo = np.full(y.shape, np.nan) if low is None else np.asarray(low, dtype=float)
    hi = np.full(y.shape, np.nan) if high is None else np.asarray(high, dtype=float)
    if not (x.shape == y.shape == lo.shape == hi.shape) or y.ndim != 1:
        raise ValueError(
            f"series {series!r}: x, y, low and high must be 1-D of one length, got shapes "
            f"{x.shape}, {y.shape}, {lo.shape}, {hi.shape}"
        )
    series_frame = pd.DataFrame(
        {
            "panel": panel,
            "series": series,
            "point": np.arange(y.size),
            "x": x,
            "y": y,
            "low": lo,
            "high": hi,
            "seeds": pd.array(
                [seeds] * y.size if seeds is None or np.ndim(seeds) == 0 else list(seeds),
                dtype="Int64",
            ),
        }
    )
    if not hasattr(fig, "dnt_series"):
        fig.dnt_series = []
    fig.dnt_series.append(series_frame)


def figure_frame(fig: Figure) -> pd.DataFrame:
    """The points ``fig`` recorded (:func:`record`), in drawing order."""
    parts = getattr(fig, "dnt_series", None)
    if not parts:
        raise ValueError("fig recorded no data: draw it with a function of dnt.repro.figures")
    return pd.concat(parts, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` atomically (floats as their shortest exact repr, no index)."""
    atomic_write(path, lambda p: frame.to_csv(p, index=False))
    return path


def claims_frame(table: dict[str, Any]) -> pd.DataFrame:
    """One row per claim of a claims table (``claims.json``): what was claimed, the paper's
    value, our estimate with its interval and method, the seeds, both verdict parts and the
    smallest effect the design detects."""
    rows = []
    for c in table["claims"]:
        est = c.get("estimate") or {}
        rows.append(
            {
                "id": c["id"],
                "figure": c["figure"],
                "claim": c["claim"],
                "paper": c.get("paper"),
                "paper_value": c.get("paper_value"),
                "estimate": est.get("value"),
                "low": est.get("low"),
                "high": est.get("high"),
                "interval": est.get("method"),
                "seeds_per_method": "/".join(str(s) for s in c.get("seeds_per_method") or []),
                "direction": c.get("direction"),
                "detectable": c.get("detectable"),
                "magnitude": c.get("magnitude"),
                "magnitude_why": c.get("magnitude_why"),
                "text": c.get("text"),
            }
        )
    return pd.DataFrame(rows)


def claims_csv(table: dict[str, Any], path: Path) -> Path:
    """Write :func:`claims_frame` of ``table`` to ``path``."""
    return write_csv(claims_frame(table), path)
