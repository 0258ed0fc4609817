"""RB allocation by the iterative Hungarian method of Algorithm 1 (problem (17), weights eq. (18)).

BSs decide in index order. BS m, given the transmissions of BSs 0..m-1 (Algorithm 1 passes them
down the chain):

1. if it sends a twin update (``sync[m]``), takes the RB that maximises its cloud rate, eq. (4),
   ties to the lowest RB index;
2. matches its associated users to its remaining RBs for maximum total rate, eq. (2) with
   interference only from BSs before it, by ``scipy.optimize.linear_sum_assignment``. Users
   beyond the free RBs get none.

Exact shortcut (same optimum, no solver call): when at least as many free RBs are free of
interference as there are users to place, every user's best rate is reached on any such clean RB,
so users take the lowest-index clean RBs; if users outnumber RBs and all RBs are clean, the users
with the strongest channel win. Ties in the matching therefore go to the lowest RB indices.

``cfg.allocation_rounds > 1`` goes beyond the paper: after the first pass each BS in turn
re-optimises given *all* other BSs until a whole round changes nothing or the limit is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from dnt.sim.channel import (
    _shannon,
    cloud_gains,
    cloud_interference,
    user_gains,
    user_interference,
)
from dnt.sim.config import SystemConfig

__all__ = ["AllocationInfo", "allocate", "allocate_batch", "trace"]


@dataclass(frozen=True)
class AllocationInfo:
    """Bookkeeping of the extra rounds: passes run and whether the last changed nothing."""

    rounds: np.ndarray  # (B,) int: passes over the BSs (1 = Algorithm 1 only)
    converged: np.ndarray  # (B,) bool: a full re-optimisation round changed nothing


def _check_inputs(cfg: SystemConfig, user_pos, fading, assoc, sync):
    u, m = cfg.num_users, cfg.num_bs
    user_pos = np.asarray(user_pos, dtype=float)
    fading = np.asarray(fading, dtype=float)
    assoc = np.asarray(assoc, dtype=bool)
    sync = np.asarray(sync, dtype=bool)
    if user_pos.shape[-2:] != (u, 2):
        raise ValueError(f"user_pos has shape {user_pos.shape}: must end in (U, 2) = ({u}, 2)")
    batch = user_pos.shape[:-2]
    for name, arr, tail in (
        ("fading", fading, (u,)),
        ("assoc", assoc, (m, u)),
        ("sync", sync, (m,)),
    ):
        if arr.shape != batch + tail:
            raise ValueError(f"{name} has shape {arr.shape}: must be {batch + tail}")
    if np.any(fading < 0) or not np.all(np.isfinite(fading)):
        raise ValueError("fading must be finite and >= 0")
    return user_pos, fading, assoc, sync


def _lowest_best(interference: np.ndarray) -> np.ndarray:
    """Index of the least-interfered RB (the best cloud rate), the lowest index among ties.

    Sums of the same gains taken in another order may differ in the last bit; values within a
    relative 1e-9 of the minimum count as ties.
    """
    low = interference.min(axis=-1, keepdims=True)
    return np.argmax(interference <= low * (1 + 1e-9), axis=-1)


def _place_users(
    solo: np.ndarray,
    weights,
    users: np.ndarray,
    free: np.ndarray,
    clean: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal matching of users to free RBs in every env; returns (env, user, RB) index arrays.

    ``solo`` (B, U) interference-free rates; ``weights(idx)`` gives the (len(idx), U, N) rate
    matrix of eq. (18) for the envs ``idx`` that need the solver; ``users`` (B, U) associated,
    ``free`` (B, N) usable, ``clean`` (B, N) usable and free of interference.
    """
    u_sz = users.shape[-1]
    n_sz = free.shape[-1]
    n_users = users.sum(-1)
    n_free = free.sum(-1)
    n_clean = clean.sum(-1)
    r = np.arange(min(u_sz, n_sz))
    out_b, out_u, out_n = [], [], []
    # shortcut: enough clean RBs, or every usable RB clean (then only the user choice matters);
    # a user's rate on any clean RB is its interference-free rate, the best it can get
    easy = (n_users <= n_clean) | (n_clean == n_free)
    idx = np.flatnonzero(easy & (n_users > 0))
    if idx.size:
        best = np.where(users[idx], solo[idx], -np.inf)
        order = np.argsort(-best, axis=-1, kind="stable")  # strongest users first
        rb_order = np.argsort(~clean[idx], axis=-1, kind="stable")  # clean RBs, index order
        k = np.minimum(n_users[idx], n_clean[idx])
        take = r[None, :] < k[:, None]
        out_b.append(np.broadcast_to(idx[:, None], take.shape)[take])
        out_u.append(order[:, : r.size][take])
        out_n.append(rb_order[:, : r.size][take])
    hard = np.flatnonzero(~easy & (n_users > 0) & (n_free > 0))
    if hard.size:
        w = weights(hard)  # (H, U, N)
        uperm = np.argsort(~users[hard], axis=-1, kind="stable")  # associated users first
        nperm = np.argsort(~free[hard], axis=-1, kind="stable")  # usable RBs first
        # negated once, so the solver minimises without copying each matrix
        wp = -w[np.arange(hard.size)[:, None, None], uperm[:, :, None], nperm[:, None, :]]
        sizes = zip(n_users[hard].tolist(), n_free[hard].tolist(), strict=True)
        # one solver call per env that needs it (a loop over envs, not over users or RBs)
        sol = [linear_sum_assignment(wp[i, :a, :c]) for i, (a, c) in enumerate(sizes)]
        counts = [len(ri) for ri, _ in sol]
        ii = np.repeat(np.arange(hard.size), counts)
        out_b.append(hard[ii])
        out_u.append(uperm[ii, np.concatenate([ri for ri, _ in sol])])
        out_n.append(nperm[ii, np.concatenate([ci for _, ci in sol])])
    if not out_b:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    return np.concatenate(out_b), np.concatenate(out_u), np.concatenate(out_n)


def _decide_bs(cfg, m, gains, pc, x, y, assoc, sync, src):
    """Generic stage: BS m's y and x given the x, y of the BSs selected by ``src`` (1, M)."""
    b_sz = x.shape[0]
    xm = x.copy()
    ym = y.copy()
    xm[:, m] = False
    ym[:, m] = False
    # 1) the update RB: best cloud rate, eq. (4) (it falls with the interference; argmin takes
    #    the lowest index on ties)
    if sync[:, m].any():
        i_c = cloud_interference(cfg, xm, ym, src)[:, 0]  # (B, N)
        rb = _lowest_best(i_c)
        ym[np.arange(b_sz), m, rb] = sync[:, m]
    # 2) users: maximum total rate on the remaining RBs, eq. (2) with eq. (18) weights
    i_u = user_interference(cfg, gains, xm, ym, src)[:, 0]  # (B, U, N)
    signal = cfg.tx_power * gains[:, m]  # (B, U)
    free = ~ym[:, m]
    clean = free & (i_u.max(axis=-2) <= 0.0)
    solo = _shannon(cfg, signal, 0.0)

    def weights(idx: np.ndarray) -> np.ndarray:
        return _shannon(cfg, signal[idx][:, :, None], i_u[idx])

    bb, uu, nn = _place_users(solo, weights, assoc[:, m], free, clean)
    xm[bb, m, uu, nn] = True
    return xm, ym


@dataclass
class _FastAllocation:
    """Algorithm 1 under the physical model, with the bookkeeping the env reuses."""

    x: np.ndarray  # (B, M, U, N) bool
    y: np.ndarray  # (B, M, N) bool
    tx: np.ndarray  # (B, M, N) float 0/1: BS m transmits on RB n
    served: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (b, m, u, n) of each link
    update_rb: np.ndarray  # (B, M) int, -1 when no update


def _algorithm1_physical(cfg, gains, assoc, sync) -> _FastAllocation:
    """One pass of Algorithm 1 with the physical interference model, on compact arrays."""
    b_sz, m_sz, u_sz = assoc.shape
    n_sz = cfg.num_rbs
    pg = cfg.tx_power * gains  # (B, M, U)
    pc = cfg.tx_power * cloud_gains(cfg)
    x = np.zeros((b_sz, m_sz, u_sz, n_sz), dtype=bool)
    y = np.zeros((b_sz, m_sz, n_sz), dtype=bool)
    tx = np.zeros((b_sz, m_sz, n_sz))
    update_rb = np.full((b_sz, m_sz), -1, dtype=np.int64)
    rows = np.arange(b_sz)
    busy = np.zeros((b_sz, n_sz), dtype=bool)  # some BS that already decided uses the RB
    links = []
    for m in range(m_sz):
        before = tx[:, :m]  # (B, m, N) transmissions of the BSs that already decided
        if m:
            i_c = pc[:m] @ before  # (B, N), eq. (5)
            i_u = np.swapaxes(pg[:, :m], 1, 2) @ before  # (B, U, N), eq. (3)
        else:
            i_c = np.zeros((b_sz, n_sz))
            i_u = None
        s_m = sync[:, m]
        rb = _lowest_best(i_c)  # best cloud rate, lowest index on ties
        y[rows[s_m], m, rb[s_m]] = True
        update_rb[s_m, m] = rb[s_m]
        free = ~y[:, m]
        clean = free & ~busy
        signal = pg[:, m]
        solo = _shannon(cfg, signal, 0.0)

        def weights(idx: np.ndarray, signal=signal, i_u=i_u) -> np.ndarray:
            return _shannon(cfg, signal[idx][:, :, None], i_u[idx])

        bb, uu, nn = _place_users(solo, weights, assoc[:, m], free, clean)
        mm = np.full(bb.size, m)
        x[bb, m, uu, nn] = True
        tx[:, m] = y[:, m]
        tx[bb, m, nn] = 1.0
        busy |= tx[:, m] > 0
        links.append((bb, mm, uu, nn))
    served = tuple(np.concatenate([lk[i] for lk in links]) for i in range(4))
    return _FastAllocation(x=x, y=y, tx=tx, served=served, update_rb=update_rb)


def _fast_link_rates(cfg, gains, fa: _FastAllocation) -> tuple[np.ndarray, np.ndarray]:
    """``channel.link_rates`` for a physical-model allocation, evaluated only on used links."""
    b_sz, m_sz, u_sz = gains.shape
    pg = cfg.tx_power * gains
    pc = cfg.tx_power * cloud_gains(cfg)
    bb, mm, uu, nn = fa.served
    others = 1.0 - np.eye(m_sz)
    # eq. (3), physical reading: other BSs transmitting on the link's RB, gain to this user
    i_u = (fa.tx[bb, :, nn] * pg[bb, :, uu] * others[mm]).sum(-1)
    bs_user_rate = np.zeros((b_sz, m_sz, u_sz))
    bs_user_rate[bb, mm, uu] = _shannon(cfg, pg[bb, mm, uu], i_u)
    cloud_rate = np.zeros((b_sz, m_sz))
    cb, cm = np.nonzero(fa.update_rb >= 0)
    if cb.size:
        i_c = (fa.tx[cb, :, fa.update_rb[cb, cm]] * pc * others[cm]).sum(-1)  # eq. (5)
        cloud_rate[cb, cm] = _shannon(cfg, pc[cm], i_c)
    return bs_user_rate, cloud_rate


def allocate_batch(
    cfg: SystemConfig,
    user_pos: np.ndarray,
    fading: np.ndarray,
    assoc: np.ndarray,
    sync: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, AllocationInfo]:
    """Algorithm 1 for a batch: inputs with leading dim B; returns x (B, M, U, N), y (B, M, N).

    Satisfies (8c)-(8f) always and (8b) whenever no user is associated with two BSs.
    """
    user_pos, fading, assoc, sync = _check_inputs(cfg, user_pos, fading, assoc, sync)
    if user_pos.ndim != 3:
        raise ValueError(f"user_pos has shape {user_pos.shape}: allocate_batch needs (B, U, 2)")
    gains = user_gains(cfg, user_pos, fading)
    return _allocate_gains(cfg, gains, assoc, sync, generic=False)[:3]


def _allocate_gains(cfg, gains, assoc, sync, generic: bool):
    """Algorithm 1 (+ optional rounds) from gains; also returns the fast bookkeeping or None."""
    b_sz, m_sz = assoc.shape[:2]
    fast = None
    if cfg.interference_model == "physical" and not generic:
        fast = _algorithm1_physical(cfg, gains, assoc, sync)
        x, y = fast.x, fast.y
    else:
        pc = cfg.tx_power * cloud_gains(cfg)
        x = np.zeros((b_sz, m_sz, cfg.num_users, cfg.num_rbs), dtype=bool)
        y = np.zeros((b_sz, m_sz, cfg.num_rbs), dtype=bool)
        for m in range(m_sz):  # Algorithm 1: BSs in index order, each sees the ones before it
            src = (np.arange(m_sz) < m)[None, :].astype(float)
            x, y = _decide_bs(cfg, m, gains, pc, x, y, assoc, sync, src)
    rounds = np.ones(b_sz, dtype=int)
    converged = np.zeros(b_sz, dtype=bool)
    if cfg.allocation_rounds > 1:
        fast = None  # the rounds change x, y: the bookkeeping no longer applies
        pc = cfg.tx_power * cloud_gains(cfg)
        x, y = x.copy(), y.copy()
        for _ in range(1, cfg.allocation_rounds):
            act = np.flatnonzero(~converged)
            if act.size == 0:
                break
            x0, y0 = x[act], y[act]
            xa, ya = x0, y0
            for m in range(m_sz):
                src = (np.arange(m_sz) != m)[None, :].astype(float)
                xa, ya = _decide_bs(cfg, m, gains[act], pc, xa, ya, assoc[act], sync[act], src)
            x[act], y[act] = xa, ya
            rounds[act] += 1
            same = (xa == x0).all(axis=(1, 2, 3)) & (ya == y0).all(axis=(1, 2))
            converged[act[same]] = True
    return x, y, AllocationInfo(rounds=rounds, converged=converged), fast


def allocate(
    cfg: SystemConfig,
    user_pos: np.ndarray,
    fading: np.ndarray,
    assoc: np.ndarray,
    sync: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 for one slot: x[m, u, n] (BS m serves u on RB n), y[m, n] (update on n).

    ``user_pos`` (U, 2), ``fading`` (U,), ``assoc`` (M, U) bool (z of Section III-C),
    ``sync`` (M,) bool (``|y_m|`` of the action).
    """
    user_pos, fading, assoc, sync = _check_inputs(cfg, user_pos, fading, assoc, sync)
    if user_pos.ndim != 2:
        raise ValueError(f"user_pos has shape {user_pos.shape}: allocate needs (U, 2)")
    x, y, _ = allocate_batch(cfg, user_pos[None], fading[None], assoc[None], sync[None])
    return x[0], y[0]


def trace(
    cfg: SystemConfig,
    user_pos: np.ndarray,
    fading: np.ndarray,
    assoc: np.ndarray,
    sync: np.ndarray,
) -> list[dict]:
    """Algorithm 1 on one slot, stage by stage (for reading, not speed).

    For each BS m in index order: the cloud rate it would get on each RB given the BSs before
    it (eq. 4), the RB it picks for its update, the rate matrix of eq. (18) of its users on its
    free RBs, and the matching chosen. Uses the same code as :func:`allocate`.
    """
    user_pos, fading, assoc, sync = _check_inputs(cfg, user_pos, fading, assoc, sync)
    x, y = allocate(cfg, user_pos, fading, assoc, sync)
    gains = user_gains(cfg, user_pos[None], fading[None])
    pc = cfg.tx_power * cloud_gains(cfg)
    stages = []
    for m in range(cfg.num_bs):
        src = (np.arange(cfg.num_bs) < m)[None, :].astype(float)
        xb, yb = x[None].copy(), y[None].copy()
        xb[:, m:] = False  # only the BSs before m have decided
        yb[:, m:] = False
        cloud = _shannon(cfg, pc[m], cloud_interference(cfg, xb, yb, src)[0, 0])
        yb[0, m] = y[m]
        w = _shannon(
            cfg,
            cfg.tx_power * gains[0, m][:, None],
            user_interference(cfg, gains, xb, yb, src)[0, 0],
        )
        users = np.flatnonzero(assoc[m])
        free = np.flatnonzero(~y[m])
        stages.append(
            {
                "bs": m,
                "cloud_rate_per_rb": cloud,
                "update_rb": int(np.flatnonzero(y[m])[0]) if y[m].any() else None,
                "users": users,
                "free_rbs": free,
                "rates": w[np.ix_(users, free)],
                "matching": [(int(u), int(n)) for u, n in zip(*np.nonzero(x[m]), strict=True)],
                "stage_value": float(sum(w[u, n] for u, n in zip(*np.nonzero(x[m]), strict=True))),
            }
        )
    return stages
