"""Helpers for the book's notebooks: Markdown tables and glued values, so that the pages hold
narrative and call the library instead of defining helpers of their own."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnt.repro.store import project_root

__all__ = ["fmt_ci", "glue", "markdown_table", "methods_table", "project_root", "targets_table"]


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (for the book's pages)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def glue(name: str, value: Any, display: bool = False) -> None:
    """``myst_nb.glue`` for the book's pages, with numpy scalars turned into Python numbers
    (myst-nb formats ``{glue:text}`key:.2f``` from the plain-text form of the value)."""
    from myst_nb import glue as myst_glue  # the book extra: only notebooks call this

    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=display)


def fmt_ci(row: dict[str, Any], digits: int = 2) -> str:
    """A row's reward as "mean [low, high]" (a point for deterministic rules)."""
    lo, hi = row["reward_ci"]
    if lo == hi:
        return f"{row['reward']:.{digits}f}"
    return f"{row['reward']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def methods_table(methods: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    """Markdown table of methods (rows of ``summary.json``'s ``fig3.methods``) in the order and
    with the labels of ``labels``: reward with its interval, share of the one-slot optimiser's
    reward, sum rate, DNT error, updates per slot and seeds."""
    rows = []
    for name, label in labels.items():
        r = methods[name]
        rows.append(
            [
                label + (" (stale)" if r.get("stale") else ""),
                fmt_ci(r),
                f"{r['percent_of_oracle']:.1f}%" if "percent_of_oracle" in r else "",
                f"{r['sum_rate']:.1f}",
                f"{r['dnt_error']:.2f}",
                f"{r['updates_per_slot']:.2f}",
                r["seeds"],
            ]
        )
    headers = [
        "policy",
        "reward per slot",
        "% of one-slot optimiser",
        "sum rate",
        "DNT error",
        "updates",
    ]
    return markdown_table([*headers, "seeds"], rows)


def targets_table(targets: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`dnt.repro.summary.learner_targets`."""
    rows = [
        [t["target"], f"{t['value']:.2f}", f"{t['bar']:.2f}", "met" if t["met"] else "**missed**"]
        for t in targets
    ]
    return markdown_table(["target", "measured", "bar", "verdict"], rows)
