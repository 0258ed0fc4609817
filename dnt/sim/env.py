"""The vector environment (Sections II and III-C): B episodes of the DNT network stepped
together on arrays, one agent per BS (:class:`VectorDNTEnv`). The same engine runs behind the
PettingZoo API in :mod:`dnt.sim.parallel_env`.

One slot, in the order of Algorithm 2: the BSs see the users' positions s_t, act, Algorithm 1
allocates the RBs, rates follow from eqs. (2)-(5), an update succeeds if it meets (8g), the twin
predicts and applies eq. (7), the reward of eq. (16) is paid (:func:`dnt.sim.reward.slot_outcome`),
and the users move by eq. (1). Serving a user outside the BS's coverage is unavailable:
``step`` rejects it.

Randomness: each environment owns a ``numpy.random.Generator``; ``reset(seed=s)`` seeds it with
``s`` (environment b of a :class:`VectorDNTEnv` with ``s + b``) and every episode draws its
initial positions, moves and fading from it at its start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dnt.sim.channel import squared_distances
from dnt.sim.config import SystemConfig
from dnt.sim.mobility import apply_moves, initial_positions, move_probabilities, sample_moves
from dnt.sim.predictors import make_predictor
from dnt.sim.reward import allowed_bits, slot_outcome
from dnt.sim.twin import DigitalTwin, Predictor

__all__ = ["VectorDNTEnv"]


def _check_seed(seed: Any) -> None:
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0
    ):
        raise ValueError(f"seed={seed!r} is invalid: must be None or an integer >= 0")


class _BatchSim:
    """B environments on arrays; the engine behind both public classes."""

    def __init__(
        self, cfg: SystemConfig, num_envs: int, predictor: Predictor | None, autoreset: bool
    ) -> None:
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} is invalid: must be an integer >= 1")
        self.cfg = cfg
        self.b = int(num_envs)
        self.autoreset = autoreset
        self.probs = move_probabilities(cfg)
        self.twin = DigitalTwin(cfg, make_predictor(cfg, predictor))
        u, t_len = cfg.num_users, cfg.episode_len
        self.rngs: list[np.random.Generator] = []
        self.pos = np.zeros((self.b, u, 2))
        self.t = np.zeros(self.b, dtype=np.int64)
        self.move_u = np.zeros((self.b, t_len, u))
        self.fading = np.ones((self.b, t_len, u))
        self.cov = np.zeros((self.b, cfg.num_bs, u), dtype=bool)
        self.d2 = np.zeros((self.b, cfg.num_bs, u))
        self.started = False

    def seed(self, seed: int | Sequence[int] | None) -> None:
        if seed is not None and np.ndim(seed) == 1:  # one seed per environment
            seeds = list(seed)
            if len(seeds) != self.b:
                raise ValueError(
                    f"seed has {len(seeds)} entries: a sequence of seeds needs exactly one per "
                    f"environment ({self.b})"
                )
            for s in seeds:
                _check_seed(s)
            self.rngs = [np.random.default_rng(int(s)) for s in seeds]
            return
        _check_seed(seed)
        if seed is None:
            self.rngs = [np.random.default_rng() for _ in range(self.b)]
        else:
            self.rngs = [np.random.default_rng(int(seed) + b) for b in range(self.b)]

    def new_episodes(self, idx: np.ndarray) -> None:
        """Draw a fresh episode for each env in ``idx`` from its own generator."""
        cfg = self.cfg
        shape = (cfg.episode_len, cfg.num_users)
        for b in idx:  # one draw per env per episode, not per step
            rng = self.rngs[b]
            self.pos[b] = initial_positions(cfg, rng)
            self.move_u[b] = rng.random(shape)
            if cfg.fading_model == "rayleigh":
                self.fading[b] = rng.exponential(1.0, shape)
        self.t[idx] = 0
        where = np.zeros(self.b, dtype=bool)
        where[idx] = True
        self.twin.reset(self.pos, where=None if where.all() else where)
        self._observe()

    def _observe(self) -> None:
        self.d2 = squared_distances(self.cfg, self.pos)
        self.cov = self.d2 <= self.cfg.coverage_radius**2

    def reset(self, seed: int | Sequence[int] | None) -> None:
        if seed is not None or not self.rngs:
            self.seed(seed)
        self.new_episodes(np.arange(self.b))
        self.started = True

    def obs(self) -> dict[str, np.ndarray]:
        cov = self.cov
        return {
            "positions": self.pos[:, None, :, :] * cov[..., None],
            "coverage": cov.copy(),
            "state": self.pos.copy(),
            "t": self.t.copy(),
        }

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions)
        cfg = self.cfg
        if a.shape != (self.b, cfg.num_bs):
            raise ValueError(
                f"actions has shape {a.shape}: must be (B, M) = ({self.b}, {cfg.num_bs})"
            )
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(
                f"actions must be integers in [0, {cfg.num_actions - 1}], got {a.dtype}"
            )
        a = a.astype(np.int64)
        if a.min() < 0 or a.max() >= cfg.num_actions:
            raise ValueError(f"actions must be in [0, {cfg.num_actions - 1}] (2**(U+1) actions)")
        bad = (a & ~allowed_bits(self.cov)) != 0
        if bad.any():
            b, m = np.argwhere(bad)[0]
            raise ValueError(
                f"action {a[b, m]} of bs_{m} (env {b}) serves a user outside its coverage; "
                "such actions are masked (see action_mask / coverage)"
            )
        return a

    def step(self, actions: np.ndarray):
        if not self.started:
            raise RuntimeError("reset() must be called before step()")
        cfg = self.cfg
        a = self.check_actions(actions)
        rows = np.arange(self.b)
        pos = self.pos
        out = slot_outcome(
            cfg, pos, self.d2, self.cov, self.fading[rows, self.t], self.twin.predict(), a
        )
        self.twin.commit(out["twin_state"])
        reward = out.pop("reward")
        info = out
        # eq. (1): users move
        moves = sample_moves(self.move_u[rows, self.t], self.probs)
        self.pos = apply_moves(cfg, pos, moves)
        self._observe()
        self.t += 1
        done = self.t >= cfg.episode_len
        info["final_obs"] = self.obs()
        if self.autoreset and done.any():
            self.new_episodes(np.flatnonzero(done))
        return reward, done, info


class VectorDNTEnv:
    """B independent environments stepped together on arrays, with auto-reset.

    ``reset(seed=s) -> obs``; ``step(actions) -> (obs, reward, done, info)`` with ``actions`` a
    (B, M) int array. ``obs`` holds ``positions`` (B, M, U, 2) (zero outside coverage),
    ``coverage`` (B, M, U) bool, ``state`` (B, U, 2) true positions and ``t`` (B,) slots played.
    ``info`` holds per-env arrays (``local_reward`` (B, M), ``sum_rate``, ``dnt_error``, ...) and
    ``final_obs``, the observation before an auto-reset. Env b with seed s matches
    ``DNTParallelEnv`` reset with seed s + b; ``reset(seed=[s_0, ..., s_{B-1}])`` seeds env b
    with s_b instead (env b then matches ``DNTParallelEnv`` reset with seed s_b).
    """

    def __init__(
        self, cfg: SystemConfig, num_envs: int = 1, predictor: Predictor | None = None
    ) -> None:
        self.cfg = cfg
        self.num_envs = num_envs
        self._sim = _BatchSim(cfg, num_envs, predictor, autoreset=True)

    @property
    def twin(self) -> DigitalTwin:
        return self._sim.twin

    def reset(self, seed: int | Sequence[int] | None = None) -> dict[str, np.ndarray]:
        self._sim.reset(seed)
        return self._sim.obs()

    def allowed_bits(self) -> np.ndarray:
        """(B, M) int64 bit sets of the available action bits (no 2**(U+1) mask arrays)."""
        return allowed_bits(self._sim.cov)

    def step(self, actions: np.ndarray):
        reward, done, info = self._sim.step(actions)
        return self._sim.obs(), reward, done, info

    def what_if(
        self, rows: np.ndarray, actions: np.ndarray, predicted: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """The outcome of the current slot (:func:`dnt.sim.reward.slot_outcome`) if env
        ``rows[i]`` played the joint action ``actions[i]`` (M,), without stepping anything:
        rewards of candidate actions, for policies that see the full state. ``predicted``
        (B, U, 2): the twin's prediction of this slot (computed when not given)."""
        sim = self._sim
        if not sim.started:
            raise RuntimeError("reset() must be called before what_if()")
        rows = np.asarray(rows, dtype=np.int64)
        pred = sim.twin.predict() if predicted is None else predicted
        return slot_outcome(
            self.cfg,
            sim.pos[rows],
            sim.d2[rows],
            sim.cov[rows],
            sim.fading[rows, sim.t[rows]],
            pred[rows],
            np.asarray(actions, dtype=np.int64),
        )
