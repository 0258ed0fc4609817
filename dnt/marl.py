"""VDN and IQL with recurrent Q-networks (Algorithm 2; eqs. 16-24 and 37), one file, top to bottom.

* One Q-network per BS (no sharing): Linear -> ReLU -> GRU(theta^h = 128) -> Linear head with
  one output per action of the 2**(U+1) action space (Section III-C, 6). The M networks run
  together (batched products over the agent axis). The head is only evaluated on the
  *available* actions (subsets of the covered users, with or without the update), which gives
  the same numbers as masking the full output, far faster.
* VDN: Q_tot = sum_m Q_m (eq. 19), regressed on r + gamma * sum_m max_a' Q~_m (eqs. 21-22; the
  max of a sum of per-agent terms splits into per-agent maxes). IQL: each Q_m on its local
  reward, eq. (37). The learner is the same; only the target and the sum differ.
* Target networks copied every ``target_update_epochs`` epochs; an episode replay buffer (whole
  episodes, GRU unrolled from a zero hidden state); epsilon-greedy exploration over available
  actions with a linear schedule; gradient-norm clipping.
* Each epoch: collect ``envs_per_epoch`` whole episodes on :class:`VectorDNTEnv` (one forward pass
  per slot for all episodes), run ``updates_per_epoch`` gradient steps, evaluate greedily on fixed
  evaluation episodes. The evaluation after epoch g and the collection of epoch g + 1 use the
  same networks, so they are played as one batch (the numbers are those of separate passes).
  The episode end (a time limit) is treated as terminal, as in PyMARL.

Randomness: a ``torch.Generator`` (initialisation) and a numpy ``Generator`` (exploration, replay
sampling) from the seed; the env seed of each epoch derives from (seed, epoch). Training resumes
from a checkpoint to exactly the numbers of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dnt._io import atomic_write, atomic_write_json
from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import EVAL_SEED_BASE, SLOT_KEYS, slot_metrics, summarise_slots
from dnt.sim.reward import allowed_bits
from dnt.sim.twin import Predictor

__all__ = [
    "ALGOS",
    "GreedyPolicy",
    "MARLTrainer",
    "QNetwork",
    "TrainConfig",
    "available_pairs",
    "local_features",
    "td_targets",
    "train",
    "train_seeds",
]

ALGOS = ("vdn", "iql")
HEADS = ("factored", "plain")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Paper values: gamma, lr, hidden, epochs (Table II); the rest are ours."""

    algo: str = "vdn"  # "vdn" (eqs. 19-24) or "iql" (eq. 37)
    epochs: int = 75  # G, training epochs (Table II)
    gamma: float = 0.2  # discount (Table II)
    lr: float = 1e-4  # lambda_Q, Adam learning rate (Table II)
    hidden: int = 128  # theta^h, GRU units of each Q-network (Table II)
    envs_per_epoch: int = 16  # episodes collected per epoch: D = 16 * 30 env steps per epoch
    updates_per_epoch: int = 3  # gradient steps per epoch
    batch_episodes: int = 16  # episodes per gradient step: |D_g| = 16 * 30 transitions
    buffer_episodes: int = 800  # replay capacity, whole episodes (= 50 epochs of data)
    target_update_epochs: int = 2  # hard target-network copy period, epochs
    eps_start: float = 1.0  # exploration probability at epoch 0
    eps_end: float = 0.05  # ... reached after eps_decay_epochs and kept
    eps_decay_epochs: int = 40  # linear decay length, epochs
    grad_clip: float = 10.0  # max gradient norm per step
    eval_episodes: int = 16  # fixed greedy evaluation episodes
    eval_every: int = 1  # evaluate after every k-th epoch (and always after the last), epochs
    extras: bool = True  # feed the previous action and slots since the last successful update
    head: str = "factored"  # Q-head parameterisation, see QNetwork ("factored" or "plain")
    explore_serve_prob: float = 0.5  # random actions serve each covered user with this prob.
    explore_joint: bool = False  # explore per environment (all BSs at once) instead of per BS

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo={self.algo!r} is invalid: must be one of {ALGOS}")
        for name in (
            "epochs",
            "hidden",
            "envs_per_epoch",
            "updates_per_epoch",
            "batch_episodes",
            "buffer_episodes",
            "target_update_epochs",
            "eval_episodes",
            "eval_every",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}={v!r} is invalid: must be an integer >= 1")
        if not isinstance(self.eps_decay_epochs, int) or self.eps_decay_epochs < 0:
            raise ValueError(f"eps_decay_epochs={self.eps_decay_epochs!r}: must be an int >= 0")
        if not 0 <= self.gamma < 1:
            raise ValueError(f"gamma={self.gamma!r} is invalid: must be in [0, 1)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} is invalid: must be a finite number > 0")
        for name in ("eps_start", "eps_end"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: must be in [0, 1]")
        if self.head not in HEADS:
            raise ValueError(f"head={self.head!r} is invalid: must be one of {HEADS}")
        if not 0 <= self.explore_serve_prob <= 1:
            raise ValueError(
                f"explore_serve_prob={self.explore_serve_prob!r} is invalid: must be in [0, 1]"
            )
        if not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad_clip={self.grad_clip!r} is invalid: must be > 0")

    def epsilon(self, epoch: int) -> float:
        """Exploration probability during the collection of epoch ``epoch`` (0-based)."""
        if self.eps_decay_epochs == 0:
            return self.eps_end
        frac = min(epoch / self.eps_decay_epochs, 1.0)
        return self.eps_start + frac * (self.eps_end - self.eps_start)


# --------------------------------------------------------------------------------------------
# observations and actions


def feature_size(cfg: SystemConfig, extras: bool) -> int:
    """Length of one BS's input vector."""
    u = cfg.num_users
    return 3 * u + ((u + 1) + 1 if extras else 0)


def local_features(
    cfg: SystemConfig,
    pos: np.ndarray,
    cov: np.ndarray,
    prev_action: np.ndarray,
    since_update: np.ndarray,
    extras: bool,
) -> np.ndarray:
    """Each BS's local observation s^m as numbers, (..., M, F) float32.

    The covered users' positions (others zero), scaled to [-1, 1] by the area, and the coverage
    mask (Section III-C, 2); with ``extras``, the BS's previous action bits and the slots since
    its last successful update (divided by the episode length, at most 1): both known locally.
    """
    c = cfg
    center = np.array([sum(c.area_x) / 2, sum(c.area_y) / 2])
    scale = np.array([(c.area_x[1] - c.area_x[0]) / 2, (c.area_y[1] - c.area_y[0]) / 2])
    p = (pos[..., None, :, :] - center) / scale * cov[..., None]  # (..., M, U, 2)
    parts = [p.reshape(*cov.shape[:-1], -1), cov.astype(float)]
    if extras:
        bits = (prev_action[..., None] >> np.arange(c.num_users + 1)) & 1
        parts.append(bits.astype(float))
        parts.append(np.minimum(since_update, c.episode_len)[..., None] / c.episode_len)
    return np.concatenate(parts, axis=-1).astype(np.float32)


_PICKS: dict[int, tuple[np.ndarray, torch.Tensor]] = {}


def _picks(c: int) -> tuple[np.ndarray, torch.Tensor]:
    """(2**(c+1), c) 0/1, as int64 and as a float32 tensor, cached per c: for action slot j,
    whether covered user i (in index order) is served."""
    if c not in _PICKS:
        j = np.arange(2 ** (c + 1), dtype=np.int64)
        pick = (j[:, None] >> np.arange(1, c + 1)) & 1
        _PICKS[c] = (pick, torch.from_numpy(pick.astype(np.float32)))
    return _PICKS[c]


def _slot_actions(users: np.ndarray) -> np.ndarray:
    """Action ids of every slot for rows covering ``users`` (n, c) (user indices, ascending):
    (n, 2**(c+1)); slot j sends the update if j & 1 and serves covered user i if bit i of j >> 1
    is set, so the ids ascend with j."""
    c = users.shape[1]
    bit_values = np.int64(1) << (users + 1).astype(np.int64)  # (n, c)
    j = np.arange(2 ** (c + 1), dtype=np.int64)
    return (j & 1)[None, :] | (_picks(c)[0] @ bit_values.T).T


def _groups(cov: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`actions_by_count` plus, per group, the covered users (n, c) in index order."""
    cov = np.asarray(cov, dtype=bool)
    count = cov.sum(-1)
    out = []
    for c in np.unique(count):
        rows = np.flatnonzero(count == c)
        users = np.argsort(~cov[rows], axis=-1, kind="stable")[:, :c]  # covered users
        out.append((rows, _slot_actions(users), users))
    return out


@functools.lru_cache(maxsize=4096)
def _actions_of(allowed: int) -> np.ndarray:
    """Every action id whose bits lie in ``allowed``, ascending (= slot order), int64."""
    bits = [i for i in range(allowed.bit_length()) if allowed >> i & 1]
    if not bits or bits[0] != 0:  # the update bit is always available
        raise ValueError(f"allowed={allowed!r}: bit 0 (the update) must be set")
    return _slot_actions(np.array([bits[1:]], dtype=np.int64) - 1)[0]


def available_pairs(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, available action) pair of coverage rows ``cov`` (R, U), flattened.

    Row r has 2**(c_r + 1) available actions (c_r covered users), ascending. Returns (row index
    (P,), action id (P,)), rows in order.
    """
    allowed = allowed_bits(np.asarray(cov, dtype=bool))
    acts = [_actions_of(int(v)) for v in allowed.tolist()]
    sizes = [len(x) for x in acts]
    return np.repeat(np.arange(len(acts)), sizes), np.concatenate(acts)


def actions_by_count(cov: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group the rows of ``cov`` (N, U) by how many users they cover.

    Returns, for each group, (row indices (n,), action ids (n, 2**(c+1))): every available
    action of each row, without padding. Slot j of a row: update bit j & 1, users by j >> 1.
    """
    return [(rows, acts) for rows, acts, _ in _groups(cov)]


# --------------------------------------------------------------------------------------------
# the Q-network


class _HiddenProduct(torch.autograd.Function):
    """``h @ w`` (batched), whose backward multiplies by ``w_t``, a contiguous copy of w's
    transpose made once per unroll: a batched product with a transposed operand is several
    times slower on CPU than with a contiguous one, and the GRU's recurrent product is the
    learner's hot spot. Values and gradients are those of ``torch.bmm(h, w)``."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, w: torch.Tensor, w_t: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h, w_t)
        return torch.bmm(h, w)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, w_t = ctx.saved_tensors
        grad_h = torch.bmm(g, w_t) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(h.transpose(1, 2), g) if ctx.needs_input_grad[1] else None
        return grad_h, grad_w, None


class _RecurrentParams(torch.autograd.Function):
    """The recurrent bias b_hh broadcast to every slot, (M, T, N, 3H), carrying the gradients
    of the recurrent weights and bias: sum_t h_{t-1}^T g_t and sum_t g_t, as one batched
    product once the backward pass has been through every slot (instead of one small product
    and one accumulation per slot). The unroll appends h_{t-1} (detached) to ``prev`` and uses
    ``w_hh`` detached in its per-slot products, which then only pass gradients to h."""

    @staticmethod
    def forward(
        ctx: Any,
        w_hh: torch.Tensor,
        b_hh: torch.Tensor,
        shape: tuple[int, ...],
        prev: list[torch.Tensor],
    ) -> torch.Tensor:
        ctx.prev = prev  # detached tensors: no reference cycle through the graph
        return b_hh[:, None, None, :].expand(shape).contiguous()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        m = g.shape[0]
        g2 = g.reshape(m, -1, g.shape[-1])  # (M, T * N, 3H)
        hp = torch.stack(ctx.prev, 1).reshape(m, -1, ctx.prev[0].shape[-1])  # (M, T * N, H)
        grad_w = torch.bmm(hp.transpose(1, 2), g2) if ctx.needs_input_grad[0] else None
        grad_b = g2.sum(1) if ctx.needs_input_grad[1] else None
        return grad_w, grad_b, None, None


class QNetwork(nn.Module):
    """The M Q-networks of the BSs, one per BS (no parameters shared), stored side by side.

    BS m: Linear -> ReLU -> GRU(theta^h) -> a linear head with one output per action of the
    2**(U+1) space: Q_m(s, a) = w_{m,a} . h + b_{m,a}. The M networks are evaluated together
    (batched matrix products over the agent axis); the GRU follows ``torch.nn.GRU``'s equations
    (reset gate applied after the hidden product, both biases) and is tested equal to it.
    With ``head="plain"`` every row w_{m,a} is a free parameter. With ``head="factored"`` (our
    default, see the docs) the same linear head is parameterised as
    w_{m,a} = sum_{i in a} e_{m,i} + r_{m,a} (and likewise the bias): a shared embedding per action
    bit plus a per-action residual. The function class is the same (r is free); what changes is
    that learning about "serve user u" carries over to every action that contains u.
    """

    def __init__(
        self,
        num_agents: int,
        in_dim: int,
        hidden: int,
        num_actions: int,
        head: str = "factored",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head={head!r} is invalid: must be one of {HEADS}")
        m, h = num_agents, hidden
        self.in_dim = in_dim
        self.hidden = hidden
        self.head = head
        self.num_actions = num_actions
        self.num_bits = int(num_actions).bit_length() - 1  # U + 1
        # input layer and GRU of every agent, (M, in, out) so that x @ W is a batched product;
        # GRU gate order (r, z, n) as in torch.nn.GRU
        self.fc_w = nn.Parameter(torch.zeros(m, in_dim, h))
        self.fc_b = nn.Parameter(torch.zeros(m, h))
        self.w_ih = nn.Parameter(torch.zeros(m, h, 3 * h))
        self.w_hh = nn.Parameter(torch.zeros(m, h, 3 * h))
        self.b_ih = nn.Parameter(torch.zeros(m, 3 * h))
        self.b_hh = nn.Parameter(torch.zeros(m, 3 * h))
        # per-action rows of agent m are rows m * A .. m * A + A - 1; sparse gradients (a step
        # only touches the rows of the actions in its batch)
        self.head_w = nn.Embedding(m * num_actions, h, sparse=True)
        self.head_b = nn.Embedding(m * num_actions, 1, sparse=True)
        # per-bit embeddings of the factored head (unused by the plain head)
        self.bit_w = nn.Parameter(torch.zeros(m, self.num_bits, h))
        self.bit_b = nn.Parameter(torch.zeros(m, self.num_bits))

    def reset_parameters(self, gen: torch.Generator) -> None:
        """Uniform +-1/sqrt(fan_in) from ``gen`` (torch's default ranges, no global RNG);
        the factored head starts with zero residuals."""
        b = 1.0 / math.sqrt(self.hidden)
        bf = 1.0 / math.sqrt(self.in_dim)
        with torch.no_grad():
            self.fc_w.uniform_(-bf, bf, generator=gen)
            self.fc_b.uniform_(-bf, bf, generator=gen)
            for p in (self.w_ih, self.w_hh, self.b_ih, self.b_hh):
                p.uniform_(-b, b, generator=gen)
            if self.head == "plain":
                self.head_w.weight.uniform_(-b, b, generator=gen)
                self.head_b.weight.uniform_(-b, b, generator=gen)
            else:
                self.head_w.weight.zero_()
                self.head_b.weight.zero_()
                self.bit_w.uniform_(-b, b, generator=gen)
                self.bit_b.uniform_(-b, b, generator=gen)

    @classmethod
    def stack(cls, nets: Sequence[QNetwork]) -> QNetwork:
        """One network holding the agents of ``nets`` side by side (agent k of ``nets[i]``
        becomes agent i * M + k): several independent runs evaluated as one batch."""
        first = nets[0]
        out = cls(
            first.fc_w.shape[0] * len(nets),
            first.in_dim,
            first.hidden,
            first.num_actions,
            first.head,
        )
        with torch.no_grad():
            for name, p in out.named_parameters():
                p.copy_(torch.cat([dict(n.named_parameters())[name] for n in nets]))
        return out

    def dense_parameters(self) -> list[nn.Parameter]:
        extra = [self.bit_w, self.bit_b] if self.head == "factored" else []
        return [self.fc_w, self.fc_b, self.w_ih, self.w_hh, self.b_ih, self.b_hh, *extra]

    def sparse_parameters(self) -> list[nn.Parameter]:
        return [self.head_w.weight, self.head_b.weight]

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Next hidden states of every agent: x (M, N, F), h (M, N, H) -> (M, N, H)."""
        return self.unroll(x[:, None], h)[:, 0]

    def unroll(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """Hidden states along sequences: x (M, T, N, F), h0 (M, N, H) -> (M, T, N, H)."""
        m, t_len, n, f = x.shape
        hid = self.hidden
        a = torch.relu(torch.baddbmm(self.fc_b[:, None], x.reshape(m, t_len * n, f), self.fc_w))
        gi = torch.baddbmm(self.b_ih[:, None], a, self.w_ih).view(m, t_len, n, 3 * hid)
        h = h0
        out = []
        grad = torch.is_grad_enabled() and self.w_hh.requires_grad
        if grad:  # the recurrent weights' gradient comes in one product after the loop
            w_hh = self.w_hh.detach()
            w_hh_t = w_hh.transpose(1, 2).contiguous()
            prev: list[torch.Tensor] = []
            shape = (m, t_len, n, 3 * hid)
            bias_t = _RecurrentParams.apply(self.w_hh, self.b_hh, shape, prev).unbind(1)
        for t, gi_t in enumerate(gi.unbind(1)):  # unbind/split, not slicing: cheap backward
            if grad:
                prev.append(h.detach())
                gh = _HiddenProduct.apply(h, w_hh, w_hh_t) + bias_t[t]
            else:
                gh = torch.baddbmm(self.b_hh[:, None], h, self.w_hh)
            i_rz, i_n = gi_t.split([2 * hid, hid], -1)
            h_rz, h_n = gh.split([2 * hid, hid], -1)
            r, z = torch.sigmoid(i_rz + h_rz).chunk(2, -1)
            cand = torch.tanh(i_n + r * h_n)
            h = cand + z * (h - cand)  # (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, 1)

    def _bits(self, acts: torch.Tensor) -> torch.Tensor:
        return ((acts[..., None] >> torch.arange(self.num_bits)) & 1).to(torch.float32)

    def per_bit(self, h: torch.Tensor, agent: torch.Tensor) -> torch.Tensor:
        """Bit terms of the factored head, e_{m,i} . h + c_{m,i}: h (R, H), agent (R,) ->
        (R, U+1); one product per agent, or one batched product when the rows come in equal
        blocks, one per agent in order (the learner's and the actor's layout)."""
        k, n = self.fc_w.shape[0], h.shape[0]
        if n % k == 0 and torch.equal(agent, torch.arange(k).repeat_interleave(n // k)):
            hb = h.reshape(k, n // k, -1)
            return torch.baddbmm(self.bit_b[:, None], hb, self.bit_w.transpose(1, 2)).view(n, -1)
        out = torch.zeros(h.shape[0], self.num_bits)
        for m in torch.unique(agent).tolist():
            sel = torch.nonzero(agent == m)[:, 0]
            out = out.index_copy(0, sel, torch.addmm(self.bit_b[m], h[sel], self.bit_w[m].T))
        return out

    def q_of(self, h: torch.Tensor, agent: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """Q-values of given action ids: h (R, H), agent (R,), acts (R, A) -> (R, A)."""
        idx = agent[:, None] * self.num_actions + acts
        w = self.head_w(idx)  # (R, A, H)
        # row-wise dot products (elementwise, not bmm: a bmm of many 1 x H matrices is slow)
        q = (w * h[:, None, :]).sum(-1) + self.head_b(idx)[..., 0]
        if self.head == "factored":  # plus the bit terms of a's bits
            q = q + (self._bits(acts) * self.per_bit(h, agent)[:, None, :]).sum(-1)
        return q

    def q_all(self, h: torch.Tensor, m: int) -> torch.Tensor:
        """Q-values of every action of agent m: h (R, H) -> (R, 2**(U+1))."""
        rows = slice(m * self.num_actions, (m + 1) * self.num_actions)
        q = h @ self.head_w.weight[rows].T + self.head_b.weight[rows, 0]
        if self.head == "factored":
            bits = self._bits(torch.arange(self.num_actions))  # (A, U+1)
            q = q + (h @ self.bit_w[m].T + self.bit_b[m]) @ bits.T
        return q

    # q_max evaluates up to this many rows (acting) in one flat pass over all (row, action) pairs
    FLAT_ROWS = 256

    def q_max(
        self, h: torch.Tensor, agent: np.ndarray, cov: np.ndarray, flat: bool | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Max Q over the available actions of each row, and the maximising action id.

        ``h`` (R, H), ``agent`` (R,) BS of each row, ``cov`` (R, U) its coverage. Only
        available actions are evaluated, by groups of rows with the same number c of covered
        users: the bit term as one product with the (2**(c+1), c) subset table, the per-action
        term from one product per agent with the head rows of the distinct actions of its rows
        in the group; for few rows (acting), every (row, action) pair in one flat pass
        (``flat``; default: at most ``FLAT_ROWS`` rows). A row's value depends only on the rows
        of its own agent, never on other agents' (other runs') rows. Ties go to the lowest
        action id.
        """
        agent = np.asarray(agent, dtype=np.int64)
        n_rows = h.shape[0]
        ag_all = torch.from_numpy(agent)
        per_bit = self.per_bit(h, ag_all) if self.head == "factored" else None
        if flat if flat is not None else n_rows <= self.FLAT_ROWS:
            return self._q_max_flat(h, agent, cov, per_bit)
        best = torch.empty(n_rows)
        best_a = np.zeros(n_rows, np.int64)
        n_act = self.num_actions
        for rows, acts, users in _groups(cov):
            order = np.argsort(agent[rows], kind="stable")  # each agent's rows contiguous
            rows, acts, users = rows[order], acts[order], users[order]
            ag = agent[rows]
            r = torch.from_numpy(rows)
            a = torch.from_numpy(acts)
            # per-action term, agent by agent: one product h @ w^T with the head rows of the
            # distinct actions of the agent's rows, then each row's own actions picked from it
            # (reads far less than gathering head rows row by row). Rows with the same agent and
            # coverage share their actions (the last action id is the full available mask), so
            # the distinct actions come from the distinct patterns; keys agent * A + action
            # sort agent by agent.
            _, first, inv = np.unique(
                ag * n_act + acts[:, -1], return_index=True, return_inverse=True
            )
            uniq_np, pos_p = np.unique(ag[first, None] * n_act + acts[first], return_inverse=True)
            uniq = torch.from_numpy(uniq_np)
            pos = torch.from_numpy(pos_p.reshape(len(first), -1)[inv.reshape(-1)])
            w_all = self.head_w.weight.index_select(0, uniq)
            b_all = self.head_b.weight[:, 0].index_select(0, uniq)
            present, row_lo = np.unique(ag, return_index=True)
            row_hi = np.append(row_lo[1:], len(rows))
            u_lo = np.searchsorted(uniq_np, present * n_act)
            u_hi = np.append(u_lo[1:], len(uniq))
            hr = h.index_select(0, r)
            q = torch.empty(a.shape)
            for lo, hi, ul, uh in zip(row_lo, row_hi, u_lo, u_hi, strict=True):
                prod = torch.addmm(b_all[ul:uh], hr[lo:hi], w_all[ul:uh].T)
                q[lo:hi] = prod.gather(1, pos[lo:hi] - int(ul))
            if per_bit is not None:
                c = users.shape[1]
                pick = _picks(c)[1]  # (A, c)
                pb = per_bit[r]
                q += pb[:, :1] * (a & 1).to(torch.float32)  # the update bit
                if c:
                    q += pb[:, 1:].gather(1, torch.from_numpy(users)) @ pick.T
            v, j = q.max(dim=-1)  # first maximum: the lowest slot
            best[r] = v
            best_a[rows] = acts[np.arange(len(rows)), j.numpy()]
        return best, best_a

    def _q_max_flat(
        self, h: torch.Tensor, agent: np.ndarray, cov: np.ndarray, per_bit: torch.Tensor | None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """:meth:`q_max` for few rows: every (row, available action) pair in one pass."""
        row, acts = available_pairs(cov)
        r = torch.from_numpy(row)
        idx = torch.from_numpy(agent[row] * self.num_actions + acts)
        w = self.head_w.weight.index_select(0, idx)
        q = (w * h.index_select(0, r)).sum(-1) + self.head_b.weight[:, 0].index_select(0, idx)
        if per_bit is not None:
            q += (self._bits(torch.from_numpy(acts)) * per_bit.index_select(0, r)).sum(-1)
        n = h.shape[0]
        best = torch.full((n,), -torch.inf).scatter_reduce(0, r, q, "amax")
        pos = torch.arange(len(q))
        cand = torch.where(q == best[r], pos, len(q))
        first = torch.full((n,), len(q)).scatter_reduce(0, r, cand, "amin")
        return best, acts[first.numpy()]


def _coalesce_in_order(g: torch.Tensor) -> torch.Tensor:
    """``g.coalesce()`` for a sparse row gradient, summing the entries of a row in the order
    they were produced (torch's coalesce does not promise an order, and its float sums then
    depend on the other rows: on the other runs when runs are stacked)."""
    if g.is_coalesced():
        return g
    rows, vals = g._indices()[0], g._values()
    order = torch.sort(rows, stable=True).indices
    uniq, inverse = torch.unique_consecutive(rows[order], return_inverse=True)
    summed = torch.zeros(len(uniq), *vals.shape[1:], dtype=vals.dtype)
    summed.index_add_(0, inverse, vals[order])
    return torch.sparse_coo_tensor(
        uniq[None], summed, g.shape, is_coalesced=True, check_invariants=False
    )


def clip_grad_norm(net: QNetwork, num_runs: int, max_norm: float) -> np.ndarray:
    """Gradient-norm clipping of each run held side by side in ``net`` (see
    :meth:`QNetwork.stack`): run i's gradients (dense and sparse) are scaled so that their
    joint 2-norm is at most ``max_norm``. Run by run, so a run's numbers do not depend on the
    others. Returns each run's norm before clipping."""
    dense = [p for p in net.dense_parameters() if p.grad is not None]
    per_run = net.num_actions * (net.fc_w.shape[0] // num_runs)  # head rows of one run
    sparse = []
    for p in net.sparse_parameters():
        if p.grad is not None:
            p.grad = _coalesce_in_order(p.grad)
            rows = p.grad.indices()[0]
            bounds = torch.searchsorted(rows, torch.arange(num_runs + 1) * per_run).tolist()
            sparse.append((p.grad.values(), bounds))
    norms = np.zeros(num_runs)
    for i in range(num_runs):
        sq = torch.zeros(())
        for p in dense:
            sq = sq + (p.grad.view(num_runs, -1)[i] ** 2).sum()
        for v, b in sparse:
            sq = sq + (v[b[i] : b[i + 1]] ** 2).sum()
        total = float(sq.sqrt())
        norms[i] = total
        if total > max_norm:
            for p in dense:
                p.grad.view(num_runs, -1)[i].mul_(max_norm / (total + 1e-6))
            for v, b in sparse:
                v[b[i] : b[i + 1]].mul_(max_norm / (total + 1e-6))
    return norms


def td_targets(
    algo: str,
    gamma: float,
    team_reward: torch.Tensor,
    local_reward: torch.Tensor,
    next_max: torch.Tensor,
    not_done: torch.Tensor,
) -> torch.Tensor:
    """Targets: VDN (eq. 21) r + gamma * sum_m max Q~_m, shape (..., 1); IQL (eq. 37) per agent.

    ``next_max`` (..., M) per-agent maxes of the target networks at s_{t+1}; ``team_reward`` (...),
    ``local_reward`` (..., M), ``not_done`` (...).
    """
    if algo == "vdn":
        return (team_reward + gamma * not_done * next_max.sum(-1)).unsqueeze(-1)
    return local_reward + gamma * not_done.unsqueeze(-1) * next_max


def td_loss(algo: str, q_taken: torch.Tensor, target: torch.Tensor, keep: int = 0) -> torch.Tensor:
    """Eq. (22) for VDN: mean of (y~ - sum_m Q_m)^2; IQL: mean over agents of (y~_m - Q_m)^2.

    ``q_taken`` and ``target`` are (..., M) and (..., 1) (VDN) or (..., M) (IQL); the mean is
    over every axis but the first ``keep`` (one loss per run when runs are stacked)."""
    if algo == "vdn":
        sq = (target[..., 0] - q_taken.sum(-1)) ** 2
    else:
        sq = (target - q_taken) ** 2
    if keep == 0:
        return sq.mean()
    if keep != 1:
        raise ValueError(f"keep={keep!r} is invalid: must be 0 or 1")
    # one mean per run over its own contiguous values: a run's loss does not depend on the others
    return torch.stack([row.mean() for row in sq.flatten(1)])


# --------------------------------------------------------------------------------------------
# episode replay


class EpisodeBuffer:
    """Whole episodes in a ring buffer; observations are rebuilt from stored positions."""

    def __init__(self, cfg: SystemConfig, capacity: int) -> None:
        t, u, m = cfg.episode_len, cfg.num_users, cfg.num_bs
        self.capacity = capacity
        self.size = 0
        self.pos = 0
        self.data = {
            "positions": np.zeros((capacity, t + 1, u, 2), np.float32),
            "coverage": np.zeros((capacity, t + 1, m, u), bool),
            "actions": np.zeros((capacity, t, m), np.int64),
            "update_ok": np.zeros((capacity, t, m), bool),
            "team_reward": np.zeros((capacity, t), np.float32),
            "local_reward": np.zeros((capacity, t, m), np.float32),
        }

    def add(self, episodes: dict[str, np.ndarray]) -> None:
        n = len(episodes["actions"])
        idx = (self.pos + np.arange(n)) % self.capacity
        for k, v in self.data.items():
            v[idx] = episodes[k]
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        idx = rng.integers(0, self.size, n)
        return {k: v[idx] for k, v in self.data.items()}

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "pos": self.pos, **{k: v.copy() for k, v in self.data.items()}}

    def load(self, state: dict[str, Any]) -> None:
        self.size, self.pos = int(state["size"]), int(state["pos"])
        for k in self.data:
            self.data[k][...] = state[k]


def episode_features(cfg: SystemConfig, ep: dict[str, np.ndarray], extras: bool) -> np.ndarray:
    """Inputs of every slot 0..T of a batch of stored episodes: (E, T+1, M, F)."""
    e, t1 = ep["positions"].shape[:2]
    m = cfg.num_bs
    prev = np.zeros((e, t1, m), np.int64)
    prev[:, 1:] = ep["actions"]
    since = np.zeros((e, t1, m))
    count = np.zeros((e, m))
    for t in range(1, t1):  # a loop over slots (30), vectorised over episodes and BSs
        count = np.where(ep["update_ok"][:, t - 1], 0.0, count + 1.0)
        since[:, t] = count
    return local_features(cfg, ep["positions"], ep["coverage"], prev, since, extras)


# --------------------------------------------------------------------------------------------
# acting


class GreedyPolicy:
    """Acts with the Q-networks: argmax over available actions, epsilon-greedy when asked.

    With a trainer of R runs (seeds), the env holds R equal blocks of environments, block i
    played by run i's networks and explored with ``rng[i]``.
    """

    def __init__(
        self,
        trainer: MARLTrainer,
        epsilon: float = 0.0,
        rng: np.random.Generator | Sequence[np.random.Generator] | None = None,
        explore_envs: int | None = None,
    ) -> None:
        self.tr = trainer
        self.epsilon = epsilon
        runs = trainer.num_runs
        if rng is None:
            rng = [np.random.default_rng(0) for _ in range(runs)]
        self.rngs = [rng] if isinstance(rng, np.random.Generator) else list(rng)
        if len(self.rngs) != runs:
            raise ValueError(f"rng: {len(self.rngs)} generators given, the trainer has {runs} runs")
        self.explore_envs = explore_envs  # only envs 0 .. explore_envs - 1 of each block explore

    def reset(self, num_envs: int) -> None:
        runs, m, h = self.tr.num_runs, self.tr.cfg.num_bs, self.tr.tc.hidden
        if num_envs % runs:
            raise ValueError(f"num_envs={num_envs} is invalid: must be a multiple of {runs} runs")
        self.h = torch.zeros(runs * m, num_envs // runs, h)
        self.prev = np.zeros((num_envs, m), np.int64)
        self.since = np.zeros((num_envs, m))

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        cfg, tc = self.tr.cfg, self.tr.tc
        x = local_features(cfg, obs["state"], obs["coverage"], self.prev, self.since, tc.extras)
        runs, m = self.tr.num_runs, cfg.num_bs
        b = len(self.prev) // runs  # envs per run; rows below are ordered (run, BS, env)

        def by_agent(a: np.ndarray) -> np.ndarray:  # (R * b, M, ...) -> (R * M * b, ...)
            a = np.swapaxes(a.reshape(runs, b, m, *a.shape[2:]), 1, 2)
            return a.reshape(runs * m * b, *a.shape[3:])

        with torch.no_grad():
            xs = torch.from_numpy(by_agent(x)).view(runs * m, b, -1)
            self.h = self.tr.net.step(xs, self.h)
            _, best = self.tr.net.q_max(
                self.h.reshape(runs * m * b, -1),
                np.repeat(np.arange(runs * m), b),
                by_agent(obs["coverage"]),
                flat=m * b <= QNetwork.FLAT_ROWS,  # decided per run: rows of one run only
            )
        out = np.swapaxes(best.reshape(runs, m, b), 1, 2).reshape(runs * b, m).copy()
        if self.epsilon > 0:
            k = b if self.explore_envs is None else self.explore_envs
            u = cfg.num_users
            for i, rng in enumerate(self.rngs):
                sl = slice(i * b, i * b + k)
                if tc.explore_joint:  # one coin per environment, shared by its BSs
                    explore = np.repeat(rng.random((k, 1)) < self.epsilon, m, 1)
                else:
                    explore = rng.random((k, m)) < self.epsilon
                on = rng.random((k, m, u + 1)) < tc.explore_serve_prob
                on[..., 0] = rng.random((k, m)) < 0.5  # the update bit: a fair coin
                rand = (on.astype(np.int64) << np.arange(u + 1, dtype=np.int64)).sum(-1)
                out[sl] = np.where(explore, rand & allowed_bits(obs["coverage"][sl]), out[sl])
        self.prev = out
        return out

    def observe(self, info: dict[str, np.ndarray]) -> None:
        """Update the locally known extras after a step."""
        ok = info["update_success"]
        self.since = np.where(ok, 0.0, self.since + 1.0)


# --------------------------------------------------------------------------------------------
# the trainer


def _epoch_env_seed(seed: int, epoch: int) -> int:
    """Env seed of an epoch's collection episodes (below EVAL_SEED_BASE, never overlapping)."""
    s = int(np.random.SeedSequence([int(seed), int(epoch), 0x5644]).generate_state(1)[0])
    return s % (2**31)


_NOT_CURVE = ("episodes", "per_slot")  # evaluation entries that are not curve columns


class MARLTrainer:
    """Algorithm 2 for VDN or IQL, for one seed or several side by side.

    ``seed`` may be a sequence: each seed is an independent run (its own initialisation,
    exploration, replay buffer, episodes, gradient clipping and loss) and the runs are only
    batched together (their networks stacked along the agent axis, their environments in one
    :class:`VectorDNTEnv`), which shares the per-operation overhead. Each run's numbers equal
    those of the same seed trained alone (tested).
    """

    def __init__(
        self,
        cfg: SystemConfig,
        tc: TrainConfig,
        seed: int | Sequence[int],
        predictor: Predictor | None = None,
    ) -> None:
        if tc.envs_per_epoch * tc.epochs < 1:
            raise ValueError("no data would be collected")
        seeds = [seed] if isinstance(seed, (int, np.integer)) else list(seed)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seed={seed!r} is invalid: one seed or distinct seeds")
        self.cfg, self.tc, self.seeds = cfg, tc, [int(s) for s in seeds]
        self.num_runs = len(self.seeds)
        self.predictor = predictor
        self.gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        self.rngs = [np.random.default_rng(np.random.SeedSequence([s, 0x4D41524C])) for s in seeds]
        f = feature_size(cfg, tc.extras)
        nets = []
        for gen in self.gens:
            net = QNetwork(cfg.num_bs, f, tc.hidden, cfg.num_actions, tc.head)
            net.reset_parameters(gen)
            nets.append(net)
        self.net = QNetwork.stack(nets)  # run i's agents are i * M .. i * M + M - 1
        self.target = QNetwork.stack(nets)
        self._sync_targets()
        # Adam on the dense layers; its lazy variant (SparseAdam) on the per-action head rows;
        # both act element by element, so stacking the runs does not mix them
        self.opt = torch.optim.Adam(self.net.dense_parameters(), lr=tc.lr, foreach=True)
        self.opt_sparse = torch.optim.SparseAdam(self.net.sparse_parameters(), lr=tc.lr)
        self.buffers = [EpisodeBuffer(cfg, tc.buffer_episodes) for _ in self.seeds]
        self._envs: dict[tuple[int, int], VectorDNTEnv] = {}
        self.env = self._env(tc.envs_per_epoch, 0)
        self.epoch = 0
        self.pending_train_reward = [float("nan")] * self.num_runs  # newest collection's reward
        self.curves: list[list[dict[str, float]]] = [[] for _ in self.seeds]
        self.final_records: list[dict[str, Any]] | None = None  # last evaluation, per slot
        self.wall = 0.0

    @property
    def curve(self) -> list[dict[str, float]]:
        """The learning curve of a single-seed trainer (see ``curves`` for several)."""
        if self.num_runs != 1:
            raise ValueError(f"this trainer holds {self.num_runs} runs: use .curves[i]")
        return self.curves[0]

    def _env(self, collect: int, evaluate: int) -> VectorDNTEnv:
        """The batch of every run's ``collect`` + ``evaluate`` environments (run-major)."""
        if (collect, evaluate) not in self._envs:
            self._envs[collect, evaluate] = VectorDNTEnv(
                self.cfg,
                num_envs=self.num_runs * (collect + evaluate),
                predictor=self.predictor,
            )
        return self._envs[collect, evaluate]

    def _sync_targets(self) -> None:
        self.target.load_state_dict(self.net.state_dict())

    # -- Algorithm 2, data collection stage ----------------------------------------------------
    def play(
        self, epoch: int | None, evaluate: bool = False, record: bool = False
    ) -> list[dict[str, Any]]:
        """Play epoch ``epoch``'s episodes epsilon-greedily into the buffers (``None``: none),
        and with ``evaluate`` the fixed greedy evaluation episodes in the same batch.

        Both use the same networks, and every environment has its own seed, so playing them
        together gives the numbers of separate passes at a fraction of the cost. Returns, per
        run, the train reward (when collecting) and the evaluation figures under ``"eval"``
        (with ``record``, the per-slot arrays too, see :func:`summarise_slots`).
        """
        cfg, tc = self.cfg, self.tc
        t_len, m = cfg.episode_len, cfg.num_bs
        b = tc.envs_per_epoch if epoch is not None else 0
        n_eval = tc.eval_episodes if evaluate else 0
        if b + n_eval == 0:
            raise ValueError("nothing to play: give an epoch or evaluate=True")
        n = b + n_eval  # envs per run
        # run-major: each run's collection envs, then its evaluation envs
        eval_seeds = EVAL_SEED_BASE + np.arange(n_eval)
        seeds = np.concatenate(
            [
                np.concatenate([(_epoch_env_seed(s, epoch) if b else 0) + np.arange(b), eval_seeds])
                for s in self.seeds
            ]
        )
        env = self._env(b, n_eval)
        obs = env.reset(seed=seeds)
        eps = tc.epsilon(epoch) if epoch is not None else 0.0
        pol = GreedyPolicy(self, epsilon=eps, rng=self.rngs, explore_envs=b)
        pol.reset(env.num_envs)
        runs = self.num_runs
        train_rows = (np.arange(runs)[:, None] * n + np.arange(b)).reshape(-1)  # run-major
        eval_rows = (np.arange(runs)[:, None] * n + b + np.arange(n_eval)).reshape(-1)
        ep = {
            "positions": np.zeros((runs * b, t_len + 1, cfg.num_users, 2), np.float32),
            "coverage": np.zeros((runs * b, t_len + 1, m, cfg.num_users), bool),
            "actions": np.zeros((runs * b, t_len, m), np.int64),
            "update_ok": np.zeros((runs * b, t_len, m), bool),
            "team_reward": np.zeros((runs * b, t_len), np.float32),
            "local_reward": np.zeros((runs * b, t_len, m), np.float32),
        }
        rec: dict[str, list[np.ndarray]] = {k: [] for k in SLOT_KEYS}
        for t in range(t_len):
            ep["positions"][:, t] = obs["state"][train_rows]
            ep["coverage"][:, t] = obs["coverage"][train_rows]
            a = pol.act(obs, env)
            obs, r, _, info = env.step(a)
            pol.observe(info)
            ep["actions"][:, t] = a[train_rows]
            ep["update_ok"][:, t] = info["update_success"][train_rows]
            ep["team_reward"][:, t] = r[train_rows]
            ep["local_reward"][:, t] = info["local_reward"][train_rows]
            if n_eval:
                for k, v in slot_metrics(r, info).items():
                    rec[k].append(v[eval_rows].reshape(runs, n_eval))
        out: list[dict[str, Any]] = [{} for _ in range(runs)]
        if b:
            final = info["final_obs"]  # the last step ended every episode: pre-reset obs
            ep["positions"][:, t_len] = final["state"][train_rows]
            ep["coverage"][:, t_len] = final["coverage"][train_rows]
            for i in range(runs):
                mine = {k: v[i * b : (i + 1) * b] for k, v in ep.items()}
                self.buffers[i].add(mine)
                out[i]["train_reward"] = float(mine["team_reward"].mean())
        if n_eval:
            for i in range(runs):
                out[i]["eval"] = summarise_slots({k: [v[i] for v in rec[k]] for k in rec}, record)
        return out

    def collect(self, epoch: int, evaluate: bool = False) -> list[dict[str, Any]]:
        """:meth:`play` epoch ``epoch``'s collection (and the evaluation with ``evaluate``)."""
        return self.play(epoch, evaluate)

    # -- Algorithm 2, training stage -----------------------------------------------------------
    def loss_on(self, ep: dict[str, np.ndarray]) -> torch.Tensor:
        """The eq. (22) (VDN) or eq. (37) (IQL) loss of each run, (R,), on a batch of whole
        episodes: R equal blocks of episodes (run-major), block i from run i's buffer."""
        cfg, tc = self.cfg, self.tc
        runs = self.num_runs
        re, t_len, m = ep["actions"].shape
        e = re // runs
        feats = episode_features(cfg, ep, tc.extras)[:, :t_len]  # (R * E, T, M, F)
        # rows of the stacked networks: (run, BS) agents, each over (T, E)
        x = torch.from_numpy(feats).view(runs, e, t_len, m, -1).permute(0, 3, 2, 1, 4)
        xs = x.reshape(runs * m, t_len, e, -1)
        h0 = torch.zeros(runs * m, e, tc.hidden)  # whole episodes from a zero hidden state
        hs = self.net.unroll(xs, h0)  # (R * M, T, E, H): rows ordered (run, m, t, e) below

        def by_agent(a: np.ndarray) -> np.ndarray:  # (R * E, T, M, ...) -> (R, M, T, E, ...)
            a = a.reshape(runs, e, *a.shape[1:])
            return np.moveaxis(np.moveaxis(a, 3, 1), 2, 3)

        agent = np.repeat(np.arange(runs * m), t_len * e)
        a_taken = torch.from_numpy(by_agent(ep["actions"]).reshape(-1, 1))
        q = self.net.q_of(hs.reshape(runs * m * t_len * e, -1), torch.from_numpy(agent), a_taken)
        q_taken = q.reshape(runs, m, t_len, e).permute(0, 3, 2, 1)  # (R, E, T, M)
        # max over the target networks' available actions at s_{t+1}, t = 0 .. T-2; the last
        # slot is terminal (the time limit ends the episode) and gets no bootstrap term
        next_max = torch.zeros(runs, e, t_len, m)
        if t_len > 1:
            with torch.no_grad():
                ht = self.target.unroll(xs, h0)[:, 1:]  # (R * M, T-1, E, H)
                cov_next = by_agent(ep["coverage"][:, 1:t_len])  # (R, M, T-1, E, U)
                nm, _ = self.target.q_max(
                    ht.reshape(-1, tc.hidden),
                    np.repeat(np.arange(runs * m), (t_len - 1) * e),
                    cov_next.reshape(-1, cfg.num_users),
                    flat=False,
                )
            next_max[:, :, :-1] = nm.reshape(runs, m, t_len - 1, e).permute(0, 3, 2, 1)
        not_done = torch.ones(runs, e, t_len)
        not_done[..., -1] = 0.0
        target = td_targets(
            tc.algo,
            tc.gamma,
            torch.from_numpy(ep["team_reward"]).view(runs, e, t_len),
            torch.from_numpy(ep["local_reward"]).view(runs, e, t_len, m),
            next_max,
            not_done,
        )
        return td_loss(tc.algo, q_taken, target.detach(), keep=1)

    def update(self) -> list[float]:
        """``updates_per_epoch`` gradient steps; each run's mean loss."""
        tc = self.tc
        total = np.zeros(self.num_runs)
        for _ in range(tc.updates_per_epoch):
            pairs = zip(self.buffers, self.rngs, strict=True)
            parts = [buf.sample(rng, tc.batch_episodes) for buf, rng in pairs]
            batch = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            loss = self.loss_on(batch)  # (R,): the runs' parameters are disjoint, so the
            self.opt.zero_grad()  # gradient of the sum is each run's own gradient
            self.opt_sparse.zero_grad()
            loss.sum().backward()
            clip_grad_norm(self.net, self.num_runs, tc.grad_clip)
            self.opt.step()
            self.opt_sparse.step()
            total += loss.detach().numpy()
        return (total / tc.updates_per_epoch).tolist()

    def evaluate(self, record: bool = False) -> list[dict[str, Any]]:
        """Greedy play on the fixed evaluation episodes (seeds disjoint from training), per run."""
        return [r["eval"] for r in self.play(None, evaluate=True, record=record)]

    def run_epoch(self) -> list[dict[str, float]]:
        """Epoch g: (collect g's episodes, first epoch only), train, sync the targets, then
        collect epoch g + 1's episodes with the new networks, evaluating them in the same pass.

        The order of the computations is Algorithm 2's (collect, train, evaluate); only epoch
        g + 1's collection is moved forward to share the evaluation's forward passes. After the
        last epoch the evaluation also keeps its per-slot arrays (``final_records``). Returns
        each run's row of the learning curve.
        """
        start = time.perf_counter()
        tc = self.tc
        g = self.epoch
        if g == 0:  # later epochs' episodes were collected at the end of the epoch before
            self.pending_train_reward = [r["train_reward"] for r in self.collect(g)]
        rows: list[dict[str, float]] = [
            {"epoch": g + 1, "epsilon": tc.epsilon(g), "train_reward": pr}
            for pr in self.pending_train_reward
        ]
        for row, loss in zip(rows, self.update(), strict=True):
            row["loss"] = loss
        if (g + 1) % tc.target_update_epochs == 0:
            self._sync_targets()
        evaluate = (g + 1) % tc.eval_every == 0 or g + 1 == tc.epochs
        last = g + 1 == tc.epochs
        if not last or evaluate:
            res = self.play(None if last else g + 1, evaluate=evaluate, record=last)
            if last:
                self.final_records = [r["eval"] for r in res]
            else:
                self.pending_train_reward = [r["train_reward"] for r in res]
            for row, r in zip(rows, res, strict=True):
                if "eval" in r:
                    ev = r["eval"]
                    row |= {f"eval_{k}": float(v) for k, v in ev.items() if k not in _NOT_CURVE}
        self.epoch += 1
        self.wall += time.perf_counter() - start
        for curve, row in zip(self.curves, rows, strict=True):
            row["wall_seconds"] = self.wall
            curve.append(row)
        return rows

    # -- checkpoints ---------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "train": dataclasses.asdict(self.tc),
            "seeds": self.seeds,
            "predictor": repr(self.env.twin.predictor),
        }

    def state_dict(self) -> dict[str, Any]:
        bufs = [b.state() for b in self.buffers]
        return {
            "identity": json.dumps(self.identity(), sort_keys=True),
            "epoch": self.epoch,
            "pending_train_reward": json.dumps(self.pending_train_reward),
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "opt": self.opt.state_dict(),
            "opt_sparse": self.opt_sparse.state_dict(),
            "gens": [g.get_state() for g in self.gens],
            "rngs": json.dumps([r.bit_generator.state for r in self.rngs]),
            "buffers": [{k: torch.from_numpy(np.asarray(v)) for k, v in b.items()} for b in bufs],
            "curves": json.dumps(self.curves),
            "final_records": json.dumps(self.final_records),
            "wall": self.wall,
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        mine = json.dumps(self.identity(), sort_keys=True)
        if s["identity"] != mine:
            raise ValueError(
                "checkpoint belongs to another run (config, training settings, seeds or twin "
                "differ); use another --out folder"
            )
        self.epoch = int(s["epoch"])
        self.pending_train_reward = json.loads(s["pending_train_reward"])
        self.net.load_state_dict(s["net"])
        self.target.load_state_dict(s["target"])
        self.opt.load_state_dict(s["opt"])
        self.opt_sparse.load_state_dict(s["opt_sparse"])
        for g, st in zip(self.gens, s["gens"], strict=True):
            g.set_state(st)
        for r, st in zip(self.rngs, json.loads(s["rngs"]), strict=True):
            r.bit_generator.state = st
        for b, st in zip(self.buffers, s["buffers"], strict=True):
            b.load({k: v.numpy() for k, v in st.items()})
        self.curves = json.loads(s["curves"])
        self.final_records = json.loads(s["final_records"])
        self.wall = float(s["wall"])

    def save(self, path: Path) -> None:
        def write(p: Path) -> None:
            buf = io.BytesIO()
            torch.save(self.state_dict(), buf)
            p.write_bytes(buf.getvalue())

        atomic_write(path, write)

    def load(self, path: Path) -> None:
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))


CURVE_FIELDS = (
    "epoch",
    "epsilon",
    "train_reward",
    "loss",
    "eval_reward",
    "eval_sum_rate",
    "eval_dnt_error",
    "eval_updates_per_slot",
    "eval_successful_updates_per_slot",
    "eval_penalty_share",
    "wall_seconds",
)


def _curve_csv(curve: list[dict[str, float]]) -> str:
    lines = [",".join(CURVE_FIELDS)]
    for row in curve:
        vals = [
            str(int(row[k])) if k == "epoch" else (repr(float(row[k])) if k in row else "")
            for k in CURVE_FIELDS
        ]
        lines.append(",".join(vals))
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
    """Train VDN or IQL; with ``out_dir``, checkpoint each epoch, resume, and write results.

    Writes ``out_dir/curve.csv`` (one row per epoch), ``out_dir/checkpoint.pt`` (to resume) and,
    when all epochs are done, ``out_dir/metrics.json``. ``stop_after`` ends the call after that
    many epochs of this call (to test resuming). Returns the metrics dict (with the trainer
    under ``"trainer"``). :func:`train_seeds` trains several seeds at once.
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
    """:func:`train` for several seeds side by side in this process (see
    :class:`MARLTrainer`; seed ``seeds[i]`` is the trainer's run i, its curve
    ``trainer.curves[i]``): each seed's metrics equal those of a separate ``train`` call, and
    the runs take less time together than one after the other. With one seed the files are
    those of :func:`train`; with several, each seed writes ``out_dir/seed<k>/curve.csv`` and
    ``metrics.json`` next to the shared ``out_dir/checkpoint.pt``. ``train_wall_seconds`` is
    then the batch's time.
    """
    trainer = MARLTrainer(cfg, tc, seeds, predictor=predictor)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / "checkpoint.pt" if out is not None else None
    if ckpt is not None and ckpt.exists():
        trainer.load(ckpt)
    if out is None:
        folders: list[Path | None] = [None] * len(trainer.seeds)
    elif len(trainer.seeds) == 1:
        folders = [out]
    else:
        folders = [out / f"seed{s}" for s in trainer.seeds]
    torch_threads = torch.get_num_threads()
    label = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
    bar = tqdm(
        total=tc.epochs,
        initial=trainer.epoch,
        desc=f"{tc.algo.upper()} {label}",
        unit="epoch",
        disable=not progress,
    )
    done_now = 0
    while trainer.epoch < tc.epochs:
        if stop_after is not None and done_now >= stop_after:
            break
        rows = trainer.run_epoch()
        done_now += 1
        bar.update(1)
        if "eval_reward" in rows[0]:
            mean = float(np.mean([r["eval_reward"] for r in rows]))
            bar.set_postfix(reward=f"{mean:.2f}", eps=f"{rows[0]['epsilon']:.2f}")
        if out is not None:
            trainer.save(ckpt)
            for folder, curve in zip(folders, trainer.curves, strict=True):
                folder.mkdir(parents=True, exist_ok=True)
                atomic_write(folder / "curve.csv", lambda p, c=curve: p.write_text(_curve_csv(c)))
    bar.close()
    results = []
    for i, s in enumerate(trainer.seeds):
        curve = trainer.curves[i]
        evaluated = [r for r in curve if "eval_reward" in r]
        final = evaluated[-1] if evaluated else {}
        metrics = {
            "algo": tc.algo,
            "seed": s,
            "epochs_done": trainer.epoch,
            "complete": trainer.epoch >= tc.epochs,
            "final": {k[5:]: v for k, v in final.items() if k.startswith("eval_")},
            "best_eval_reward": max((r["eval_reward"] for r in evaluated), default=None),
            "train_wall_seconds": trainer.wall,
            "torch_threads": torch_threads,
            "config": cfg.to_dict(),
            "config_hash": cfg.config_hash(),
            "train_config": dataclasses.asdict(tc),
            "twin": repr(trainer.env.twin.predictor),
        }
        if folders[i] is not None and metrics["complete"]:
            atomic_write_json(folders[i] / "metrics.json", metrics)
        metrics["trainer"] = trainer
        results.append(metrics)
    return results
