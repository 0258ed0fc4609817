"""Figures of Section V, drawn from stored results (never from typed-in numbers), and the
drawing of a whole reproduction into its ``figures/`` folder as PNG and PDF, each with a CSV of
the numbers it draws (:mod:`dnt.repro.figure_data`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from dnt._io import atomic_write
from dnt.repro.claims import collect, sweep_arrays
from dnt.repro.figure_data import figure_frame, record, write_csv
from dnt.repro.intervals import mean_ci
from dnt.repro.specs import EPS_VALUES, USER_VALUES, figure_cells, figure_configs
from dnt.repro.summary import REFERENCES
from dnt.repro.system_figures import (
    FIGURE_NAMES,
    figure2,
    network_figure,
    one_step_predictions,
    pending_figure,
)

__all__ = [
    "budget_figure",
    "draw_figures",
    "figure2",
    "figure3",
    "figure4",
    "figure5",
    "figure6",
    "network_figure",
    "one_step_predictions",
    "pending_figure",
]


def _references(ax, references: dict[str, float] | None, panel: str = "") -> None:
    """Horizontal lines for the rules and the one-slot optimiser (greys and dashes, labelled)."""
    styles = ("--", ":", "-.", (0, (5, 1)), (0, (1, 1)))
    for j, (name, value) in enumerate((references or {}).items()):
        record(ax.figure, panel, name, [np.nan], [value])  # a line across: no x
        ax.axhline(
            value,
            color=f"{0.15 + 0.15 * j:.2f}",
            ls=styles[j % len(styles)],
            lw=1.1,
            label=f"{name} ({value:.2f})",
        )


def figure3(
    curves: dict[str, np.ndarray],
    x: np.ndarray | None = None,
    title: str | None = None,
    ylabel: str = "average reward per slot (greedy evaluation)",
    xlabel: str = "gradient steps",
    references: dict[str, float] | None = None,
) -> Figure:
    """Fig. 3: average reward along training for each method, mean and 95% Student-t band over
    seeds, with the rules and the one-slot optimiser as horizontal references.

    ``curves`` maps a label (e.g. "VDN", "IQL") to an array (seeds, evaluations; no seed: a
    method left out that keeps its colour); ``x`` gives
    the gradient steps of the evaluations (default 1, 2, ...); ``references`` maps a name to a
    reward.
    """
    if not curves:
        raise ValueError("curves is empty: give at least one method's (seeds, evaluations) array")
    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.subplots()
    for i, (label, values) in enumerate(curves.items()):
        v = np.atleast_2d(np.asarray(values, dtype=float))
        if v.shape[0] == 0:  # no seed of this method: nothing drawn, its colour kept
            continue
        xs = np.arange(1, v.shape[1] + 1) if x is None else np.asarray(x)
        mean, low, high = mean_ci(v)
        ax.plot(xs, mean, color=f"C{i}", label=f"{label} (mean of {v.shape[0]} seeds)")
        band = v.shape[0] > 1  # one seed: no interval, no band
        if band:
            ax.fill_between(xs, low, high, color=f"C{i}", alpha=0.25, lw=0)
        record(
            fig,
            "reward",
            label,
            xs,
            mean,
            low if band else None,
            high if band else None,
            v.shape[0],
        )
    _references(ax, references, "reward")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set_title(title or "Convergence of VDN and IQL (bands: 95% Student-t CI over seeds)")
    return fig


def budget_figure(
    study: dict[str, list[dict[str, Any]]],
    references: dict[str, float] | None = None,
    literal: dict[str, dict[str, Any]] | None = None,
    chosen: int | None = None,
    title: str | None = None,
) -> Figure:
    """The budget study: final greedy reward against gradient steps (log axis), mean and 95%
    Student-t interval over seeds per method, the chosen budget marked, the paper-literal runs
    as single points and the rules and the one-slot optimiser as references.

    ``study[label]`` is a list of ``{"gradient_steps", "reward", "reward_ci"}``; ``literal``
    maps a label to one such row.
    """
    if not study:
        raise ValueError("study is empty: give at least one method's rows")
    fig = Figure(figsize=(7.2, 4.4), layout="constrained")
    ax = fig.subplots()
    for i, (label, rows) in enumerate(study.items()):
        g = np.array([r["gradient_steps"] for r in rows], dtype=float)
        m = np.array([r["reward"] for r in rows])
        ci = np.array([r["reward_ci"] for r in rows]).T
        n = [r.get("seeds") for r in rows]
        ax.errorbar(
            g, m, yerr=[m - ci[0], ci[1] - m], fmt="o-", color=f"C{i}", capsize=3, label=label
        )
        record(fig, "reward", label, g, m, *_interval(ci[0], ci[1], n), n)
        if literal and label in literal:
            r = literal[label]
            ax.errorbar(
                [r["gradient_steps"]],
                [r["reward"]],
                yerr=[[r["reward"] - r["reward_ci"][0]], [r["reward_ci"][1] - r["reward"]]],
                fmt="s",
                mfc="none",
                color=f"C{i}",
                capsize=3,
                label=f"{label}, paper-literal 75 epochs",
            )
            record(
                fig,
                "reward",
                f"{label}, paper-literal 75 epochs",
                [r["gradient_steps"]],
                [r["reward"]],
                *_interval([r["reward_ci"][0]], [r["reward_ci"][1]], [r.get("seeds")]),
                r.get("seeds"),
            )
    if chosen is not None:
        ax.axvline(chosen, color="k", lw=0.8, alpha=0.5)
        record(fig, "reward", "chosen budget", [chosen], [np.nan])  # a line up: no y
    _references(ax, references, "reward")
    ax.set_xscale("log")
    ax.set_xlabel("gradient steps in the run (budget)")
    ax.set_ylabel("final greedy reward per slot")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small", loc="lower right")
    ax.set_title(title or "Budget study: final reward against training budget")
    return fig


def _interval(
    low: Sequence[float] | np.ndarray, high: Sequence[float] | np.ndarray, seeds: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """``low`` and ``high`` as recorded: none (NaN) at a point of fewer than 2 seeds."""
    few = np.array([n is not None and n < 2 for n in seeds])
    return (
        np.where(few, np.nan, np.asarray(low, dtype=float)),
        np.where(few, np.nan, np.asarray(high, dtype=float)),
    )


def _seed_label(n: np.ndarray) -> str:
    """The seeds of a series' points: "5 seeds", or "3-5 seeds" when they differ."""
    lo, hi = int(n.min()), int(n.max())
    return f"{hi} seeds" if lo == hi else f"{lo}-{hi} seeds"


def _sweep(
    x: Sequence[float],
    methods: dict[str, dict[str, np.ndarray]],
    baselines: dict[str, dict[str, np.ndarray]],
    xlabel: str,
    title: str,
) -> Figure:
    """Two panels (average DNT error, average data rate per user) against a swept setting.

    ``methods[label][metric]`` is (seeds, len(x)): mean and 95% Student-t interval are drawn,
    over the seeds present at each point (NaN: a missing seed; a point without any is not
    drawn, a method without any point is left out); ``baselines[label][metric]`` is (len(x),)
    (deterministic policies), drawn dashed.
    """
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = (("dnt_error", "average DNT error per user"), ("rate", "average data rate per user"))
    for ax, (key, label) in zip(axes, panels, strict=True):
        for i, (name, res) in enumerate(methods.items()):
            v = np.atleast_2d(np.asarray(res[key], dtype=float))
            n = (~np.isnan(v)).sum(axis=0)
            if not n.any():
                continue
            mean, low, high = mean_ci(v)
            if n.min() == v.shape[0]:  # every seed at every point
                record(fig, label, name, x, mean, low, high, v.shape[0])
            else:
                record(fig, label, name, x, mean, *_interval(low, high, n.tolist()), n)
            ax.errorbar(
                x,
                mean,
                yerr=[mean - low, high - mean],
                fmt="o-",
                color=f"C{i}",
                capsize=3,
                label=f"{name} ({_seed_label(n)}, 95% CI)",
            )
        for j, (name, res) in enumerate(baselines.items()):
            ax.plot(x, res[key], ls="--", marker=".", color=f"C{j + 2}", alpha=0.8, label=name)
            record(fig, label, name, x, res[key])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small")
    fig.suptitle(title)
    return fig


def figure4(
    eps_values: Sequence[float],
    methods: dict[str, dict[str, np.ndarray]],
    baselines: dict[str, dict[str, np.ndarray]] | None = None,
    note: str = "",
) -> Figure:
    """Fig. 4: average DNT error and data rate as epsilon varies (N = 9); ``note`` is appended
    to the title."""
    return _sweep(
        eps_values,
        methods,
        baselines or {},
        "weight epsilon",
        f"Average DNT error and data rate as epsilon varies (N = 9){note}",
    )


def figure5(
    user_values: Sequence[int],
    methods: dict[str, dict[str, np.ndarray]],
    baselines: dict[str, dict[str, np.ndarray]] | None = None,
    note: str = "",
) -> Figure:
    """Fig. 5: average DNT error and data rate as the number of users varies; ``note`` is
    appended to the title."""
    return _sweep(
        user_values,
        methods,
        baselines or {},
        "number of users U",
        f"Average DNT error and data rate as U varies (epsilon = 0.25, N = 12){note}",
    )


def figure6(methods: dict[str, dict[str, np.ndarray]], note: str = "") -> Figure:
    """Fig. 6: BSs updating the twin and DNT error at each slot of an evaluation episode.

    ``methods[label]["updates"]`` and ``["dnt_error"]`` are (seeds, T): each seed's value per
    slot, averaged over every evaluation episode (the paper shows one episode; one episode of
    16 would be a sample of one); mean and 95% Student-t band over seeds (a method of no
    seed is left out and keeps its colour). ``note`` is appended to the title.
    """
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for i, (name, res) in enumerate(methods.items()):
        for ax, key in ((ax1, "updates"), (ax2, "dnt_error")):
            v = np.atleast_2d(np.asarray(res[key], dtype=float))
            if v.shape[0] == 0:  # no seed of this method: nothing drawn, its colour kept
                continue
            t = np.arange(1, v.shape[1] + 1)
            mean, low, high = mean_ci(v)
            ax.plot(t, mean, "o-", ms=3, color=f"C{i}", label=f"{name} ({v.shape[0]} seeds)")
            band = v.shape[0] > 1  # one seed: no interval, no band
            if band:
                ax.fill_between(t, low, high, color=f"C{i}", alpha=0.2, lw=0)
            record(
                fig, key, name, t, mean, low if band else None, high if band else None, v.shape[0]
            )
    ax1.set_ylabel("BSs updating the twin")
    ax2.set_ylabel("DNT error per user")
    ax2.set_xlabel("slot of the episode (mean over the evaluation episodes)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize="small")
    fig.suptitle(f"Slot by slot over the evaluation episodes (epsilon = 0.25, N = 12){note}")
    return fig


def _marks(needed: list[Any], runs: dict[str, Any]) -> str:
    """A title's marks: how many of the figure's runs are current when not all are, and
    whether any run drawn is stale (made by older code, reused)."""
    own = [runs[c.filename()] for c in needed if c.filename() in runs]
    current = sum(not r.get("stale") for r in own)
    count = f" [{current} of {len(needed)} runs current]" if current < len(needed) else ""
    return count + (" [STALE: made by older code]" if any(r.get("stale") for r in own) else "")


def _by_method(fig: str, seeds: int, quick: bool, runs, cells) -> dict[str, list[dict]]:
    """The metrics of a one-setting figure's present runs per method label (a method without
    any: an empty list, so that each method keeps its colour)."""
    col = collect(fig, seeds, quick, runs, cells)
    h = figure_configs(fig)[0].config_hash()
    return {label: col[a].get(h, []) for a, label in (("vdn", "VDN"), ("iql", "IQL"))}


def _stack(rows: list[list[float]], width: int) -> np.ndarray:
    """Per-seed series as a (seeds, width) array; no seed: (0, width)."""
    return np.array(rows) if rows else np.empty((0, width))


def draw_figures(figs, seeds, quick, runs, cells, base, fig2, summ, folder: Path) -> list[Path]:
    """Draw each requested figure (and ``"budget"``) to ``folder`` as PNG and PDF, with a CSV of
    the numbers drawn; returns the paths. ``runs`` holds the usable runs by file name; a cell
    absent from it is left out (each point averages the seeds present, and says how many), a
    figure without any run (or the budget study without ``summ["budget_study"]``) is drawn
    as a pending stand-in (:func:`pending_figure`), and a title says how many of the figure's
    runs are current when not all are, and when any drawn run is stale."""
    written = []
    caption = f"{seeds} seeds{' (quick budget)' if quick else ''}"
    refs = None
    if summ is not None:
        m = summ["fig3"]["methods"]
        refs = {label: m[name]["reward"] for name, label in REFERENCES.items() if name in m}
    for fig in figs:
        if fig == "ablations":  # a table in the book, no figure
            continue
        needed = [] if fig == "fig2" else figure_cells(fig, seeds, quick)
        stale = _marks(needed, runs)
        empty = needed and not any(c.filename() in runs for c in needed)
        if empty or (fig == "budget" and "budget_study" not in (summ or {})):
            f = pending_figure(f"{FIGURE_NAMES[fig]}: pending{stale}")
        elif fig == "fig2":
            f = figure2(
                np.array(fig2["trajectory"]),
                np.array(fig2["predicted"]),
                users=fig2["users"],
                title="Fig. 2: GRU twin, one-step predictions on a test trajectory",
            )
        elif fig == "fig3":
            found = _by_method("fig3", seeds, quick, runs, cells)
            first = next(ms[0] for ms in found.values() if ms)
            x = np.array([r["gradient_steps"] for r in first["curve"]])
            curves = {
                label: _stack([[r["eval_reward"] for r in m["curve"]] for m in ms], x.size)
                for label, ms in found.items()
            }
            f = figure3(
                curves,
                x,
                title=f"Fig. 3: VDN and IQL (eps = 0.3, N = 12; {caption}){stale}",
                references=refs,
            )
        elif fig == "budget":
            b = summ["budget_study"]
            f = budget_figure(
                {"VDN": b["VDN"], "IQL": b["IQL"]},
                refs,
                {"VDN": b["VDN_paper_literal"], "IQL": b["IQL_paper_literal"]},
                b["chosen_gradient_steps"],
                title=f"Budget study at Fig. 3's settings ({caption}){stale}",
            )
        elif fig in ("fig4", "fig5"):
            methods, baselines = sweep_arrays(fig, seeds, quick, runs, cells, base)
            if fig == "fig4":
                f = figure4(EPS_VALUES, methods, baselines, stale)
            else:
                f = figure5(USER_VALUES, methods, baselines, stale)
        else:  # fig6
            found = _by_method("fig6", seeds, quick, runs, cells)
            slots = len(next(ms[0] for ms in found.values() if ms)["slot_mean"]["dnt_error"])
            methods = {
                label: {
                    "updates": _stack([m["slot_mean"]["updates_sent"] for m in ms], slots),
                    "dnt_error": _stack([m["slot_mean"]["dnt_error"] for m in ms], slots),
                }
                for label, ms in found.items()
            }
            f = figure6(methods, stale)
        for ext in ("png", "pdf"):
            path = folder / f"{fig}.{ext}"
            # no creation date in the PDF: redrawing the same results gives the same file
            meta = {"CreationDate": None} if ext == "pdf" else None
            atomic_write(
                path, lambda p, f=f, e=ext, m=meta: f.savefig(p, format=e, dpi=130, metadata=m)
            )
            written.append(path)
        written.append(write_csv(figure_frame(f), folder / f"{fig}.csv"))
    return written
