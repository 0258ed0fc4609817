"""Decision time per slot as U and N grow (Section IV-A, eqs. 25-26), on one core.

``python benchmarks/bench_complexity.py [--out FIG.png]`` prints the table and can save the figure.
"""

from __future__ import annotations

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

from dnt.studies.complexity import complexity_figure, measure_decision_time  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=None, help="save the figure here (png or pdf)")
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    torch.set_num_threads(1)
    r = measure_decision_time(repeats=args.repeats)
    print(f"{'U':>3} {'|A|':>6} {'full head ms':>13} {'available ms':>13} {'eq.25 order':>12}")
    for row in r["users"]:
        print(
            f"{row['U']:>3} {row['actions']:>6} {row['full_head_ms']:>13.3f} "
            f"{row['available_ms']:>13.3f} {row['order_eq25_q']:>12.3g}"
        )
    print(f"{'N':>3} {'Algorithm 1 ms':>15} {'sum|U^m|^2 N':>13}")
    for row in r["rbs"]:
        print(f"{row['N']:>3} {row['allocation_ms']:>15.3f} {row['order_eq25_hungarian']:>13.1f}")
    if args.out:
        complexity_figure(r).savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
