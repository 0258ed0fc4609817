"""Helpers for the book's notebooks: Markdown tables and glued values, so that the pages hold
narrative and call the library instead of defining helpers of their own."""

from __future__ import annotations

import inspect
import io
import tokenize
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from dnt.repro.claims_text import READING_NAMES
from dnt.repro.store import project_root

__all__ = [
    "field_notes",
    "fmt_ci",
    "glue",
    "markdown_table",
    "measured",
    "methods_table",
    "missed_sentence",
    "project_root",
    "scoreboard",
    "settings_table",
    "store_sentence",
    "targets_table",
    "verdict_counts",
]


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
        if r.get("pending"):  # no current seed
            rows.append([label, "pending", "", "", "", "", f"0 of {r.get('seeds_needed', '?')}"])
            continue
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


def field_notes(cls: type) -> dict[str, str]:
    """The comment written after each field of dataclass ``cls`` in its source (the library's
    own explanation of the setting, so the book never keeps a second copy)."""
    if not is_dataclass(cls):
        raise TypeError(f"cls must be a dataclass, got {cls!r}")
    names = {f.name for f in fields(cls)}
    notes: dict[str, str] = {}
    line_name: dict[int, str] = {}
    tokens = tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline)
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in names and tok.start[1] == 4:
            line_name.setdefault(tok.start[0], tok.string)  # a field: indented once
        elif tok.type == tokenize.COMMENT and tok.start[0] in line_name:
            notes[line_name[tok.start[0]]] = tok.string.lstrip("#").strip()
    return notes


def settings_table(configs: dict[str, Any]) -> str:
    """Markdown table of dataclass settings side by side (e.g. ``{"VDN": tc, "IQL": tc}``),
    one row per field with its meaning from :func:`field_notes`."""
    if not configs:
        raise ValueError("configs is empty: give at least one labelled dataclass instance")
    cls = type(next(iter(configs.values())))
    notes = field_notes(cls)
    rows = [
        [f.name, *(getattr(c, f.name) for c in configs.values()), notes.get(f.name, "")]
        for f in fields(cls)
    ]
    return markdown_table(["setting", *configs, "meaning"], rows)


def missed_sentence(targets: list[dict[str, Any]]) -> str:
    """One sentence on :func:`dnt.repro.summary.learner_targets`: all met, or which missed."""
    missed = [t["target"] for t in targets if not t["met"]]
    if not missed:
        return "Every target above is met."
    return "Missed: " + "; ".join(missed) + ". We report these as they are."


def verdict_counts(table: dict[str, Any]) -> dict[str, Any]:
    """Counts over a claims table (``claims.json``): claims, direction verdicts by kind
    (pending: too few current seeds to judge), magnitudes claimed and magnitudes comparable;
    the seeds and the reading of eq. (16)."""
    directions = [c["direction"] for c in table["claims"]]
    magnitudes = [c["magnitude"] for c in table["claims"]]
    return {
        "claims": len(directions),
        "directions": sum(d != "none claimed" for d in directions),
        "reproduced": directions.count("reproduced"),
        "opposite": directions.count("opposite"),
        "inconclusive": directions.count("inconclusive"),
        "pending": directions.count("pending"),
        "magnitudes": sum(m != "none claimed" for m in magnitudes),
        "comparable": sum(m in ("reproduced", "not reproduced") for m in magnitudes),
        "magnitudes_reproduced": magnitudes.count("reproduced"),
        "seeds": table["seeds"],
        "reading": READING_NAMES.get(table.get("reading"), table.get("reading") or ""),
    }


def scoreboard(table: dict[str, Any]) -> str:
    """The landing page's table: per claim of a claims table, the figure, what the paper
    states, our measurement with its 95% interval, and the two verdict parts (direction,
    magnitude); a column per further reading when the table holds one (``alternative``). A
    row computed from fewer seeds than its settings need names its seed counts (``mark``)."""
    extra = any("alternative" in c for c in table["claims"])
    headers = ["figure", "the paper states", "paper", "we measure [95% CI]", "direction"]
    headers += ["magnitude", *(["direction, other reading"] if extra else [])]
    rows = [
        [c["figure"], c["claim"], c["paper"], measured(c), f"**{c['direction']}**"]
        + [c["magnitude"]]
        + ([(c.get("alternative") or {}).get("direction", "")] if extra else [])
        for c in table["claims"]
    ]
    return markdown_table(headers, rows)


def measured(c: dict[str, Any]) -> str:
    """A claim row's measurement, with its seed counts when some are missing (a pending row's
    text already says why)."""
    mark = c.get("mark") if c.get("direction") != "pending" else ""
    return c["text"] + (f" ({mark})" if mark else "")


def store_sentence(table: dict[str, Any]) -> str:
    """One sentence on the result store behind a claims table (its ``store`` entry, written by
    ``reproduce``): complete, or how many runs are current, stale and missing; "" for a table
    without that entry."""
    store = table.get("store")
    if not store:
        return ""
    runs = store["runs"]
    if store["complete"]:
        return (
            f"The result store is complete: all {runs['needed']} runs behind these numbers "
            "were made by the current code."
        )
    parts = []
    if runs["stale"]:
        versions = ", ".join(store.get("stale_code_versions") or []) or "older code"
        parts.append(f"{runs['stale']} stale: made by code {versions}")
    if runs["missing"]:
        parts.append(f"{runs['missing']} missing")
    pending = sum(c.get("direction") == "pending" for c in table.get("claims", []))
    tail = "rows and figures drawn from fewer seeds or from stale runs say so"
    if pending:
        tail += ", and " + (
            "the pending row is not judged"
            if pending == 1
            else f"the {pending} pending rows are not judged"
        )
    return (
        f"The result store is part-rebuilt: {runs['current']} of {runs['needed']} runs are "
        f"current ({'; '.join(parts)}); {tail}."
    )
