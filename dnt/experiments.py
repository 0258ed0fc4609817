"""Running experiments and storing their results: atomic writes, confidence intervals over seeds,
decision-time measurements (the result store of the reproduction comes later)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["atomic_write", "atomic_write_json", "mean_ci", "measure_decision_time"]


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place.

    A failure leaves no partial file behind: either the complete file exists, or none does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (sorted keys, indented)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))


# --------------------------------------------------------------------------------------------
# statistics over seeds


def mean_ci(
    values: np.ndarray, confidence: float = 0.95, seed: int = 0, n_resamples: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) with a percentile-bootstrap confidence interval.

    ``values`` (S, ...) one row per seed. Uses ``scipy.stats.bootstrap`` (seeded); with fewer
    than 2 seeds the interval collapses to the mean. Returns (mean, low, high).
    """
    v = np.asarray(values, dtype=float)
    mean = v.mean(axis=0)
    if v.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    if np.all(v == v[:1]):  # no spread: bootstrap is degenerate
        return mean, mean.copy(), mean.copy()
    res = stats.bootstrap(
        (v,),
        np.mean,
        axis=0,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low = np.where(np.isnan(res.confidence_interval.low), mean, res.confidence_interval.low)
    high = np.where(np.isnan(res.confidence_interval.high), mean, res.confidence_interval.high)
    return mean, low, high


# --------------------------------------------------------------------------------------------
# decision time per slot (Section IV-A, eqs. 25-26)


def measure_decision_time(
    users: tuple[int, ...] = (4, 6, 8, 10, 12),
    rbs: tuple[int, ...] = (6, 12, 18, 24),
    hidden: int = 128,
    repeats: int = 30,
    seed: int = 0,
) -> dict[str, Any]:
    """Wall time of one slot's decisions as U and N grow, next to the orders of eq. (25).

    For each U (N fixed at 12): the M Q-networks' forward pass with the full 2**(U+1) head (the
    cost eq. 25 counts, O(M theta^h (U + theta^h + |A|))) and with only the available actions
    (what ``dnt.marl`` evaluates). For each N (U fixed at 12): Algorithm 1 with every covered
    user associated to its nearest BS (worst case O(sum_m |U^m|^2 N)). Times are medians over
    ``repeats`` random slots, in milliseconds.
    """
    import torch

    from dnt.allocation import allocate
    from dnt.baselines import nearest_association
    from dnt.channel import coverage
    from dnt.config import SystemConfig
    from dnt.env import decode_actions
    from dnt.marl import QNetwork, feature_size
    from dnt.mobility import initial_positions

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
