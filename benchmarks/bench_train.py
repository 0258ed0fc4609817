"""Wall time and throughput of training runs at Fig. 3's settings (one thread), and the same
cells under another revision of the code, interleaved, for a ratio.

``python benchmarks/bench_train.py [--algo vdn] [--gradient-steps N] [--seeds K] [--head shared]``
trains seeds 0..K-1 side by side (as ``reproduce`` does) with the reproduction's settings and
reports the wall time per run, gradient steps/s and env steps/s per run, and the final reward.
The scenario's GRU twin is read from the committed store (``results/twins``).

``--against REV [--repeats R]``: checks REV out in a temporary git worktree and trains the same
cells with REV's code and with the current code, one after the other, R times, for one seed and
for five seeds side by side (each measurement in a fresh process on one thread); prints the
median wall time per run of each, their ratio (REV over current: above 1, the current code is
faster), whether the final rewards are equal, and the torch FLOP rate each achieves (FLOPs
counted by ``torch.utils.flop_counter`` on two short runs, per run over the wall time) against
this machine's single-thread matmul rate (a 512 x 512 product). Absolute times vary by machine;
the ratio, measured on one machine in one sitting, is the number to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

ROOT = Path(__file__).resolve().parents[1]


def measure(algo: str, steps: int | None, seeds: int, head: str | None, flops: bool) -> dict:
    """Train the cells here (the ``dnt`` on ``sys.path``) and return the timings."""
    import torch

    from dnt.repro.specs import figure_configs, train_config
    from dnt.rl.train import train_seeds
    from dnt.sim.gru import GRUTrainConfig, scenario_twin

    torch.set_num_threads(1)
    cfg = figure_configs("fig3")[0]
    changes: dict = {"eval_every": 10**9}  # evaluate once, at the end
    if steps:
        changes["gradient_steps"] = steps
    if head:
        changes["head"] = head
    tc = train_config(algo, quick=False, **changes)
    pred = scenario_twin(cfg, ROOT / "results" / "twins", GRUTrainConfig(), 2000)
    t0 = time.perf_counter()
    runs = train_seeds(cfg, tc, range(seeds), predictor=pred, progress=False)
    wall = time.perf_counter() - t0
    out = {
        "wall": wall,
        "per_run": wall / seeds,
        "rewards": [m["final"]["reward"] for m in runs],
        "gradient_steps": tc.gradient_steps,
        "env_steps": tc.total_env_steps,
    }
    if flops:
        from torch.utils.flop_counter import FlopCounterMode

        counted = []
        for short in (20, 40):
            mode = FlopCounterMode(display=False)
            with mode:
                train_seeds(
                    cfg,
                    tc.replace(gradient_steps=short),
                    range(seeds),
                    predictor=pred,
                    progress=False,
                )
            counted.append(mode.get_total_flops())
        per_step = (counted[1] - counted[0]) / 20
        total = counted[0] + per_step * (tc.gradient_steps - 20)
        out["flops_per_run"] = total / seeds
        out["flop_rate"] = total / wall
        a = torch.randn(512, 512)
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 1.0:
            a @ a
            n += 1
        out["matmul_rate"] = n * 2 * 512**3 / (time.perf_counter() - start)
    return out


def run_in(tree: Path, args: argparse.Namespace, seeds: int) -> dict:
    """:func:`measure` in a fresh process whose ``dnt`` is the one in ``tree``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--seeds", str(seeds)]
    cmd += ["--algo", args.algo, "--flops"]
    if args.gradient_steps:
        cmd += ["--gradient-steps", str(args.gradient_steps)]
    if args.head:
        cmd += ["--head", args.head]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def against(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "rev"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.against],
            check=True,
            capture_output=True,
        )
        try:
            rows = []
            for seeds in (1, 5):
                got: dict[str, list[dict]] = {"rev": [], "current": []}
                for _ in range(args.repeats):  # interleaved: drifts hit both alike
                    got["rev"].append(run_in(old, args, seeds))
                    got["current"].append(run_in(ROOT, args, seeds))
                med = {k: statistics.median(r["per_run"] for r in v) for k, v in got.items()}
                same = got["rev"][0]["rewards"] == got["current"][0]["rewards"]
                rows.append((seeds, med, same, got))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)])
    print(f"{args.algo.upper()}, {rows[0][3]['current'][0]['gradient_steps']} gradient steps")
    print("| seeds side by side | s per run at REV | s per run now | ratio | same rewards |")
    print("| ---: | ---: | ---: | ---: | --- |")
    for seeds, med, same, _ in rows:
        ratio = med["rev"] / med["current"]
        print(f"| {seeds} | {med['rev']:.1f} | {med['current']:.1f} | {ratio:.2f}x | {same} |")
    for seeds, _, _, got in rows:
        for k in ("rev", "current"):
            r = got[k][0]
            print(
                f"{seeds} seed(s), {k}: {r['flop_rate'] / 1e9:.2f} GFLOP/s of torch work, "
                f"{100 * r['flop_rate'] / r['matmul_rate']:.1f}% of this machine's single-thread "
                f"matmul rate ({r['matmul_rate'] / 1e9:.1f} GFLOP/s)"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--algo", default="vdn", choices=["vdn", "iql"])
    p.add_argument("--gradient-steps", type=int, default=None, help="default: the reproduction's")
    p.add_argument("--seeds", type=int, default=1, help="seeds trained side by side")
    p.add_argument("--head", default=None, choices=["shared", "paper"])
    p.add_argument("--against", default=None, metavar="REV", help="compare with git revision REV")
    p.add_argument("--repeats", type=int, default=3, help="with --against: measurements each")
    p.add_argument("--flops", action="store_true", help="also count FLOPs (two short runs)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.against:
        against(args)
        return
    r = measure(args.algo, args.gradient_steps, args.seeds, args.head, args.flops)
    if args.child:
        print(json.dumps(r))
        return
    rewards = " / ".join(f"{x:.3f}" for x in r["rewards"])
    print(
        f"{args.algo.upper()}, {r['gradient_steps']} gradient steps, {r['env_steps']} env steps "
        f"per run, {args.seeds} seed(s) side by side: {r['wall']:.1f} s wall, "
        f"{r['per_run']:.1f} s per run = {r['gradient_steps'] / r['per_run']:.0f} gradient "
        f"steps/s and {r['env_steps'] / r['per_run']:.0f} env steps/s per run; final greedy "
        f"reward {rewards}"
    )
    if args.flops:
        print(
            f"{r['flop_rate'] / 1e9:.2f} GFLOP/s of torch work, "
            f"{100 * r['flop_rate'] / r['matmul_rate']:.1f}% of the single-thread matmul rate"
        )


if __name__ == "__main__":
    main()
