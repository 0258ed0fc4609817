"""The interval estimates of :mod:`dnt.repro.intervals` against scipy's and against hand-worked
examples, their errors on bad input, and their simulated coverage at our seed counts.

Coverage is measured, not assumed: :func:`coverage` draws thousands of seeded studies of n seeds
each and counts how often the nominal 95% interval contains the true value. The tests require at
least 93% for the Student-t interval of a mean (normal data and gamma(16) data, skewness 0.5, at
2, 3, 5 and 10 seeds), for Welch's interval of a difference (normal data with unequal variances
and gamma(16) data, at 5 and 10 seeds) and for Fieller's interval of a percentage gain (normal
means 17 against 16.5 with sd 0.5, and gamma(16) data, at 5 and 10 seeds). More skewed data are
not tested: at skewness 1 and 2 the t interval's coverage falls (to about 93% and 89% at 5
seeds); the book's statistics section shows that table. The percentile bootstrap these intervals
replaced covers a normal mean only about 85% of the time at 5 seeds; a test below checks that
this is why it was dropped.
"""

import math

import numpy as np
import pytest
from references import fieller_ref
from scipy import stats

from dnt.repro.intervals import (
    Estimate,
    coverage,
    detectable_effect,
    diff_interval,
    gain_interval,
    mean_ci,
    mean_interval,
    probability_of_improvement,
)

T1 = stats.t.ppf(0.975, 1)  # 12.706...: the 95% quantile with 2 seeds


def _approx(v, rel=1e-9):
    return pytest.approx(v, rel=rel, abs=1e-12)


# -- Student-t means -----------------------------------------------------------------------------


def test_mean_interval_by_hand():
    # [1, 3]: mean 2, sd sqrt 2, se 1, one degree of freedom
    e = mean_interval([1.0, 3.0])
    assert e[:5] == _approx((2.0, 2.0 - T1, 2.0 + T1, 1.0, 1.0))
    assert e.method == "Student-t" and e.half_width == pytest.approx(12.7062047, abs=1e-6)
    assert e[:3] == (e.value, e.low, e.high)


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.5])
@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_mean_interval_is_scipys_t_interval(n, confidence):
    x = np.random.default_rng(n).gamma(4.0, 1.0, n)
    ref = stats.ttest_1samp(x, 0.0)
    ci = ref.confidence_interval(confidence)
    e = mean_interval(x, confidence)
    assert (e.value, e.low, e.high) == _approx((x.mean(), ci.low, ci.high))
    assert e.df == ref.df == n - 1 and e.se == _approx(x.std(ddof=1) / math.sqrt(n))


def test_mean_ci_is_the_t_interval_per_column():
    v = np.random.default_rng(3).normal(5.0, 1.0, (4, 3))
    m, lo, hi = mean_ci(v)
    ci = stats.ttest_1samp(v, 0.0, axis=0).confidence_interval()
    assert m.tolist() == _approx(v.mean(0).tolist())
    assert lo.tolist() == _approx(ci.low.tolist()) and hi.tolist() == _approx(ci.high.tolist())
    m, lo, hi = mean_ci(v, confidence=0.8)
    ci = stats.ttest_1samp(v, 0.0, axis=0).confidence_interval(0.8)
    assert lo.tolist() == _approx(ci.low.tolist()) and hi.tolist() == _approx(ci.high.tolist())
    # any trailing shape, column by column as mean_interval
    v3 = np.random.default_rng(4).normal(size=(5, 2, 3))
    m, lo, hi = mean_ci(v3)
    e = mean_interval(v3[:, 1, 2])
    assert (m[1, 2], lo[1, 2], hi[1, 2]) == _approx(e[:3])


def test_mean_ci_with_one_seed_or_no_spread_is_the_mean():
    m, lo, hi = mean_ci(np.array([[1.0, 2.0]]))
    assert m.tolist() == lo.tolist() == hi.tolist() == [1.0, 2.0]
    lo[0] = 9.0  # copies, not views of one another
    assert m.tolist() == hi.tolist() == [1.0, 2.0]
    m, lo, hi = mean_ci(np.full((3, 2), 4.0))
    assert m.tolist() == lo.tolist() == hi.tolist() == [4.0, 4.0]
    # integers are read as floats: [1, 2] has mean 1.5 and se 0.5
    m, lo, hi = mean_ci(np.array([[1], [2]]))
    assert m.tolist() == [1.5] and lo.dtype == np.float64
    assert (lo[0], hi[0]) == _approx((1.5 - 0.5 * T1, 1.5 + 0.5 * T1))


def test_mean_ci_skips_missing_seeds_column_by_column():
    # a NaN is a missing seed: each column is the t interval of its own values
    rng = np.random.default_rng(7)
    v = rng.normal(5.0, 1.0, (5, 4))
    v[[0, 3], 0] = np.nan  # 3 values
    v[1:, 2] = np.nan  # 1 value: a point
    v[:, 3] = np.nan  # none: NaN
    m, lo, hi = mean_ci(v)
    e = mean_interval(v[[1, 2, 4], 0])
    assert (m[0], lo[0], hi[0]) == _approx(e[:3])
    assert (m[1], lo[1], hi[1]) == _approx(mean_interval(v[:, 1])[:3])
    assert m[2] == lo[2] == hi[2] == v[0, 2]
    assert np.isnan([m[3], lo[3], hi[3]]).all()
    # any trailing shape, and another confidence
    v3 = rng.normal(size=(4, 2, 3))
    v3[2, 1, 0] = np.nan
    m, lo, hi = mean_ci(v3, confidence=0.8)
    e = mean_interval(v3[[0, 1, 3], 1, 0], 0.8)
    assert (m[1, 0], lo[1, 0], hi[1, 0]) == _approx(e[:3])
    assert (m[0, 2], lo[0, 2], hi[0, 2]) == _approx(mean_interval(v3[:, 0, 2], 0.8)[:3])


def test_mean_ci_without_nan_is_unchanged_bit_for_bit():
    # the no-NaN path is the plain one: exactly the numpy mean and t half-width
    v = np.random.default_rng(8).normal(17.0, 0.3, (10, 6))
    m, lo, hi = mean_ci(v)
    half = stats.t.ppf(0.975, 9) * v.std(axis=0, ddof=1) / math.sqrt(10)
    assert m.tolist() == v.mean(axis=0).tolist()
    assert lo.tolist() == (m - half).tolist() and hi.tolist() == (m + half).tolist()


# -- Welch differences ---------------------------------------------------------------------------


def test_diff_interval_by_hand():
    # b has no spread: the interval is a's t interval shifted by b's mean, one degree of freedom
    e = diff_interval([1.0, 3.0], [0.5, 0.5, 0.5])
    assert e[:5] == _approx((1.5, 1.5 - T1, 1.5 + T1, 1.0, 1.0))
    assert e.method == "Welch"
    # neither has spread: a point, with n_a + n_b - 2 degrees of freedom
    e = diff_interval([2.0, 2.0], [1.0, 1.0, 1.0])
    assert e[:5] == (1.0, 1.0, 1.0, 0.0, 3.0)


@pytest.mark.parametrize("confidence", [0.95, 0.8])
@pytest.mark.parametrize(("na", "nb"), [(2, 2), (3, 5), (5, 5), (10, 4)])
def test_diff_interval_is_scipys_welch_interval(na, nb, confidence):
    rng = np.random.default_rng(10 * na + nb)
    a, b = rng.normal(1.0, 2.0, na), rng.normal(0.0, 0.5, nb)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(confidence)
    e = diff_interval(a, b, confidence)
    assert (e.value, e.low, e.high) == _approx((a.mean() - b.mean(), ci.low, ci.high))
    assert e.df == _approx(ref.df)
    assert e.se == _approx(math.sqrt(a.var(ddof=1) / na + b.var(ddof=1) / nb))


# -- Fieller gains -------------------------------------------------------------------------------


def test_gain_interval_by_hand_when_b_has_no_spread():
    # b = [10, 10]: the ratio's interval is a's t interval divided by 10; a = [12, 14] has mean
    # 13 and se 1 (one degree of freedom), so the gain is 30% [30 - 10 t, 30 + 10 t]
    e = gain_interval([12.0, 14.0], [10.0, 10.0])
    assert e[:3] == _approx((30.0, 30.0 - 10 * T1, 30.0 + 10 * T1))
    assert e.se == _approx(10.0) and e.df == _approx(1.0) and e.method == "Fieller"
    ci = stats.ttest_1samp([12.0, 14.0], 0.0).confidence_interval()
    assert e[1:3] == _approx((10 * ci.low - 100, 10 * ci.high - 100))
    # a negative mean of b: the gain is over |mean b|, so -7 against -10 is +30% too
    e = gain_interval([-8.0, -6.0], [-10.0, -10.0])
    assert e[:3] == _approx((30.0, 30.0 - 10 * T1, 30.0 + 10 * T1))
    e = gain_interval([-12.0, -14.0], [-10.0, -10.0])  # -13 against -10: 30% lower
    assert e[:3] == _approx((-30.0, -30.0 - 10 * T1, -30.0 + 10 * T1))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([17.2, 16.9, 17.5, 17.1, 16.8], [16.4, 16.6, 16.5, 16.9, 16.1]),
        ([12.0, 13.0, 14.0], [10.0, 10.5, 9.5]),
        ([1.0, 2.5, 1.5, 2.0], [-3.0, -3.5, -2.5]),  # negative mean of b
        ([-9.0, -8.0, -8.5], [-10.0, -9.0, -10.5, -9.5]),
    ],
)
def test_gain_interval_ends_solve_fiellers_equation(a, b):
    e = gain_interval(a, b)
    value, lo, hi, _, df, q = fieller_ref(a, b)
    assert (e.value, e.low, e.high) == _approx((value, lo, hi), rel=1e-7)
    assert e.df == _approx(df)
    # the ends solve (ma - r mb)^2 = q^2 (va + r^2 vb) for r = 1 + s gain / 100
    ma, mb = np.mean(a), np.mean(b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    for g in (e.low, e.high):
        r = 1 + np.sign(mb) * g / 100
        assert (ma - r * mb) ** 2 == pytest.approx(q * q * (va + r * r * vb), rel=1e-8)
    # delta-method standard error of the gain
    assert e.se == _approx(100 * math.sqrt(va + (ma / mb) ** 2 * vb) / abs(mb))


def test_gain_interval_is_unbounded_when_b_is_not_significantly_nonzero():
    # b = [0.5, 1.5]: mean 1, se 0.5, t = 2 < t_{0.975}: the ratio has no bounded interval
    e = gain_interval([1.0, 2.0], [0.5, 1.5])
    assert e.value == pytest.approx(50.0) and (e.low, e.high) == (-math.inf, math.inf)
    assert math.isfinite(e.se) and e.method == "Fieller"
    # a nearly without spread: the equation's roots are real, but the set it bounds is two rays
    # (the parabola opens downwards), reported as the whole line
    e = gain_interval([1.0, 1.001], [0.5, 1.5])
    assert e.value == pytest.approx(0.05) and (e.low, e.high) == (-math.inf, math.inf)
    # b's mean is 0: no gain at all
    e = gain_interval([1.0, 2.0], [-1.0, 1.0])
    assert math.isnan(e.value) and (e.low, e.high) == (-math.inf, math.inf)
    assert e.se == math.inf and detectable_effect(e) == math.inf
    # a bounded neighbour: b = [0.95, 1.05], t = 20 > t_{0.975}
    e = gain_interval([1.0, 2.0], [0.95, 1.05])
    assert math.isfinite(e.low) and math.isfinite(e.high) and e.low < 50.0 < e.high


# -- errors --------------------------------------------------------------------------------------

TWO = [1.0, 2.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mean_interval([1.0]), r"x has shape \(1,\): must be one value per seed"),
        (lambda: mean_interval([]), r"x has shape \(0,\)"),
        (lambda: mean_interval([[1.0, 2.0]]), r"x has shape \(1, 2\)"),
        (lambda: mean_interval([1.0, np.nan]), "x holds a non-finite value"),
        (lambda: mean_interval([1.0, np.inf]), "x holds a non-finite value"),
        (lambda: diff_interval([1.0], TWO), r"a has shape \(1,\)"),
        (lambda: diff_interval(TWO, [1.0]), r"b has shape \(1,\)"),
        (lambda: diff_interval([np.nan, 1.0], TWO), "a holds a non-finite value"),
        (lambda: diff_interval(TWO, [np.nan, 1.0]), "b holds a non-finite value"),
        (lambda: gain_interval([3.0], TWO), r"a has shape \(1,\)"),
        (lambda: gain_interval(TWO, [2.0]), r"b has shape \(1,\)"),
        (lambda: gain_interval(TWO, [np.nan, 2.0]), "b holds a non-finite value"),
        (lambda: probability_of_improvement([1.0], TWO), r"x has shape \(1,\)"),
        (lambda: probability_of_improvement(TWO, [np.nan, 2.0]), "y holds a non-finite"),
    ],
)
def test_bad_seeds_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1, 95])
@pytest.mark.parametrize(
    "fn",
    [
        lambda c: mean_interval(TWO, c),
        lambda c: diff_interval(TWO, TWO, c),
        lambda c: gain_interval(TWO, TWO, c),
        lambda c: mean_ci(np.ones((3, 2)), c),
        lambda c: mean_ci(np.ones((1, 2)), c),  # checked with one seed too
        lambda c: mean_ci(np.array([[1.0], [np.nan]]), c),  # and with a missing seed
        lambda c: probability_of_improvement(TWO, TWO, confidence=c),
    ],
)
def test_bad_confidence_is_named(fn, confidence):
    with pytest.raises(ValueError, match=rf"confidence={confidence!r} is invalid"):
        fn(confidence)


# -- detectable effect ---------------------------------------------------------------------------


def test_detectable_effect_by_hand():
    e = Estimate(1.0, 0.0, 2.0, 2.0, 4.0, "x")
    # (t_{0.975, 4} + t_{0.8, 4}) se = (2.7764451 + 0.9409646) 2
    assert detectable_effect(e) == pytest.approx(7.4348194, abs=1e-6)
    assert e.to_dict()["detectable"] == detectable_effect(e)
    assert e.to_dict() == {
        "value": 1.0,
        "low": 0.0,
        "high": 2.0,
        "se": 2.0,
        "df": 4.0,
        "method": "x",
        "detectable": detectable_effect(e),
    }
    # non-finite numbers are stored as None (JSON has no inf or NaN)
    g = Estimate(math.nan, -math.inf, math.inf, math.inf, math.nan, "Fieller")
    assert g.to_dict() == dict.fromkeys(("value", "low", "high", "se", "df", "detectable")) | {
        "method": "Fieller"
    }
    assert Estimate(2.0, 1.0, math.inf, 1.0, 3.0, "x").to_dict()["high"] is None
    # at 50% power it is the half-width of the t interval itself
    m = mean_interval([1.0, 2.0, 4.0])
    assert detectable_effect(m, power=0.5) == _approx(m.half_width)
    assert detectable_effect(m, confidence=0.9) < detectable_effect(m)
    assert detectable_effect(m, power=0.9) > detectable_effect(m)
    # no standard error or degrees of freedom: nothing is detectable
    assert detectable_effect(e._replace(se=math.inf)) == math.inf
    assert detectable_effect(e._replace(df=math.nan)) == math.inf
    assert detectable_effect(e._replace(se=math.nan)) == math.inf


# -- probability of improvement ------------------------------------------------------------------


def test_probability_of_improvement_is_u_over_nx_ny():
    # pairs with x > y: 1 for x = 1 and x = 2, 2.5 for each x = 3 (the tie with y = 3 counts
    # a half): U = 7 of 12 pairs
    x, y = [1.0, 2.0, 3.0, 3.0], [0.5, 3.0, 2.5]
    assert stats.mannwhitneyu(x, y).statistic == 7.0
    e = probability_of_improvement(x, y, reps=200)
    assert e.value == _approx(7 / 12) and e.low <= e.value <= e.high
    assert 0.0 <= e.low and e.high <= 1.0 and e.method == "percentile bootstrap"
    assert math.isnan(e.se) and math.isnan(e.df)
    d = e.to_dict()  # JSON-safe: no standard error, degrees of freedom or detectable effect
    assert (d["se"], d["df"], d["detectable"], d["value"]) == (None, None, None, e.value)
    # the other way round: 1 - P(X > Y)
    assert probability_of_improvement(y, x, reps=20).value == _approx(1 - 7 / 12)
    # identical samples: one half; wholly above: 1
    assert probability_of_improvement(x, x, reps=20).value == 0.5
    assert probability_of_improvement([5.0, 6.0], y, reps=20)[:3] == (1.0, 1.0, 1.0)


def test_probability_of_improvement_is_seeded():
    """The same seed gives the same interval whatever numpy's global state is."""
    x, y = [1.0, 2.0, 3.0, 3.0, 4.5, 0.2], [0.5, 3.0, 2.5, 1.5, 4.0]
    state = np.random.get_state()  # noqa: NPY002 (rliable draws from the global state)
    try:
        got = {}
        for glob in (1, 2):
            np.random.seed(glob)  # noqa: NPY002
            got[glob] = [probability_of_improvement(x, y, seed=s, reps=200)[:3] for s in (0, 1)]
    finally:
        np.random.set_state(state)  # noqa: NPY002
    assert got[1] == got[2]
    assert got[1][0] != got[1][1]  # and another seed another interval


# -- coverage ------------------------------------------------------------------------------------


def test_coverage_counts_the_intervals_that_contain_the_truth():
    def always(x):
        return Estimate(0.0, -np.inf, np.inf, 1.0, 1.0, "all")

    def never(x):
        return Estimate(0.0, 1.0, 2.0, 1.0, 1.0, "none")

    def normal(rng, n):
        return rng.normal(size=n)

    assert coverage(always, normal, 0.0, 3, 50, 0) == 1.0
    assert coverage(never, normal, 0.0, 3, 50, 0) == 0.0
    # the ends count as inside
    assert coverage(never, normal, 1.0, 3, 10, 0) == coverage(never, normal, 2.0, 3, 10, 0) == 1

    # samples=2 hands two samples of n seeds to the interval; positive draws only: half cover
    seen = []

    def record(a, b):
        seen.append((a.size, b.size))
        return Estimate(0.0, 0.0, 1.0, 1.0, 1.0, "") if a[0] > 0 else never(a)

    c = coverage(record, normal, 0.5, 4, 400, 1, samples=2)
    assert set(seen) == {(4, 4)} and len(seen) == 400 and 0.4 < c < 0.6
    assert coverage(mean_interval, normal, 0.0, 3, 200, 5) == coverage(
        mean_interval, normal, 0.0, 3, 200, 5
    )


REPS = 3000  # Monte Carlo standard error about 0.004 at 95%: 0.93 is five of them away


def _normal(rng, n):
    return rng.normal(0.0, 1.0, n)


def _gamma16(rng, n):  # mean 16, skewness 2 / sqrt(16) = 0.5
    return rng.gamma(16.0, 1.0, n)


def _two(draw_a, draw_b):
    """Two independent samples of n seeds in one draw, for :func:`coverage` with samples=1."""

    def draw(rng, n):
        return np.stack([draw_a(rng, n), draw_b(rng, n)])

    return draw


@pytest.mark.parametrize("n", [2, 3, 5, 10])
@pytest.mark.parametrize(("draw", "truth"), [(_normal, 0.0), (_gamma16, 16.0)])
def test_student_t_mean_covers_at_least_93_percent(draw, truth, n):
    assert coverage(mean_interval, draw, truth, n, REPS, seed=n) >= 0.93


def _welch(s):
    return diff_interval(s[0], s[1])


def _fieller(s):
    return gain_interval(s[0], s[1])


@pytest.mark.parametrize("n", [5, 10])
@pytest.mark.parametrize(
    ("interval", "draw", "truth"),
    [
        # normal, sd 1 against sd 3
        (_welch, _two(_normal, lambda r, n: r.normal(0.0, 3.0, n)), 0.0),
        # gamma(16) with scale 1 (mean 16, sd 4) against scale 0.5 (mean 8, sd 2)
        (_welch, _two(_gamma16, lambda r, n: r.gamma(16.0, 0.5, n)), 8.0),
        # normal means 17 against 16.5, sd 0.5: a gain of 100 * 0.5 / 16.5 %
        (
            _fieller,
            _two(lambda r, n: r.normal(17.0, 0.5, n), lambda r, n: r.normal(16.5, 0.5, n)),
            100 * 0.5 / 16.5,
        ),
        # gamma(16) with scale 1.1 (mean 17.6) against scale 1 (mean 16): a gain of 10%
        (_fieller, _two(lambda r, n: r.gamma(16.0, 1.1, n), _gamma16), 10.0),
    ],
    ids=["welch-normal", "welch-gamma16", "fieller-normal", "fieller-gamma16"],
)
def test_welch_and_fieller_cover_at_least_93_percent(interval, draw, truth, n):
    assert coverage(interval, draw, truth, n, REPS, seed=100 + n) >= 0.93


def test_the_percentile_bootstrap_undercovers_at_five_seeds():
    """Why the bootstrap went: its 95% interval of a normal mean covers about 85% at 5 seeds."""

    def percentile(x):
        ci = stats.bootstrap(
            (x,), np.mean, n_resamples=999, method="percentile", rng=np.random.default_rng(0)
        ).confidence_interval
        return Estimate(float(x.mean()), ci.low, ci.high, math.nan, math.nan, "percentile")

    boot = coverage(percentile, _normal, 0.0, 5, 1000, seed=7)
    assert boot < 0.90
    assert coverage(mean_interval, _normal, 0.0, 5, 1000, seed=7) >= 0.93  # same studies


def test_the_coverage_table_simulates_each_method_on_each_shape_with_its_own_seed():
    """Every cell of the table is the coverage of its method on its data shape at its seed
    count, drawn from the seed the docstring's layout gives (``seed + 100 i + j``), with the
    true value of that comparison (mean, 0, or the gain of 17 over 16.5)."""
    from dnt.repro.intervals import SHAPES, coverage, coverage_table

    seeds, reps = (2, 5), 40
    table = coverage_table(seeds=seeds, reps=reps, seed=7)
    assert set(table) == {"mean", "difference", "gain"}
    for i, (name, (draw, mu)) in enumerate(SHAPES.items()):
        for j, n in enumerate(seeds):
            s = 7 + 100 * i + j
            assert table["mean"][name][n] == coverage(mean_interval, draw, mu, n, reps, s)
            assert table["difference"][name][n] == coverage(diff_interval, draw, 0.0, n, reps, s, 2)
            want = coverage(
                lambda a, b: gain_interval(17.0 + 0.5 * a, 16.5 + 0.5 * b),
                lambda rng, k, draw=draw, mu=mu: draw(rng, k) - mu,
                100 * 0.5 / 16.5,
                n,
                reps,
                s,
                2,
            )
            assert table["gain"][name][n] == want
    assert set(table["mean"]) == set(SHAPES) and set(table["gain"]["normal"]) == set(seeds)


def test_pooled_skewness_standardises_each_setting_and_leaves_out_the_flat_and_tiny():
    from dnt.repro.intervals import pooled_skewness

    a, b = np.array([1.0, 2.0, 3.0, 10.0]), np.array([0.0, 1.0, 2.0, 3.0, 9.0])
    groups = [a, np.array([5.0, 5.0, 5.0]), np.array([1.0, 2.0]), b]
    z = np.concatenate([(g - g.mean()) / g.std(ddof=1) for g in (a, b)])
    skew, n = pooled_skewness(groups)
    assert n == 9 and skew == pytest.approx(float(stats.skew(z)), rel=1e-12)
    assert skew > 0  # long right tails
    nan, zero = pooled_skewness([np.array([1.0, 1.0, 1.0])])
    assert math.isnan(nan) and zero == 0
    assert pooled_skewness([[1, 2, 4]])[1] == 3  # lists are taken too


def test_mean_ci_with_missing_seeds_matches_each_columns_own_interval_without_warnings():
    """Columns with 4, 2, 1 and 0 present seeds: each is its own Student-t interval (a point
    for one seed, NaN for none), and no floating-point warning escapes (a raising error state
    around the call)."""
    nan = np.nan
    v = np.array(
        [
            [1.0, 3.0, 7.0, nan],
            [2.0, nan, nan, nan],
            [4.0, 5.0, nan, nan],
            [8.0, nan, nan, nan],
        ]
    )
    with np.errstate(all="raise"):
        mean, lo, hi = mean_ci(v)
    for j, col in enumerate((v[:, 0], np.array([3.0, 5.0]))):
        est = mean_interval(col)
        assert (mean[j], lo[j], hi[j]) == pytest.approx((est.value, est.low, est.high), rel=1e-12)
    assert mean[2] == lo[2] == hi[2] == 7.0
    assert np.isnan([mean[3], lo[3], hi[3]]).all()
