import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import random_positions, small_cfg
from dnt.sim.allocation import _allocate_gains, _fast_link_rates, allocate, allocate_batch
from dnt.sim.channel import (
    _shannon,
    cloud_gains,
    cloud_interference,
    link_rates,
    user_gains,
    user_interference,
)


def _random_instance(rng, cfg, p_assoc=0.8):
    pos = random_positions(cfg, rng)
    fading = rng.exponential(size=cfg.num_users)
    owner = rng.integers(0, cfg.num_bs, cfg.num_users)
    assoc = (np.arange(cfg.num_bs)[:, None] == owner[None, :]) & (
        rng.random(cfg.num_users) < p_assoc
    )
    sync = rng.random(cfg.num_bs) < 0.6
    return pos, fading, assoc, sync


def _check_constraints(x, y, assoc, sync):
    assert x.dtype == bool and y.dtype == bool
    assert (x.sum(axis=(0, 2)) <= 1).all()  # (8b)
    assert (x.sum(axis=1) <= 1).all()  # (8c)
    assert (y.sum(axis=1) <= 1).all()  # (8e)
    assert (x.sum(axis=1) + y <= 1).all()  # (8f)
    np.testing.assert_array_equal(y.any(1), sync)  # an update RB exactly when asked
    assert not (x & ~assoc[:, :, None]).any()  # only associated users are served


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    model=st.sampled_from(["physical", "printed"]),
    rounds=st.sampled_from([1, 4]),
)
def test_constraints_8b_to_8f(seed, model, rounds):
    rng = np.random.default_rng(seed)
    cfg = small_cfg(
        num_users=int(rng.integers(1, 9)),
        num_rbs=int(rng.integers(1, 7)),
        interference_model=model,
        allocation_rounds=rounds,
    )
    pos, fading, assoc, sync = _random_instance(rng, cfg)
    x, y = allocate(cfg, pos, fading, assoc, sync)
    _check_constraints(x, y, assoc, sync)
    # every associated user is served as long as free RBs remain (maximum matching)
    free = cfg.num_rbs - sync.astype(int)
    served = x.any(axis=2).sum(1)
    np.testing.assert_array_equal(served, np.minimum(assoc.sum(1), free))


def _best_matching(w):
    """Brute-force maximum-weight matching value of a (k, F) weight matrix."""
    k, f = w.shape
    best = 0.0
    r = min(k, f)
    for users in itertools.combinations(range(k), r):
        for rbs in itertools.permutations(range(f), r):
            best = max(best, sum(w[u, n] for u, n in zip(users, rbs, strict=True)))
    return best


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["physical", "printed"]))
def test_each_stage_is_optimal_against_brute_force(seed, model):
    """Algorithm 1: BS m's choices are optimal given the BSs before it (problem (17))."""
    rng = np.random.default_rng(seed)
    cfg = small_cfg(
        num_users=int(rng.integers(2, 7)), num_rbs=int(rng.integers(2, 5)), interference_model=model
    )
    pos, fading, assoc, sync = _random_instance(rng, cfg, p_assoc=1.0)
    x, y = allocate(cfg, pos, fading, assoc, sync)
    g = user_gains(cfg, pos, fading)
    pc = cfg.tx_power * cloud_gains(cfg)
    for m in range(cfg.num_bs):
        src = (np.arange(cfg.num_bs) < m)[None, :].astype(float)
        xb, yb = x.copy(), y.copy()
        xb[m], yb[m] = False, False  # BS m's own choices do not interfere with themselves
        ic = cloud_interference(cfg, xb, yb, src)[0]
        c_rates = _shannon(cfg, pc[m], ic)
        if sync[m]:
            n_up = int(np.flatnonzero(y[m])[0])
            assert c_rates[n_up] == pytest.approx(c_rates.max(), rel=1e-12)
            # ties go to the lowest index (up to float rounding of equal interference sums)
            assert n_up == int(np.flatnonzero(c_rates >= c_rates.max() * (1 - 1e-9))[0])
            yb[m] = y[m]
        iu = user_interference(cfg, g, xb, yb, src)[0]
        w = _shannon(cfg, cfg.tx_power * g[m][:, None], iu)
        users = np.flatnonzero(assoc[m])
        free = np.flatnonzero(~y[m])
        got = sum(w[u, n] for u, n in zip(*np.nonzero(x[m]), strict=True))
        best = _best_matching(w[np.ix_(users, free)]) if users.size and free.size else 0.0
        assert got == pytest.approx(best, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fast_path_matches_generic_algorithm(seed):
    """The compact physical-model path gives the generic path's allocation and rates."""
    rng = np.random.default_rng(seed)
    cfg = small_cfg(num_users=int(rng.integers(1, 13)), num_rbs=int(rng.integers(1, 13)))
    b = 16
    pos = random_positions(cfg, rng, (b,))
    fad = rng.exponential(size=(b, cfg.num_users))
    owner = rng.integers(0, cfg.num_bs, (b, cfg.num_users))
    assoc = (np.arange(cfg.num_bs)[None, :, None] == owner[:, None, :]) & (
        rng.random((b, 1, cfg.num_users)) < 0.8
    )
    sync = rng.random((b, cfg.num_bs)) < 0.6
    g = user_gains(cfg, pos, fad)
    xf, yf, _, fast = _allocate_gains(cfg, g, assoc, sync, generic=False)
    xg, yg, _, none = _allocate_gains(cfg, g, assoc, sync, generic=True)
    assert none is None and fast is not None
    np.testing.assert_array_equal(yf, yg)
    np.testing.assert_array_equal(xf, xg)
    rf_link, cf = _fast_link_rates(cfg, g, fast)
    r_link, c = link_rates(cfg, pos, fad, xf, yf)
    np.testing.assert_allclose(rf_link, r_link, rtol=1e-12)
    np.testing.assert_allclose(cf, c, rtol=1e-12)


def test_users_beyond_free_rbs_get_none():
    cfg = small_cfg(num_users=5, num_rbs=3)
    pos = np.array([[-100.0 + i, 10.0] for i in range(5)])
    assoc = np.zeros((3, 5), bool)
    assoc[0] = True
    sync = np.array([True, False, False])
    x, y = allocate(cfg, pos, np.ones(5), assoc, sync)
    assert y[0, 0] and y.sum() == 1  # all RBs equal for BS 0: the lowest index
    assert x[0].any(1).sum() == 2  # 3 RBs, one for the update, 2 users served
    # with equal fading the two nearest users win
    np.testing.assert_array_equal(np.flatnonzero(x[0].any(1)), [0, 1])


def test_later_bs_avoids_interference_when_it_can():
    cfg = small_cfg(num_users=2, num_rbs=2, fading_model="none")
    pos = np.array([[-60.0, 0.0], [-40.0, 0.0]])  # user 1 near both BS 0 and BS 1
    assoc = np.array([[True, False], [False, True], [False, False]])
    x, _y = allocate(cfg, pos, np.ones(2), assoc, np.zeros(3, bool))
    assert x[0, 0, 0] and x[1, 1, 1]  # BS 1 takes the RB that BS 0 leaves clean


def test_extra_rounds_record_convergence():
    rng = np.random.default_rng(0)
    cfg = small_cfg(num_users=12, num_rbs=6, allocation_rounds=30)
    b = 32
    pos = random_positions(cfg, rng, (b,))
    fad = rng.exponential(size=(b, 12))
    owner = rng.integers(0, 3, (b, 12))
    assoc = np.arange(3)[None, :, None] == owner[:, None, :]
    sync = np.ones((b, 3), bool)
    x, y, info = allocate_batch(cfg, pos, fad, assoc, sync)
    assert info.rounds.shape == (b,) and info.converged.dtype == bool
    assert (info.rounds >= 2).all() and (info.rounds <= 30).all()
    assert (info.rounds[~info.converged] == 30).all()
    for i in range(b):
        _check_constraints(x[i], y[i], assoc[i], sync[i])
    one = allocate_batch(cfg.replace(allocation_rounds=1), pos, fad, assoc, sync)[2]
    assert (one.rounds == 1).all() and not one.converged.any()


def test_input_validation():
    cfg = small_cfg()
    with pytest.raises(ValueError, match="user_pos"):
        allocate(cfg, np.zeros((3, 2)), np.ones(4), np.zeros((3, 4), bool), np.zeros(3, bool))
    with pytest.raises(ValueError, match="assoc"):
        allocate(cfg, np.zeros((4, 2)), np.ones(4), np.zeros((2, 4), bool), np.zeros(3, bool))
    with pytest.raises(ValueError, match="fading"):
        allocate(cfg, np.zeros((4, 2)), -np.ones(4), np.zeros((3, 4), bool), np.zeros(3, bool))
