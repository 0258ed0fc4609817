"""The digital network twin: its state mapping, eq. (7), and the predictors behind it.

The twin keeps its last K states. Each slot it first predicts the next state from that history
(the GRU of eqs. 9-13 does this in a later module; here ships hold-last-position), then applies
eq. (7): a user covered by a BS whose update met the deadline takes its true position, every other
user keeps the prediction. The twin starts from the true initial positions.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dnt.config import SystemConfig

__all__ = ["DigitalTwin", "HoldLastPredictor", "Predictor", "dnt_error", "twin_mapping"]


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
    """DNT error (1/U) ||s_t - s-bar_t||^2, the term weighted by (1 - epsilon) in eq. (16)."""
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
        self.predictor: Predictor = predictor if predictor is not None else HoldLastPredictor()
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
