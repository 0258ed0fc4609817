"""Playing the environment (Algorithm 2's data collection stage): the learned Q-networks as a
policy of the common evaluation protocol, and the collector that fills each run's replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dnt.rl.buffer import EpisodeBuffer
from dnt.rl.config import TrainConfig
from dnt.rl.controller import Controller
from dnt.rl.features import LocalState, slot_inputs
from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import EVAL_SEED_BASE, evaluate_blocks
from dnt.sim.twin import Predictor

__all__ = ["Collector", "LearnedPolicy", "collect_seed", "evaluate_runs"]


class LearnedPolicy:
    """R runs' Q-networks acting on R equal blocks of environments (run-major), epsilon-greedy
    with run r exploring from ``rngs[r]`` (greedy when ``epsilon`` is 0). Implements the
    :class:`dnt.sim.evaluation.Policy` protocol, ``observe`` included: each BS remembers its
    previous action and which of its updates arrived (:class:`dnt.rl.features.LocalState`)."""

    def __init__(
        self,
        cfg: SystemConfig,
        tc: TrainConfig,
        net: torch.nn.Module,
        runs: int,
        epsilon: float = 0.0,
        rngs: Sequence[np.random.Generator] = (),
    ) -> None:
        self.cfg, self.head, self.runs = cfg, tc.head, runs
        self.epsilon, self.rngs = epsilon, list(rngs)
        if epsilon > 0 and len(self.rngs) != runs:
            raise ValueError(f"rngs: exploring needs one generator per run ({runs})")
        self.controller = Controller(cfg, tc, net, runs)
        self.state = LocalState(cfg, 0)
        self.last: dict[str, np.ndarray] = {}

    def reset(self, num_envs: int) -> None:
        if num_envs % self.runs:
            raise ValueError(f"num_envs={num_envs} is invalid: must be a multiple of {self.runs}")
        self.state = LocalState(self.cfg, num_envs)
        self.controller.reset()

    def slots(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """This slot's network inputs (:func:`dnt.rl.features.slot_inputs`), (R, 1, B, ...)."""
        mem = self.state.arrays()
        flat = {"pos": obs["state"], "cov": obs["coverage"], "t": obs["t"], **mem}
        inputs = slot_inputs(self.cfg, self.head, flat)
        return {k: v.reshape(self.runs, 1, -1, *v.shape[1:]) for k, v in inputs.items()}

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv | None = None) -> np.ndarray:
        slots = self.slots(obs)
        ids = self.controller.act(slots, self.epsilon, self.rngs)  # (R, B, M)
        self.last = {"cov": obs["coverage"], "actions": ids.reshape(-1, self.cfg.num_bs)}
        return self.last["actions"]

    def observe(self, info: dict[str, np.ndarray], done: np.ndarray) -> None:
        self.state.observe(self.last["cov"], self.last["actions"], info["update_success"], done)
        if np.all(done):
            self.controller.reset()


def evaluate_runs(
    cfg: SystemConfig,
    tc: TrainConfig,
    net: torch.nn.Module,
    runs: int,
    predictor: Predictor | None,
    seed_base: int = EVAL_SEED_BASE,
    record: bool = False,
) -> list[dict[str, Any]]:
    """Greedy play of each run on the same ``tc.eval_episodes`` fixed episodes (the common
    protocol, :func:`dnt.sim.evaluation.evaluate_blocks`); one summary per run."""
    policy = LearnedPolicy(cfg, tc, net, runs)
    return evaluate_blocks(cfg, policy, runs, tc.eval_episodes, predictor, seed_base, record)


def collect_seed(seed: int, batch: int, env: int) -> int:
    """Env seed of training environment ``env`` of a run in its ``batch``-th batch of episodes
    (below 2**31, so never an evaluation or validation seed)."""
    s = np.random.SeedSequence([int(seed), int(batch), int(env), 0x636F6C]).generate_state(1)
    return int(s[0]) % (2**31)


class Collector:
    """``tc.envs`` training environments per run, played one slot at a time; every finished
    episode goes to its run's replay buffer. Batch g of episodes is seeded from (run seed, g),
    so the collector's state at an episode boundary is just ``batches`` (checkpoints)."""

    def __init__(
        self,
        cfg: SystemConfig,
        tc: TrainConfig,
        net: torch.nn.Module,
        seeds: Sequence[int],
        rngs: Sequence[np.random.Generator],
        predictor: Predictor | None,
    ) -> None:
        self.cfg, self.tc, self.runs = cfg, tc, len(seeds)
        self.seeds = [int(s) for s in seeds]
        self.env = VectorDNTEnv(cfg, num_envs=self.runs * tc.envs, predictor=predictor)
        self.policy = LearnedPolicy(cfg, tc, net, self.runs, epsilon=1.0, rngs=rngs)
        self.episode: dict[str, list[np.ndarray]] = {}
        self.rewards: list[list[float]] = []  # per finished batch: each run's mean team reward
        self.start(0)

    @property
    def env_steps(self) -> int:
        """Env steps collected so far by each run."""
        return (
            self.batches * self.cfg.episode_len * self.tc.envs
            + len(self.episode.get("actions", ())) * self.tc.envs
        )

    def start(self, batch: int) -> None:
        """Begin episode batch ``batch`` (fresh episodes, memories cleared)."""
        self.batches = batch
        seeds = [collect_seed(s, batch, e) for s in self.seeds for e in range(self.tc.envs)]
        self.obs = self.env.reset(seed=seeds)
        self.policy.reset(self.runs * self.tc.envs)
        self.episode = {}

    def step(self, epsilon: float, buffers: Sequence[EpisodeBuffer]) -> None:
        """One slot of every environment; at the episodes' end, store them in ``buffers``."""
        self.policy.epsilon = epsilon
        slots = {k: v[:, 0] for k, v in self.policy.slots(self.obs).items()}  # (R, B, ...)
        actions = self.policy.act(self.obs)
        obs, reward, done, info = self.env.step(actions)
        self.policy.observe(info, done)
        r = self.runs
        rows = {
            **slots,
            "actions": actions.reshape(r, -1, self.cfg.num_bs),
            "reward": reward.reshape(r, -1),
            "local_reward": info["local_reward"].reshape(r, -1, self.cfg.num_bs),
        }
        for k, v in rows.items():
            self.episode.setdefault(k, []).append(v)
        self.obs = obs
        if np.all(done):  # every episode has the same length: they end together
            # the final observation (its memory is unused: the last slot is terminal)
            final = self.policy.slots(info["final_obs"])
            for k, v in final.items():
                self.episode[k].append(v[:, 0])
            self._store(buffers)
        elif np.any(done):
            raise RuntimeError("episodes of one batch must end together")

    def _store(self, buffers: Sequence[EpisodeBuffer]) -> None:
        ep = {k: np.stack(v, axis=2) for k, v in self.episode.items()}  # (R, B, T(+1), ...)
        for i, buf in enumerate(buffers):
            buf.add({k: v[i] for k, v in ep.items()})
        self.rewards.append([float(x) for x in ep["reward"].mean(axis=(1, 2))])
        self.start(self.batches + 1)
