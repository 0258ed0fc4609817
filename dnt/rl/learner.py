"""Targets and losses (Algorithm 2's training stage): VDN regresses the sum of the BSs'
Q-values on the team target (eqs. 19-22), IQL each BS's Q-value on its local target (eq. 37).
With ``double_q`` the online networks choose the next action and the target networks value it;
the target networks follow the online ones by Polyak averaging every ``target_every`` steps
(``target_tau = 1``: hard copies)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dnt.rl.config import TrainConfig
from dnt.rl.features import agent_major, network_inputs
from dnt.sim.config import SystemConfig

__all__ = ["Learner", "td_loss", "td_targets"]


def td_targets(
    algo: str,
    gamma: float,
    reward: torch.Tensor,
    local_reward: torch.Tensor,
    next_q: torch.Tensor,
    done: torch.Tensor,
) -> torch.Tensor:
    """Eq. (21) for VDN, r + gamma * sum_m Q~_m(s', a'_m), shape (R, ...); eq. (37) for IQL,
    r_m + gamma * Q~_m(s', a'_m) per BS, (R, ..., M). ``reward`` (R, ...), ``local_reward`` and
    ``next_q`` (R, ..., M), ``done`` (R, ...) (no bootstrap after the last slot)."""
    if algo == "vdn":
        return reward + gamma * (1 - done) * next_q.sum(-1)
    return local_reward + gamma * (1 - done)[..., None] * next_q


def td_loss(algo: str, loss: str, q_taken: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One loss per run, (R,): eq. (22) for VDN on (target - sum_m Q_m), eq. (37) for IQL on
    (target_m - Q_m), averaged over every other axis. ``q_taken`` (R, ..., M); ``loss`` "mse"
    (the paper's squared error) or "huber" (quadratic within 1, linear beyond)."""
    pred = q_taken.sum(-1) if algo == "vdn" else q_taken
    fn = F.smooth_l1_loss if loss == "huber" else F.mse_loss
    per_item = fn(pred, target, reduction="none")
    # one mean per run over its own values, so that a run's loss never depends on the others'
    return torch.stack([row.mean() for row in per_item.flatten(1)])


class Learner:
    """The online and target networks of R runs side by side, and their optimiser.

    Each run has its own parameters (a block of the stacked agents), its own loss and its own
    gradient clipping, so runs trained together have the numbers they would have alone.
    """

    def __init__(
        self,
        cfg: SystemConfig,
        tc: TrainConfig,
        net: torch.nn.Module,
        target: torch.nn.Module,
        runs: int,
    ) -> None:
        self.cfg, self.tc, self.net, self.target, self.runs = cfg, tc, net, target, runs
        self.target.load_state_dict(net.state_dict())
        self.target.requires_grad_(False)
        self.opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
        self.steps = 0

    def loss(self, batch: dict[str, np.ndarray]) -> torch.Tensor:
        """Per-run TD losses (R,) on a batch: arrays (R, L + 1, N, ...) of network inputs
        (:func:`dnt.rl.features.slot_inputs`) and (R, L, N, ...) of actions, rewards, ``done``."""
        tc, r, m = self.tc, self.runs, self.cfg.num_bs
        inputs = network_inputs(tc.head, batch)
        out = self.net(*inputs)  # (R * M, L + 1, N, D)
        acts = torch.from_numpy(agent_major(batch["actions"]))  # (R * M, L, N)
        q = self.net.q_values(out[:, :-1], acts)
        with torch.no_grad():
            if tc.head == "paper":  # the GRU unrolls over the whole episode from slot 0
                t_out = self.target(*inputs)[:, 1:]
            else:
                t_out = self.target(*[x[:, 1:] for x in inputs])
            cov_next = agent_major(batch["cov"][:, 1:])
            if tc.double_q:
                _, a_next = self.net.greedy(out[:, 1:].detach(), cov_next)
                next_q = self.target.q_values(t_out, torch.from_numpy(a_next))
            else:
                next_q, _ = self.target.greedy(t_out, cov_next)

        def per_run(x: torch.Tensor) -> torch.Tensor:  # (R * M, L, N) -> (R, L, N, M)
            return x.view(r, m, *x.shape[1:]).movedim(1, -1)

        scale = tc.reward_scale
        target = td_targets(
            tc.algo,
            tc.gamma,
            torch.from_numpy(batch["reward"]) * scale,
            torch.from_numpy(batch["local_reward"]) * scale,
            per_run(next_q),
            torch.from_numpy(batch["done"]),
        )
        return td_loss(tc.algo, tc.loss, per_run(q), target)

    def update(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """One gradient step of every run (eq. 23 with Adam); returns the runs' losses."""
        tc = self.tc
        for group in self.opt.param_groups:
            group["lr"] = tc.learning_rate(self.steps)
        loss = self.loss(batch)
        self.opt.zero_grad()
        loss.sum().backward()  # the runs' parameters are disjoint: each gets its own gradient
        self._clip()
        self.opt.step()
        self.steps += 1
        if self.steps % tc.target_every == 0:
            with torch.no_grad():
                for t, p in zip(self.target.parameters(), self.net.parameters(), strict=True):
                    t.lerp_(p, tc.target_tau)
        return loss.detach().numpy()

    def _clip(self) -> np.ndarray:
        """Scale each run's gradient to a 2-norm of at most ``grad_clip``; returns the norms."""
        grads = [p.grad.view(self.runs, -1) for p in self.net.parameters() if p.grad is not None]
        norms = np.zeros(self.runs)
        for r in range(self.runs):  # run by run: a run's norm never depends on the others'
            norm = float(torch.stack([(g[r] ** 2).sum() for g in grads]).sum().sqrt())
            norms[r] = norm
            if norm > self.tc.grad_clip:
                for g in grads:
                    g[r].mul_(self.tc.grad_clip / (norm + 1e-6))
        return norms
