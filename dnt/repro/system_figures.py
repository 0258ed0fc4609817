"""Figures not drawn from training runs: the network of Section V-A and Fig. 2's one-step twin
predictions (from the simulator and the twin, never from typed-in numbers), and the stand-in
of a figure none of whose runs is current yet. Re-exported by :mod:`dnt.repro.figures`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from dnt.repro.figure_data import record
from dnt.sim.config import SystemConfig
from dnt.sim.twin import Predictor
from dnt.sim.twin_data import history_windows

__all__ = [
    "FIGURE_NAMES",
    "figure2",
    "network_figure",
    "one_step_predictions",
    "pending_figure",
]


def one_step_predictions(predictor: Predictor, trajectory: np.ndarray, k: int) -> np.ndarray:
    """The twin's one-step predictions along one true trajectory (T, U, 2) -> (T-1, U, 2).

    Prediction t uses the true states up to t (the twin kept in sync), as in Fig. 2.
    """
    hist, _ = history_windows(trajectory[None], k)
    return np.asarray(predictor.predict(hist))


def figure2(
    trajectory: np.ndarray,
    predicted: np.ndarray,
    users: Sequence[int] = (1, 3, 6),
    title: str | None = None,
) -> Figure:
    """Fig. 2: true and predicted trajectories of three users, each MSE in the legend.

    ``trajectory`` (T, U, 2) true positions; ``predicted`` (T-1, U, 2) one-step predictions of
    positions 1..T-1 (see :func:`one_step_predictions`). The MSE is averaged over the two
    coordinates and the T-1 predictions, the normalisation of eq. (14). Users are 0-based; the
    default (1, 3, 6) are the paper's users 2, 4 and 7.
    """
    trajectory = np.asarray(trajectory, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if predicted.shape != (trajectory.shape[0] - 1, *trajectory.shape[1:]):
        raise ValueError(
            f"predicted has shape {predicted.shape}: must be (T-1, U, 2) for a trajectory of "
            f"shape {trajectory.shape}"
        )
    u_n = trajectory.shape[1]
    bad = [u for u in users if not 0 <= u < u_n]
    if bad:
        raise ValueError(f"users {bad} out of range: must be in [0, {u_n - 1}]")
    # a bare Figure (no pyplot): works headless and displays in notebooks
    fig = Figure(figsize=(3.2 * len(users), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(users)))
    for ax, u in zip(axes, users, strict=True):
        mse = float(((predicted[:, u] - trajectory[1:, u]) ** 2).mean())
        ax.plot(*trajectory[:, u].T, "-o", ms=3, color="C0", label="true")
        ax.plot(*predicted[:, u].T, "--x", ms=5, color="C3", alpha=0.85, label="predicted")
        record(fig, f"user {u + 1}", "true", *trajectory[:, u].T)
        record(fig, f"user {u + 1}", "predicted", *predicted[:, u].T)
        ax.plot(*trajectory[0, u], "s", color="k", ms=5, label="start")
        ax.set_title(f"user {u + 1}: MSE {mse:.3f}", fontsize="medium")
        ax.set_xlabel("x")
        ax.set_aspect("equal", adjustable="datalim")
        ax.margins(0.15)
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize="small")
    fig.suptitle(title or "One-step twin predictions along a test trajectory")
    return fig


def network_figure(
    cfg: SystemConfig, user_pos: np.ndarray | None = None, title: str | None = None
) -> Figure:
    """The network of Section V-A: area, BSs with coverage discs, the cloud server, users."""
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.subplots()
    (x0, x1), (y0, y1) = cfg.area_x, cfg.area_y
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.0, color="0.3"))
    for m, (bx, by) in enumerate(cfg.bs_positions):
        ax.add_patch(Circle((bx, by), cfg.coverage_radius, color=f"C{m}", alpha=0.12))
        ax.plot(bx, by, "^", color=f"C{m}", ms=10, label=f"BS {m}")
    ax.plot(*cfg.cloud_position, "s", color="k", ms=9, label="cloud server")
    if user_pos is not None:
        ax.plot(*np.asarray(user_pos).T, "o", color="0.2", ms=4, label="users")
    ax.set_xlim(x0 - 10, x1 + 10)
    ax.set_ylim(y0 - 10, y1 + 10)
    ax.set_aspect("equal")
    fig.legend(fontsize="x-small", loc="outside lower center", ncol=6)
    ax.set_title(title or "Network: 3 BSs, coverage radius 60, cloud at (0, 50)")
    return fig


#: Figure names for titles.
FIGURE_NAMES = {
    "fig2": "Fig. 2",
    "fig3": "Fig. 3",
    "fig4": "Fig. 4",
    "fig5": "Fig. 5",
    "fig6": "Fig. 6",
    "budget": "Budget study",
}


def pending_figure(title: str) -> Figure:
    """A stand-in for a figure none of whose runs is usable yet (a part-rebuilt store): it says
    so, so that no earlier drawing is left in its place, and records no point (its CSV holds the
    header only)."""
    fig = Figure(figsize=(6.4, 2.4), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        "No current run yet: python -m dnt reproduce all --time-limit MINUTES\n"
        "trains what is missing (python -m dnt reproduce status lists it).",
        ha="center",
        va="center",
    )
    fig.suptitle(title)
    record(fig, "pending", "none", [], [])
    return fig
