"""Eq. (16) (team reward), eq. (17) (local rewards) and the action encoding of dnt.sim.reward,
under both readings of eq. (16)'s first branch, on tiny cases whose values are derived by hand.

The cases (3 BSs, 4 users) share one coverage: BS 0 covers users 0 and 1, BS 1 covers users 1
and 2, BS 2 covers users 1 and 2; user 3 is covered by nobody. Errors ||s_u - s-bar_u||^2 are
(1, 2, 3, 4) (sum 10), epsilon = 0.25, U = 4, rho = -3, and BS m delivers the rate R[m, u] to
each user u it serves. So the objective is -0.1875 * 10 + 0.25 * (sum of delivered rates) and a
BS's own objective is -0.1875 * (its covered users' errors) + 0.25 * (rates it delivers).
"""

import math

import numpy as np
import pytest

from dnt.sim.channel import squared_distances
from dnt.sim.config import SystemConfig
from dnt.sim.reward import (
    action_mask,
    allowed_bits,
    available_pairs,
    decode_actions,
    first_branch,
    local_rewards,
    slot_outcome,
    team_reward,
)

EPS, RHO = 0.25, -3.0
COV = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0]], bool)
ERR = np.array([1.0, 2.0, 3.0, 4.0])
RATE = np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 3.0, 4.0, 0.0], [0.0, 5.0, 6.0, 0.0]])


def _assoc(*pairs):
    a = np.zeros((3, 4), bool)
    for m, u in pairs:
        a[m, u] = True
    return a


# name: (assoc, first branch at_most_once, first branch exactly_once,
#        team reward at_most_once, team reward exactly_once, local rewards (either reading))
CASES = {
    # every covered user served by one BS (user 3, covered by nobody, is left out): objective
    # -1.875 + 0.25 * (1 + 3 + 6) under both readings
    "each_once": (
        _assoc((0, 0), (1, 1), (2, 2)),
        True,
        True,
        0.625,
        0.625,
        (-0.5625 + 0.25, -0.9375 + 0.75, -0.9375 + 1.5),
    ),
    # user 1 served by BSs 0 and 1: penalty xi * rho = 2 * -3 under both readings; BS 2 keeps
    # its objective (it serves user 2 alone)
    "one_double": (
        _assoc((0, 0), (0, 1), (1, 1), (2, 2)),
        False,
        False,
        -6.0,
        -6.0,
        (-6.0, -6.0, -0.9375 + 1.5),
    ),
    # user 1 covered but served by nobody: fine for "at most once" (-1.875 + 0.25 * 5), the
    # penalty branch with no doubly-served user (0) for "exactly once"
    "covered_unserved": (
        _assoc((0, 0), (1, 2)),
        True,
        False,
        -0.625,
        0.0,
        (-0.5625 + 0.25, -0.9375 + 1.0, -0.9375),
    ),
    # nobody served: the error term alone, or 0
    "nobody_served": (
        _assoc(),
        True,
        False,
        -1.875,
        0.0,
        (-0.5625, -0.9375, -0.9375),
    ),
    # users 1 and 2 each served twice, user 0 once: (2 + 2) * rho; the singly-served user 0
    # adds nothing. BS 0 doubles user 1, BS 1 users 1 and 2, BS 2 user 2.
    "two_doubles": (
        _assoc((0, 0), (0, 1), (1, 1), (1, 2), (2, 2)),
        False,
        False,
        -12.0,
        -12.0,
        (-6.0, -12.0, -6.0),
    ),
    # user 1 served by all three BSs: xi = 3, penalty 3 * rho, for every BS too
    "triple": (
        _assoc((0, 0), (0, 1), (1, 1), (2, 1)),
        False,
        False,
        -9.0,
        -9.0,
        (-9.0, -9.0, -9.0),
    ),
}
NAMES = list(CASES)


def _cfg(reading: str) -> SystemConfig:
    return SystemConfig(num_users=4, epsilon=EPS, penalty=RHO, serve_condition=reading)


def _inputs(name):
    assoc = CASES[name][0]
    bs_rate = RATE * assoc
    return assoc, bs_rate, bs_rate.sum(0)


def _stacked(names, shape):
    """The cases' inputs stacked with leading dims ``shape`` (row-major over ``names``)."""
    assoc, bs_rate, rate = (
        np.stack(x).reshape(*shape, *x[0].shape)
        for x in zip(*(_inputs(n) for n in names), strict=True)
    )
    cov = np.broadcast_to(COV, assoc.shape)
    err = np.broadcast_to(ERR, rate.shape)
    return assoc, cov, err, bs_rate, rate


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reading", ["at_most_once", "exactly_once"])
def test_team_reward_and_first_branch_by_hand_one_slot(reading, name):
    assoc, bs_rate, rate = _inputs(name)
    _, once_amo, once_exo, r_amo, r_exo, local = CASES[name]
    cfg = _cfg(reading)
    once, want = (once_amo, r_amo) if reading == "at_most_once" else (once_exo, r_exo)
    got_once = first_branch(cfg, assoc, COV)
    assert got_once.shape == () and bool(got_once) is once
    got = team_reward(cfg, assoc, COV, ERR, rate)
    assert got.shape == () and float(got) == pytest.approx(want, abs=1e-12)
    loc = local_rewards(cfg, assoc, COV, ERR, bs_rate)  # eq. (17) has one reading only
    assert loc.shape == (3,)
    np.testing.assert_allclose(loc, local, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(6,), (2, 3), (3, 2, 1)])
@pytest.mark.parametrize("reading", ["at_most_once", "exactly_once"])
def test_team_and_local_rewards_by_hand_batched(reading, shape):
    """The same cases with leading batch dims: each slot's numbers are its own."""
    names = NAMES[::-1]  # a different order than the table's
    assoc, cov, err, bs_rate, rate = _stacked(names, shape)
    col = 1 if reading == "at_most_once" else 2
    cfg = _cfg(reading)
    once = np.array([CASES[n][col] for n in names]).reshape(shape)
    want = np.array([CASES[n][col + 2] for n in names]).reshape(shape)
    local = np.array([CASES[n][5] for n in names]).reshape(*shape, 3)
    np.testing.assert_array_equal(first_branch(cfg, assoc, cov), once)
    np.testing.assert_allclose(team_reward(cfg, assoc, cov, err, rate), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        local_rewards(cfg, assoc, cov, err, bs_rate), local, rtol=0, atol=1e-12
    )


def test_readings_differ_exactly_on_unserved_covered_users():
    """The two readings agree except when a covered user is left unserved and nobody is
    served twice; an unserved user whom no BS covers never matters."""
    amo, exo = _cfg("at_most_once"), _cfg("exactly_once")
    for name in NAMES:
        assoc = CASES[name][0]
        unserved_covered = (COV.any(0) & ~assoc.any(0)).any()
        doubled = (assoc.sum(0) > 1).any()
        differ = bool(first_branch(amo, assoc, COV)) != bool(first_branch(exo, assoc, COV))
        assert differ == (unserved_covered and not doubled)
    # one BS, one user it does not cover, served by nobody: the first branch under both
    cfg1 = dict(num_users=1, bs_positions=((0.0, 0.0),), epsilon=0.5, penalty=-1.0)
    none = np.zeros((1, 1), bool)
    for reading in ("at_most_once", "exactly_once"):
        c = SystemConfig(**cfg1, serve_condition=reading)
        assert bool(first_branch(c, none, none))
        r = team_reward(c, none, none, np.array([2.0]), np.array([0.0]))
        assert float(r) == pytest.approx(-0.5 * 2.0)
        # ... and covered but unserved: the readings part
        cov = np.ones((1, 1), bool)
        want = -1.0 if reading == "at_most_once" else 0.0
        assert float(team_reward(c, none, cov, np.array([2.0]), np.array([0.0]))) == want


def test_team_reward_given_branch_overrides_the_condition():
    cfg = _cfg("at_most_once")
    assoc, _, rate = _inputs("one_double")
    # forced into the objective: -1.875 + 0.25 * (1 + 2 + 3 + 6)
    got = team_reward(cfg, assoc, COV, ERR, rate, branch=np.array(True))
    assert float(got) == pytest.approx(1.125)
    assoc, _, rate = _inputs("each_once")
    got = team_reward(cfg, assoc, COV, ERR, rate, branch=np.array(False))
    assert float(got) == 0.0  # the penalty branch with nobody served twice
    assoc, cov, err, _, rate = _stacked(["each_once", "one_double"], (2,))
    got = team_reward(cfg, assoc, cov, err, rate, branch=np.array([False, True]))
    np.testing.assert_allclose(got, [0.0, 1.125])


def test_allowed_bits_action_mask_and_decode_by_hand():
    cov = np.array(
        [
            [[1, 0, 1], [0, 0, 0]],
            [[0, 1, 1], [1, 1, 1]],
        ],
        bool,
    )  # (2 envs, 2 BSs, 3 users)
    np.testing.assert_array_equal(allowed_bits(cov), [[0b1011, 0b0001], [0b1101, 0b1111]])
    assert allowed_bits(cov).dtype == np.int64
    np.testing.assert_array_equal(allowed_bits(cov[0, 0]), 0b1011)  # one BS, (U,)
    m = action_mask(np.array([False, True]))  # bits 0 and 2 available
    assert m.dtype == np.int8
    np.testing.assert_array_equal(m, [1, 1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(action_mask(np.array([False, False])), [1, 1, 0, 0, 0, 0, 0, 0])
    sync, assoc = decode_actions(np.array([[0b1011, 0b0110], [0b0001, 0b0000]]), 3)
    np.testing.assert_array_equal(sync, [[True, False], [True, False]])
    np.testing.assert_array_equal(
        assoc,
        [[[1, 0, 1], [1, 1, 0]], [[0, 0, 0], [0, 0, 0]]],
    )
    assert sync.dtype == bool and assoc.dtype == bool
    sync, assoc = decode_actions([5], 2)  # a plain list: bit 0 and bit 2 (user 1)
    np.testing.assert_array_equal(sync, [True])
    np.testing.assert_array_equal(assoc, [[False, True]])
    for dtype in (np.uint8, np.int32, np.uint64):  # ids of any integer type decode the same
        sync, assoc = decode_actions(np.array([0b1011, 0b0110], dtype), 3)
        np.testing.assert_array_equal(sync, [True, False])
        np.testing.assert_array_equal(assoc, [[1, 0, 1], [1, 1, 0]])


def test_available_pairs_by_hand():
    cov = np.array([[1, 0], [0, 0], [0, 1]])  # int, not bool: any truthy coverage works
    rows, acts = available_pairs(cov.astype(float))
    np.testing.assert_array_equal(rows, [0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(acts, [0, 1, 2, 3, 0, 1, 0, 1, 4, 5])
    rows, acts = available_pairs(cov == 1)
    np.testing.assert_array_equal(acts, [0, 1, 2, 3, 0, 1, 0, 1, 4, 5])
    # any nonzero entry counts as covered, e.g. how many BSs cover the user
    rows, acts = available_pairs(np.array([[2, 0], [0, 0], [0, 3]]))
    np.testing.assert_array_equal(rows, [0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(acts, [0, 1, 2, 3, 0, 1, 0, 1, 4, 5])


# --- one whole slot by hand ----------------------------------------------------------------
# Default layout: BSs at (-100, 0), (0, 0), (100, 0), cloud at (0, 50), B = P = 1, N0 = 1e-5,
# enough RBs that nobody shares one, so every link is interference-free:
# rate = log2(1 + h / 1e-5) with h = o_u / d^2 (users) or 1 / d_C^2 (cloud).
# Cloud: BS 0 is at d_C^2 = 12500 (rate log2(9) = 3.17), BS 1 at d_C^2 = 2500 (log2(41) = 5.36);
# with an update of size D = 4 and deadline 1, BS 0's update is late and BS 1's arrives.
POS = np.array(
    [
        [[0.0, 30.0], [100.0, -40.0], [-100.0, 10.0]],  # covered by BS 1, 2, 0 respectively
        [[-50.0, 0.0], [100.0, 0.0], [150.0, 50.0]],  # user 0 by BSs 0 and 1; user 2 by none
    ]
)
PRED = POS + np.array(
    [
        [[7.0, 0.0], [3.0, 4.0], [1.0, 0.0]],  # errors 49, 25, 1 unless synchronised
        [[0.0, 0.0], [0.0, 2.0], [0.0, 0.0]],  # error 4 on user 1
    ]
)
FADING = np.array([[2.0, 0.5, 1.0], [1.0, 1e-3, 1.0]])
# env 0: BS 0 updates; BS 1 updates and serves user 0; BS 2 serves user 1 (user 2 unserved).
# env 1: BSs 0 and 1 both serve user 0; BS 2 serves user 1 (distance 0, floored to 1); no update.
ACTIONS = np.array([[0b0001, 0b0011, 0b0100], [0b0010, 0b0010, 0b0100]])


@pytest.mark.parametrize("model", ["physical", "printed"])
@pytest.mark.parametrize("reading", ["at_most_once", "exactly_once"])
def test_slot_outcome_by_hand(reading, model):
    cfg = SystemConfig(
        num_users=3,
        num_rbs=6,
        epsilon=0.3,
        penalty=-5.0,
        update_size=4.0,
        serve_condition=reading,
        interference_model=model,
    )
    d2 = squared_distances(cfg, POS)
    cov = d2 <= 60.0**2
    np.testing.assert_array_equal(
        cov,
        [[[0, 0, 1], [1, 0, 0], [0, 1, 0]], [[1, 0, 0], [1, 0, 0], [0, 1, 0]]],
    )
    out = slot_outcome(cfg, POS, d2, cov, FADING, PRED, ACTIONS)
    r00 = math.log2(1 + 2.0 / 900 / 1e-5)  # env 0, user 0 from BS 1
    r01 = math.log2(1 + 0.5 / 1600 / 1e-5)  # env 0, user 1 from BS 2
    r10 = math.log2(1 + 1.0 / 2500 / 1e-5)  # env 1, user 0 from BS 0 and again from BS 1
    r11 = math.log2(1 + 1e-3 / 1.0 / 1e-5)  # env 1, user 1 at the floored distance 1
    close = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out["user_rate"], [[r00, r01, 0.0], [2 * r10, r11, 0.0]], **close)
    np.testing.assert_allclose(out["sum_rate"], [r00 + r01, 2 * r10 + r11], **close)
    np.testing.assert_allclose(
        out["cloud_rate"], [[math.log2(9), math.log2(41), 0.0], [0.0, 0.0, 0.0]], **close
    )
    np.testing.assert_array_equal(out["update_sent"], [[True, True, False], [False] * 3])
    np.testing.assert_array_equal(out["update_success"], [[False, True, False], [False] * 3])
    np.testing.assert_array_equal(out["successful_updates"], [1, 0])
    # eq. (7): only user 0 of env 0 (covered by BS 1, whose update arrived) is synchronised
    twin = PRED.copy()
    twin[0, 0] = POS[0, 0]
    np.testing.assert_array_equal(out["twin_state"], twin)
    np.testing.assert_allclose(out["dnt_error"], [26.0 / 3, 4.0 / 3], **close)
    np.testing.assert_array_equal(out["doubly_served"], [0, 1])
    # env 0 leaves the covered user 2 unserved: first branch only under "at most once"
    amo = reading == "at_most_once"
    np.testing.assert_array_equal(out["all_served_once"], [amo, False])
    objective0 = -0.7 / 3 * 26.0 + 0.3 * (r00 + r01)
    np.testing.assert_allclose(out["reward"], [objective0 if amo else 0.0, 2 * -5.0], **close)
    np.testing.assert_allclose(
        out["local_reward"],
        [
            [-0.7 / 3 * 1.0, 0.3 * r00, -0.7 / 3 * 25.0 + 0.3 * r01],
            [-10.0, -10.0, -0.7 / 3 * 4.0 + 0.3 * r11],
        ],
        **close,
    )
