"""Training settings of VDN and IQL (Algorithm 2): one frozen dataclass, validated on
construction. Paper values where the paper gives them (gamma, Table II); everything else is
ours, chosen by the budget study and the tuning documented in the book."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ALGOS", "HEADS", "LOSSES", "TrainConfig"]

ALGOS = ("vdn", "iql")
#: "shared": one network per BS applied to each user's own features (plus an update term);
#: "paper": the paper's Q-network, a GRU over the BS's observation with one output per action.
HEADS = ("shared", "paper")
LOSSES = ("huber", "mse")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; units are in the names or the comments."""

    algo: str = "vdn"  # "vdn" (eqs. 19-24) or "iql" (eq. 37)
    head: str = "shared"  # Q-network, see HEADS
    gradient_steps: int = 6000  # the budget: gradient steps in the whole run
    env_steps_per_update: int = 16  # env steps collected per gradient step (replay ratio)
    envs: int = 16  # episodes played side by side while collecting
    gamma: float = 0.2  # discount (Table II)
    lr: float = 1e-3  # Adam learning rate at the start
    lr_end: float = 1e-4  # ... decayed linearly to this at the last gradient step
    hidden: int = 32  # hidden units of each Q-network layer (the paper's theta^h is 128)
    batch_size: int = 256  # transitions per gradient step (paper head: whole episodes' slots)
    buffer_episodes: int = 2000  # replay capacity in whole episodes
    learning_starts: int = 480  # env steps collected before the first gradient step
    double_q: bool = True  # the online network picks a', the target network values it
    loss: str = "huber"  # TD loss, see LOSSES
    reward_scale: float = 0.1  # rewards are multiplied by this inside the learner only
    target_tau: float = 0.005  # Polyak step of the target networks (1.0: hard copy)
    target_every: int = 1  # gradient steps between target updates
    eps_start: float = 1.0  # epsilon-greedy exploration at the first env step
    eps_end: float = 0.05  # ... reached after explore_fraction of the run's env steps
    explore_fraction: float = 0.5  # share of the run's env steps over which epsilon decays
    serve_prob: float = 0.5  # a random action serves each covered user with this probability
    grad_clip: float = 10.0  # max gradient 2-norm of one run's parameters per step
    eval_episodes: int = 16  # fixed greedy evaluation episodes
    eval_every: int = 500  # gradient steps between evaluations (the last step always)
    validation: bool = False  # evaluate on the validation episodes (tuning), not the fixed ones

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: must be {rule}")

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def finite(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        need(self.algo in ALGOS, "algo", f"one of {ALGOS}")
        need(self.head in HEADS, "head", f"one of {HEADS}")
        need(self.loss in LOSSES, "loss", f"one of {LOSSES}")
        for name in (
            "gradient_steps",
            "env_steps_per_update",
            "envs",
            "hidden",
            "batch_size",
            "buffer_episodes",
            "target_every",
            "eval_episodes",
            "eval_every",
        ):
            need(is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "an integer >= 1")
        need(
            is_int(self.learning_starts) and self.learning_starts >= 0,
            "learning_starts",
            "an integer >= 0",
        )
        need(finite(self.gamma) and 0 <= self.gamma < 1, "gamma", "in [0, 1)")
        for name in ("lr", "lr_end", "reward_scale", "grad_clip"):
            need(
                finite(getattr(self, name)) and getattr(self, name) > 0, name, "a finite number > 0"
            )
        need(finite(self.target_tau) and 0 < self.target_tau <= 1, "target_tau", "in (0, 1]")
        for name in ("eps_start", "eps_end", "serve_prob"):
            need(finite(getattr(self, name)) and 0 <= getattr(self, name) <= 1, name, "in [0, 1]")
        need(
            finite(self.explore_fraction) and 0 < self.explore_fraction <= 1,
            "explore_fraction",
            "in (0, 1]",
        )
        for name in ("double_q", "validation"):
            need(isinstance(getattr(self, name), bool), name, "true or false")

    @property
    def total_env_steps(self) -> int:
        """Env steps (one slot of one environment) collected in the whole run."""
        return self.learning_starts + self.gradient_steps * self.env_steps_per_update

    def epsilon(self, env_steps: int) -> float:
        """Exploration probability after ``env_steps`` env steps: linear, then constant."""
        frac = min(env_steps / (self.explore_fraction * self.total_env_steps), 1.0)
        return self.eps_start + frac * (self.eps_end - self.eps_start)

    def learning_rate(self, step: int) -> float:
        """Adam's learning rate at gradient step ``step`` (0-based): linear from lr to lr_end."""
        frac = step / max(self.gradient_steps - 1, 1)
        return self.lr + frac * (self.lr_end - self.lr)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)
