"""The Q-networks of the BSs (Section III-C, 6): one network per BS, no parameters shared
between BSs. The networks of K agents (M BSs, or M BSs of several runs side by side) are stored
stacked along a first axis and evaluated with batched products, so that K networks cost one
pass; each agent's numbers depend only on its own rows.

Both networks map features shaped (K, L, N, ...) (L slots of N sequences) to an output tensor
(K, L, N, D), and read Q-values from it for given actions (:meth:`q_values`) or for the best
available action (:meth:`greedy`).

* :class:`SharedQ` ("shared" head): Q_m(s, a) = v_m(s) + a_0 b_m(s) + sum_u a_u c_m(s, u), where
  c_m(s, u), the value of serving user u, comes from one small network applied to user u's own
  features (and the BS's), so that what is learned about one user carries over to every user and
  the network works for any U; the update term b_m and the baseline v_m add per-user parts from
  the same network to a BS-level part. The best available action serves the covered users with
  c > 0 and updates when b > 0.
* :class:`PaperQ` ("paper" head): the paper's Q-network, Linear -> ReLU -> GRU -> a linear head
  with one output per action of the 2**(U+1) space; only available actions are evaluated.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from dnt.sim.reward import available_pairs

__all__ = ["PaperQ", "SharedQ"]


def _uniform(gen: torch.Generator, fan_in: int, *shape: int) -> nn.Parameter:
    """A parameter drawn uniformly in +-1/sqrt(fan_in) (torch's default range) from ``gen``."""
    bound = 1.0 / math.sqrt(fan_in)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound, generator=gen))


class SharedQ(nn.Module):
    """K agents' shared-head Q-networks, see the module docstring.

    Per agent: a user network (F_u + F_b -> H -> H -> 3: serve value, update part, baseline
    part) on every (user, slot) row, and a BS network (F_b -> H -> 2: update part, baseline
    part). Output (K, L, N, U + 2): the serve values of the U users, then b and v, where b and v
    sum the per-user parts over the covered users.
    """

    def __init__(
        self, agents: int, user_dim: int, bs_dim: int, hidden: int, gen: torch.Generator
    ) -> None:
        super().__init__()
        k, h, f = agents, hidden, user_dim + bs_dim
        self.w1, self.b1 = _uniform(gen, f, k, f, h), _uniform(gen, f, k, h)
        self.w2, self.b2 = _uniform(gen, h, k, h, h), _uniform(gen, h, k, h)
        self.w3, self.b3 = _uniform(gen, h, k, h, 3), _uniform(gen, h, k, 3)
        self.v1, self.c1 = _uniform(gen, bs_dim, k, bs_dim, h), _uniform(gen, bs_dim, k, 1, h)
        self.v2, self.c2 = _uniform(gen, h, k, h, 2), _uniform(gen, h, k, 1, 2)

    def forward(self, user: torch.Tensor, bs: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """``user`` (K, L, N, U, F_u), ``bs`` (K, L, N, F_b), ``cov`` (K, L, N, U) bool ->
        (K, L, N, U + 2). Only covered (user, slot) rows are evaluated, agent by agent: an
        agent's numbers never depend on another agent's rows."""
        k, lead, u = user.shape[0], user.shape[1:3], user.shape[3]
        bs_rows = bs.reshape(k, -1, bs.shape[-1])  # (K, L * N, F_b)
        flat = user.reshape(k, -1, user.shape[-1])  # (K, L * N * U, F_u)
        agent, row = torch.nonzero(cov.reshape(k, -1), as_tuple=True)  # agent-major order
        x = torch.cat([flat[agent, row], bs_rows[agent, row // u]], -1)
        counts = torch.bincount(agent, minlength=k).tolist()
        outs = []
        for a, xa in enumerate(x.split(counts)):
            xa = torch.relu(torch.addmm(self.b1[a], xa, self.w1[a]))
            xa = torch.relu(torch.addmm(self.b2[a], xa, self.w2[a]))
            outs.append(torch.addmm(self.b3[a], xa, self.w3[a]))
        per_user = torch.zeros(k, flat.shape[1], 3).index_put((agent, row), torch.cat(outs))
        per_user = per_user.view(k, *lead, u, 3)
        hb = torch.relu(torch.baddbmm(self.c1, bs_rows, self.v1))
        per_bs = torch.baddbmm(self.c2, hb, self.v2).view(k, *lead, 2)
        upd_value = per_bs + per_user[..., 1:].sum(-2)  # (K, L, N, 2): b and v
        return torch.cat([per_user[..., 0], upd_value], -1)

    @staticmethod
    def q_values(out: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """Q of given action ids: ``out`` (..., U + 2), ``acts`` (...) int64 -> (...)."""
        u = out.shape[-1] - 2
        bits = ((acts[..., None] >> torch.arange(u + 1)) & 1).to(out.dtype)
        serve, upd, value = out[..., :-2], out[..., -2], out[..., -1]
        return value + bits[..., 0] * upd + (bits[..., 1:] * serve).sum(-1)

    @staticmethod
    def greedy(out: torch.Tensor, cov: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Max Q over the available actions and the maximising action id: ``out``
        (..., U + 2), ``cov`` (..., U) bool -> (...) tensor and (...) int64 ids. Serves the
        covered users whose serve value is > 0 and updates when the update term is > 0 (a
        value of exactly 0 is not chosen: ties go to the lowest action id)."""
        serve, upd, value = out[..., :-2], out[..., -2], out[..., -1]
        serve_on = (serve > 0) & torch.from_numpy(np.asarray(cov, dtype=bool))
        best = value + torch.relu(upd) + (serve * serve_on).sum(-1)
        bits = torch.cat([(upd > 0)[..., None], serve_on], -1).to(torch.int64)
        ids = (bits << torch.arange(bits.shape[-1])).sum(-1)
        return best, ids.numpy()


class PaperQ(nn.Module):
    """K agents' paper Q-networks: Linear -> ReLU -> GRU(H) -> one output per action.

    The GRU follows ``torch.nn.GRU``'s equations (reset gate after the hidden product, both
    biases). The head rows of agent k are rows k * A .. k * A + A - 1 of ``head``; only the rows
    of available actions are ever read. Output (K, L, N, H): the GRU states.
    """

    def __init__(
        self, agents: int, in_dim: int, hidden: int, num_actions: int, gen: torch.Generator
    ) -> None:
        super().__init__()
        k, h = agents, hidden
        self.num_actions = num_actions
        self.fc_w, self.fc_b = _uniform(gen, in_dim, k, in_dim, h), _uniform(gen, in_dim, k, 1, h)
        self.w_ih, self.b_ih = _uniform(gen, h, k, h, 3 * h), _uniform(gen, h, k, 1, 3 * h)
        self.w_hh, self.b_hh = _uniform(gen, h, k, h, 3 * h), _uniform(gen, h, k, 1, 3 * h)
        self.head_w = _uniform(gen, h, k * num_actions, h)
        self.head_b = _uniform(gen, h, k * num_actions)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """GRU states along sequences: ``x`` (K, L, N, F), ``h0`` (K, N, H) (zeros if None) ->
        (K, L, N, H)."""
        k, t_len, n, f = x.shape
        hid = self.w_hh.shape[1]
        a = torch.relu(torch.baddbmm(self.fc_b, x.reshape(k, t_len * n, f), self.fc_w))
        gi = torch.baddbmm(self.b_ih, a, self.w_ih).view(k, t_len, n, 3 * hid)
        h = torch.zeros(k, n, hid) if h0 is None else h0
        out = []
        for gi_t in gi.unbind(1):
            gh = torch.baddbmm(self.b_hh, h, self.w_hh)
            i_rz, i_n = gi_t.split([2 * hid, hid], -1)
            h_rz, h_n = gh.split([2 * hid, hid], -1)
            r, z = torch.sigmoid(i_rz + h_rz).chunk(2, -1)
            cand = torch.tanh(i_n + r * h_n)
            h = cand + z * (h - cand)  # (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, 1)

    def _rows(self, acts: torch.Tensor) -> torch.Tensor:
        agent = torch.arange(acts.shape[0]).view(-1, *([1] * (acts.dim() - 1)))
        return agent * self.num_actions + acts

    def q_values(self, out: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        """Q of given action ids: ``out`` (K, ..., H), ``acts`` (K, ...) int64 -> (K, ...)."""
        idx = self._rows(acts)
        return (self.head_w[idx] * out).sum(-1) + self.head_b[idx]

    def greedy(self, out: torch.Tensor, cov: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Max Q over the available actions and the maximising action id: ``out`` (K, ..., H),
        ``cov`` (K, ..., U) bool -> (K, ...) tensor and (K, ...) int64 ids. Every (row, available
        action) pair in one pass; ties go to the lowest action id."""
        lead = out.shape[:-1]
        h = out.reshape(-1, out.shape[-1])
        row, acts = available_pairs(np.asarray(cov).reshape(-1, cov.shape[-1]))
        r = torch.from_numpy(row)
        agent = torch.from_numpy(row // int(np.prod(lead[1:], dtype=np.int64)))
        idx = agent * self.num_actions + torch.from_numpy(acts)
        q = (self.head_w[idx] * h[r]).sum(-1) + self.head_b[idx]
        n = h.shape[0]
        best = torch.full((n,), -torch.inf).scatter_reduce(0, r, q, "amax")
        pos = torch.arange(len(q))
        cand = torch.where(q == best[r], pos, len(q))
        first = torch.full((n,), len(q)).scatter_reduce(0, r, cand, "amin")
        return best.view(lead), acts[first.numpy()].reshape(lead)
