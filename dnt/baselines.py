"""Non-learning policies: what learning has to beat, and the rules that use the same
information as a BS. Every policy is scored by the common protocol of
:mod:`dnt.sim.evaluation` (greedy, the same fixed evaluation episodes, the same metrics).
"""

from __future__ import annotations

import numpy as np

from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import Policy

__all__ = [
    "NearestBSPolicy",
    "RandomPolicy",
    "ThresholdPolicy",
    "baseline_policies",
    "nearest_association",
]


def nearest_association(cfg: SystemConfig, obs: dict[str, np.ndarray]) -> np.ndarray:
    """Action bits serving every covered user from its nearest covering BS, (B, M) int64."""
    bs = np.asarray(cfg.bs_positions)
    d2 = ((obs["state"][:, None, :, :] - bs[None, :, None, :]) ** 2).sum(-1)  # (B, M, U)
    cov = obs["coverage"]
    best = np.where(cov, d2, np.inf).argmin(axis=1)  # (B, U)
    assoc = (np.arange(cfg.num_bs)[None, :, None] == best[:, None, :]) & cov
    return (assoc.astype(np.int64) << np.arange(1, cfg.num_users + 1, dtype=np.int64)).sum(-1)


class RandomPolicy:
    """Uniformly random available actions (each available bit on with probability 1/2)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        bits = env.allowed_bits()
        return self.rng.integers(0, 2**62, bits.shape, dtype=np.int64) & bits


class NearestBSPolicy:
    """Nearest covering BS serves each user; updates always, never, or every ``period`` slots."""

    def __init__(self, cfg: SystemConfig, update: str | int = "always") -> None:
        if not (update in ("always", "never") or (isinstance(update, int) and update >= 1)):
            raise ValueError(f"update={update!r} is invalid: 'always', 'never' or an int >= 1")
        self.cfg = cfg
        self.update = update

    def reset(self, num_envs: int) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        a = nearest_association(self.cfg, obs)
        if self.update == "never":
            return a
        if self.update == "always":
            return a | 1
        send = (obs["t"] % self.update == 0)[:, None]
        return a | send.astype(np.int64)


class ThresholdPolicy:
    """Nearest-BS association; a BS updates when the twin's prediction of its covered users is
    off by more than ``threshold`` (mean squared distance over those users).

    The BS sees its users' true positions and can run the twin's predictor on the twin's history
    (the twin is shared), so the rule uses only what the BS could know.
    """

    def __init__(self, cfg: SystemConfig, threshold: float = 1.0) -> None:
        if not (np.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold={threshold!r} is invalid: must be a finite number >= 0")
        self.cfg = cfg
        self.threshold = threshold

    def reset(self, num_envs: int) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        a = nearest_association(self.cfg, obs)
        pred = env.twin.predict()  # (B, U, 2): what the twin will hold without updates
        err = ((pred - obs["state"]) ** 2).sum(-1)  # (B, U)
        cov = obs["coverage"]
        n = np.maximum(cov.sum(-1), 1)
        mean_err = (err[:, None, :] * cov).sum(-1) / n  # (B, M)
        return a | (mean_err > self.threshold).astype(np.int64)


def baseline_policies(cfg: SystemConfig, seed: int = 0) -> dict[str, Policy]:
    """The baselines of the training issue, by name."""
    return {
        "random": RandomPolicy(seed),
        "nearest_always_update": NearestBSPolicy(cfg, "always"),
        "nearest_never_update": NearestBSPolicy(cfg, "never"),
        "nearest_update_every_5": NearestBSPolicy(cfg, 5),
        "nearest_threshold_1": ThresholdPolicy(cfg, 1.0),
    }
