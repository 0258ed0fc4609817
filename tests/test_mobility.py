import numpy as np
import pytest

from dnt.sim.config import SystemConfig
from dnt.sim.mobility import (
    MOVES,
    apply_moves,
    move_probabilities,
    sample_moves,
    sample_trajectories,
)


def test_move_probabilities_fixed_per_scenario(cfg):
    p = move_probabilities(cfg)
    assert p.shape == (12, 5)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    np.testing.assert_array_equal(p, move_probabilities(SystemConfig()))
    assert not np.allclose(p, move_probabilities(cfg.replace(scenario_seed=1)))


def test_sample_moves_inverse_cdf_frequencies():
    probs = np.array([[0.1, 0.2, 0.3, 0.15, 0.25], [0.0, 0.0, 1.0, 0.0, 0.0]])
    rng = np.random.default_rng(0)
    moves = sample_moves(rng.random((200_000, 2)), probs)
    freq0 = np.bincount(moves[:, 0], minlength=5) / len(moves)
    np.testing.assert_allclose(freq0, probs[0], atol=0.005)
    assert np.all(moves[:, 1] == 2)


def test_apply_moves_eq1_and_boundary_rule(cfg):
    pos = np.array([[0.0, 0.0], [150.0, 0.0], [0.0, -50.0], [-150.0, 50.0]])
    c = cfg.replace(num_users=4)
    # forward, right (leaves area), backward (leaves), left (leaves)
    new = apply_moves(c, pos, np.array([1, 4, 2, 3]))
    np.testing.assert_array_equal(new, [[0, 1], [150, 0], [0, -50], [-150, 50]])
    new = apply_moves(c.replace(step_length=2.0), pos, np.array([4, 3, 1, 0]))
    np.testing.assert_array_equal(new, [[2, 0], [148, 0], [0, -48], [-150, 50]])


def test_trajectories_are_unit_steps_inside_area(cfg):
    tr = sample_trajectories(cfg, np.random.default_rng(3), num=50, length=30)
    assert tr.shape == (50, 30, 12, 2)
    step = np.abs(np.diff(tr, axis=1)).sum(-1)
    assert np.all(np.isclose(step, 0.0) | np.isclose(step, 1.0))
    assert tr[..., 0].min() >= -150 and tr[..., 0].max() <= 150
    assert tr[..., 1].min() >= -50 and tr[..., 1].max() <= 50
    again = sample_trajectories(cfg, np.random.default_rng(3), num=50, length=30)
    np.testing.assert_array_equal(tr, again)


def test_trajectories_follow_each_users_habits(cfg):
    tr = sample_trajectories(cfg, np.random.default_rng(0), num=400, length=30)
    d = np.rint(np.diff(tr, axis=1)).reshape(-1, 12, 2)  # steps of every user
    # away from the border moves are never blocked, so frequencies estimate p_u
    inner = (np.abs(tr[:, :-1, :, 0]) < 140).reshape(-1, 12) & (
        np.abs(tr[:, :-1, :, 1]) < 40
    ).reshape(-1, 12)
    probs = move_probabilities(cfg)
    for u in range(12):
        du = d[inner[:, u], u]
        idx = [np.flatnonzero((MOVES == s).all(-1))[0] for s in du]
        freq = np.bincount(idx, minlength=5) / len(idx)
        np.testing.assert_allclose(freq, probs[u], atol=0.03)


def test_bad_trajectory_arguments(cfg):
    with pytest.raises(ValueError, match="num"):
        sample_trajectories(cfg, np.random.default_rng(0), num=0, length=3)
    with pytest.raises(ValueError, match="length"):
        sample_trajectories(cfg, np.random.default_rng(0), num=1, length=0)
