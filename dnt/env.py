"""The multi-agent environment (Sections II and III-C): one agent per BS.

Action of BS m (``Discrete(2**(U+1))``): bit 0 = send the twin update (``|y_m|``), bit u+1 =
serve user u (``z_{m,u}``); this is ``a_t^m = [|y_m|, z_m]`` of Section III-C. Serving a user
outside the BS's coverage is unavailable: the observation's ``action_mask`` forbids it and
``step`` rejects it.

One slot, in the order of Algorithm 2: the BSs see the users' positions s_t, act, Algorithm 1
allocates the RBs, rates follow from eqs. (2)-(5), an update succeeds if it meets (8g), the twin
predicts and applies eq. (7), the reward of eq. (16) is paid, and the users move by eq. (1).

Reading of eq. (16): a user outside every BS's coverage cannot be served, so it is left out of
the "every user served exactly once" condition. Eq. (17) local reward (for IQL): BS m gets the
penalty xi_u * rho for each of *its* users also served by another BS if it has any, else
``-(1-eps)/U ||s^m - s-bar^m||^2 + eps * (rates it delivers)``.

Randomness: each environment owns a ``numpy.random.Generator``; ``reset(seed=s)`` seeds it with
``s`` (environment b of a :class:`VectorDNTEnv` with ``s + b``) and every episode draws its
initial positions, moves and fading from it at its start.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from dnt.allocation import _allocate_gains, _fast_link_rates
from dnt.channel import gains_from_sq_distances, link_rates, squared_distances, update_success
from dnt.config import SystemConfig
from dnt.mobility import apply_moves, move_probabilities, sample_moves
from dnt.twin import DigitalTwin, Predictor, twin_mapping

__all__ = [
    "DNTParallelEnv",
    "VectorDNTEnv",
    "action_mask",
    "allowed_bits",
    "decode_actions",
    "first_branch",
    "local_rewards",
    "team_reward",
]


def _check_seed(seed: Any) -> None:
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0
    ):
        raise ValueError(f"seed={seed!r} is invalid: must be None or an integer >= 0")


def allowed_bits(cov: np.ndarray) -> np.ndarray:
    """Available action bits, (..., M, U) coverage -> (..., M): bit 0, bit u+1 iff covered."""
    u = cov.shape[-1]
    weights = np.left_shift(np.int64(1), np.arange(1, u + 1, dtype=np.int64))
    return np.int64(1) | (cov.astype(np.int64) * weights).sum(axis=-1)


def action_mask(cov_m: np.ndarray) -> np.ndarray:
    """int8 mask over all 2**(U+1) actions of one BS from its coverage (U,)."""
    allowed = allowed_bits(cov_m)
    actions = np.arange(2 ** (cov_m.shape[-1] + 1), dtype=np.int64)
    return ((actions & ~allowed) == 0).astype(np.int8)


def decode_actions(actions: np.ndarray, num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Split action ids (..., M) into sync (..., M) bool and assoc (..., M, U) bool."""
    a = np.asarray(actions, dtype=np.int64)
    sync = (a & 1).astype(bool)
    shifts = np.arange(1, num_users + 1, dtype=np.int64)
    assoc = ((a[..., None] >> shifts) & 1).astype(bool)
    return sync, assoc


def first_branch(cfg: SystemConfig, assoc: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Whether eq. (16) pays its objective (True) or its penalty branch; see serve_condition."""
    xi = assoc.sum(axis=-2)
    if cfg.serve_condition == "at_most_once":
        return np.all(xi <= 1, axis=-1)
    return np.all((xi == 1) | ~cov.any(axis=-2), axis=-1)


def team_reward(
    cfg: SystemConfig,
    assoc: np.ndarray,
    cov: np.ndarray,
    err_u: np.ndarray,
    user_rate: np.ndarray,
    branch: np.ndarray | None = None,
) -> np.ndarray:
    """Eq. (16) for arrays (..., M, U) assoc/cov, (..., U) squared errors and user rates.

    If every user that some BS covers is served by exactly one BS (``serve_condition`` =
    "exactly_once"; with "at_most_once": if no user is served by two BSs):
    ``-(1-eps)/U ||s - s-bar||^2 + eps * sum of rates``; otherwise ``sum_u 1{xi_u > 1} xi_u rho``.
    """
    xi = assoc.sum(axis=-2)  # xi_u: BSs serving user u
    all_once = first_branch(cfg, assoc, cov) if branch is None else branch
    objective = -(1 - cfg.epsilon) / cfg.num_users * err_u.sum(-1) + cfg.epsilon * user_rate.sum(-1)
    penalty = np.where(xi > 1, xi, 0).sum(-1) * cfg.penalty
    return np.where(all_once, objective, penalty)


def local_rewards(
    cfg: SystemConfig,
    assoc: np.ndarray,
    cov: np.ndarray,
    err_u: np.ndarray,
    bs_user_rate: np.ndarray,
) -> np.ndarray:
    """Eq. (17) per BS, (..., M): the penalty xi_u rho summed over the BS's doubly-served users
    if it has any, else ``-(1-eps)/U ||s^m - s-bar^m||^2 + eps * rates it delivers``."""
    xi = assoc.sum(axis=-2)
    own_double = assoc & (xi[..., None, :] > 1)
    pen = np.where(own_double, xi[..., None, :], 0).sum(-1) * cfg.penalty
    err_m = (err_u[..., None, :] * cov).sum(-1)
    obj = -(1 - cfg.epsilon) / cfg.num_users * err_m + cfg.epsilon * bs_user_rate.sum(-1)
    return np.where(own_double.any(-1), pen, obj)


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
        self.twin = DigitalTwin(cfg, predictor)
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
        lo = np.array([cfg.area_x[0], cfg.area_y[0]])
        hi = np.array([cfg.area_x[1], cfg.area_y[1]])
        shape = (cfg.episode_len, cfg.num_users)
        for b in idx:  # one draw per env per episode, not per step
            rng = self.rngs[b]
            self.pos[b] = lo + (hi - lo) * rng.random((cfg.num_users, 2))
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
        sync, assoc = decode_actions(a, cfg.num_users)
        rows = np.arange(self.b)
        fading = self.fading[rows, self.t]
        pos, cov = self.pos, self.cov
        gains = gains_from_sq_distances(cfg, self.d2, fading)
        x, y, _, fast = _allocate_gains(cfg, gains, assoc, sync, generic=False)
        if fast is not None:
            bs_user_rate, cloud_rate = _fast_link_rates(cfg, gains, fast)
        else:
            bs_user_rate, cloud_rate = link_rates(cfg, pos, fading, x, y)
        success = update_success(cfg, y, cloud_rate)
        predicted = self.twin.predict()
        twin_state = twin_mapping(pos, predicted, cov, success)  # eq. (7)
        self.twin.commit(twin_state)
        err_u = ((pos - twin_state) ** 2).sum(-1)  # (B, U)
        user_rate = bs_user_rate.sum(-2)
        all_once = first_branch(cfg, assoc, cov)
        reward = team_reward(cfg, assoc, cov, err_u, user_rate, branch=all_once)
        local_reward = local_rewards(cfg, assoc, cov, err_u, bs_user_rate)
        xi = assoc.sum(axis=-2)
        u_n = cfg.num_users
        info = {
            "local_reward": local_reward,
            "sum_rate": user_rate.sum(-1),
            "user_rate": user_rate,
            "cloud_rate": cloud_rate,
            "dnt_error": err_u.sum(-1) / u_n,
            "update_sent": sync,
            "update_success": success,
            "successful_updates": success.sum(-1),
            "doubly_served": (xi > 1).sum(-1),
            "all_served_once": all_once,
            "twin_state": twin_state,
        }
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
