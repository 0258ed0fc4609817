"""Action selection (the policy pi^m of Section III-C): each BS takes the available action of
highest Q, or, with probability epsilon, a random available action (epsilon-greedy, scheduled
in env steps by :meth:`dnt.rl.config.TrainConfig.epsilon`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dnt.rl.actions import random_actions
from dnt.rl.config import TrainConfig
from dnt.rl.features import network_inputs
from dnt.sim.config import SystemConfig

__all__ = ["Controller"]


class Controller:
    """Acts for R runs side by side, each on its own block of B environments.

    ``net`` holds the R * M stacked agents (run-major). For the paper head the GRU state of
    every environment is carried from slot to slot and cleared by :meth:`reset` (a new episode).
    """

    def __init__(self, cfg: SystemConfig, tc: TrainConfig, net: torch.nn.Module, runs: int):
        self.cfg, self.tc, self.net, self.runs = cfg, tc, net, runs
        self.h: torch.Tensor | None = None

    def reset(self) -> None:
        """New episodes: the paper head's GRU restarts from a zero state."""
        self.h = None

    def greedy(self, slots: dict[str, np.ndarray]) -> np.ndarray:
        """Greedy actions for one slot: ``slots`` the network inputs of
        :func:`dnt.rl.features.slot_inputs`, arrays (R, 1, B, ...) -> ids (R, B, M)."""
        r, m = self.runs, self.cfg.num_bs
        with torch.no_grad():
            inputs = network_inputs(self.tc.head, slots)
            if self.tc.head == "paper":
                out = self.net(*inputs, self.h)
                self.h = out[:, -1]
            else:
                out = self.net(*inputs)
            cov = np.moveaxis(slots["cov"], 3, 1).reshape(r * m, *out.shape[1:3], -1)
            _, ids = self.net.greedy(out, cov)  # (R * M, 1, B)
        return np.moveaxis(ids.reshape(r, m, -1), 1, 2)

    def act(
        self,
        slots: dict[str, np.ndarray],
        epsilon: float,
        rngs: Sequence[np.random.Generator],
    ) -> np.ndarray:
        """Epsilon-greedy actions (R, B, M): run r draws its exploration from ``rngs[r]``, one
        coin per (environment, BS)."""
        ids = self.greedy(slots)
        if epsilon > 0:
            cov = slots["cov"][:, 0]  # (R, B, M, U)
            for r, rng in enumerate(rngs):
                explore = rng.random(ids[r].shape) < epsilon
                rand = random_actions(rng, cov[r], self.tc.serve_prob)
                ids[r] = np.where(explore, rand, ids[r])
        return ids
