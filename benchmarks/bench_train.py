"""Wall time of one default training run (VDN, 75 epochs, Fig. 3 settings) on one core.

``python benchmarks/bench_train.py [--algo vdn] [--epochs 75] [--twin gru]``. The scenario's GRU
twin is trained first if it is not cached (timed separately: it is trained once per scenario).
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

from dnt.config import SystemConfig  # noqa: E402
from dnt.marl import TrainConfig, train  # noqa: E402
from dnt.twin import scenario_twin  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--algo", default="vdn", choices=["vdn", "iql"])
    p.add_argument("--epochs", type=int, default=75)
    p.add_argument("--twin", default="gru", choices=["gru", "bayes", "hold_last"])
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = SystemConfig(epsilon=0.3, num_rbs=12, twin_predictor=args.twin)
    t0 = time.perf_counter()
    if args.twin == "gru":
        scenario_twin(cfg, progress=False)
    t1 = time.perf_counter()
    m = train(cfg, TrainConfig(algo=args.algo, epochs=args.epochs), seed=0, progress=False)
    t2 = time.perf_counter()
    print(f"twin ready in {t1 - t0:.1f} s (0 when cached)")
    print(
        f"{args.algo.upper()} {args.epochs} epochs: {t2 - t1:.1f} s wall "
        f"({m['train_wall_seconds']:.1f} s in epochs), final greedy reward "
        f"{m['final']['reward']:.3f}"
    )


if __name__ == "__main__":
    main()
