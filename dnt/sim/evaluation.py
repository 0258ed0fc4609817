"""The evaluation protocol every policy is scored by, learned or not: greedy play on the same
fixed evaluation episodes, the same metrics per slot, averaged the same way.

A policy maps the vector environment's observation to a (B, M) array of action ids (bit 0: send
the twin update; bit u+1: serve user u).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.twin import Predictor

__all__ = [
    "EVAL_SEED_BASE",
    "SLOT_KEYS",
    "VALIDATION_SEED_BASE",
    "Policy",
    "evaluate_blocks",
    "evaluate_policy",
    "slot_metrics",
    "summarise_slots",
]

#: Evaluation episodes use env seeds EVAL_SEED_BASE + b; training seeds stay below 2**31.
EVAL_SEED_BASE = 2**40
#: Validation episodes (for choosing settings: tuning never sees the evaluation episodes) use
#: env seeds VALIDATION_SEED_BASE + b.
VALIDATION_SEED_BASE = 2**39


class Policy(Protocol):
    """A decision rule for all BSs of B environments. A policy may also define
    ``observe(info, done)``, called after every step with the step's ``info`` and ``done``
    (for what a BS learns after acting, such as whether its update arrived)."""

    def reset(self, num_envs: int) -> None: ...

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray: ...


SLOT_KEYS = (
    "reward",
    "sum_rate",
    "dnt_error",
    "updates_sent",
    "updates_ok",
    "penalised",
    "served",
    "doubly_served",
)


def slot_metrics(reward: np.ndarray, info: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The per-env figures of one slot that :func:`evaluate_policy` averages, each (B,)."""
    return {
        "reward": reward,
        "sum_rate": info["sum_rate"],
        "dnt_error": info["dnt_error"],
        "updates_sent": info["update_sent"].sum(-1),
        "updates_ok": info["successful_updates"],
        "penalised": ~info["all_served_once"],
        "served": (info["user_rate"] > 0).sum(-1),
        "doubly_served": info["doubly_served"],
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
        "served_per_slot": float(arr["served"].mean()),
        "doubly_served_per_slot": float(arr["doubly_served"].mean()),
        "episodes": int(arr["reward"].shape[1]),
    }
    if record:
        out["per_slot"] = {k: v.tolist() for k, v in arr.items()}
    return out


def evaluate_blocks(
    cfg: SystemConfig,
    policy: Policy,
    blocks: int = 1,
    episodes: int = 32,
    predictor: Predictor | None = None,
    seed_base: int = EVAL_SEED_BASE,
    record: bool = False,
) -> list[dict[str, Any]]:
    """:func:`evaluate_policy` for a policy that plays ``blocks`` blocks of ``episodes``
    environments side by side (several runs of a learner): every block gets the same episodes
    (env e of each block seeded ``seed_base + e``). One summary per block."""
    for name, v in (("episodes", episodes), ("blocks", blocks)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} is invalid: must be an integer >= 1")
    env = VectorDNTEnv(cfg, num_envs=blocks * episodes, predictor=predictor)
    obs = env.reset(seed=[seed_base + e for _ in range(blocks) for e in range(episodes)])
    policy.reset(blocks * episodes)
    observe = getattr(policy, "observe", None)
    rec: dict[str, list[np.ndarray]] = {k: [] for k in SLOT_KEYS}
    for _ in range(cfg.episode_len):
        a = policy.act(obs, env)
        obs, r, done, info = env.step(a)
        if observe is not None:
            observe(info, done)
        for k, v in slot_metrics(r, info).items():
            rec[k].append(v.reshape(blocks, episodes))
    return [
        summarise_slots({k: [v[i] for v in rec[k]] for k in rec}, record) for i in range(blocks)
    ]


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
    the BSs: 0..M), users served and users served twice per slot, the share of slots in the
    penalty branch, and, with ``record``, per-slot arrays of shape (T, episodes).
    """
    return evaluate_blocks(cfg, policy, 1, episodes, predictor, seed_base, record)[0]
