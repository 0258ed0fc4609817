"""Episode replay (Algorithm 2's replay memory): whole episodes in a ring buffer, sampled as
single transitions (the shared head) or as whole episodes (the paper's GRU, unrolled from a zero
state as in PyMARL). It stores the Q-network's inputs of every slot (computed once, when the
slot is played) with the actions and rewards."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnt.sim.config import SystemConfig

__all__ = ["EpisodeBuffer"]


class EpisodeBuffer:
    """Ring buffer of ``capacity`` whole episodes of one run. ``obs`` gives the name, shape and
    dtype of each per-slot input array (one example slot); they are stored for slots 0..T (the
    last being the final observation), actions and rewards for slots 0..T-1."""

    def __init__(self, cfg: SystemConfig, capacity: int, obs: dict[str, np.ndarray]) -> None:
        t, m = cfg.episode_len, cfg.num_bs
        self.capacity, self.size, self.next = capacity, 0, 0
        self.obs_keys = tuple(obs)
        self.data = {k: np.zeros((capacity, t + 1, *v.shape), v.dtype) for k, v in obs.items()}
        self.data |= {
            "actions": np.zeros((capacity, t, m), np.int64),
            "reward": np.zeros((capacity, t), np.float32),
            "local_reward": np.zeros((capacity, t, m), np.float32),
        }

    def add(self, episodes: dict[str, np.ndarray]) -> None:
        """Append whole episodes (leading axis E), overwriting the oldest when full."""
        n = len(episodes["actions"])
        idx = (self.next + np.arange(n)) % self.capacity
        for k, v in self.data.items():
            v[idx] = episodes[k]
        self.next = int((self.next + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, rng: np.random.Generator, n: int, whole: bool) -> dict[str, np.ndarray]:
        """``n`` single transitions (``whole=False``: L = 1) or ``n`` whole episodes (L = T),
        uniformly over the stored ones. Observations (n, L + 1, ...), actions and rewards
        (n, L, ...), ``done`` (n, L) (the episode's last slot; its time limit is terminal) and
        ``t`` (n, L + 1) the slot index of each observation."""
        if self.size == 0:
            raise ValueError("the replay buffer is empty: collect episodes first")
        t_len = self.data["actions"].shape[1]
        ep = rng.integers(0, self.size, n)
        if whole:
            start = np.zeros(n, np.int64)
            length = t_len
        else:
            start = rng.integers(0, t_len, n)
            length = 1
        slots = start[:, None] + np.arange(length + 1)  # (n, L + 1)
        out = {k: self.data[k][ep[:, None], slots] for k in self.obs_keys}
        act = slots[:, :-1]
        for k in ("actions", "reward", "local_reward"):
            out[k] = self.data[k][ep[:, None], act]
        out["done"] = (act == t_len - 1).astype(np.float32)
        out["t"] = slots
        return out

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "next": self.next, **{k: v for k, v in self.data.items()}}

    def load(self, state: dict[str, Any]) -> None:
        self.size, self.next = int(state["size"]), int(state["next"])
        for k in self.data:
            self.data[k][...] = state[k]
