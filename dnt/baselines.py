"""Non-learning policies and the common evaluation protocol (what learning has to beat).

A policy maps the vector environment's observation to a (B, M) array of action ids (bit 0: send
the twin update; bit u+1: serve user u). Every policy here is evaluated exactly as the learned
ones: greedy, on the same fixed evaluation episodes, with the same metrics per slot.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from dnt.config import SystemConfig
from dnt.env import VectorDNTEnv
from dnt.twin import Predictor

__all__ = [
    "EVAL_SEED_BASE",
    "NearestBSPolicy",
    "Policy",
    "RandomPolicy",
    "ThresholdPolicy",
    "baseline_policies",
    "evaluate_policy",
    "nearest_association",
    "slot_metrics",
    "summarise_slots",
]

#: Evaluation episodes use env seeds EVAL_SEED_BASE + b; training seeds stay far below it.
EVAL_SEED_BASE = 2**40


class Policy(Protocol):
    """A decision rule for all BSs of B environments."""

    def reset(self, num_envs: int) -> None: ...

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray: ...


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


SLOT_KEYS = ("reward", "sum_rate", "dnt_error", "updates_sent", "updates_ok", "penalised")


def slot_metrics(reward: np.ndarray, info: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-env figures of one slot that :func:`evaluate_policy` averages, each (B,)."""
    return {
        "reward": reward,
        "sum_rate": info["sum_rate"],
        "dnt_error": info["dnt_error"],
        "updates_sent": info["update_sent"].sum(-1),
        "updates_ok": info["successful_updates"],
        "penalised": ~info["all_served_once"],
    }


def summarise_slots(rec: dict[str, list[np.ndarray]], record: bool = False) -> dict[str, Any]:
    """Average the slots recorded by :func:`slot_metrics` (lists over slots of (E,) arrays)."""
    arr = {k: np.asarray(rec[k], dtype=float) for k in SLOT_KEYS}
    out: dict[str, Any] = {
        "reward": float(arr["reward"].mean()),
        "sum_rate": float(arr["sum_rate"].mean()),
        "dnt_error": float(arr["dnt_error"].mean()),
        "updates_per_slot": float(arr["updates_sent"].mean()),
        "successful_updates_per_slot": float(arr["updates_ok"].mean()),
        "penalty_share": float(arr["penalised"].mean()),
        "episodes": int(arr["reward"].shape[1]),
    }
    if record:
        out["per_slot"] = {k: v.tolist() for k, v in arr.items()}
    return out


def evaluate_policy(
    cfg: SystemConfig,
    policy: Policy,
    episodes: int = 32,
    predictor: Predictor | None = None,
    seed_base: int = EVAL_SEED_BASE,
    record: bool = False,
) -> dict[str, Any]:
    """Play ``episodes`` whole episodes (env b seeded ``seed_base + b``) and average per slot.

    Returns mean team reward, sum rate, DNT error, updates sent and successful per slot (over
    the BSs: 0..M), the share of slots in the penalty branch, and, with ``record``, per-slot
    arrays of shape (T, episodes).
    """
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is invalid: must be an integer >= 1")
    env = VectorDNTEnv(cfg, num_envs=episodes, predictor=predictor)
    obs = env.reset(seed=seed_base)
    policy.reset(episodes)
    rec: dict[str, list[np.ndarray]] = {k: [] for k in SLOT_KEYS}
    for _ in range(cfg.episode_len):
        a = policy.act(obs, env)
        obs, r, _, info = env.step(a)
        for k, v in slot_metrics(r, info).items():
            rec[k].append(v)
    return summarise_slots(rec, record)
