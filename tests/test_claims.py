"""The claim machinery on hand-made inputs whose verdicts are known.

Most inputs have two seeds: a percentile bootstrap over two values then has only three possible
resample means per sample (the lower value, the middle one, the upper value; a quarter, a half and
a quarter of the resamples), so the 95% interval is the statistic at the extreme resamples and
every expected interval below is worked out by hand from that. ``make mutation`` measures how many
wrong versions of :mod:`dnt.repro.claims` these tests catch (see the README).
"""

import numpy as np
import pytest
from scipy import stats

from dnt.repro.claims import (
    _both,
    _fmt,
    _trend_reason,
    bootstrap_stat,
    claims,
    claims_markdown,
    diff,
    gain,
    mean_ci,
    sweep_arrays,
    verdict_of,
)
from dnt.repro.specs import EPS_VALUES, USER_VALUES, figure_cells, figure_configs

CI = "mean over seeds [95% bootstrap CI]"
IN = "same direction, and the paper's value lies in our interval"
OUTSIDE = "same direction, but the paper's value lies outside our interval"
OPPOSITE = "significant effect in the opposite direction"
ZERO = "no significant effect (our interval contains 0)"
UNDEFINED = "our value is undefined (division by a zero mean)"
NO_DIFF = "no significant difference (the interval contains 0)"


def _approx(v):
    return pytest.approx(v, rel=1e-9, abs=1e-12)


# -- statistics ---------------------------------------------------------------------------------


def test_gain_and_diff():
    assert gain(np.array([12.0, 14.0]), np.array([10.0, 10.0])) == pytest.approx(30.0)
    assert gain(np.array([-5.0]), np.array([-10.0])) == pytest.approx(50.0)  # |mean b|
    assert gain(np.array([5.0]), np.array([-10.0])) == pytest.approx(150.0)
    assert diff(np.array([1.0, 3.0]), np.array([0.5])) == pytest.approx(1.5)


def test_mean_ci_by_hand():
    # two seeds, three quantities: the interval is [smaller seed, larger seed] per column
    m, lo, hi = mean_ci(np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 6.0]]))
    assert m.tolist() == [2.0, 5.0, 4.0] and lo.dtype == hi.dtype == np.float64
    assert lo.tolist() == [1.0, 5.0, 2.0] and hi.tolist() == [3.0, 5.0, 6.0]
    # one seed: the interval collapses to the value
    m, lo, hi = mean_ci(np.array([[1.0, 2.0]]))
    assert m.tolist() == lo.tolist() == hi.tolist() == [1.0, 2.0]
    # no spread at all
    m, lo, hi = mean_ci(np.full((3, 2), 4.0))
    assert m.tolist() == lo.tolist() == hi.tolist() == [4.0, 4.0]
    # integers are read as floats
    m, lo, hi = mean_ci(np.array([[1], [2]]))
    assert m.tolist() == [1.5] and lo.tolist() == [1.0] and hi.tolist() == [2.0]


@pytest.mark.filterwarnings("ignore::scipy.stats.DegenerateDataWarning")  # the NaN column
def test_mean_ci_with_infinite_or_missing_seeds():
    # resample means of [1, inf] are 1 (a quarter of the resamples) or inf: the interval is
    # [1, inf]; a missing (NaN) seed makes the mean and both ends NaN
    with np.errstate(invalid="ignore"):
        m, lo, hi = mean_ci(np.array([[1.0, -np.inf, 1.0], [np.inf, 1.0, np.nan]]))
    assert m[:2].tolist() == [np.inf, -np.inf] and np.isnan(m[2])
    assert lo[:2].tolist() == [1.0, -np.inf] and hi[:2].tolist() == [np.inf, 1.0]
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert m.dtype == lo.dtype == hi.dtype == np.float64


def test_mean_ci_is_scipys_seeded_percentile_bootstrap():
    v = np.random.default_rng(1).normal(5.0, 1.0, (40, 2))  # 40 seeds: no ties

    def reference(confidence, seed, n):
        ci = stats.bootstrap(
            (v,),
            np.mean,
            axis=0,
            confidence_level=confidence,
            n_resamples=n,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        return ci.low.tolist(), ci.high.tolist()

    m, lo, hi = mean_ci(v)
    assert m.tolist() == _approx(v.mean(axis=0).tolist())
    assert (lo.tolist(), hi.tolist()) == reference(0.95, 0, 2000)
    m, lo, hi = mean_ci(v, confidence=0.5, seed=3, n_resamples=500)
    assert (lo.tolist(), hi.tolist()) == reference(0.5, 3, 500)
    assert hi[0] - lo[0] < reference(0.95, 3, 500)[1][0] - reference(0.95, 3, 500)[0][0]


def test_bootstrap_interval_brackets_and_is_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.normal(13, 1, 12), rng.normal(10, 1, 12)  # 12 seeds: no ties
    v, lo, hi = bootstrap_stat(gain, (a, b))
    assert lo < v < hi and v == pytest.approx(gain(a, b))
    assert bootstrap_stat(gain, (a, b)) == (v, lo, hi)  # seeded: the same interval again

    def reference(seed: int) -> tuple[float, float]:
        ci = stats.bootstrap(
            (a, b),
            gain,
            vectorized=False,
            paired=False,
            n_resamples=2000,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        return ci.low, ci.high

    assert (lo, hi) == reference(0)
    assert bootstrap_stat(gain, (a, b), seed=7) == (v, *reference(7))
    assert bootstrap_stat(gain, (a[:1], b)) == (gain(a[:1], b),) * 3  # one seed: a point


def test_bootstrap_stat_by_hand():
    # gain of [12, 14] over [10, 10]: 30, the extreme resamples give 20 and 40
    assert bootstrap_stat(gain, (np.array([12.0, 14.0]), np.array([10.0, 10.0]))) == _approx(
        (30.0, 20.0, 40.0)
    )
    # a mean of one sample: the interval is [smaller, larger]
    assert bootstrap_stat(np.mean, (np.array([12.0, 14.0]),)) == _approx((13.0, 12.0, 14.0))
    # the samples are resampled independently (not as pairs): [1, 3] minus [1, 3] is 0, but a
    # resample of each on its own gives -2 (1 - 3) and 2 (3 - 1)
    assert bootstrap_stat(diff, (np.array([1.0, 3.0]), np.array([1.0, 3.0]))) == _approx(
        (0.0, -2.0, 2.0)
    )
    # samples of different lengths
    assert bootstrap_stat(diff, (np.array([1.0, 3.0, 2.0]), np.array([1.0, 1.0]))) == _approx(
        (1.0, 0.0, 2.0)
    )
    # one seed in any sample: a point
    assert bootstrap_stat(diff, (np.array([1.0, 3.0]), np.array([0.5]))) == (1.5, 1.5, 1.5)


@pytest.mark.filterwarnings("error")  # quietly: no division warnings
def test_bootstrap_stat_undefined_values_give_a_point():
    # mean of b is 0: the gain is infinite, no interval is drawn
    assert bootstrap_stat(gain, (np.array([1.0, 2.0]), np.array([-1.0, 1.0]))) == (np.inf,) * 3
    # ... or NaN, 0 / 0
    v, lo, hi = bootstrap_stat(gain, (np.array([-1.0, 1.0]), np.array([-1.0, 1.0])))
    assert np.isnan(v) and np.isnan(lo) and np.isnan(hi)
    # the value is defined (b's mean is 2/3: a gain of 125%), but the resamples of b that are
    # all zeros make one end of the interval infinite: the interval collapses to the value
    v, lo, hi = bootstrap_stat(gain, (np.array([1.0, 2.0]), np.array([0.0, 0.0, 2.0])))
    assert v == pytest.approx(125.0) and lo == v and hi == v
    v, lo, hi = bootstrap_stat(gain, (np.array([0.0, 0.0, 3.0]), np.array([0.0, 0.0, 2.0])))
    assert v == pytest.approx(50.0) and lo == v and hi == v


def test_fmt():
    assert _fmt((1.23456, -0.5, 2.0)) == "1.23 [-0.5, 2]"
    assert _fmt((26.3, 20.0, 32.6), "%") == "26.3% [20, 32.6]"


# -- verdict rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ci", "paper", "verdict", "why"),
    [
        ((29.0, 20.0, 35.0), 28.96, "reproduced", IN),
        ((10.0, 5.0, 15.0), 28.96, "not reproduced", OUTSIDE),
        ((-10.0, -15.0, -5.0), 28.96, "not reproduced", OPPOSITE),
        ((2.0, -3.0, 7.0), 28.96, "not reproduced", ZERO),
        ((-0.3, -0.5, -0.1), -0.2, "reproduced", IN),
        ((-0.3, -0.5, -0.25), -0.2, "not reproduced", OUTSIDE),
        ((0.3, 0.1, 0.5), -0.2, "not reproduced", OPPOSITE),
        ((np.nan, np.nan, np.nan), 1.0, "not comparable", UNDEFINED),
        # one end undefined is enough to make the claim not comparable
        ((5.0, 1.0, np.inf), 28.96, "not comparable", UNDEFINED),
        ((5.0, -np.inf, 10.0), 28.96, "not comparable", UNDEFINED),
        # boundaries: an interval that touches 0 is not significant ...
        ((20.0, 0.0, 40.0), 28.96, "not reproduced", ZERO),
        ((-5.0, -10.0, 0.0), 28.96, "not reproduced", ZERO),
        ((-0.5, -1.0, 0.0), -0.2, "not reproduced", ZERO),
        ((0.5, 0.0, 1.0), -0.2, "not reproduced", ZERO),
        # ... but an interval whose end is the paper's value contains it
        ((30.0, 28.96, 35.0), 28.96, "reproduced", IN),
        ((25.0, 20.0, 28.96), 28.96, "reproduced", IN),
        # small effects: the rule compares with 0, not with 1
        ((1.0, 0.5, 2.0), 28.96, "not reproduced", OUTSIDE),
        ((0.75, 0.2, 1.5), 0.5, "reproduced", IN),
        ((-1.5, -2.0, -1.0), 0.5, "not reproduced", OPPOSITE),
        ((-0.25, -1.0, 0.5), -0.2, "not reproduced", ZERO),
        ((1.0, 0.5, 2.0), -0.2, "not reproduced", OPPOSITE),
        # a paper value of exactly 0 is read as "negative side"
        ((-1.0, -2.0, -0.5), 0.0, "not reproduced", OUTSIDE),
        ((1.0, 0.5, 2.0), 0.0, "not reproduced", OPPOSITE),
        ((0.0, -1.0, 0.5), 28.96, "not reproduced", ZERO),
    ],
)
def test_verdicts(ci, paper, verdict, why):
    assert verdict_of(ci, paper) == (verdict, why)


R, N, C = ("reproduced", "r-why"), ("not reproduced", "n-why"), ("not comparable", "c-why")


@pytest.mark.parametrize(
    ("rate", "dnt", "expected"),
    [
        (R, R, ("reproduced", "both parts hold")),
        (R, N, ("not reproduced", "rate: r-why; DNT error: n-why")),
        (N, R, ("not reproduced", "rate: n-why; DNT error: r-why")),
        (N, N, ("not reproduced", "rate: n-why; DNT error: n-why")),
        (C, R, ("not comparable", "c-why; r-why")),
        (R, C, ("not comparable", "r-why; c-why")),
        (N, C, ("not comparable", "n-why; c-why")),
    ],
)
def test_a_two_part_claim_holds_only_when_both_parts_do(rate, dnt, expected):
    assert _both(rate, dnt) == expected


@pytest.mark.parametrize(
    ("ci", "sign", "reason"),
    [
        ((-0.5, -1.0, -0.1), -1, "the whole interval shows a fall"),
        ((0.5, 0.1, 1.0), -1, "significant a rise: the opposite direction"),
        ((0.0, -1.0, 1.0), -1, NO_DIFF),
        ((-0.5, -1.0, 0.0), -1, NO_DIFF),
        ((0.5, 0.0, 1.0), -1, NO_DIFF),
        ((0.5, 0.1, 1.0), 1, "the whole interval shows a fall"),
        ((-0.5, -1.0, -0.1), 1, "significant a rise: the opposite direction"),
        ((0.0, -1.0, 1.0), 1, NO_DIFF),
        ((0.5, 0.0, 1.0), 1, NO_DIFF),
        ((-0.5, -1.0, 0.0), 1, NO_DIFF),
        ((0.0, -1.0, 0.5), -1, NO_DIFF),
        ((0.0, -1.0, 0.5), 1, NO_DIFF),
        ((1.5, 0.5, 2.0), -1, "significant a rise: the opposite direction"),
        ((0.75, 0.5, 1.0), 1, "the whole interval shows a fall"),
    ],
)
def test_trend_reasons(ci, sign, reason):
    assert _trend_reason(ci, sign, "a fall", "a rise") == reason


# -- hand-made stores -----------------------------------------------------------------------------


def _runs(fig, metrics, seeds=2, version="abc", runs=None, quick=True):
    """Add a figure's runs to ``runs``: ``metrics(algo, i, seed, cfg)`` are the metrics of the
    cell with the figure's ``i``-th config (merged into those of a cell another figure shares)."""
    runs = {} if runs is None else runs
    hashes = [c.config_hash() for c in figure_configs(fig)]
    for c in figure_cells(fig, seeds, quick):
        run = runs.setdefault(c.filename(), {"code_version": version, "metrics": {}})
        m = metrics(c.algo, hashes.index(c.cfg.config_hash()), c.seed, c.cfg)
        run["metrics"].update(m)  # Figs. 5 and 6 share a cell: "final" and "episode0"
    return runs


def _base(*figs):
    """Baselines of Figs. 4 and 5 (the claims read only the learners')."""
    rule = {"nearest": {"dnt_error": 0.0, "sum_rate": 1.0}}
    return {c.config_hash(): rule for fig in figs for c in figure_configs(fig)}


def _sweep(rate, err):
    """Figs. 4 and 5: per-user rate and DNT error, ``{algo: [[seed 0, seed 1] per config]}``."""

    def metrics(algo, i, seed, cfg):
        return {
            "final": {
                "dnt_error": err[algo][i][seed],
                "sum_rate": rate[algo][i][seed] * cfg.num_users,
            }
        }

    return metrics


def _fig3(vdn, iql):
    """Fig. 3: per seed, the evaluation curve (the last point is the final reward)."""

    def metrics(algo, i, seed, cfg):
        curve = (vdn if algo == "vdn" else iql)[seed]
        return {
            "final": {"reward": curve[-1]},
            "curve": [{"eval_reward": r} for r in curve],
        }

    return metrics


def _fig6(vdn, iql):
    def metrics(algo, i, seed, cfg):
        return {"episode0": {"dnt_error": (vdn if algo == "vdn" else iql)[seed]}}

    return metrics


def _col(values, i, pair, other):
    """A per-config list of seed pairs: ``pair`` at index ``i``, ``other`` elsewhere."""
    return [list(pair) if j == i else list(other) for j in range(len(values))]


I8, I99 = EPS_VALUES.index(0.8), EPS_VALUES.index(0.99)


def _fig4_data(
    vdn_rate=(12.0, 13.26),
    iql_rate=(10.0, 10.0),
    iql_rate_099=(9.0, 9.5),
    vdn_err=(0.5, 0.7),
    iql_err=(0.2, 0.2),
):
    """Per-user rates and DNT errors at eps = 0.8 (and IQL's rate at 0.99); other eps values get
    numbers that would change every verdict if they were read instead."""
    iql = _col(EPS_VALUES, I8, iql_rate, (7.0, 7.0))
    iql[I99] = list(iql_rate_099)
    rate = {"vdn": _col(EPS_VALUES, I8, vdn_rate, (5.0, 5.0)), "iql": iql}
    err = {
        "vdn": _col(EPS_VALUES, I8, vdn_err, (0.9, 0.9)),
        "iql": _col(EPS_VALUES, I8, iql_err, (0.1, 0.1)),
    }
    return rate, err


# Fig. 5, per number of users 6, 8, 10, 12; the middle values would break every trend if they
# were taken for an end point.
FIG5_RATE = {
    "vdn": [[20.0, 20.0], [5.0, 5.0], [30.0, 30.0], [11.0, 11.0625]],
    "iql": [[15.0, 16.0], [4.0, 4.0], [25.0, 25.0], [10.0, 10.0]],
}
FIG5_ERR = {
    "vdn": [[0.1, 0.2], [0.6, 0.6], [0.1, 0.1], [0.3, 0.5]],
    "iql": [[0.05, 0.1], [0.9, 0.9], [0.0, 0.0], [0.2, 0.2]],
}
FIG6 = {"vdn": [[0.1, 0.3], [0.2, 0.4]], "iql": [[0.5, 0.5], [0.5, 0.7]]}
FIG3 = {"vdn": [[5.0, 9.0, 12.0], [7.0, 11.0, 14.0]], "iql": [[4.0, 8.0, 10.0]] * 2}
# Fig. 2 as stored: users by 0-based index (the paper's users 2, 4 and 7), the Bayes floor of
# every user
BAYES = [0.5, 0.18, 0.5, 0.07, 0.5, 0.5, 0.31, 0.5, 0.5, 0.5, 0.5, 0.5]
FIG2 = {
    "code_version": "fig2v",
    "users": [1, 3, 6],
    "users_test_mse": [0.19, 0.08, 0.3],
    "users_mse": [0.2, 0.1, 0.35],
    "evaluation": {"one_step_per_user": {"bayes": BAYES}},
}


def _full_store():
    runs = _runs("fig3", _fig3(FIG3["vdn"], FIG3["iql"]))
    _runs("fig4", _sweep(*_fig4_data()), runs=runs)
    _runs("fig5", _sweep(FIG5_RATE, FIG5_ERR), runs=runs)
    _runs("fig6", _fig6(FIG6["vdn"], FIG6["iql"]), runs=runs)
    # two runs made by other code, reused with --allow-stale
    for name in sorted(runs)[:2]:
        runs[name].update(code_version="abd", stale=True)
    return runs


# (id, figure, claim, paper, our numbers as text, verdict, why, how)
EXPECTED_ROWS = [
    (
        "fig3-gain",
        "Fig. 3",
        "VDN improves the weighted sum (the reward) over IQL by up to 28.96%",
        "28.96%",
        # final rewards [12, 14] against [10, 10]: gain 30 [20, 40]
        "30% [20, 40]; VDN 13, IQL 10",
        "reproduced",
        IN,
        "gain = 100 (R_VDN - R_IQL) / |R_IQL| of the final greedy evaluation reward per slot "
        f"(eps = 0.3, N = 12), {CI}; also the largest gain of the mean curves over the "
        "evaluations",
    ),
    (
        "fig4-rate-eps0.8",
        "Fig. 4",
        "at eps = 0.8 VDN's average data rate is 31.79% higher than IQL's, with a higher DNT error",
        "+31.79% rate; VDN DNT error higher",
        # rates [12, 13.26] against [10, 10]; DNT errors [0.5, 0.7] against [0.2, 0.2]
        "rate 26.3% [20, 32.6]; DNT error diff 0.4 [0.3, 0.5]",
        "reproduced",
        "both parts hold",
        f"per-user data rate and DNT error of the final greedy evaluation, N = 9, {CI}; the "
        "DNT-error part needs VDN's error to be significantly higher",
    ),
    (
        "fig4-iql-rate-falls",
        "Fig. 4",
        "IQL's average data rate falls as eps goes from 0.8 to 0.99",
        "falls",
        # [9, 9.5] minus [10, 10]
        "change -0.75 [-1, -0.5] (rate at 0.99 minus at 0.8)",
        "reproduced",
        "the whole interval shows a fall",
        f"IQL per-user rate at eps 0.99 minus at 0.8, {CI}",
    ),
    (
        "fig5-u12",
        "Fig. 5",
        "with 12 users VDN's data rate is 10.15% higher than IQL's and its DNT error 0.2 higher",
        "+10.15% rate; +0.2 DNT error",
        # rates [11, 11.0625] against [10, 10]; DNT errors [0.3, 0.5] against [0.2, 0.2]
        "rate 10.3% [10, 10.6]; DNT error diff 0.2 [0.1, 0.3]",
        "reproduced",
        "both parts hold",
        "per-user data rate and DNT error of the final greedy evaluation, eps = 0.25, N = 12, "
        f"{CI}",
    ),
    (
        "fig5-dnt_error-trend",
        "Fig. 5",
        "the DNT error of both methods rises as the number of users grows",
        "rises",
        # VDN [0.3, 0.5] minus [0.1, 0.2]; IQL [0.2, 0.2] minus [0.05, 0.1]
        "VDN 0.25 [0.1, 0.4]; IQL 0.125 [0.1, 0.15]",
        "reproduced",
        "significant for both methods",
        f"value at U = 12 minus at U = 6, {CI}",
    ),
    (
        "fig5-rate-trend",
        "Fig. 5",
        "the data rate of both methods falls as the number of users grows",
        "falls",
        # VDN [11, 11.0625] minus [20, 20]; IQL [10, 10] minus [15, 16]
        "VDN -8.97 [-9, -8.94]; IQL -5.5 [-6, -5]",
        "reproduced",
        "significant for both methods",
        f"value at U = 12 minus at U = 6, {CI}",
    ),
    (
        "fig6-dnt-error",
        "Fig. 6",
        "VDN keeps a smaller DNT error than IQL over the evaluation episode",
        "VDN lower",
        # per-seed episode means [0.2, 0.3] against [0.5, 0.6]
        "VDN minus IQL -0.3 [-0.4, -0.2]",
        "reproduced",
        "the whole interval shows VDN lower",
        f"mean DNT error over the slots of evaluation episode 0, {CI}",
    ),
    (
        "fig2-mse",
        "Fig. 2",
        "the GRU's positioning MSEs of users 2, 4 and 7 are 0.188, 0.075 and 0.320",
        "0.188 / 0.075 / 0.320",
        "0.190 / 0.080 / 0.300 (Bayes floor 0.180 / 0.070 / 0.310)",
        "not comparable",
        "each user's error is set by its move probabilities, which the paper does not give; ours "
        "are drawn from a Dirichlet and the GRU sits near the Bayes floor",
        "one-step MSE per user over the test trajectories, normalised as eq. (14)",
    ),
]
KEYS = ("id", "figure", "claim", "paper", "text", "verdict", "reason", "how")


def test_every_claim_of_a_hand_made_store():
    # one test (not a shared fixture), so that mutmut knows it runs claims()
    figs = ("fig2", "fig3", "fig4", "fig5", "fig6")
    table = claims(2, True, _full_store(), {}, _base("fig4", "fig5"), FIG2, figs)
    assert table["seeds"] == 2 and table["quick"] is True
    assert table["code_versions"] == ["abc", "abd", "fig2v"]
    assert table["stale_runs"] == 2
    got = [{**c, "text": c["ours"]["text"]} for c in table["claims"]]
    assert [c["id"] for c in got] == [row[0] for row in EXPECTED_ROWS]
    for c, row in zip(got, EXPECTED_ROWS, strict=True):
        assert {k: c[k] for k in KEYS} == dict(zip(KEYS, row, strict=True))

    # the numbers behind them
    ours = {c["id"]: c["ours"] for c in table["claims"]}
    f3 = ours["fig3-gain"]
    assert f3["final_gain_pct"] == _approx((30.0, 20.0, 40.0))
    assert f3["vdn_final_reward"] == _approx((13.0, 12.0, 14.0))
    assert f3["iql_final_reward"] == _approx((10.0, 10.0, 10.0))
    # mean curves [6, 10, 13] and [4, 8, 10]: gains 50%, 25%, 30%
    assert f3["max_over_evaluations_gain_pct"] == pytest.approx(50.0)
    f4 = ours["fig4-rate-eps0.8"]
    assert f4["rate_gain_pct"] == _approx((26.3, 20.0, 32.6))
    assert f4["dnt_error_diff"] == _approx((0.4, 0.3, 0.5))
    assert ours["fig4-iql-rate-falls"]["rate_change"] == _approx((-0.75, -1.0, -0.5))
    f5 = ours["fig5-u12"]
    assert f5["rate_gain_pct"] == _approx((10.3125, 10.0, 10.625))
    assert f5["dnt_error_diff"] == _approx((0.2, 0.1, 0.3))
    assert ours["fig6-dnt-error"]["dnt_error_diff"] == _approx((-0.3, -0.4, -0.2))
    f2 = ours["fig2-mse"]
    assert f2["test_mse"] == [0.19, 0.08, 0.3]
    assert f2["bayes_floor"] == [0.18, 0.07, 0.31]
    assert f2["trajectory_mse"] == [0.2, 0.1, 0.35]

    # and the table as Markdown
    md = claims_markdown(table)
    assert md.startswith(
        "# Claims of Section V, checked\n\n2 seeds per setting (quick budget: not a result); "
        "code abc, abd, fig2v."
    )
    assert "**Stale**: 2 of the runs" in md
    assert (
        "| Fig. 6 | VDN keeps a smaller DNT error than IQL over the evaluation episode | "
        "VDN lower | VDN minus IQL -0.3 [-0.4, -0.2] | **reproduced** | the whole interval "
        "shows VDN lower |\n"
    ) in md
    assert md.count("**reproduced**") == 7 and md.count("**not comparable**") == 1


def test_claims_of_some_figures_only():
    runs = _runs("fig6", _fig6(FIG6["vdn"], FIG6["iql"]), version="v6", quick=False)
    # Fig. 2's data given but not asked for: no claim, but its code version is listed
    table = claims(2, False, runs, {}, {}, FIG2, ("fig6",))
    assert [c["id"] for c in table["claims"]] == ["fig6-dnt-error"]
    assert table["code_versions"] == ["fig2v", "v6"] and table["stale_runs"] == 0
    assert table["quick"] is False
    # Fig. 2 asked for but without data: no claim either
    table = claims(2, False, runs, {}, {}, None, ("fig2", "fig6"))
    assert [c["id"] for c in table["claims"]] == ["fig6-dnt-error"]
    assert table["code_versions"] == ["v6"]


def test_sweep_arrays_read_per_user_rates_and_leave_out_the_random_rule():
    rate, err = _fig4_data()
    runs = _runs("fig4", _sweep(rate, err))
    cfgs = figure_configs("fig4")
    base = {
        c.config_hash(): {
            "nearest": {"dnt_error": 0.1 * i, "sum_rate": 12.0 * (i + 1)},
            "random": {"dnt_error": 9.0, "sum_rate": 0.0},
            "threshold": {"dnt_error": 0.2 * i, "sum_rate": 24.0 * (i + 1)},
        }
        for i, c in enumerate(cfgs)
    }
    methods, baselines = sweep_arrays("fig4", 2, True, runs, {}, base)
    assert sorted(methods) == ["IQL", "VDN"] and sorted(baselines) == ["nearest", "threshold"]
    for label, algo in (("VDN", "vdn"), ("IQL", "iql")):
        assert sorted(methods[label]) == ["dnt_error", "rate"]
        # (seeds, configs); the stored sum rate is divided by the 12 users
        np.testing.assert_allclose(methods[label]["rate"], np.array(rate[algo]).T, rtol=1e-12)
        assert methods[label]["dnt_error"].tolist() == np.array(err[algo]).T.tolist()
    assert baselines["nearest"]["rate"].tolist() == _approx([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert baselines["threshold"]["dnt_error"].tolist() == _approx([0.2 * i for i in range(6)])
    assert sorted(baselines["nearest"]) == ["dnt_error", "rate"]
    # Fig. 5: each config has its own number of users
    runs = _runs("fig5", _sweep(FIG5_RATE, FIG5_ERR))
    base = {
        c.config_hash(): {"nearest": {"dnt_error": 0.0, "sum_rate": 60.0}}
        for c in figure_configs("fig5")
    }
    methods, baselines = sweep_arrays("fig5", 2, True, runs, {}, base)
    assert methods["IQL"]["rate"][:, 0].tolist() == _approx([15.0, 16.0])
    assert baselines["nearest"]["rate"].tolist() == _approx([60 / u for u in USER_VALUES])


# -- each figure's rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vdn", "iql", "verdict", "why", "text", "max_gain"),
    [
        # the gain [20%, 40%] contains 28.96%
        (FIG3["vdn"], FIG3["iql"], "reproduced", IN, "30% [20, 40]; VDN 13, IQL 10", 50.0),
        # VDN below IQL: final rewards [8, 8.5] against [10, 10]
        (
            [[8.0], [8.5]],
            [[10.0], [10.0]],
            "not reproduced",
            OPPOSITE,
            "-17.5% [-20, -15]; VDN 8.25, IQL 10",
            -17.5,
        ),
        # no significant effect: [9, 11] against [10, 10]
        (
            [[9.0], [11.0]],
            [[10.0], [10.0]],
            "not reproduced",
            ZERO,
            "0% [-10, 10]; VDN 10, IQL 10",
            0.0,
        ),
        # a small IQL mean (0.5) still gives a gain: [0.6, 0.8] against 0.5, 40% [20%, 60%]
        ([[0.6], [0.8]], [[0.5], [0.5]], "reproduced", IN, "40% [20, 60]; VDN 0.7, IQL 0.5", 40.0),
        # IQL's mean reward is 0: the gain is undefined, and so is every gain of the curves
        (
            [[0.0, 1.0], [0.0, 2.0]],
            [[0.0, 0.0], [0.0, 0.0]],
            "not comparable",
            "IQL's mean reward is 0: the gain is undefined",
            "n/a; VDN 1.5, IQL 0",
            None,
        ),
        # a mean of 1e-9 counts as 0 (but the curves' gains are defined)
        (
            [[1.0], [2.0]],
            [[1e-9], [1e-9]],
            "not comparable",
            "IQL's mean reward is 0: the gain is undefined",
            "n/a; VDN 1.5, IQL 1e-09",
            100 * (1.5 - 1e-9) / 1e-9,
        ),
    ],
)
@pytest.mark.filterwarnings("error")  # quietly: no division warnings
def test_fig3_gain_rule(vdn, iql, verdict, why, text, max_gain):
    table = claims(2, True, _runs("fig3", _fig3(vdn, iql)), {}, {}, None, ("fig3",))
    (c,) = table["claims"]
    assert (c["id"], c["verdict"], c["reason"], c["ours"]["text"]) == (
        "fig3-gain",
        verdict,
        why,
        text,
    )
    assert (c["ours"]["final_gain_pct"] is None) == (verdict == "not comparable")
    if max_gain is None:
        assert c["ours"]["max_over_evaluations_gain_pct"] is None
    else:
        assert c["ours"]["max_over_evaluations_gain_pct"] == pytest.approx(max_gain, abs=1e-9)
    assert table["code_versions"] == ["abc"] and table["stale_runs"] == 0


def test_fig3_claims_on_five_seeds():
    vdn = [[12.9], [12.8], [12.95], [12.85], [12.9]]
    iql = [[10.0], [9.95], [10.05], [10.0], [10.0]]
    table = claims(5, True, _runs("fig3", _fig3(vdn, iql), seeds=5), {}, {}, None, ("fig3",))
    (c,) = table["claims"]
    assert c["verdict"] == "reproduced" and c["reason"] == IN
    v, lo, hi = c["ours"]["final_gain_pct"]
    # every resample's gain lies between 100 (12.8 - 10.05) / 10.05 and 100 (12.95 - 9.95) / 9.95
    assert v == pytest.approx(28.8) and 27.36 < lo < 28.96 < hi < 30.16


@pytest.mark.parametrize(
    ("data", "verdict", "why", "falls", "falls_why"),
    [
        ({}, "reproduced", "both parts hold", "reproduced", "the whole interval shows a fall"),
        # the paper's 31.79% is outside [40%, 50%]
        (
            {"vdn_rate": (14.0, 15.0)},
            "not reproduced",
            f"rate: {OUTSIDE}; DNT error: VDN higher",
            "reproduced",
            "the whole interval shows a fall",
        ),
        # VDN's DNT error is lower: [0.1, 0.1] against [0.3, 0.5]
        (
            {"vdn_err": (0.1, 0.1), "iql_err": (0.3, 0.5)},
            "not reproduced",
            f"rate: {IN}; DNT error: {OPPOSITE}",
            "reproduced",
            "the whole interval shows a fall",
        ),
        # VDN's DNT error is higher, but not significantly: [0.2, 0.4] - [0.2, 0.2] = [0, 0.2]
        (
            {"vdn_err": (0.2, 0.4)},
            "not reproduced",
            f"rate: {IN}; DNT error: {ZERO}",
            "reproduced",
            "the whole interval shows a fall",
        ),
        # IQL's rate at 0.8 is 0: the gain is undefined, and the rate rises towards 0.99
        (
            {"iql_rate": (0.0, 0.0)},
            "not comparable",
            f"{UNDEFINED}; VDN higher",
            "not reproduced",
            "significant a rise: the opposite direction",
        ),
        # IQL's rate at 0.99 [9, 10] against [10, 10]: the change [-1, 0] touches 0
        (
            {"iql_rate_099": (9.0, 10.0)},
            "reproduced",
            "both parts hold",
            "not reproduced",
            NO_DIFF,
        ),
        # ... and a change [-0.5, 0.5] contains it
        (
            {"iql_rate_099": (9.5, 10.5)},
            "reproduced",
            "both parts hold",
            "not reproduced",
            NO_DIFF,
        ),
    ],
)
def test_fig4_rules(data, verdict, why, falls, falls_why):
    runs = _runs("fig4", _sweep(*_fig4_data(**data)))
    table = claims(2, True, runs, {}, _base("fig4"), None, ("fig4",))
    rate, trend = table["claims"]
    assert (rate["id"], rate["verdict"], rate["reason"]) == ("fig4-rate-eps0.8", verdict, why)
    assert (trend["id"], trend["verdict"], trend["reason"]) == (
        "fig4-iql-rate-falls",
        falls,
        falls_why,
    )


@pytest.mark.parametrize(
    ("change", "verdict", "why", "err_trend", "rate_trend"),
    [
        ({}, "reproduced", "both parts hold", "reproduced", "reproduced"),
        # the rate gain [10%, 10.6%] contains 10.15%; [12%, 13%] does not
        (
            {("rate", "vdn", 3): [11.2, 11.3]},
            "not reproduced",
            f"rate: {OUTSIDE}; DNT error: {IN}",
            "reproduced",
            "reproduced",
        ),
        # the DNT error difference [0.1, 0.3] contains 0.2, [-0.1, 0.1] does not
        (
            {("err", "vdn", 3): [0.1, 0.3]},
            "not reproduced",
            f"rate: {IN}; DNT error: {ZERO}",
            "not reproduced",
            "reproduced",
        ),
        # DNT error rises for VDN only: IQL's [0.05, 0.05] at U = 12 (and the difference at
        # U = 12, [0.25, 0.45], leaves out 0.2)
        (
            {("err", "iql", 3): [0.05, 0.05]},
            "not reproduced",
            f"rate: {IN}; DNT error: {OUTSIDE}",
            "not reproduced",
            "reproduced",
        ),
        # (the two trends are separate claims: each case below breaks both, in different ways)
        # the DNT error rises for IQL only: VDN's [0.3, 0.5] at both ends; the rate falls for IQL
        # only: VDN's [11.0625, 11.0625] at U = 6, a change [-0.0625, 0] that touches 0
        (
            {("err", "vdn", 0): [0.3, 0.5], ("rate", "vdn", 0): [11.0625, 11.0625]},
            "reproduced",
            "both parts hold",
            "not reproduced",
            "not reproduced",
        ),
        # the DNT error rises for VDN by an interval [0, 0.2] that touches 0; the rate falls for
        # VDN only: IQL's [10, 10] at both ends
        (
            {("err", "vdn", 0): [0.3, 0.3], ("rate", "iql", 0): [10.0, 10.0]},
            "reproduced",
            "both parts hold",
            "not reproduced",
            "not reproduced",
        ),
    ],
)
def test_fig5_rules(change, verdict, why, err_trend, rate_trend):
    rate = {k: [list(p) for p in v] for k, v in FIG5_RATE.items()}
    err = {k: [list(p) for p in v] for k, v in FIG5_ERR.items()}
    for (what, algo, i), pair in change.items():
        (rate if what == "rate" else err)[algo][i] = pair
    table = claims(2, True, _runs("fig5", _sweep(rate, err)), {}, _base("fig5"), None, ("fig5",))
    u12, e, r = table["claims"]
    assert (u12["id"], u12["verdict"], u12["reason"]) == ("fig5-u12", verdict, why)
    assert (e["id"], e["verdict"]) == ("fig5-dnt_error-trend", err_trend)
    assert (r["id"], r["verdict"]) == ("fig5-rate-trend", rate_trend)
    for c, holds in ((e, err_trend), (r, rate_trend)):
        reason = "significant for both methods" if holds == "reproduced" else None
        assert c["reason"] == (reason or "not significant for both")


@pytest.mark.parametrize(
    ("vdn", "verdict", "why", "text"),
    [
        (FIG6["vdn"], "reproduced", "the whole interval shows VDN lower", "-0.3 [-0.4, -0.2]"),
        # episode means [0.5, 0.3] against [0.5, 0.6]: [-0.3, 0] touches 0
        ([[0.5, 0.5], [0.3, 0.3]], "not reproduced", NO_DIFF, "-0.15 [-0.3, 0]"),
        # [0.9, 0.8] against [0.5, 0.6]: VDN higher
        (
            [[0.9, 0.9], [0.8, 0.8]],
            "not reproduced",
            "significant VDN higher: the opposite direction",
            "0.3 [0.2, 0.4]",
        ),
    ],
)
def test_fig6_rule(vdn, verdict, why, text):
    table = claims(2, True, _runs("fig6", _fig6(vdn, FIG6["iql"])), {}, {}, None, ("fig6",))
    (c,) = table["claims"]
    assert (c["id"], c["verdict"], c["reason"]) == ("fig6-dnt-error", verdict, why)
    assert c["ours"]["text"] == f"VDN minus IQL {text}"


# -- the Markdown table ---------------------------------------------------------------------------


def _row(cid, verdict):
    return {
        "id": cid,
        "figure": "Fig. 9",
        "claim": f"claim {cid}",
        "paper": "1%",
        "ours": {"text": "2% [1, 3]"},
        "verdict": verdict,
        "reason": "why not",
        "how": f"how {cid}",
    }


def test_claims_markdown():
    table = {
        "seeds": 5,
        "quick": False,
        "code_versions": ["aaa", "bbb"],
        "stale_runs": 0,
        "claims": [_row("a", "reproduced"), _row("b", "not reproduced")],
    }
    assert claims_markdown(table) == (
        "# Claims of Section V, checked\n"
        "\n"
        "5 seeds per setting; code aaa, bbb. Intervals are 95% bootstrap intervals over seeds.\n"
        "\n"
        "| figure | claim | paper | ours | verdict | why |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| Fig. 9 | claim a | 1% | 2% [1, 3] | **reproduced** | why not |\n"
        "| Fig. 9 | claim b | 1% | 2% [1, 3] | **not reproduced** | why not |\n"
        "\n"
        "How each number was computed:\n"
        "\n"
        "- `a`: how a.\n"
        "- `b`: how b.\n"
    )
    table.update(quick=True, stale_runs=3, claims=[_row("c", "not comparable")])
    assert claims_markdown(table) == (
        "# Claims of Section V, checked\n"
        "\n"
        "5 seeds per setting (quick budget: not a result); code aaa, bbb. Intervals are 95% "
        "bootstrap intervals over seeds.\n"
        "\n"
        "**Stale**: 3 of the runs behind this table were made by older code than the current "
        "one (reused with `--allow-stale`); rerun `python -m dnt reproduce` to retrain them.\n"
        "\n"
        "| figure | claim | paper | ours | verdict | why |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        "| Fig. 9 | claim c | 1% | 2% [1, 3] | **not comparable** | why not |\n"
        "\n"
        "How each number was computed:\n"
        "\n"
        "- `c`: how c.\n"
    )
