"""The claims table as Markdown (``claims.md``), from a table of :func:`dnt.repro.claims.claims`:
the intervals and both verdict parts per row, and what a part-rebuilt or stale store means
for it."""

from __future__ import annotations

from typing import Any

__all__ = ["READING_NAMES", "claims_markdown"]

#: How ``claims.md`` names the readings of eq. (16).
READING_NAMES = {"exactly_once": "printed", "at_most_once": "no user served twice"}


def _poi_text(c: dict[str, Any]) -> str:
    p = c["poi"]
    return "" if p is None else f"{p['value']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"


def _marked(c: dict[str, Any]) -> bool:
    """Whether a row's text needs its seed counts beside it (a pending row names its own)."""
    return bool(c.get("mark")) and c["direction"] != "pending"


def claims_markdown(table: dict[str, Any]) -> str:
    """The claims table as Markdown."""
    note = " (quick budget: not a result)" if table["quick"] else ""
    reading = READING_NAMES.get(table.get("reading"), table.get("reading"))
    lines = [
        "# Claims of Section V, checked",
        "",
        f"{table['seeds']} seeds per setting{note}; "
        + (f"eq. (16) read as: {reading}; " if reading else "")
        + "code "
        f"{', '.join(table['code_versions'])}. Intervals are 95%: Student-t for means, Welch "
        "for differences, Fieller for percentage gains (their coverage at these seed counts "
        "is simulated in the book). Direction: *reproduced* when the whole interval lies on "
        "the claimed side of 0, *opposite* when it lies on the other side, *inconclusive* when "
        "it contains 0; *detectable* is the smallest true effect the interval finds 80% of "
        "the time. Magnitude: judged only when everything the paper's number depends on is "
        "stated in the paper. P(VDN better): the probability of improvement (Agarwal et al. "
        "2021) in the claimed direction (rliable), with a seeded percentile bootstrap interval.",
        "",
    ]
    if table.get("runs_missing"):
        stale = table["runs_needed"] - table["runs_current"] - table["runs_missing"]
        lines[2:2] = [
            f"**Part-rebuilt store**: {table['runs_current']} of {table['runs_needed']} runs "
            "behind this table are current ("
            + (f"{stale} stale, " if stale else "")
            + f"{table['runs_missing']} missing); rows marked with their seed counts are "
            "computed from the runs present only; pending rows (fewer than 2 current seeds in "
            "a group) are not judged." + _stale_sentence(table),
            "",
        ]
    if table.get("stale_runs"):
        lines += [
            f"**Stale**: {table['stale_runs']} of the runs behind this table were made by older "
            "code than the current one (reused with `--allow-stale`); rerun `python -m dnt "
            "reproduce` to retrain them.",
            "",
        ]
    if table["seeds"] < 2:
        lines += ["With fewer than 2 seeds there is no interval, so no claim is judged.", ""]
    lines += [
        "| figure | claim | paper | ours [95% CI] | direction | detectable | magnitude "
        "| P(VDN better) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in table["claims"]:
        det = "" if c["detectable"] is None else f"{c['detectable']:.3g}"
        mag = c["magnitude"] + (f" ({c['magnitude_why']})" if c["unstated"] else "")
        text = c["text"] + (f" ({c['mark']})" if _marked(c) else "")
        lines.append(
            f"| {c['figure']} | {c['claim']} | {c['paper']} | {text} | "
            f"**{c['direction']}** | {det} | {mag} | {_poi_text(c)} |"
        )
    lines += ["", "How each number was computed:", ""]
    for c in table["claims"]:
        extra = f" Note: {c['note']}." if c.get("note") else ""
        seeds = "/".join(map(str, c.get("seeds_per_method", [])))
        if c.get("mark"):
            seeds += " of " + "/".join(map(str, c["seeds_needed"]))
        lines.append(f"- `{c['id']}`: {c['how']}; seeds {seeds or 'n/a'}.{extra}")
    return "\n".join(lines) + "\n"


def _stale_sentence(table: dict[str, Any]) -> str:
    """What the store says of its stale runs (left out unless reused with ``--allow-stale``)."""
    versions = (table.get("store") or {}).get("stale_code_versions") or []
    if not versions:
        return ""
    return f" Stale runs (made by code {', '.join(versions)}) count as missing until retrained."
