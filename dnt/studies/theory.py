"""Exact, tabular checks of Lemma 1 (Section IV-B, eqs. 27-36): small cooperative Markov games.

Everything here is exact linear algebra on small tables (no sampling): the Bellman operator H,
Q* by policy iteration, Q^pi by solving the policy-evaluation system, the VDN projection (the
least-squares fit of a joint Q-table by a sum of per-agent tables, uniform weights over joint
actions), the decomposition error eps^pi of eq. (27), the operator H^V of eq. (29), every
quantity of the chain (31)-(36), and fitted VDN iteration (project after each backup).

Conventions: Q-tables have shape (S, A) with A = prod(n_actions) joint actions in C order
(``np.ravel_multi_index``). Policies are (S, A) row-stochastic tables over joint actions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "STEPS",
    "TabularGame",
    "bellman",
    "chain_check",
    "chain_study",
    "decomposition_error",
    "fitted_study",
    "fitted_vdn_iteration",
    "greedy_joint_policy",
    "h_v",
    "policy_q",
    "policy_value",
    "project_vdn",
    "q_star",
    "random_game",
    "random_policy",
]


@dataclass(frozen=True)
class TabularGame:
    """A cooperative Markov game: transitions P (S, A, S), team reward R (S, A), discount."""

    P: np.ndarray
    R: np.ndarray
    n_actions: tuple[int, ...]
    gamma: float

    @property
    def num_states(self) -> int:
        return self.R.shape[0]

    @property
    def num_joint(self) -> int:
        return self.R.shape[1]

    def with_gamma(self, gamma: float) -> TabularGame:
        return TabularGame(self.P, self.R, self.n_actions, gamma)


def random_game(
    num_states: int,
    n_actions: tuple[int, ...],
    gamma: float,
    nonadditive: float,
    rng: np.random.Generator,
    action_independent: bool = False,
) -> TabularGame:
    """A random game whose reward is additive over agents plus ``nonadditive`` times a table
    with no additive part (its VDN projection is zero), so the decomposition error can be dialled
    from zero up. Transitions: each (s, a) row drawn from a flat Dirichlet; with
    ``action_independent`` the next state depends on the state only (then an additive reward
    makes Q* itself additive)."""
    if not 0 <= gamma < 1:
        raise ValueError(f"gamma={gamma!r} is invalid: must be in [0, 1)")
    if num_states < 1 or len(n_actions) < 1 or min(n_actions) < 1:
        raise ValueError("num_states and every entry of n_actions must be >= 1")
    if nonadditive < 0:
        raise ValueError(f"nonadditive={nonadditive!r} is invalid: must be >= 0")
    a = int(np.prod(n_actions))
    p = rng.dirichlet(np.ones(num_states), size=(num_states, 1 if action_independent else a))
    p = np.repeat(p, a, axis=1) if action_independent else p
    per_agent = [rng.normal(size=(num_states, n)) for n in n_actions]
    additive = _sum_of_parts(per_agent, n_actions)
    noise = rng.normal(size=(num_states, a))
    pure = noise - project_vdn(noise, n_actions)  # the non-additive part only
    pure /= max(np.abs(pure).max(), 1e-12)
    return TabularGame(p, additive + nonadditive * pure, tuple(n_actions), gamma)


def _sum_of_parts(parts: list[np.ndarray], n_actions: tuple[int, ...]) -> np.ndarray:
    """Joint table sum_m q_m(s, a_m) from per-agent tables (S, n_m)."""
    s = parts[0].shape[0]
    total = np.zeros((s, *n_actions))
    for m, q in enumerate(parts):
        shape = [s] + [1] * len(n_actions)
        shape[m + 1] = n_actions[m]
        total = total + q.reshape(shape)
    return total.reshape(s, -1)


def project_vdn(q: np.ndarray, n_actions: tuple[int, ...]) -> np.ndarray:
    """Least-squares fit of Q (S, A) by sum_m q_m(s, a_m), uniform weights over joint actions.

    For a full factorial table the fit is the additive (main-effects) part:
    sum_m E[Q | a_m] - (M - 1) E[Q], per state.
    """
    s = q.shape[0]
    t = q.reshape(s, *n_actions)
    m_n = len(n_actions)
    axes = tuple(range(1, m_n + 1))
    grand = t.mean(axis=axes, keepdims=True)
    fit = -(m_n - 1) * grand
    for m in range(m_n):
        others = tuple(ax for ax in axes if ax != m + 1)
        fit = fit + (t.mean(axis=others, keepdims=True) if others else t)
    return np.broadcast_to(fit, t.shape).reshape(s, -1).copy()


def per_agent_parts(q_tot: np.ndarray, n_actions: tuple[int, ...]) -> list[np.ndarray]:
    """Per-agent tables q_m (S, n_m) of an additive table (the grand mean goes to agent 0)."""
    s = q_tot.shape[0]
    t = q_tot.reshape(s, *n_actions)
    axes = tuple(range(1, len(n_actions) + 1))
    grand = t.mean(axis=axes)
    parts = []
    for m in range(len(n_actions)):
        others = tuple(ax for ax in axes if ax != m + 1)
        marg = t.mean(axis=others) if others else t
        parts.append(marg - grand[:, None] * (m > 0))
    # sum_m marg_m - (M-1) grand: agent 0 keeps one grand mean, the others lose theirs
    return parts


def bellman(game: TabularGame, q: np.ndarray) -> np.ndarray:
    """``(H Q)(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) max_a' Q(s', a')`` (eq. 28's operator)."""
    return game.R + game.gamma * game.P @ q.max(axis=1)


def policy_q(game: TabularGame, pi: np.ndarray) -> np.ndarray:
    """Q^pi exactly: solve Q = R + gamma P (pi Q) (policy evaluation)."""
    s, a = game.R.shape
    # transition over (s, a) pairs: P(s'|s,a) pi(a'|s')
    m = (game.P[:, :, :, None] * pi[None, None, :, :]).reshape(s * a, s * a)
    q = np.linalg.solve(np.eye(s * a) - game.gamma * m, game.R.reshape(-1))
    return q.reshape(s, a)


def greedy_joint_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic policy taking argmax_a Q(s, a) (lowest index on ties), as (S, A) table."""
    pi = np.zeros_like(q)
    pi[np.arange(q.shape[0]), q.argmax(axis=1)] = 1.0
    return pi


def q_star(game: TabularGame, max_iter: int = 1000) -> np.ndarray:
    """Q* by policy iteration (exact: each step solves the evaluation system)."""
    pi = greedy_joint_policy(game.R)
    for _ in range(max_iter):
        q = policy_q(game, pi)
        new = greedy_joint_policy(q)
        if np.array_equal(new, pi):
            return q
        pi = new
    raise RuntimeError("policy iteration did not converge")


def policy_value(game: TabularGame, pi: np.ndarray) -> np.ndarray:
    """``V^pi(s) = sum_a pi(a|s) Q^pi(s, a)``."""
    return (pi * policy_q(game, pi)).sum(axis=1)


def random_policy(game: TabularGame, rng: np.random.Generator) -> np.ndarray:
    """A random stochastic joint policy (rows from a flat Dirichlet)."""
    return rng.dirichlet(np.ones(game.num_joint), size=game.num_states)


def decomposition_error(game: TabularGame, q: np.ndarray) -> np.ndarray:
    """eps(s, a) = Q(s, a) - Q_tot(s, a) of eq. (27), with Q_tot the VDN projection of Q."""
    return q - project_vdn(q, game.n_actions)


def h_v(game: TabularGame, q_tot: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """H^V of eq. (29): sum_s' P [r + gamma max_a' (Q_tot + eps)(s', a')] - eps(s, a).

    (The max is taken of Q_tot + eps, the form the proof uses in eq. (31).)
    """
    return game.R + game.gamma * game.P @ (q_tot + eps).max(axis=1) - eps


def chain_check(game: TabularGame, pi1: np.ndarray, pi2: np.ndarray) -> dict[str, Any]:
    """Every expression of the chain (31)-(36) for two policies; which inequalities hold.

    Returns the value of each line (``values``), whether each step line_k <= line_{k-1} holds
    (``holds``, tolerance 1e-10 relative), and the contraction factor of the final bound.
    """
    g = game.gamma
    q1, q2 = policy_q(game, pi1), policy_q(game, pi2)
    t1, t2 = project_vdn(q1, game.n_actions), project_vdn(q2, game.n_actions)
    e1, e2 = q1 - t1, q2 - t2
    de = e1 - e2
    eps_bound = float(np.abs(de).max())  # the epsilon of condition 2 of Lemma 1
    p = game.P
    lhs = float(np.abs(h_v(game, t1, e1) - h_v(game, t2, e2)).max())
    line31 = float(np.abs(g * p @ (q1.max(1) - q2.max(1)) - de).max())
    line32 = float(np.abs(g * p @ (q1 - q2).max(1) - de).max())
    dq_max = float((q1 - q2).max())
    line33 = float(np.abs(g * dq_max - de).max())
    line34 = float(abs((g * (q1 - q2) - de).max()))
    line35 = float(np.abs(g * (t1 - t2) - (1 - g) * de).max())
    line36 = g * float(np.abs(t1 - t2).max()) + (1 - g) * eps_bound
    values = {
        "lhs": lhs,
        "(31)": line31,
        "(32)": line32,
        "(33)": line33,
        "(34)": line34,
        "(35)": line35,
        "(36)": line36,
    }
    names = list(values)
    tol = 1e-10
    holds = {}
    for prev, cur in itertools.pairwise(names):
        a, b = values[prev], values[cur]
        ok = a <= b + tol * max(1.0, abs(a), abs(b))
        if cur == "(31)":  # an identity, not an inequality
            ok = abs(a - b) <= tol * max(1.0, abs(a))
        holds[f"{prev} -> {cur}"] = bool(ok)
    return {
        "values": values,
        "holds": holds,
        "eps": eps_bound,
        "q_tot_gap": float(np.abs(t1 - t2).max()),
        "tightness": lhs / line36 if line36 > 0 else float("nan"),
    }


def fitted_vdn_iteration(
    game: TabularGame, max_iter: int = 5000, tol: float = 1e-12
) -> dict[str, Any]:
    """Q_{k+1} = Proj(H Q_k) from Q_0 = 0, the max of an additive table taken per agent.

    Returns whether it converged (sup-norm change below ``tol``), the iterations, the fixed
    point, its sup distance to Q*, and the optimality gap of its greedy joint policy (each
    agent's argmax) in expected discounted return from a uniform start state.
    """
    n = game.n_actions
    q = np.zeros_like(game.R)
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        parts = per_agent_parts(q, n)
        vmax = sum(part.max(axis=1) for part in parts)  # max of a sum = sum of per-agent maxes
        new = project_vdn(game.R + game.gamma * game.P @ vmax, n)
        delta = float(np.abs(new - q).max())
        q = new
        if delta < tol:
            converged = True
            break
    qs = q_star(game)
    parts = per_agent_parts(q, n)
    greedy = np.ravel_multi_index(tuple(part.argmax(axis=1) for part in parts), n)
    pi = np.zeros_like(q)
    pi[np.arange(q.shape[0]), greedy] = 1.0
    v_star = qs.max(axis=1)
    v_pi = policy_value(game, pi)
    return {
        "converged": converged,
        "iterations": iterations,
        "q": q,
        "dist_to_q_star": float(np.abs(q - qs).max()),
        "return_gap": float((v_star - v_pi).mean()),
        "relative_return_gap": float((v_star - v_pi).mean() / max(np.abs(v_star).mean(), 1e-12)),
    }


# --------------------------------------------------------------------------------------------
# studies over many random instances (used by book/convergence_check.ipynb)

STEPS = (
    "lhs -> (31)",
    "(31) -> (32)",
    "(32) -> (33)",
    "(33) -> (34)",
    "(34) -> (35)",
    "(35) -> (36)",
)


#: The default grid of the studies: the paper's gamma = 0.2 and larger ones, and the size of the
#: non-additive part of the reward.
STUDY_GAMMAS = (0.2, 0.5, 0.9, 0.99)
STUDY_NONADDITIVE = (0.0, 0.5, 1.0, 2.0)


def chain_study(
    instances: int,
    seed: int,
    gammas: tuple[float, ...] = STUDY_GAMMAS,
    nonadditive: tuple[float, ...] = STUDY_NONADDITIVE,
    num_states: int = 4,
    n_actions: tuple[int, ...] = (2, 3),
) -> dict[str, Any]:
    """Run :func:`chain_check` on random (game, pi1, pi2) triples.

    Returns, per step, how often it held; how often the final bound (36) held end to end
    (lhs <= (36)); the tightness ratio lhs / (36); and the first counterexample of each failing
    step (its game settings and the two values).
    """
    rng = np.random.default_rng(seed)
    held = dict.fromkeys(STEPS, 0)
    first_fail: dict[str, Any] = {}
    end_to_end = 0
    ratios = []
    worst: dict[str, Any] | None = None
    for i in range(instances):
        gamma = float(gammas[i % len(gammas)])
        lam = float(nonadditive[(i // len(gammas)) % len(nonadditive)])
        game = random_game(num_states, n_actions, gamma, lam, rng)
        res = chain_check(game, random_policy(game, rng), random_policy(game, rng))
        v = res["values"]
        for step, ok in res["holds"].items():
            held[step] += ok
            if not ok and step not in first_fail:
                a, b = step.split(" -> ")
                first_fail[step] = {
                    "instance": i,
                    "gamma": gamma,
                    "nonadditive": lam,
                    a: v[a],
                    b: v[b],
                }
        end_to_end += v["lhs"] <= v["(36)"] * (1 + 1e-10) + 1e-12
        ratios.append(res["tightness"])
        if worst is None or res["tightness"] > worst["tightness"]:
            worst = {"instance": i, "gamma": gamma, "nonadditive": lam, **res}
    return {
        "instances": instances,
        "held": held,
        "first_failure": first_fail,
        "bound_36_held": end_to_end,
        "tightness": np.asarray(ratios),
        "worst": worst,
    }


def fitted_study(
    instances: int,
    seed: int,
    gammas: tuple[float, ...] = STUDY_GAMMAS,
    nonadditive: tuple[float, ...] = STUDY_NONADDITIVE,
    num_states: int = 4,
    n_actions: tuple[int, ...] = (2, 3),
) -> list[dict[str, Any]]:
    """Fitted VDN iteration on ``instances`` random games per (nonadditive, gamma) cell.

    Per cell: the share that converged, the median sup distance of the fixed point to Q*, and
    the return lost by the greedy joint policy as a share of what a uniformly random joint
    policy loses (0: optimal; 1: no better than random), mean and max.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for lam in nonadditive:
        for gamma in gammas:
            conv, dist, lost = [], [], []
            for _ in range(instances):
                game = random_game(num_states, n_actions, gamma, lam, rng)
                r = fitted_vdn_iteration(game, max_iter=20000)
                v_star = q_star(game).max(axis=1).mean()
                uniform = np.full_like(game.R, 1.0 / game.num_joint)
                v_unif = policy_value(game, uniform).mean()
                conv.append(r["converged"])
                dist.append(r["dist_to_q_star"])
                lost.append(r["return_gap"] / max(v_star - v_unif, 1e-12))
            rows.append(
                {
                    "nonadditive": lam,
                    "gamma": gamma,
                    "converged": float(np.mean(conv)),
                    "median_dist_to_q_star": float(np.median(dist)),
                    "mean_share_lost": float(np.mean(lost)),
                    "max_share_lost": float(np.max(lost)),
                }
            )
    return rows
