"""Actions and rewards of one slot (Section III-C): the action encoding, eq. (16) (team reward)
and the local reward IQL trains on (eq. 17 / 37), and the whole slot as one pure function.

Action of BS m (``Discrete(2**(U+1))``): bit 0 = send the twin update (``|y_m|``), bit u+1 =
serve user u (``z_{m,u}``); this is ``a_t^m = [|y_m|, z_m]`` of Section III-C. Serving a user
outside the BS's coverage is unavailable.

Reading of eq. (16): a user outside every BS's coverage cannot be served, so it is left out of
the "every user served exactly once" condition. Eq. (17) local reward (for IQL): BS m gets the
penalty xi_u * rho for each of *its* users also served by another BS if it has any, else
``-(1-eps)/U ||s^m - s-bar^m||^2 + eps * (rates it delivers)``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dnt.sim.allocation import _allocate_gains, _fast_link_rates
from dnt.sim.channel import gains_from_sq_distances, link_rates, update_success
from dnt.sim.config import SystemConfig
from dnt.sim.twin import twin_mapping

__all__ = [
    "action_mask",
    "allowed_bits",
    "available_pairs",
    "decode_actions",
    "first_branch",
    "local_rewards",
    "slot_outcome",
    "team_reward",
]


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


@functools.lru_cache(maxsize=8192)
def _actions_of(allowed: int) -> np.ndarray:
    """Every action id whose bits lie in ``allowed`` (bit 0 set), ascending, int64."""
    bits = [i for i in range(allowed.bit_length()) if allowed >> i & 1]
    ids = np.zeros(1, np.int64)
    for b in bits:  # each available bit doubles the set; the result is sorted
        ids = np.sort(np.concatenate([ids, ids | (1 << b)]))
    ids.setflags(write=False)
    return ids


def available_pairs(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, available action) pair of coverage rows ``cov`` (R, U), flattened: row r
    has 2**(c_r + 1) available actions (c_r covered users), ascending. Returns (row index (P,),
    action id (P,))."""
    allowed = allowed_bits(np.asarray(cov, dtype=bool))
    acts = [_actions_of(int(v)) for v in allowed.tolist()]
    sizes = [len(x) for x in acts]
    return np.repeat(np.arange(len(acts)), sizes), np.concatenate(acts)


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


def slot_outcome(
    cfg: SystemConfig,
    pos: np.ndarray,
    d2: np.ndarray,
    cov: np.ndarray,
    fading: np.ndarray,
    predicted: np.ndarray,
    actions: np.ndarray,
) -> dict[str, Any]:
    """One slot for a batch, without side effects: Algorithm 1 allocates the RBs, eqs. (2)-(5)
    give the rates, (8g) decides which updates arrive, eq. (7) the twin state, eq. (16) the team
    reward and eq. (17) the local ones.

    ``pos`` (B, U, 2) true positions, ``d2`` (B, M, U) squared user-BS distances, ``cov``
    (B, M, U) coverage, ``fading`` (B, U) this slot's o_u, ``predicted`` (B, U, 2) the twin's
    prediction of this slot, ``actions`` (B, M) action ids (not checked here).
    """
    sync, assoc = decode_actions(actions, cfg.num_users)
    gains = gains_from_sq_distances(cfg, d2, fading)
    x, y, _, fast = _allocate_gains(cfg, gains, assoc, sync, generic=False)
    if fast is not None:
        bs_user_rate, cloud_rate = _fast_link_rates(cfg, gains, fast)
    else:
        bs_user_rate, cloud_rate = link_rates(cfg, pos, fading, x, y)
    success = update_success(cfg, y, cloud_rate)
    twin_state = twin_mapping(pos, predicted, cov, success)  # eq. (7)
    err_u = ((pos - twin_state) ** 2).sum(-1)  # (B, U)
    user_rate = bs_user_rate.sum(-2)
    all_once = first_branch(cfg, assoc, cov)
    xi = assoc.sum(axis=-2)
    return {
        "reward": team_reward(cfg, assoc, cov, err_u, user_rate, branch=all_once),
        "local_reward": local_rewards(cfg, assoc, cov, err_u, bs_user_rate),
        "sum_rate": user_rate.sum(-1),
        "user_rate": user_rate,
        "cloud_rate": cloud_rate,
        "dnt_error": err_u.sum(-1) / cfg.num_users,
        "update_sent": sync,
        "update_success": success,
        "successful_updates": success.sum(-1),
        "doubly_served": (xi > 1).sum(-1),
        "all_served_once": all_once,
        "twin_state": twin_state,
    }
