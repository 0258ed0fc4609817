"""Wall time of one default training run (VDN, 75 epochs, Fig. 3 settings) on one core.

``python benchmarks/bench_train.py [--algo vdn] [--epochs 75] [--twin gru] [--seeds 1]``. The
scenario's GRU twin is trained first if it is not cached (timed separately: it is trained once
per scenario). ``--seeds K`` trains seeds 0..K-1 side by side in this process
(:func:`dnt.marl.train_seeds`, as ``reproduce`` does) and also reports the time per run.
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

from dnt.marl import TrainConfig, train_seeds  # noqa: E402
from dnt.sim.config import SystemConfig  # noqa: E402
from dnt.sim.gru import scenario_twin  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--algo", default="vdn", choices=["vdn", "iql"])
    p.add_argument("--epochs", type=int, default=75)
    p.add_argument("--twin", default="gru", choices=["gru", "bayes", "hold_last"])
    p.add_argument("--seeds", type=int, default=1, help="seeds trained side by side")
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = SystemConfig(epsilon=0.3, num_rbs=12, twin_predictor=args.twin)
    t0 = time.perf_counter()
    if args.twin == "gru":
        scenario_twin(cfg, progress=False)
    t1 = time.perf_counter()
    runs = train_seeds(
        cfg, TrainConfig(algo=args.algo, epochs=args.epochs), range(args.seeds), progress=False
    )
    t2 = time.perf_counter()
    rewards = " / ".join(f"{m['final']['reward']:.3f}" for m in runs)
    print(f"twin ready in {t1 - t0:.1f} s (0 when cached)")
    print(
        f"{args.algo.upper()} {args.epochs} epochs, {args.seeds} seed(s): {t2 - t1:.1f} s wall "
        f"({(t2 - t1) / args.seeds:.1f} s per run; {runs[0]['train_wall_seconds']:.1f} s in "
        f"epochs), final greedy reward {rewards}"
    )


if __name__ == "__main__":
    main()
