"""The training loop of Algorithm 2, top to bottom, with checkpoints and exact resumption.

One run: collect ``learning_starts`` env steps with random actions' share epsilon, then
repeat until the budget of ``gradient_steps`` is spent: collect ``env_steps_per_update`` env
steps epsilon-greedily into the replay, take one gradient step on a sampled batch (VDN or IQL,
:mod:`dnt.rl.learner`), and every ``eval_every`` steps play the fixed evaluation episodes
greedily. Several seeds train side by side (:func:`train_seeds`): their networks are stacked
and their environments share one batch, but each keeps its own initialisation, exploration,
replay, loss and clipping, so each seed's numbers are those of the seed trained alone.

Randomness: run r's networks start from ``torch.Generator().manual_seed(seed)``; its exploration
and replay sampling use a numpy ``Generator`` from the seed; its training episodes are seeded
from (seed, batch of episodes). A checkpoint is written at episode boundaries, so a resumed run
continues with exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from dnt._io import atomic_write, atomic_write_json
from dnt.rl.buffer import EpisodeBuffer
from dnt.rl.config import TrainConfig
from dnt.rl.features import bs_feature_size, paper_feature_size, user_feature_size
from dnt.rl.learner import Learner
from dnt.rl.modules import PaperQ, SharedQ
from dnt.rl.runner import Collector, evaluate_runs
from dnt.sim.config import SystemConfig
from dnt.sim.evaluation import EVAL_SEED_BASE, VALIDATION_SEED_BASE
from dnt.sim.predictors import make_predictor
from dnt.sim.twin import Predictor

__all__ = ["CURVE_FIELDS", "Trainer", "build_network", "train", "train_seeds"]

CURVE_FIELDS = (
    "gradient_steps",
    "env_steps",
    "epsilon",
    "loss",
    "train_reward",
    "eval_reward",
    "eval_sum_rate",
    "eval_dnt_error",
    "eval_updates_per_slot",
    "eval_successful_updates_per_slot",
    "eval_penalty_share",
    "eval_served_per_slot",
    "eval_doubly_served_per_slot",
    "wall_seconds",
)


def build_network(cfg: SystemConfig, tc: TrainConfig, seeds: Sequence[int]) -> torch.nn.Module:
    """The M Q-networks of each seed, initialised from the seed's own ``torch.Generator`` and
    stacked run-major (agent r * M + m is BS m of seed r)."""

    def make(agents: int, gen: torch.Generator) -> torch.nn.Module:
        if tc.head == "shared":
            return SharedQ(agents, user_feature_size(cfg), bs_feature_size(cfg), tc.hidden, gen)
        return PaperQ(agents, paper_feature_size(cfg), tc.hidden, cfg.num_actions, gen)

    nets = [make(cfg.num_bs, torch.Generator().manual_seed(int(s))) for s in seeds]
    if len(nets) == 1:
        return nets[0]
    out = make(cfg.num_bs * len(nets), torch.Generator())
    with torch.no_grad():
        for name, p in out.named_parameters():
            p.copy_(torch.cat([dict(n.named_parameters())[name] for n in nets]))
    return out


class Trainer:
    """Algorithm 2 for VDN or IQL, for one seed or several side by side (see the module)."""

    def __init__(
        self,
        cfg: SystemConfig,
        tc: TrainConfig,
        seeds: int | Sequence[int],
        predictor: Predictor | None = None,
    ) -> None:
        seeds = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds={seeds!r} is invalid: one or more distinct integers >= 0")
        self.cfg, self.tc, self.seeds = cfg, tc, [int(s) for s in seeds]
        self.runs = len(self.seeds)
        self.predictor = make_predictor(cfg, predictor)
        self.net = build_network(cfg, tc, self.seeds)
        self.learner = Learner(cfg, tc, self.net, build_network(cfg, tc, self.seeds), self.runs)
        self.rngs = [np.random.default_rng(np.random.SeedSequence([s, 0x524C])) for s in seeds]
        self.collector = Collector(cfg, tc, self.net, self.seeds, self.rngs, self.predictor)
        example = {
            k: v[0, 0, 0] for k, v in self.collector.policy.slots(self.collector.obs).items()
        }
        self.buffers = [EpisodeBuffer(cfg, tc.buffer_episodes, example) for _ in self.seeds]
        self.curves: list[list[dict[str, float]]] = [[] for _ in self.seeds]
        self.final: list[dict[str, Any]] | None = None  # the last evaluation, with per-slot data
        self.losses: list[np.ndarray] = []
        self.wall = 0.0

    @property
    def steps(self) -> int:
        return self.learner.steps

    @property
    def done(self) -> bool:
        return self.steps >= self.tc.gradient_steps

    def _collect_until(self, env_steps: int) -> None:
        while self.collector.env_steps < env_steps or self.buffers[0].size == 0:
            self.collector.step(self.tc.epsilon(self.collector.env_steps), self.buffers)

    def _batch(self) -> dict[str, np.ndarray]:
        """One sampled batch per run, stacked: (R, L + 1 or L, N, ...)."""
        whole = self.tc.head == "paper"
        n = max(1, self.tc.batch_size // self.cfg.episode_len) if whole else self.tc.batch_size
        parts = [b.sample(rng, n, whole) for b, rng in zip(self.buffers, self.rngs, strict=True)]
        return {k: np.swapaxes(np.stack([p[k] for p in parts]), 1, 2) for k in parts[0]}

    def run(self, stop_at_boundary_after: int | None = None) -> None:
        """Train until the budget is spent (or, with ``stop_at_boundary_after``, until the first
        episode boundary at or after that many gradient steps, for checkpoints)."""
        tc = self.tc
        start = time.perf_counter()
        while not self.done:
            self._collect_until(tc.learning_starts + self.steps * tc.env_steps_per_update)
            self.losses.append(self.learner.update(self._batch()))
            if self.steps % tc.eval_every == 0 or self.done:
                self.wall += time.perf_counter() - start
                start = time.perf_counter()
                self._evaluate()
            if (
                stop_at_boundary_after is not None
                and self.steps >= stop_at_boundary_after
                and self._at_boundary()
            ):
                break
        self.wall += time.perf_counter() - start

    def _at_boundary(self) -> bool:
        """No episode is in progress (the collector's state is then its batch count)."""
        return not self.collector.episode

    def _evaluate(self) -> None:
        last = self.done
        base = VALIDATION_SEED_BASE if self.tc.validation else EVAL_SEED_BASE
        res = evaluate_runs(self.cfg, self.tc, self.net, self.runs, self.predictor, base, last)
        # each run's mean over its own losses (a column mean could sum in another order)
        loss = [
            np.mean([x[i] for x in self.losses]) if self.losses else np.nan
            for i in range(self.runs)
        ]
        self.losses = []
        train = self.collector.rewards[-1] if self.collector.rewards else [np.nan] * self.runs
        for i, ev in enumerate(res):
            row = {
                "gradient_steps": self.steps,
                "env_steps": self.collector.env_steps,
                "epsilon": self.tc.epsilon(self.collector.env_steps),
                "loss": float(loss[i]),
                "train_reward": float(train[i]),
                **{f"eval_{k}": float(v) for k, v in ev.items() if k not in ("per_slot",)},
                "wall_seconds": self.wall,
            }
            row.pop("eval_episodes")
            self.curves[i].append(row)
        if last:
            self.final = res

    # -- checkpoints ---------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "train": dataclasses.asdict(self.tc),
            "seeds": self.seeds,
            "predictor": repr(self.predictor),
        }

    def state_dict(self) -> dict[str, Any]:
        if not (self._at_boundary() or self.done):  # a finished run needs no collector state
            raise RuntimeError("checkpoints are taken at episode boundaries only")
        return {
            "identity": json.dumps(self.identity(), sort_keys=True),
            "steps": self.learner.steps,
            "batches": self.collector.batches,
            "rewards": json.dumps(self.collector.rewards),
            "net": self.net.state_dict(),
            "target": self.learner.target.state_dict(),
            "opt": self.learner.opt.state_dict(),
            "rngs": json.dumps([r.bit_generator.state for r in self.rngs]),
            "buffers": [
                {k: torch.from_numpy(np.asarray(v)) for k, v in b.state().items()}
                for b in self.buffers
            ],
            "losses": torch.from_numpy(np.array(self.losses).reshape(-1, self.runs)),
            "curves": json.dumps(self.curves),
            "final": json.dumps(self.final),
            "wall": self.wall,
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        if s["identity"] != json.dumps(self.identity(), sort_keys=True):
            raise ValueError(
                "checkpoint belongs to another run (config, training settings, seeds or twin "
                "differ); use another --out folder"
            )
        self.learner.steps = int(s["steps"])
        self.collector.start(int(s["batches"]))
        self.collector.rewards = json.loads(s["rewards"])
        self.net.load_state_dict(s["net"])
        self.learner.target.load_state_dict(s["target"])
        self.learner.opt.load_state_dict(s["opt"])
        for r, st in zip(self.rngs, json.loads(s["rngs"]), strict=True):
            r.bit_generator.state = st
        for b, st in zip(self.buffers, s["buffers"], strict=True):
            b.load({k: v.numpy() for k, v in st.items()})
        self.losses = list(s["losses"].numpy())
        self.curves = json.loads(s["curves"])
        self.final = json.loads(s["final"])
        self.wall = float(s["wall"])

    def save(self, path: Path) -> None:
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        atomic_write(path, lambda p: p.write_bytes(buf.getvalue()))

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def _curve_csv(curve: list[dict[str, float]]) -> str:
    lines = [",".join(CURVE_FIELDS)]
    for row in curve:
        lines.append(",".join(repr(row[k]) if k in row else "" for k in CURVE_FIELDS))
    return "\n".join(lines) + "\n"


def train(
    cfg: SystemConfig,
    tc: TrainConfig,
    seed: int,
    out_dir: str | Path | None = None,
    predictor: Predictor | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train VDN or IQL; with ``out_dir``, checkpoint, resume, and write results.

    Writes ``out_dir/curve.csv`` (one row per evaluation), ``out_dir/checkpoint.pt`` (to resume)
    and, when the budget is spent, ``out_dir/metrics.json``. ``stop_after`` ends the call at the
    first episode boundary after that many gradient steps of the run (to test resuming).
    Returns the metrics dict, with the trainer under ``"trainer"``.
    """
    return train_seeds(cfg, tc, [seed], out_dir, predictor, progress, stop_after)[0]


def train_seeds(
    cfg: SystemConfig,
    tc: TrainConfig,
    seeds: Sequence[int],
    out_dir: str | Path | None = None,
    predictor: Predictor | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """:func:`train` for several seeds side by side in this process: each seed's metrics equal
    those of a separate ``train`` call. With several seeds, each writes
    ``out_dir/seed<k>/curve.csv`` and ``metrics.json`` next to the shared checkpoint."""
    trainer = Trainer(cfg, tc, seeds, predictor)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / "checkpoint.pt" if out is not None else None
    if ckpt is not None and ckpt.exists():
        trainer.load(ckpt)
    if out is None:
        folders: list[Path | None] = [None] * trainer.runs
    elif trainer.runs == 1:
        folders = [out]
    else:
        folders = [out / f"seed{s}" for s in trainer.seeds]
    label = ", ".join(map(str, trainer.seeds))
    bar = tqdm(
        total=tc.gradient_steps,
        initial=trainer.steps,
        desc=f"{tc.algo.upper()} seed {label}",
        unit="step",
        disable=not progress,
    )
    chunk = max(tc.eval_every, 1)
    while not trainer.done:
        before = trainer.steps
        target = before + chunk if stop_after is None else min(before + chunk, stop_after)
        trainer.run(stop_at_boundary_after=target)
        bar.update(trainer.steps - before)
        curve = trainer.curves[0]
        if curve:
            bar.set_postfix(reward=f"{curve[-1]['eval_reward']:.2f}")
        if out is not None:
            trainer.save(ckpt)
            for folder, c in zip(folders, trainer.curves, strict=True):
                atomic_write(folder / "curve.csv", lambda p, c=c: p.write_text(_curve_csv(c)))
        if stop_after is not None and trainer.steps >= stop_after:
            break
    bar.close()
    results = []
    for i, s in enumerate(trainer.seeds):
        curve = trainer.curves[i]
        metrics = {
            "algo": tc.algo,
            "seed": s,
            "gradient_steps": trainer.steps,
            "complete": trainer.done,
            "final": {k[5:]: v for k, v in curve[-1].items() if k.startswith("eval_")}
            if trainer.done
            else {},
            "train_wall_seconds": trainer.wall,
            "torch_threads": torch.get_num_threads(),
            "config": cfg.to_dict(),
            "config_hash": cfg.config_hash(),
            "train_config": dataclasses.asdict(tc),
            "twin": repr(trainer.predictor),
        }
        if folders[i] is not None and trainer.done:
            atomic_write_json(folders[i] / "metrics.json", metrics)
        metrics["trainer"] = trainer
        results.append(metrics)
    return results
