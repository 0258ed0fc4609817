"""Sanity checks of the learner on problems whose answer is known (the first rungs of the
ladder; the full problem is the reproduction itself).

* :func:`fit_check`: with gamma = 0 and a fixed behaviour policy (uniformly random available
  actions throughout), a BS's trained Q-values must match the exact expected immediate reward
  of every available action. The scenario has one BS covering the whole area, episodes of one
  slot (the twin starts synchronised, so the slot's DNT error is 0 whatever the action) and more
  RBs than users plus the update; the exact values average the simulator's slot
  (:func:`dnt.sim.reward.slot_outcome`) over fading draws.
* :func:`optimum_check`: one BS covering the whole area, enough RBs, a cloud it always reaches:
  serving every user and updating every slot is optimal (each served user adds rate, nothing
  interferes, an update zeroes the twin's error), so its reward is the optimum; the greedy
  learned policy must reach a share of it.
* :func:`oracle_check`: the one-slot optimiser (``MyopicOracle``) against an exhaustive
  search over all joint actions of a slot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dnt.baselines import MyopicOracle, NearestBSPolicy, nearest_association
from dnt.rl.config import TrainConfig
from dnt.rl.features import LocalState, network_inputs, slot_inputs
from dnt.rl.train import Trainer
from dnt.sim.channel import squared_distances
from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import VALIDATION_SEED_BASE, evaluate_policy
from dnt.sim.mobility import initial_positions
from dnt.sim.reward import available_pairs, slot_outcome

__all__ = ["ONE_BS", "fit_check", "optimum_check", "oracle_check"]

#: One BS at the centre of a 100 x 80 area, covering all of it, the cloud 30 away.
ONE_BS = SystemConfig(
    area_x=(-50.0, 50.0),
    area_y=(-40.0, 40.0),
    bs_positions=((0.0, 0.0),),
    coverage_radius=70.0,
    cloud_position=(0.0, 30.0),
    num_users=3,
    num_rbs=6,
    serve_condition="at_most_once",
    twin_predictor="bayes",
)


def fit_check(
    tc: TrainConfig, states: int = 64, fading_draws: int = 512, seed: int = 0
) -> dict[str, Any]:
    """Train with gamma = 0 and random actions only on :data:`ONE_BS` with one-slot episodes,
    then compare Q(s, a) (divided by the reward scale) with the exact expected reward of every
    available action on ``states`` fresh states. Returns the RMSE, its ratio to the spread of
    the exact values, and the largest absolute error."""
    cfg = ONE_BS.replace(episode_len=1)
    tc = tc.replace(gamma=0.0, eps_start=1.0, eps_end=1.0)
    trainer = Trainer(cfg, tc, seed)
    trainer.run()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x666974]))
    pos = initial_positions(cfg, rng, (states,))
    d2 = squared_distances(cfg, pos)
    cov = d2 <= cfg.coverage_radius**2
    rows, acts = available_pairs(cov[:, 0])
    fading = rng.exponential(1.0, (fading_draws, len(rows), cfg.num_users))
    exact = np.mean(
        [
            slot_outcome(cfg, pos[rows], d2[rows], cov[rows], f, pos[rows], acts[:, None])["reward"]
            for f in fading
        ],
        axis=0,
    )
    flat = {"pos": pos, "cov": cov, "t": np.zeros(states)} | LocalState(cfg, states).arrays()
    inputs = slot_inputs(cfg, tc.head, flat)
    with torch.no_grad():
        out = trainer.net(*network_inputs(tc.head, {k: v[None, None] for k, v in inputs.items()}))
        q = trainer.net.q_values(out[0, 0][rows][None], torch.from_numpy(acts)[None])[0]
    q = q.numpy() / tc.reward_scale
    err = q - exact
    rmse = float(np.sqrt(np.mean(err**2)))
    return {
        "pairs": len(rows),
        "rmse": rmse,
        "relative_rmse": rmse / float(np.std(exact)),
        "max_abs_error": float(np.abs(err).max()),
        "exact_spread": float(np.std(exact)),
    }


def optimum_check(tc: TrainConfig, seed: int = 0, episodes: int = 16) -> dict[str, Any]:
    """Train on :data:`ONE_BS` and evaluate the greedy policy against the optimum (serve every
    user, update every slot), on validation episodes."""
    cfg = ONE_BS
    trainer = Trainer(cfg, tc, seed)
    trainer.run()
    opt = evaluate_policy(cfg, NearestBSPolicy(cfg, "always"), episodes, None, VALIDATION_SEED_BASE)
    learned = trainer_policy_reward(trainer, episodes)
    return {"optimum": opt["reward"], "learned": learned, "share": learned / opt["reward"]}


def trainer_policy_reward(trainer: Trainer, episodes: int) -> float:
    """The greedy reward of a single-run trainer's policy on validation episodes."""
    from dnt.rl.runner import evaluate_runs

    tc = trainer.tc.replace(eval_episodes=episodes)
    res = evaluate_runs(trainer.cfg, tc, trainer.net, 1, trainer.predictor, VALIDATION_SEED_BASE)
    return res[0]["reward"]


def oracle_check(
    cfg: SystemConfig, envs: int = 12, slots: int = 6, seed: int = 0, limit: int = 200_000
) -> dict[str, Any]:
    """The one-slot optimiser's slot reward against the best of all joint actions (exhaustive, for
    slots with at most ``limit`` joint actions), over ``slots`` slots of ``envs`` episodes played
    by the nearest-BS rule. Returns the number of slots compared, the share where the oracle
    falls short, and the mean and largest relative shortfall."""
    env = VectorDNTEnv(cfg, num_envs=envs)
    obs = env.reset(seed=VALIDATION_SEED_BASE + seed)
    oracle = MyopicOracle(cfg)
    gaps = []
    for _ in range(slots):
        got = env.what_if(np.arange(envs), oracle.act(obs, env))["reward"]
        for b in range(envs):
            per_bs = [available_pairs(obs["coverage"][b, m][None])[1] for m in range(cfg.num_bs)]
            if np.prod([len(a) for a in per_bs], dtype=float) > limit:
                continue
            joint = np.array(np.meshgrid(*per_bs, indexing="ij")).reshape(cfg.num_bs, -1).T
            best = env.what_if(np.full(len(joint), b), joint)["reward"].max()
            gaps.append(max(best - got[b], 0.0) / max(abs(best), 1e-12))
        obs, *_ = env.step(nearest_association(cfg, obs) | 1)
    g = np.array(gaps)
    return {
        "slots": len(g),
        "short_share": float((g > 1e-9).mean()),
        "mean_shortfall": float(g.mean()),
        "max_shortfall": float(g.max()),
    }
