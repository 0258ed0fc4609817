"""User mobility: the five-move random walk of eq. (1), vectorised over users and environments.

Moves, in the paper's order: 0 stay, 1 forward (+y), 2 backward (-y), 3 left (-x), 4 right (+x).
Assumptions (the paper is silent): each user's move probabilities p_u are drawn once per scenario
from Dirichlet(1, 1, 1, 1, 1); a move that would leave the area becomes "stay"; initial positions
are uniform over the area.
"""

from __future__ import annotations

import numpy as np

from dnt.sim.config import SystemConfig

__all__ = [
    "MOVES",
    "apply_moves",
    "initial_positions",
    "inside_area",
    "move_probabilities",
    "sample_moves",
    "sample_trajectories",
    "step_positions",
]

#: Unit displacement of each move of eq. (1), shape (5, 2).
MOVES = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, -1.0], [-1.0, 0.0], [1.0, 0.0]])


def move_probabilities(cfg: SystemConfig) -> np.ndarray:
    """p_u of eq. (1) for every user, shape (U, 5), drawn from ``cfg.scenario_seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.scenario_seed, 0x6D6F76]))
    return rng.dirichlet(np.ones(5), size=cfg.num_users)


def initial_positions(
    cfg: SystemConfig, rng: np.random.Generator, batch_shape: tuple[int, ...] = ()
) -> np.ndarray:
    """Uniform positions in the area, shape ``batch_shape + (U, 2)``."""
    lo = np.array([cfg.area_x[0], cfg.area_y[0]])
    hi = np.array([cfg.area_x[1], cfg.area_y[1]])
    return lo + (hi - lo) * rng.random((*batch_shape, cfg.num_users, 2))


def sample_moves(uniforms: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Move index for each user from uniforms in [0, 1) (inverse CDF); ``probs`` is (U, 5)."""
    cdf = np.cumsum(probs, axis=-1)[:, :-1]  # (U, 4)
    return (uniforms[..., None] >= cdf).sum(axis=-1)


def inside_area(cfg: SystemConfig, points: np.ndarray) -> np.ndarray:
    """Whether points (..., 2) lie in the area (boundary included), shape (...)."""
    return (
        (points[..., 0] >= cfg.area_x[0])
        & (points[..., 0] <= cfg.area_x[1])
        & (points[..., 1] >= cfg.area_y[0])
        & (points[..., 1] <= cfg.area_y[1])
    )


def apply_moves(cfg: SystemConfig, pos: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Eq. (1): new positions after the given moves; moves leaving the area become "stay"."""
    new = pos + cfg.step_length * MOVES[moves]
    return np.where(inside_area(cfg, new)[..., None], new, pos)


def step_positions(
    cfg: SystemConfig, pos: np.ndarray, probs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One slot of eq. (1) for positions of shape (..., U, 2)."""
    return apply_moves(cfg, pos, sample_moves(rng.random(pos.shape[:-1]), probs))


def sample_trajectories(
    cfg: SystemConfig, rng: np.random.Generator, num: int, length: int
) -> np.ndarray:
    """``num`` independent trajectories of ``length`` positions each, shape (num, length, U, 2).

    Vectorised over trajectories and users; only the time axis is a loop.
    """
    if num < 1:
        raise ValueError(f"num={num} is invalid: must be an integer >= 1")
    if length < 1:
        raise ValueError(f"length={length} is invalid: must be an integer >= 1")
    probs = move_probabilities(cfg)
    out = np.empty((num, length, cfg.num_users, 2))
    out[:, 0] = initial_positions(cfg, rng, (num,))
    uniforms = rng.random((length - 1, num, cfg.num_users))
    for t in range(1, length):
        out[:, t] = apply_moves(cfg, out[:, t - 1], sample_moves(uniforms[t - 1], probs))
    return out
