import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import loop_rates, random_positions, small_cfg
from dnt.sim.channel import (
    cloud_gains,
    coverage,
    link_rates,
    rates,
    update_delay,
    update_success,
    user_distances,
)


def _random_alloc(rng, m, u, n, density=0.3):
    x = rng.random((m, u, n)) < density
    y = rng.random((m, n)) < density
    return x, y


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["physical", "printed"]))
def test_rates_match_plain_loops(seed, model):
    """Any allocation (even one breaking (8b)-(8f)) is rated exactly as eqs. (2)-(5) say."""
    rng = np.random.default_rng(seed)
    cfg = small_cfg(num_users=int(rng.integers(1, 6)), num_rbs=int(rng.integers(1, 6)))
    cfg = cfg.replace(interference_model=model)
    pos = random_positions(cfg, rng)
    fading = rng.exponential(size=cfg.num_users)
    x, y = _random_alloc(rng, cfg.num_bs, cfg.num_users, cfg.num_rbs)
    ur, cr = rates(cfg, pos, fading, x, y)
    ur_ref, cr_ref = loop_rates(cfg, pos, fading, x, y)
    np.testing.assert_allclose(ur, ur_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr, cr_ref, rtol=1e-10, atol=1e-12)


def test_rates_broadcast_over_batches():
    rng = np.random.default_rng(1)
    cfg = small_cfg()
    pos = random_positions(cfg, rng, (2, 3))
    fading = rng.exponential(size=(2, 3, 4))
    x = rng.random((2, 3, 3, 4, 4)) < 0.3
    y = rng.random((2, 3, 3, 4)) < 0.3
    ur, cr = rates(cfg, pos, fading, x, y)
    assert ur.shape == (2, 3, 4) and cr.shape == (2, 3, 3)
    for i in range(2):
        for j in range(3):
            a, b = rates(cfg, pos[i, j], fading[i, j], x[i, j], y[i, j])
            np.testing.assert_allclose(ur[i, j], a)
            np.testing.assert_allclose(cr[i, j], b)


def test_link_rates_sum_to_user_rates():
    rng = np.random.default_rng(2)
    cfg = small_cfg()
    pos = random_positions(cfg, rng)
    fad = rng.exponential(size=4)
    x, y = _random_alloc(rng, 3, 4, 4)
    per_link, cr = link_rates(cfg, pos, fad, x, y)
    ur, cr2 = rates(cfg, pos, fad, x, y)
    np.testing.assert_allclose(per_link.sum(0), ur)
    np.testing.assert_allclose(cr, cr2)


def test_isolated_link_is_shannon_rate(cfg):
    pos = np.zeros((12, 2))
    pos[0] = (-100.0, 30.0)  # 30 from BS 0
    fad = np.ones(12)
    x = np.zeros((3, 12, 12), dtype=bool)
    y = np.zeros((3, 12), dtype=bool)
    x[0, 0, 5] = True
    y[1, 2] = True  # BS 1 sends its update on another RB: no interference
    ur, cr = rates(cfg, pos, fad, x, y)
    assert ur[0] == np.log2(1 + (1 / 30**2) / 1e-5)
    assert np.isclose(cr[1], np.log2(1 + (1 / 50**2) / 1e-5))
    # the same RB now: BS 1's update interferes at user 0 with gain 1 / d(BS1, user0)^2
    y2 = np.zeros_like(y)
    y2[1, 5] = True
    ur2, cr2 = rates(cfg, pos, fad, x, y2)
    d10 = np.hypot(100.0, 30.0)
    assert np.isclose(ur2[0], np.log2(1 + (1 / 30**2) / (1 / d10**2 + 1e-5)))
    dc0 = np.hypot(100.0, 50.0)
    assert np.isclose(cr2[1], np.log2(1 + (1 / 50**2) / (1 / dc0**2 + 1e-5)))


def test_geometry(cfg):
    np.testing.assert_allclose(cloud_gains(cfg), [1 / 12500, 1 / 2500, 1 / 12500])
    pos = np.zeros((12, 2))
    pos[1] = (-100.0, 0.2)  # closer than d_min to BS 0
    pos[2] = (-40.0, 0.0)  # exactly on BS 0's coverage edge
    d = user_distances(cfg, pos)
    assert d[0, 1] == 1.0 and d[1, 0] == 1.0  # user 0 sits on BS 1: floored
    cov = coverage(cfg, pos)
    assert cov[0, 2] and cov[1, 2] and not cov[2, 2]


def test_delay_and_deadline(cfg):
    y = np.array([[True, False], [False, False], [False, True]])
    c = np.array([2.0, 0.0, 0.5])
    t = update_delay(cfg, c)
    np.testing.assert_allclose(t, [0.5, np.inf, 2.0])  # eq. (6)
    np.testing.assert_array_equal(update_success(cfg, y, c), [True, False, False])  # (8g)
    np.testing.assert_array_equal(
        update_success(cfg.replace(deadline=2.0), y, c), [True, False, True]
    )
