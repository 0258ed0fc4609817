"""Figures of Section V, drawn from library results (never from typed-in numbers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from dnt.twin import Predictor, history_windows

__all__ = ["figure2", "one_step_predictions"]


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
        ax.plot(*trajectory[0, u], "s", color="k", ms=5, label="start")
        ax.set_title(f"user {u + 1}: MSE {mse:.3f}", fontsize="medium")
        ax.set_xlabel("x")
        ax.set_aspect("equal", adjustable="datalim")
        ax.margins(0.15)
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize="small")
    fig.suptitle(title or "One-step twin predictions along a test trajectory")
    return fig
