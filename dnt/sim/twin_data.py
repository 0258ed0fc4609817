"""Data and evaluation for learned twins (Section III-A/B, Section V-A): the trajectory data set,
history windows as the twin sees them, one-step and closed-loop errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dnt.sim.config import SystemConfig
from dnt.sim.mobility import sample_trajectories
from dnt.sim.twin import Predictor, bayes_conditional_variance

__all__ = [
    "TwinDataset",
    "closed_loop_errors",
    "evaluate_predictors",
    "history_windows",
    "make_twin_dataset",
    "one_step_mse",
]


@dataclass(frozen=True)
class TwinDataset:
    """Trajectories of the scenario's mobility, split by trajectory: (n, T, U, 2) each."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def make_twin_dataset(
    cfg: SystemConfig,
    seed: int,
    num_traj: int = 2000,
    length: int = 30,
    split: tuple[float, float] = (0.7, 0.15),
) -> TwinDataset:
    """The paper's data set: ``num_traj`` trajectories of ``length`` positions (Sec. V-A).

    Split by trajectory into train / validation / test with fractions ``split`` (the rest is test).
    """
    if not (0 < split[0] < 1 and 0 < split[1] < 1 and split[0] + split[1] < 1):
        raise ValueError(f"split={split} is invalid: need 0 < train, val and train + val < 1")
    if num_traj < 3:
        raise ValueError(f"num_traj={num_traj} is invalid: must be an integer >= 3")
    if length < 2:
        raise ValueError(f"length={length} is invalid: must be an integer >= 2")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7477696E]))
    traj = sample_trajectories(cfg, rng, num_traj, length)
    n_tr = max(1, round(split[0] * num_traj))
    n_va = max(1, round(split[1] * num_traj))
    if n_tr + n_va >= num_traj:
        raise ValueError(f"num_traj={num_traj} too small for split={split}")
    return TwinDataset(traj[:n_tr], traj[n_tr : n_tr + n_va], traj[n_tr + n_va :])


def history_windows(traj: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All (history, next state) pairs of trajectories (n, T, U, 2).

    Histories are the K latest states, padded at the start with the initial state exactly as
    :class:`DigitalTwin` starts; returns (n * (T - 1), K, U, 2) inputs and (n * (T - 1), U, 2)
    targets.
    """
    t_len = traj.shape[1]
    pad = np.concatenate([np.repeat(traj[:, :1], k - 1, axis=1), traj], axis=1)
    idx = np.arange(t_len - 1)[:, None] + np.arange(k)[None, :]  # (T-1, K) into pad
    hist = pad[:, idx]  # (n, T-1, K, U, 2)
    target = traj[:, 1:]
    return hist.reshape(-1, k, *traj.shape[2:]), target.reshape(-1, *traj.shape[2:])


def one_step_mse(predictor: Predictor, traj: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """One-step squared error averaged over the 2U coordinates (eq. 14) and per user."""
    hist, target = history_windows(traj, k)
    err = (np.asarray(predictor.predict(hist)) - target) ** 2  # (S, U, 2)
    return float(err.mean()), err.mean(axis=(0, 2))


def closed_loop_errors(
    predictor: Predictor, traj: np.ndarray, k: int, start: int, horizon: int
) -> np.ndarray:
    """Error after h = 1..horizon slots without updates, feeding predictions back.

    The twin holds the true states up to slot ``start`` (padded as at reset), then predicts
    on its own. Returns the squared error averaged over the 2U coordinates, shape (horizon,).
    """
    t_len = traj.shape[1]
    if not (0 <= start and start + horizon < t_len):
        raise ValueError(
            f"start={start}, horizon={horizon} invalid: need 0 <= start and "
            f"start + horizon < trajectory length {t_len}"
        )
    pad = np.concatenate([np.repeat(traj[:, :1], k - 1, axis=1), traj], axis=1)
    hist = pad[:, start : start + k].copy()  # (n, K, U, 2): true states up to `start`
    out = np.empty(horizon)
    for h in range(horizon):
        pred = np.asarray(predictor.predict(hist))
        out[h] = ((pred - traj[:, start + h + 1]) ** 2).mean()
        hist = np.concatenate([hist[:, 1:], pred[:, None]], axis=1)
    return out


def evaluate_predictors(
    cfg: SystemConfig, predictors: dict[str, Predictor], test: np.ndarray
) -> dict[str, Any]:
    """One-step and closed-loop errors of several predictors on test trajectories (n, T, U, 2).

    Also the Bayes floor computed analytically: the exact conditional variance of the next
    state given each test state, averaged (its expectation equals the measured Bayes MSE).
    """
    k = cfg.history_len
    out: dict[str, Any] = {"one_step": {}, "one_step_per_user": {}}
    for name, p in predictors.items():
        mse, per_user = one_step_mse(p, test, k)
        out["one_step"][name] = mse
        out["one_step_per_user"][name] = per_user.tolist()
    hist, _ = history_windows(test, k)
    out["bayes_mse_analytic"] = float(bayes_conditional_variance(cfg, hist[:, -1]).mean() / 2)
    start = min(k, test.shape[1] - 2)
    horizon = test.shape[1] - start - 1
    out["closed_loop"] = {
        "start_slot": start,
        "slots_since_update": list(range(1, horizon + 1)),
        **{
            name: closed_loop_errors(p, test, k, start, horizon).tolist()
            for name, p in predictors.items()
        },
    }
    return out
