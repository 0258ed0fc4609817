"""Decision time per slot as U and N grow, next to the orders of eqs. (25)-(26) (Section IV-A)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from dnt.baselines import nearest_association
from dnt.marl import QNetwork, feature_size
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

    For each U (N fixed at 12): the M Q-networks' forward pass with the full 2**(U+1) head (the
    cost eq. 25 counts, ``O(M theta^h (U + theta^h + |A|))``) and with only the available actions
    (what ``dnt.marl`` evaluates). For each N (U fixed at 12): Algorithm 1 with every covered
    user associated to its nearest BS (worst case ``O(sum_m |U^m|^2 N)``). Times are medians over
    ``repeats`` random slots, in milliseconds.
    """
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
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
        net = QNetwork(cfg.num_bs, feature_size(cfg, True), hidden, cfg.num_actions)
        net.reset_parameters(gen)
        x = torch.zeros(cfg.num_bs, 1, feature_size(cfg, True))
        h = torch.zeros(cfg.num_bs, 1, hidden)
        pos = initial_positions(cfg, rng)
        cov = coverage(cfg, pos)

        def full_head(net=net, x=x, h=h, cfg=cfg):
            with torch.no_grad():
                hn = net.step(x, h)
                for m in range(cfg.num_bs):
                    net.q_all(hn[m], m).max()

        def available_only(net=net, x=x, h=h, cov=cov, cfg=cfg):
            with torch.no_grad():
                hn = net.step(x, h)
                net.q_max(hn[:, 0], np.arange(cfg.num_bs), cov)

        m_bs, a = cfg.num_bs, cfg.num_actions
        out["users"].append(
            {
                "U": u,
                "actions": a,
                "full_head_ms": median_ms(full_head),
                "available_ms": median_ms(available_only),
                "order_eq25_q": m_bs * hidden * (u + hidden + a),
            }
        )
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
    ax1.plot(u, full, "o-", label="Q-networks, full 2^(U+1) head")
    ax1.plot(u, avail, "s-", label="Q-networks, available actions only")
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
