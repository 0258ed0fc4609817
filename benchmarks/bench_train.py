"""Wall time and throughput of training runs at Fig. 3's settings (one thread).

``python benchmarks/bench_train.py [--algo vdn] [--gradient-steps N] [--seeds K] [--head shared]``
trains seeds 0..K-1 side by side (as ``reproduce`` does) with the reproduction's settings and
reports the wall time per run, gradient steps/s and env steps/s per run, and the final reward.
The scenario's GRU twin is loaded from (or first trained into) the twin cache, timed apart.
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

from dnt.repro.specs import figure_configs, train_config  # noqa: E402
from dnt.rl.train import train_seeds  # noqa: E402
from dnt.sim.gru import scenario_twin  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--algo", default="vdn", choices=["vdn", "iql"])
    p.add_argument("--gradient-steps", type=int, default=None, help="default: the reproduction's")
    p.add_argument("--seeds", type=int, default=1, help="seeds trained side by side")
    p.add_argument("--head", default=None, choices=["shared", "paper"])
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = figure_configs("fig3")[0]
    changes = {"eval_every": 10**9}  # evaluate once, at the end
    if args.gradient_steps:
        changes["gradient_steps"] = args.gradient_steps
    if args.head:
        changes["head"] = args.head
    tc = train_config(args.algo, quick=False, **changes)
    t0 = time.perf_counter()
    pred = scenario_twin(cfg)
    t1 = time.perf_counter()
    runs = train_seeds(cfg, tc, range(args.seeds), predictor=pred, progress=False)
    t2 = time.perf_counter()
    per_run = (t2 - t1) / args.seeds
    rewards = " / ".join(f"{m['final']['reward']:.3f}" for m in runs)
    print(f"twin ready in {t1 - t0:.1f} s (0 when cached)")
    print(
        f"{args.algo.upper()} {tc.head} head, {tc.gradient_steps} gradient steps, "
        f"{tc.total_env_steps} env steps per run, {args.seeds} seed(s) side by side: "
        f"{t2 - t1:.1f} s wall, {per_run:.1f} s per run = {tc.gradient_steps / per_run:.0f} "
        f"gradient steps/s and {tc.total_env_steps / per_run:.0f} env steps/s per run; "
        f"final greedy reward {rewards}"
    )


if __name__ == "__main__":
    main()
