"""The digital network twin: its state mapping, eq. (7), and the predictors behind it.

The twin keeps its last K states. Each slot it first estimates the current state, then applies
eq. (7): a user covered by a BS whose update met the deadline takes its true position, every
other user keeps the estimate. The twin starts synchronised: in the first slot of an episode its
estimate is the true initial state s_0 itself (there is nothing to predict yet); from the second
slot on the predictor forecasts one step from the history. The predictors here are
hold-last-position and the Bayes-optimal one-step predictor; the GRU of eqs. (9)-(13) is in
:mod:`dnt.sim.gru`, and :func:`dnt.sim.predictors.make_predictor` picks one by name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol, runtime_checkable

import numpy as np

from dnt.sim.config import SystemConfig
from dnt.sim.mobility import MOVES, inside_area, move_probabilities

__all__ = [
    "TWIN_FIELDS",
    "BayesPredictor",
    "DigitalTwin",
    "HoldLastPredictor",
    "Predictor",
    "bayes_conditional_variance",
    "dnt_error",
    "twin_key",
    "twin_mapping",
]

#: The config fields a twin predictor depends on (the mobility scenario and K); a trained twin
#: is valid for every config that agrees on these, whatever its epsilon, RBs or channel.
TWIN_FIELDS = ("num_users", "area_x", "area_y", "step_length", "scenario_seed", "history_len")


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
        d = self.cfg.step_length * MOVES  # (5, 2)
        return np.where(inside_area(self.cfg, last[..., None, :] + d)[..., None], d, 0.0)

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

    ``reset(initial)`` fills the history with the true initial positions s_0 (..., U, 2);
    ``predict()`` gives the estimate of the current slot: s_0 in the first slot after a reset,
    the predictor's one-step forecast from the history afterwards; ``commit(state)`` appends a
    twin state. ``step(true_pos, coverage, success)`` does predict + eq. (7) + commit.
    ``predictor``: any :class:`Predictor` (see :func:`dnt.sim.predictors.make_predictor` for the
    named ones); hold-last when not given (only if ``cfg.twin_predictor`` is "hold_last").
    """

    def __init__(self, cfg: SystemConfig, predictor: Predictor | None = None) -> None:
        if predictor is None and cfg.twin_predictor != "hold_last":
            raise ValueError(
                f"twin_predictor={cfg.twin_predictor!r} needs a predictor object: pass "
                "dnt.sim.predictors.make_predictor(cfg)"
            )
        self.cfg = cfg
        self.predictor: Predictor = predictor if predictor is not None else HoldLastPredictor()
        self.history: np.ndarray | None = None
        self.fresh: np.ndarray | None = None  # (...) bool: no slot committed since the reset

    def reset(self, initial: np.ndarray, where: np.ndarray | None = None) -> None:
        """Start (or, for the batch rows in ``where``, restart) from true positions."""
        initial = np.asarray(initial, dtype=float)
        k = self.cfg.history_len
        start = np.repeat(initial[..., None, :, :], k, axis=-3)
        if where is None or self.history is None or self.fresh is None:
            self.history = start
            self.fresh = np.ones(initial.shape[:-2], dtype=bool)
        else:
            self.history[where] = start[where]
            self.fresh[where] = True

    def _need(self) -> np.ndarray:
        if self.history is None:
            raise RuntimeError("DigitalTwin.reset() must be called before use")
        return self.history

    @property
    def state(self) -> np.ndarray:
        """The latest twin state s-bar, shape (..., U, 2)."""
        return self._need()[..., -1, :, :]

    def predict(self) -> np.ndarray:
        """The estimate s-hat of the current slot: the true s_0 right after a reset (the twin
        starts synchronised), else the predictor's forecast from the last K twin states."""
        h = self._need()
        forecast = np.asarray(self.predictor.predict(h), dtype=float)
        return np.where(self.fresh[..., None, None], h[..., -1, :, :], forecast)

    def commit(self, state: np.ndarray) -> None:
        """Append a twin state, dropping the oldest."""
        h = self._need()
        h[..., :-1, :, :] = h[..., 1:, :, :]
        h[..., -1, :, :] = state
        self.fresh[...] = False

    def step(self, true_pos: np.ndarray, coverage: np.ndarray, success: np.ndarray) -> np.ndarray:
        """One slot: predict, apply eq. (7), commit; returns the new twin state."""
        state = twin_mapping(true_pos, self.predict(), coverage, success)
        self.commit(state)
        return state
