"""The DNT network behind PettingZoo's ``ParallelEnv`` API: one agent per BS, action masks in
the observations (``parallel_api_test`` passes). The engine is :mod:`dnt.sim.env`'s."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from dnt.sim.config import SystemConfig
from dnt.sim.env import _BatchSim
from dnt.sim.reward import action_mask
from dnt.sim.twin import DigitalTwin, Predictor

__all__ = ["DNTParallelEnv"]


class DNTParallelEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of the DNT network; agents ``bs_0 .. bs_{M-1}``.

    Observation of BS m: ``positions`` (U, 2) float32 (users outside its coverage zeroed),
    ``coverage`` (U,) int8 and ``action_mask`` (2**(U+1),) int8. All agents get the team reward
    of eq. (16); ``infos[agent]`` carry the local reward of eq. (17) and the slot's metrics.
    Episodes end by truncation after ``cfg.episode_len`` slots.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "dnt_v0", "render_modes": []}

    def __init__(self, cfg: SystemConfig | None = None, predictor: Predictor | None = None) -> None:
        self.cfg = cfg if cfg is not None else SystemConfig()
        self.possible_agents = [f"bs_{m}" for m in range(self.cfg.num_bs)]
        self.agents: list[str] = []
        self._sim = _BatchSim(self.cfg, 1, predictor, autoreset=False)
        c = self.cfg
        lo = min(c.area_x[0], c.area_y[0], 0.0)
        hi = max(c.area_x[1], c.area_y[1], 0.0)
        self._obs_spaces = {
            a: spaces.Dict(
                {
                    "positions": spaces.Box(lo, hi, (c.num_users, 2), np.float32),
                    "coverage": spaces.MultiBinary(c.num_users),
                    "action_mask": spaces.MultiBinary(c.num_actions),
                }
            )
            for a in self.possible_agents
        }
        self._act_spaces = {a: spaces.Discrete(c.num_actions) for a in self.possible_agents}
        self._state_space = spaces.Box(lo, hi, (2 * c.num_users,), np.float32)

    @property
    def twin(self) -> DigitalTwin:
        return self._sim.twin

    @functools.cache  # noqa: B019 - spaces must be the same object each call
    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    @property
    def state_space(self) -> spaces.Space:
        return self._state_space

    def _agent_obs(self) -> dict[str, dict[str, np.ndarray]]:
        cov = self._sim.cov[0]
        pos = self._sim.pos[0]
        out = {}
        for m, agent in enumerate(self.possible_agents):
            out[agent] = {
                "positions": (pos * cov[m][:, None]).astype(np.float32),
                "coverage": cov[m].astype(np.int8),
                "action_mask": action_mask(cov[m]),
            }
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._sim.reset(seed)
        self.agents = self.possible_agents[:]
        return self._agent_obs(), {a: {} for a in self.agents}

    def state(self) -> np.ndarray:
        """Global state s_t: every user's true position, flattened to (2U,) float32."""
        return self._sim.pos[0].reshape(-1).astype(np.float32)

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions missing for agents {missing}")
        arr = np.array([[int(actions[a]) for a in self.possible_agents]], dtype=np.int64)
        reward, done, info = self._sim.step(arr)
        r = float(reward[0])
        obs = self._agent_obs()
        infos = {}
        for m, agent in enumerate(self.possible_agents):
            infos[agent] = {
                "local_reward": float(info["local_reward"][0, m]),
                "sum_rate": float(info["sum_rate"][0]),
                "dnt_error": float(info["dnt_error"][0]),
                "update_sent": bool(info["update_sent"][0, m]),
                "update_success": bool(info["update_success"][0, m]),
                "cloud_rate": float(info["cloud_rate"][0, m]),
                "successful_updates": int(info["successful_updates"][0]),
                "doubly_served": int(info["doubly_served"][0]),
                "all_served_once": bool(info["all_served_once"][0]),
            }
        trunc = bool(done[0])
        rewards = {a: r for a in self.agents}
        terminations = {a: False for a in self.agents}
        truncations = {a: trunc for a in self.agents}
        if trunc:
            self.agents = []
        return obs, rewards, terminations, truncations, infos
