"""Shared test helpers: small configs and plain-loop references for eqs. (2)-(5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import settings

from dnt.sim.config import SystemConfig

# property tests draw the same examples on every run (reproducible CI), with no local database
settings.register_profile("dnt", derandomize=True, database=None)
settings.load_profile("dnt")


@pytest.fixture
def cfg() -> SystemConfig:
    return SystemConfig()


def small_cfg(**kw) -> SystemConfig:
    """A 3-BS config with few users and RBs, for brute-force checks."""
    base = dict(num_users=4, num_rbs=4)
    base.update(kw)
    return SystemConfig(**base)


def loop_rates(cfg: SystemConfig, pos, fading, x, y):
    """Eqs. (2)-(5) written as plain loops, for either interference model."""
    m_n, u_n, n_n = x.shape
    bs = np.asarray(cfg.bs_positions)
    cloud = np.asarray(cfg.cloud_position)
    p, b, n0 = cfg.tx_power, cfg.bandwidth, cfg.noise_psd

    def h(j, u):  # gain BS j -> user u
        d = max(math.dist(bs[j], pos[u]), cfg.min_distance)
        return fading[u] / d**2

    def hc(j):  # gain BS j -> cloud
        return 1.0 / max(math.dist(bs[j], cloud), cfg.min_distance) ** 2

    def transmits(j, n):
        return any(x[j, i, n] for i in range(u_n)) or y[j, n]

    user_rate = np.zeros(u_n)
    for m in range(m_n):
        for u in range(u_n):
            for n in range(n_n):
                if not x[m, u, n]:
                    continue
                interf = 0.0
                for j in range(m_n):
                    if j == m:
                        continue
                    if cfg.interference_model == "physical":
                        interf += p * h(j, u) if transmits(j, n) else 0.0
                    else:  # eq. (3) as printed
                        for i in range(u_n):
                            if i == u:
                                continue
                            interf += x[j, i, n] * p * h(j, i) + y[j, n] * p * h(j, u)
                user_rate[u] += b * math.log2(1 + p * h(m, u) / (interf + b * n0))
    cloud_rate = np.zeros(m_n)
    for m in range(m_n):
        for n in range(n_n):
            if not y[m, n]:
                continue
            interf = 0.0
            for j in range(m_n):
                if j == m:
                    continue
                if cfg.interference_model == "physical":
                    interf += p * hc(j) if transmits(j, n) else 0.0
                else:  # eq. (5) as printed
                    for i in range(u_n):
                        interf += x[j, i, n] * p * hc(j) + y[j, n] * p * hc(j)
            cloud_rate[m] += b * math.log2(1 + p * hc(m) / (interf + b * n0))
    return user_rate, cloud_rate


def random_positions(cfg: SystemConfig, rng: np.random.Generator, batch=()) -> np.ndarray:
    lo = np.array([cfg.area_x[0], cfg.area_y[0]])
    hi = np.array([cfg.area_x[1], cfg.area_y[1]])
    return lo + (hi - lo) * rng.random((*batch, cfg.num_users, 2))
