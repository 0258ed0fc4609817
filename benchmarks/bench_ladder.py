"""The learner's ladder of checks at full budgets (the tests run them with small ones):
Q-value fit with gamma = 0, the known optimum for VDN and IQL, and the one-slot optimiser against
an exhaustive joint search at Fig. 3's scenario. ``python benchmarks/bench_ladder.py``."""

from __future__ import annotations

import os
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

from dnt.rl.config import TrainConfig  # noqa: E402
from dnt.sim.config import SystemConfig  # noqa: E402
from dnt.studies.ladder import fit_check, optimum_check, oracle_check  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    small = dict(envs=8, env_steps_per_update=8, learning_starts=64, batch_size=128)
    for steps in (1000, 3000, 6000):
        t = time.perf_counter()
        res = fit_check(TrainConfig(gradient_steps=steps, eval_every=steps, **small))
        print(
            f"fit, {steps} steps: RMSE {res['rmse']:.3f} = {100 * res['relative_rmse']:.1f}% of "
            f"the spread {res['exact_spread']:.3f}, largest error {res['max_abs_error']:.3f} "
            f"({time.perf_counter() - t:.0f} s)"
        )
    for algo in ("vdn", "iql"):
        tc = TrainConfig(algo=algo, gradient_steps=2000, eval_every=2000, **small)
        res = optimum_check(tc.replace(learning_starts=240))
        print(f"known optimum, {algo}: {100 * res['share']:.1f}% of {res['optimum']:.3f}")
    cfg = SystemConfig(serve_condition="at_most_once", twin_predictor="bayes")
    res = oracle_check(cfg, envs=16, slots=10)
    print(
        f"one-slot optimiser vs exhaustive search, {res['slots']} slots: short in "
        f"{100 * res['short_share']:.1f}%, mean shortfall {100 * res['mean_shortfall']:.3f}%, "
        f"largest {100 * res['max_shortfall']:.2f}%"
    )


if __name__ == "__main__":
    main()
