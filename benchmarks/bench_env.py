"""Environment throughput on one core: steps per second of DNTParallelEnv and VectorDNTEnv.

Run with ``make bench`` (or ``python benchmarks/bench_env.py [--seconds S] [--envs B]``).
Thread pools are pinned to one thread before numpy is imported.
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402

from dnt.sim.config import SystemConfig  # noqa: E402
from dnt.sim.env import VectorDNTEnv  # noqa: E402
from dnt.sim.parallel_env import DNTParallelEnv  # noqa: E402


def nearest_bs_actions(cfg: SystemConfig, obs: dict) -> np.ndarray:
    """Every covered user served by its nearest covering BS; every BS updates the twin."""
    bs = np.asarray(cfg.bs_positions)
    d2 = ((obs["state"][:, None] - bs[None, :, None]) ** 2).sum(-1)
    best = np.where(obs["coverage"], d2, np.inf).argmin(1)
    assoc = (np.arange(cfg.num_bs)[None, :, None] == best[:, None, :]) & obs["coverage"]
    return (assoc.astype(np.int64) << np.arange(1, cfg.num_users + 1)).sum(-1) | 1


def bench_vector(cfg: SystemConfig, envs: int, seconds: float, policy: str) -> float:
    env = VectorDNTEnv(cfg, num_envs=envs)
    obs = env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if policy == "random":
            a = rng.integers(0, 2**62, (envs, cfg.num_bs), dtype=np.int64) & env.allowed_bits()
        else:
            a = nearest_bs_actions(cfg, obs)
        obs, _, _, _ = env.step(a)
        steps += envs
    return steps / (time.perf_counter() - start)


def bench_single(cfg: SystemConfig, seconds: float) -> float:
    env = DNTParallelEnv(cfg)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if not env.agents:
            obs, _ = env.reset()
        acts = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, *_ = env.step(acts)
        steps += 1
    return steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--envs", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    cfg = SystemConfig()
    print(f"config {cfg.config_hash()} (U={cfg.num_users}, N={cfg.num_rbs}, M={cfg.num_bs})")
    print(f"{args.repeats} runs of {args.seconds:g} s each: median (best) steps per second")

    def show(name: str, runs: list[float]) -> None:
        print(f"{name:42s} {np.median(runs):10.0f} ({max(runs):.0f})")

    show("DNTParallelEnv, random valid actions", [bench_single(cfg, args.seconds)])
    for policy in ("random", "nearest"):
        runs = [bench_vector(cfg, args.envs, args.seconds, policy) for _ in range(args.repeats)]
        show(f"VectorDNTEnv B={args.envs}, {policy} actions", runs)


if __name__ == "__main__":
    main()
