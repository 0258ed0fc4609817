"""The digital network twin: its state mapping, eq. (7), and the predictors behind it.

The twin keeps its last K states. Each slot it first predicts the next state from that history
(the GRU of eqs. 9-13 does this in a later module; here ships hold-last-position), then applies
eq. (7): a user covered by a BS whose update met the deadline takes its true position, every other
user keeps the prediction. The twin starts from the true initial positions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from dnt.config import SystemConfig
from dnt.mobility import MOVES, move_probabilities, sample_trajectories

if TYPE_CHECKING:  # torch-backed names, loaded lazily by __getattr__ below
    from dnt._gru import GRUPredictor, GRUTrainConfig, default_cache_dir, scenario_twin, train_gru

__all__ = [
    "TWIN_FIELDS",
    "BayesPredictor",
    "DigitalTwin",
    "GRUPredictor",
    "GRUTrainConfig",
    "HoldLastPredictor",
    "Predictor",
    "TwinDataset",
    "bayes_conditional_variance",
    "closed_loop_errors",
    "default_cache_dir",
    "dnt_error",
    "evaluate_predictors",
    "history_windows",
    "make_predictor",
    "make_twin_dataset",
    "one_step_mse",
    "scenario_twin",
    "train_gru",
    "twin_key",
    "twin_mapping",
]

#: The config fields a twin predictor depends on (the mobility scenario and K); a trained twin
#: is valid for every config that agrees on these, whatever its epsilon, RBs or channel.
TWIN_FIELDS = ("num_users", "area_x", "area_y", "step_length", "scenario_seed", "history_len")

_LAZY = {"GRUPredictor", "GRUTrainConfig", "default_cache_dir", "scenario_twin", "train_gru"}


def __getattr__(name: str) -> Any:
    # the GRU needs torch; import it only when asked so the simulator stays light
    if name in _LAZY:
        from dnt import _gru

        return getattr(_gru, name)
    raise AttributeError(f"module 'dnt.twin' has no attribute {name!r}")


def twin_key(cfg: SystemConfig) -> str:
    """Content hash of the twin-relevant fields (TWIN_FIELDS) of a config."""
    d = cfg.to_dict()
    blob = json.dumps({k: d[k] for k in TWIN_FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@runtime_checkable
class Predictor(Protocol):
    """Maps twin histories (..., K, U, 2), oldest first, to the next state (..., U, 2)."""

    def predict(self, history: np.ndarray) -> np.ndarray: ...


class HoldLastPredictor:
    """Predicts that every user stays where the twin last saw it."""

    def predict(self, history: np.ndarray) -> np.ndarray:
        return np.array(history[..., -1, :, :], copy=True)

    def __repr__(self) -> str:
        return "HoldLastPredictor()"


class BayesPredictor:
    """Bayes-optimal one-step predictor of eq. (1) for a known scenario.

    The next position's conditional mean: the last position plus each user's expected move under
    its move probabilities p_u, with moves that would leave the area counted as "stay".
    Minimises the expected one-step squared error; no learned predictor can beat it on average.
    """

    def __init__(self, cfg: SystemConfig) -> None:
        self.cfg = cfg
        self.probs = move_probabilities(cfg)

    def _moves(self, last: np.ndarray) -> np.ndarray:
        """Effective displacement of each move from ``last`` (..., U, 2): (..., U, 5, 2)."""
        cfg = self.cfg
        d = cfg.step_length * MOVES  # (5, 2)
        new = last[..., None, :] + d
        inside = (
            (new[..., 0] >= cfg.area_x[0])
            & (new[..., 0] <= cfg.area_x[1])
            & (new[..., 1] >= cfg.area_y[0])
            & (new[..., 1] <= cfg.area_y[1])
        )
        return np.where(inside[..., None], d, 0.0)

    def predict(self, history: np.ndarray) -> np.ndarray:
        last = np.asarray(history, dtype=float)[..., -1, :, :]
        return last + np.einsum("uk,...ukc->...uc", self.probs, self._moves(last))

    def __repr__(self) -> str:
        return f"BayesPredictor(scenario_seed={self.cfg.scenario_seed})"


def bayes_conditional_variance(cfg: SystemConfig, last: np.ndarray) -> np.ndarray:
    """Exact ``E[||s_{t+1} - E[s_{t+1} | s_t]||^2 | s_t]`` per user, (..., U), from positions s_t.

    Averaged over states and divided by 2 it is the Bayes predictor's expected one-step MSE in
    the normalisation of eq. (14): the floor for any predictor.
    """
    bp = BayesPredictor(cfg)
    mv = bp._moves(np.asarray(last, dtype=float))  # (..., U, 5, 2)
    mean = np.einsum("uk,...ukc->...uc", bp.probs, mv)
    second = np.einsum("uk,...uk->...u", bp.probs, (mv**2).sum(-1))
    return second - (mean**2).sum(-1)


def make_predictor(cfg: SystemConfig, predictor: Predictor | None = None) -> Predictor:
    """``predictor`` if given, else the one ``cfg.twin_predictor`` names (GRU: cached twin)."""
    if predictor is not None:
        return predictor
    if cfg.twin_predictor == "bayes":
        return BayesPredictor(cfg)
    if cfg.twin_predictor == "gru":
        from dnt._gru import scenario_twin

        return scenario_twin(cfg)
    return HoldLastPredictor()


def twin_mapping(
    true_pos: np.ndarray, predicted: np.ndarray, coverage: np.ndarray, success: np.ndarray
) -> np.ndarray:
    """Eq. (7): the twin state s-bar_t, shape (..., U, 2).

    ``coverage`` (..., M, U) bool, ``success`` (..., M) bool (update sent and met (8g)). A user
    seen by any BS whose update succeeded is synchronised; all others keep the prediction.
    """
    synced = (coverage & success[..., :, None]).any(axis=-2)  # (..., U)
    return np.where(synced[..., None], true_pos, predicted)


def dnt_error(true_pos: np.ndarray, twin_pos: np.ndarray) -> np.ndarray:
    """DNT error ``(1/U) ||s_t - s-bar_t||^2``, the term weighted by (1 - epsilon) in eq. (16)."""
    u = true_pos.shape[-2]
    return ((true_pos - twin_pos) ** 2).sum(axis=(-1, -2)) / u


class DigitalTwin:
    """The twin's rolling history of K states for a batch of environments.

    ``reset(initial)`` fills the history with the true initial positions (..., U, 2);
    ``predict()`` gives the predictor's estimate of the current slot; ``commit(state)`` appends a
    twin state. ``step(true_pos, coverage, success)`` does predict + eq. (7) + commit.
    """

    def __init__(self, cfg: SystemConfig, predictor: Predictor | None = None) -> None:
        self.cfg = cfg
        self.predictor: Predictor = make_predictor(cfg, predictor)
        self.history: np.ndarray | None = None

    def reset(self, initial: np.ndarray, where: np.ndarray | None = None) -> None:
        """Start (or, for the batch rows in ``where``, restart) from true positions."""
        initial = np.asarray(initial, dtype=float)
        k = self.cfg.history_len
        fresh = np.repeat(initial[..., None, :, :], k, axis=-3)
        if where is None or self.history is None:
            self.history = fresh
        else:
            self.history[where] = fresh[where]

    def _need(self) -> np.ndarray:
        if self.history is None:
            raise RuntimeError("DigitalTwin.reset() must be called before use")
        return self.history

    @property
    def state(self) -> np.ndarray:
        """The latest twin state s-bar, shape (..., U, 2)."""
        return self._need()[..., -1, :, :]

    def predict(self) -> np.ndarray:
        """The predictor's estimate s-hat of the current slot from the last K twin states."""
        return np.asarray(self.predictor.predict(self._need()), dtype=float)

    def commit(self, state: np.ndarray) -> None:
        """Append a twin state, dropping the oldest."""
        h = self._need()
        h[..., :-1, :, :] = h[..., 1:, :, :]
        h[..., -1, :, :] = state

    def step(self, true_pos: np.ndarray, coverage: np.ndarray, success: np.ndarray) -> np.ndarray:
        """One slot: predict, apply eq. (7), commit; returns the new twin state."""
        state = twin_mapping(true_pos, self.predict(), coverage, success)
        self.commit(state)
        return state


# --------------------------------------------------------------------------------------------
# data and evaluation for learned twins (Section III-A/B, Section V-A)


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
