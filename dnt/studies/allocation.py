"""Studies of Algorithm 1 (the book's allocation page): what extra rounds and the printed
eqs. (3)/(5) change on random slots, and each stage against an exhaustive search."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dnt.baselines import nearest_association
from dnt.sim.allocation import allocate, allocate_batch, trace
from dnt.sim.channel import coverage, rates, update_success
from dnt.sim.config import SystemConfig
from dnt.sim.mobility import initial_positions
from dnt.sim.reward import decode_actions

__all__ = [
    "allocation_figure",
    "allocation_study",
    "bruteforce_check",
    "random_slots",
    "update_breakage",
]


def random_slots(cfg: SystemConfig, slots: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random slots, nearest-BS association, every BS updating: (pos, fading, assoc, sync)."""
    rng = np.random.default_rng(seed)
    pos = initial_positions(cfg, rng, (slots,))
    fading = rng.exponential(size=(slots, cfg.num_users))
    cov = coverage(cfg, pos)
    acts = nearest_association(cfg, {"state": pos, "coverage": cov}) | 1
    sync, assoc = decode_actions(acts, cfg.num_users)
    return pos, fading, assoc, sync


def allocation_study(
    cfg: SystemConfig, slots: int = 500, seed: int = 0, rounds: int = 50
) -> dict[str, Any]:
    """What the extra rounds and the printed eq. (3) change, on random slots.

    Extra rounds: Algorithm 1 followed by up to ``rounds`` re-optimisation rounds; the share of
    slots that converged, the rounds used, and the sum rate and successful updates before and
    after. Printed eq. (3)/(5): the allocation chosen under the printed model, rated by the
    physical model, against the physical model's own allocation; and how far the printed model's
    own rate estimate is from the physical rate of the same allocation.
    """
    pos, fading, assoc, sync = random_slots(cfg, slots, seed)

    def outcome(
        c: SystemConfig, x: np.ndarray, y: np.ndarray, model_cfg: SystemConfig = None
    ) -> tuple:
        ur, cr = rates(model_cfg or c, pos, fading, x, y)
        return ur.sum(-1), update_success(c, y, cr).sum(-1)

    phys = cfg.replace(interference_model="physical", allocation_rounds=1)
    x1, y1, _ = allocate_batch(phys, pos, fading, assoc, sync)
    rate1, ok1 = outcome(phys, x1, y1)
    more = phys.replace(allocation_rounds=rounds)
    xr, yr, info = allocate_batch(more, pos, fading, assoc, sync)
    rate_r, ok_r = outcome(phys, xr, yr)
    printed = phys.replace(interference_model="printed")
    xp, yp, _ = allocate_batch(printed, pos, fading, assoc, sync)
    rate_p_phys, ok_p = outcome(phys, xp, yp)
    rate_p_own, _ = outcome(phys, xp, yp, model_cfg=printed)
    return {
        "slots": slots,
        "rounds_limit": rounds,
        "rounds_converged_share": float(info.converged.mean()),
        "rounds_used_median": float(np.median(info.rounds)),
        "rounds_used_max": int(info.rounds.max()),
        "sum_rate_one_pass": float(rate1.mean()),
        "sum_rate_rounds": float(rate_r.mean()),
        "updates_ok_one_pass": float(ok1.mean()),
        "updates_ok_rounds": float(ok_r.mean()),
        "sum_rate_printed_alloc_physical": float(rate_p_phys.mean()),
        "sum_rate_printed_own_estimate": float(rate_p_own.mean()),
        "updates_ok_printed": float(ok_p.mean()),
        "same_allocation_share": float(
            ((xp == x1).all(axis=(1, 2, 3)) & (yp == y1).all(axis=(1, 2))).mean()
        ),
    }


def bruteforce_check(cfg: SystemConfig, instances: int = 100, seed: int = 0) -> dict[str, Any]:
    """Each stage of Algorithm 1 against an exhaustive search over matchings (small U and N).

    For random slots (nearest-BS association, every BS updating), compares every BS's stage
    value (the total rate of its users given the BSs before it) with the best over all
    matchings of its users to its free RBs. Returns the number of stages checked, how many
    matched, and the largest relative shortfall.
    """
    pos, fading, assoc, sync = random_slots(cfg, instances, seed)
    checked = matched = 0
    worst = 0.0
    for i in range(instances):
        for st in trace(cfg, pos[i], fading[i], assoc[i], sync[i]):
            w = st["rates"]
            if w.size == 0:
                continue
            k, f = w.shape
            r = min(k, f)
            best = max(
                sum(w[u, n] for u, n in zip(us, ns, strict=True))
                for us in itertools.combinations(range(k), r)
                for ns in itertools.permutations(range(f), r)
            )
            checked += 1
            ok = st["stage_value"] >= best * (1 - 1e-12)
            matched += int(ok)
            worst = max(worst, (best - st["stage_value"]) / best if best > 0 else 0.0)
    return {"stages": checked, "optimal": matched, "worst_shortfall": worst}


def allocation_figure(
    cfg: SystemConfig, pos: np.ndarray, fading: np.ndarray, assoc: np.ndarray, sync: np.ndarray
) -> Figure:
    """One slot of Algorithm 1 as a picture: BSs (rows, in decision order) against RBs
    (columns); each cell names the user that holds the RB or "update" for the twin update, and
    its shade counts the BSs *before* this one that transmit on the RB, i.e. the interference
    this stage saw when it chose (0: a clean RB). Bold frames mark the update RBs."""
    x, y = allocate(cfg, pos, fading, assoc, sync)
    tx = x.any(axis=1) | y  # (M, N): BS m transmits on RB n
    seen = np.cumsum(tx, axis=0) - tx  # transmissions of the BSs before m
    m_n, n_n = tx.shape
    fig = Figure(figsize=(1.0 + 0.62 * n_n, 1.2 + 0.7 * m_n), layout="constrained")
    ax = fig.subplots()
    img = ax.imshow(seen, cmap="Oranges", vmin=0, vmax=max(m_n - 1, 1), aspect="auto")
    for m in range(m_n):
        for n in range(n_n):
            users = np.flatnonzero(x[m, :, n])
            label = "update" if y[m, n] else (f"u{users[0] + 1}" if users.size else "")
            ax.text(
                n,
                m,
                label,
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold" if y[m, n] else "normal",
            )
            if y[m, n]:
                ax.add_patch(Rectangle((n - 0.5, m - 0.5), 1, 1, fill=False, lw=2.0, color="k"))
    ax.set_xticks(range(n_n), [str(n) for n in range(n_n)])
    ax.set_yticks(range(m_n), [f"BS {m}" for m in range(m_n)])
    ax.set_xlabel("resource block")
    cb = fig.colorbar(img, ax=ax, shrink=0.8)
    cb.set_label("BSs before this one on the RB")
    ax.set_title("One slot of Algorithm 1: who holds each RB, and what each stage saw")
    return fig


def update_breakage(cfg: SystemConfig, slots: int = 1000, seed: int = 0) -> dict[str, Any]:
    """How often Algorithm 1's order breaks an update: BS m picks its update RB seeing only the
    BSs before it, so a later BS transmitting on that RB can push the update past the deadline
    (8g), which a joint choice of y and x (problem 17) would avoid. On random slots (nearest-BS
    association, every BS updating): the share of updates that meet (8g) given the earlier BSs
    but fail once every BS has transmitted, per BS and overall."""
    pos, fading, assoc, sync = random_slots(cfg, slots, seed)
    x, y, _ = allocate_batch(cfg, pos, fading, assoc, sync)
    m_n = cfg.num_bs
    ok_then = np.zeros((slots, m_n), dtype=bool)
    for m in range(m_n):  # what BS m's update got with only BSs 0..m transmitting
        xm, ym = x.copy(), y.copy()
        xm[:, m + 1 :] = False
        ym[:, m + 1 :] = False
        _, cloud_rate = rates(cfg, pos, fading, xm, ym)
        ok_then[:, m] = update_success(cfg, ym, cloud_rate)[:, m]
    _, cloud_rate = rates(cfg, pos, fading, x, y)
    ok_now = update_success(cfg, y, cloud_rate)
    broken = ok_then & ~ok_now
    return {
        "slots": slots,
        "updates_ok_when_chosen": float(ok_then.mean()),
        "updates_ok_at_the_end": float(ok_now.mean()),
        "broken_share": float(broken.sum() / max(ok_then.sum(), 1)),
        "broken_share_per_bs": (broken.sum(0) / np.maximum(ok_then.sum(0), 1)).tolist(),
    }
