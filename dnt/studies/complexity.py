"""Decision time per slot as U and N grow, next to the orders of eqs. (25)-(26) (Section IV-A)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from dnt.baselines import nearest_association
from dnt.rl.config import TrainConfig
from dnt.rl.controller import Controller
from dnt.rl.features import LocalState, slot_inputs
from dnt.rl.train import build_network
from dnt.sim.allocation import allocate
from dnt.sim.channel import coverage
from dnt.sim.config import SystemConfig
from dnt.sim.mobility import initial_positions
from dnt.sim.reward import decode_actions

__all__ = ["complexity_figure", "measure_decision_time"]


def measure_decision_time(
    users: tuple[int, ...] = (4, 6, 8, 10, 12),
    rbs: tuple[int, ...] = (6, 12, 18, 24),
    hidden: int = 128,
    repeats: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Wall time of one slot's decisions as U and N grow, next to the orders of eq. (25).

    For each U (N fixed at 12): the paper's Q-networks (GRU of ``hidden`` units) with the full
    2**(U+1) head, the cost eq. (25) counts, ``O(M theta^h (U + theta^h + |A|))``; the same
    networks evaluating only the available actions; and the shared per-user head, whose cost
    grows with U instead of 2**U. For each N (U fixed at 12): Algorithm 1 with every covered
    user associated to its nearest BS (worst case ``O(sum_m |U^m|^2 N)``). Times are medians
    over ``repeats`` random slots, in milliseconds.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"users": [], "rbs": [], "hidden": hidden, "repeats": repeats}

    def median_ms(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(times))

    for u in users:
        cfg = SystemConfig(num_users=u)
        pos = initial_positions(cfg, rng)
        state = LocalState(cfg, 1)
        flat = {"pos": pos[None], "cov": coverage(cfg, pos)[None], "t": np.zeros(1)}
        flat |= state.arrays()
        row: dict[str, Any] = {"U": u, "actions": cfg.num_actions}
        for head, width in (("paper", hidden), ("shared", TrainConfig().hidden)):
            tc = TrainConfig(head=head, hidden=width)
            net = build_network(cfg, tc, [seed])
            slots = {k: v[None, None] for k, v in slot_inputs(cfg, head, flat).items()}
            ctl = Controller(cfg, tc, net, 1)

            def act(ctl=ctl, slots=slots):
                ctl.reset()
                ctl.greedy(slots)

            if head == "paper":
                x = torch.from_numpy(slots["x"][0, 0, 0])[:, None, None]  # (M, 1, 1, F)

                def full_head(net=net, x=x, m_bs=cfg.num_bs):
                    with torch.no_grad():
                        h = net(x)[:, 0, 0]  # (M, H)
                        for m in range(m_bs):
                            rows = slice(m * net.num_actions, (m + 1) * net.num_actions)
                            (h[m] @ net.head_w[rows].T + net.head_b[rows]).max()

                row["full_head_ms"] = median_ms(full_head)
                row["available_ms"] = median_ms(act)
            else:
                row["shared_ms"] = median_ms(act)
        row["order_eq25_q"] = cfg.num_bs * hidden * (u + hidden + cfg.num_actions)
        out["users"].append(row)
    for n in rbs:
        cfg = SystemConfig(num_rbs=n)
        samples = []
        for _ in range(repeats):
            pos = initial_positions(cfg, rng)
            cov = coverage(cfg, pos)
            obs = {"state": pos[None], "coverage": cov[None]}
            sync, assoc = decode_actions(nearest_association(cfg, obs)[0] | 1, cfg.num_users)
            fading = rng.exponential(size=cfg.num_users)
            samples.append((pos, fading, assoc, sync))
        it = iter(samples * 2)

        def alloc(it=it, cfg=cfg):
            pos, fading, assoc, sync = next(it)
            allocate(cfg, pos, fading, assoc, sync)

        per_bs = np.array([s[2].sum(1) for s in samples])  # |U^m| per slot
        out["rbs"].append(
            {
                "N": n,
                "allocation_ms": median_ms(alloc),
                "order_eq25_hungarian": float((per_bs**2).sum(1).mean() * n),
            }
        )
    return out


def complexity_figure(result: dict) -> Figure:
    """Measured decision time per slot against the orders of eq. (25), both axes logarithmic.

    ``result`` is :func:`measure_decision_time` output. Each predicted order is
    scaled to pass through the first measurement, so the slopes can be compared.
    """
    fig = Figure(figsize=(9.6, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    us = result["users"]
    u = [r["U"] for r in us]
    full = np.array([r["full_head_ms"] for r in us])
    avail = np.array([r["available_ms"] for r in us])
    order = np.array([r["order_eq25_q"] for r in us], dtype=float)
    shared = np.array([r["shared_ms"] for r in us])
    ax1.plot(u, full, "o-", label="paper's Q-networks, full 2^(U+1) head")
    ax1.plot(u, avail, "s-", label="paper's Q-networks, available actions only")
    ax1.plot(u, shared, "^-", label="shared per-user head")
    ax1.plot(u, order / order[0] * full[0], "k--", label="order of eq. (25), scaled")
    ax1.set_yscale("log")
    ax1.set_xlabel("users U (N = 12)")
    ax1.set_ylabel("time per slot (ms)")
    ax1.legend(fontsize="small")
    rb = result["rbs"]
    n = [r["N"] for r in rb]
    alloc = np.array([r["allocation_ms"] for r in rb])
    order_h = np.array([r["order_eq25_hungarian"] for r in rb], dtype=float)
    ax2.plot(n, alloc, "o-", color="C2", label="Algorithm 1 (3 BSs)")
    ax2.plot(n, order_h / order_h[0] * alloc[0], "k--", label="sum_m |U^m|^2 N, scaled")
    ax2.set_yscale("log")
    ax2.set_xlabel("RBs per BS N (U = 12)")
    ax2.legend(fontsize="small")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Decision time per slot (median over random slots, one core)")
    return fig
