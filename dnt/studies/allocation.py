"""Studies of Algorithm 1 (the book's allocation page): what extra rounds and the printed
eqs. (3)/(5) change on random slots, and each stage against an exhaustive search."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from dnt.baselines import nearest_association
from dnt.sim.allocation import allocate_batch, trace
from dnt.sim.channel import coverage, rates, update_success
from dnt.sim.config import SystemConfig
from dnt.sim.mobility import initial_positions
from dnt.sim.reward import decode_actions

__all__ = ["allocation_study", "bruteforce_check", "random_slots"]


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
