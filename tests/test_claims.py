"""The claims table (:mod:`dnt.repro.claims`) on hand-made stores whose verdicts are known.

Every expected interval is computed here independently of :mod:`dnt.repro.intervals`: scipy's
t interval for means, scipy's Welch interval for differences, and Fieller's interval for gains
as the roots of its defining equation found by a root finder. Each claim is checked three ways:
its row in a hand-made store of every figure; flipping the sign of its effect flips the direction
verdict (reproduced <-> opposite, and no effect is inconclusive); and each quantity its number
depends on flips the magnitude verdict between judged and "not comparable". The probability of
improvement is replaced by a recording stand-in (rliable's bootstrap takes seconds per call)
except in the test of the full store, which runs it with fewer resamples. ``make mutation``
measures how many wrong versions of :mod:`dnt.repro.claims` these tests catch (see the README).
"""

import json
import math

import numpy as np
import pytest
from references import fieller_ref
from scipy import stats

from dnt.repro import claims as claims_module
from dnt.repro.claims import _fmt, claims, claims_markdown, sweep_arrays
from dnt.repro.intervals import Estimate
from dnt.repro.intervals import probability_of_improvement as real_poi
from dnt.repro.specs import EPS_VALUES, USER_VALUES, figure_cells, figure_configs
from dnt.repro.verdicts import UNSTATED

SEEDS = 3


def _approx(v, rel=1e-9):
    return pytest.approx(v, rel=rel, abs=1e-12)


# -- independent references ---------------------------------------------------------------------


def _t_ref(x):
    """Mean with scipy's Student-t interval."""
    ci = stats.ttest_1samp(x, 0.0).confidence_interval()
    return float(np.mean(x)), float(ci.low), float(ci.high)


def _welch_ref(a, b):
    """mean a - mean b with scipy's Welch interval, its standard error and degrees of freedom."""
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval()
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    return float(np.mean(a) - np.mean(b)), float(ci.low), float(ci.high), se, float(res.df)


def _fieller_ref(a, b):
    """Fieller's gain with its interval, standard error and degrees of freedom."""
    return fieller_ref(a, b)[:5]


def _detectable(se, df):
    return (stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * se


def _text(v, lo, hi, unit=""):
    return f"{v:.3g}{unit} [{lo:.3g}, {hi:.3g}]"


def _check_estimate(est, kind, a, b):
    """The row's estimate against the reference interval of ``kind`` ("gain" or "diff")."""
    v, lo, hi, se, df = (_fieller_ref if kind == "gain" else _welch_ref)(a, b)
    assert est["method"] == ("Fieller" if kind == "gain" else "Welch")
    got = [est[k] for k in ("value", "low", "high", "se", "df", "detectable")]
    assert got == _approx([v, lo, hi, se, df, _detectable(se, df)], rel=1e-7)
    return v, lo, hi


# -- the probability of improvement, recorded -----------------------------------------------------


def _u(x, y):
    """P(X > Y): the Mann-Whitney U statistic / (n_x n_y), from scipy."""
    return float(stats.mannwhitneyu(x, y).statistic) / (len(x) * len(y))


@pytest.fixture(autouse=True)
def poi(monkeypatch):
    """A fast stand-in for the probability of improvement that records its arguments."""
    calls = []

    def fake(x, y, *args, **kwargs):
        calls.append((np.asarray(x, float), np.asarray(y, float), args, kwargs))
        return Estimate(_u(x, y), 0.0, 1.0, math.nan, math.nan, "stand-in")

    monkeypatch.setattr(claims_module, "probability_of_improvement", fake)
    return calls


# -- hand-made stores -----------------------------------------------------------------------------


def _runs(fig, metrics, seeds=SEEDS, version="abc", runs=None, quick=True):
    """Add a figure's runs to ``runs``: ``metrics(algo, i, seed, cfg)`` are the metrics of the
    cell with the figure's ``i``-th config (merged into those of a cell another figure shares)."""
    runs = {} if runs is None else runs
    hashes = [c.config_hash() for c in figure_configs(fig)]
    for c in figure_cells(fig, seeds, quick):
        run = runs.setdefault(c.filename(), {"code_version": version, "metrics": {}})
        run["metrics"].update(metrics(c.algo, hashes.index(c.cfg.config_hash()), c.seed, c.cfg))
    return runs


def _base(*figs):
    """Baselines of Figs. 4 and 5 (the claims read only the learners')."""
    rule = {"nearest": {"dnt_error": 0.0, "sum_rate": 1.0}}
    return {c.config_hash(): rule for fig in figs for c in figure_configs(fig)}


def _sweep(rate, err):
    """Figs. 4 and 5: per-user rate and DNT error, ``{algo: [[value per seed] per config]}``."""

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
        return {"final": {"reward": curve[-1]}, "curve": [{"eval_reward": r} for r in curve]}

    return metrics


def _fig6(vdn, iql):
    """Fig. 6: per seed, the mean DNT error over the evaluation episodes."""

    def metrics(algo, i, seed, cfg):
        return {"final": {"dnt_error": (vdn if algo == "vdn" else iql)[seed], "sum_rate": 1.0}}

    return metrics


def _col(values, i, seeds, other):
    """A per-config list of per-seed values: ``seeds`` at index ``i``, ``other`` elsewhere."""
    return [list(seeds) if j == i else list(other) for j in range(len(values))]


I8, I99 = EPS_VALUES.index(0.8), EPS_VALUES.index(0.99)
U12 = USER_VALUES.index(12)


def _fig4_data(
    vdn_rate=(13.0, 13.2, 13.4),
    iql_rate=(10.0, 10.1, 9.9),
    iql_rate_099=(9.0, 9.5, 9.25),
    vdn_err=(0.5, 0.6, 0.7),
    iql_err=(0.2, 0.25, 0.15),
):
    """Per-user rates and DNT errors at eps = 0.8 (and IQL's rate at 0.99); other eps values get
    numbers that would change every verdict if they were read instead."""
    iql = _col(EPS_VALUES, I8, iql_rate, (7.0, 7.5, 7.0))
    iql[I99] = list(iql_rate_099)
    rate = {"vdn": _col(EPS_VALUES, I8, vdn_rate, (5.0, 5.5, 5.0)), "iql": iql}
    err = {
        "vdn": _col(EPS_VALUES, I8, vdn_err, (0.9, 0.95, 0.9)),
        "iql": _col(EPS_VALUES, I8, iql_err, (0.1, 0.15, 0.1)),
    }
    return rate, err


# Fig. 5, per number of users 6, 8, 10, 12; the middle values would break every trend if they
# were taken for an end point.
FIG5_RATE = {
    "vdn": [[11.0, 11.5, 10.5], [5.0, 5.5, 5.0], [30.0, 30.5, 30.0], [11.0, 11.1, 11.2]],
    "iql": [[15.0, 16.0, 15.5], [4.0, 4.5, 4.0], [25.0, 25.5, 25.0], [10.0, 10.05, 9.95]],
}
FIG5_ERR = {
    "vdn": [[0.1, 0.2, 0.15], [0.6, 0.65, 0.6], [0.1, 0.15, 0.1], [0.38, 0.42, 0.40]],
    "iql": [[0.05, 0.1, 0.075], [0.9, 0.95, 0.9], [0.0, 0.05, 0.0], [0.19, 0.2, 0.21]],
}


def _fig5_data(changes=None):
    """Copies of FIG5_RATE and FIG5_ERR with ``{("rate" | "err", algo, config): seeds}``."""
    rate = {k: [list(p) for p in v] for k, v in FIG5_RATE.items()}
    err = {k: [list(p) for p in v] for k, v in FIG5_ERR.items()}
    for (what, algo, i), values in (changes or {}).items():
        (rate if what == "rate" else err)[algo][i] = list(values)
    return rate, err


FIG3 = {
    "vdn": [[5.0, 9.0, 12.0], [7.0, 11.0, 13.0], [6.0, 10.0, 14.0]],
    "iql": [[4.0, 8.0, 10.0], [4.0, 8.0, 10.5], [4.0, 8.0, 9.5]],
}
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
ALL = ("fig2", "fig3", "fig4", "fig5", "fig6")


def _full_store():
    """Every figure's runs (Fig. 6 reads Fig. 5's runs at 12 users), two of them stale."""
    runs = _runs("fig3", _fig3(FIG3["vdn"], FIG3["iql"]))
    _runs("fig4", _sweep(*_fig4_data()), runs=runs)
    _runs("fig5", _sweep(*_fig5_data()), runs=runs)
    for name in sorted(runs)[:2]:  # made by other code, reused with --allow-stale
        runs[name].update(code_version="abd", stale=True)
    return runs


# -- what each claim compares -------------------------------------------------------------------

REWARD_DEPS = ("penalty", "update size", "move probabilities", "step length", "training")
DNT_DEPS = ("move probabilities", "step length", "update size", "training")
FIG2_DEPS = ("move probabilities", "step length", "twin training")

# id -> (figure, claimed sign, "gain" or "diff", paper value, dependencies, PoI orientation:
# +1 for P(a > b), -1 for P(a < b), None for no PoI)
SPEC = {
    "fig3-gain": ("fig3", 1, "gain", 28.96, REWARD_DEPS, 1),
    "fig4-rate-eps0.8": ("fig4", 1, "gain", 31.79, REWARD_DEPS, 1),
    "fig4-dnt-eps0.8": ("fig4", 1, "diff", None, (), 1),
    "fig4-iql-rate-falls": ("fig4", -1, "diff", None, (), None),
    "fig5-u12-rate": ("fig5", 1, "gain", 10.15, REWARD_DEPS, 1),
    "fig5-u12-dnt": ("fig5", 1, "diff", 0.2, DNT_DEPS, 1),
    "fig5-dnt_error-trend-vdn": ("fig5", 1, "diff", None, (), None),
    "fig5-dnt_error-trend-iql": ("fig5", 1, "diff", None, (), None),
    "fig5-rate-trend-vdn": ("fig5", -1, "diff", None, (), None),
    "fig5-rate-trend-iql": ("fig5", -1, "diff", None, (), None),
    "fig6-dnt-error": ("fig6", -1, "diff", None, (), -1),
}
# where each claim's two samples a and b (a minus or over b) live in Fig. 4's and Fig. 5's data
FIG4_SLOTS = {
    "fig4-rate-eps0.8": ("vdn_rate", "iql_rate"),
    "fig4-dnt-eps0.8": ("vdn_err", "iql_err"),
    "fig4-iql-rate-falls": ("iql_rate_099", "iql_rate"),
}
FIG5_SLOTS = {
    "fig5-u12-rate": (("rate", "vdn", U12), ("rate", "iql", U12)),
    "fig5-u12-dnt": (("err", "vdn", U12), ("err", "iql", U12)),
    "fig5-dnt_error-trend-vdn": (("err", "vdn", U12), ("err", "vdn", 0)),
    "fig5-dnt_error-trend-iql": (("err", "iql", U12), ("err", "iql", 0)),
    "fig5-rate-trend-vdn": (("rate", "vdn", U12), ("rate", "vdn", 0)),
    "fig5-rate-trend-iql": (("rate", "iql", U12), ("rate", "iql", 0)),
}


def _claim(cid, a, b, unstated=UNSTATED):
    """The row of claim ``cid`` from a store of its figure whose compared samples are a and b."""
    fig = SPEC[cid][0]
    base = {}
    if fig == "fig3":
        runs = _runs("fig3", _fig3([[x / 2, x] for x in a], [[x / 2, x] for x in b]))
    elif fig == "fig6":
        runs = _runs("fig6", _fig6(a, b))
    elif fig == "fig4":
        ka, kb = FIG4_SLOTS[cid]
        runs, base = _runs("fig4", _sweep(*_fig4_data(**{ka: a, kb: b}))), _base("fig4")
    else:
        sa, sb = FIG5_SLOTS[cid]
        runs, base = _runs("fig5", _sweep(*_fig5_data({sa: a, sb: b}))), _base("fig5")
    table = claims(SEEDS, True, runs, {}, base, None, (fig,), unstated=unstated)
    rows = {c["id"]: c for c in table["claims"]}
    return rows[cid]


NOISE_A, NOISE_B = (-0.1, 0.0, 0.1), (0.05, -0.05, 0.0)


def _pair(effect, level=10.0, step=2.0):
    """Samples a and b of 3 seeds whose means differ by ``effect * step``."""
    return [level + effect * step + n for n in NOISE_A], [level + n for n in NOISE_B]


# -- every claim of a hand-made store -----------------------------------------------------------

FIG4_HOW = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.8, N = 9"
FIG5_HOW = "per-user data rate and DNT error of the final greedy evaluation, eps = 0.25, N = 12"
# (id, figure, claim, paper, direction, magnitude, how)
EXPECTED_ROWS = [
    (
        "fig3-gain",
        "Fig. 3",
        "VDN improves the reward (the weighted sum of eq. 16) over IQL by up to 28.96%",
        "+28.96%",
        "reproduced",
        "not comparable",
        "gain = 100 (R_VDN - R_IQL) / |R_IQL| of the final greedy evaluation reward per slot "
        "(eps = 0.3, N = 12)",
    ),
    (
        "fig4-rate-eps0.8",
        "Fig. 4",
        "at eps = 0.8 VDN's average data rate is 31.79% higher than IQL's",
        "+31.79%",
        "reproduced",
        "not comparable",
        FIG4_HOW + "; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
    ),
    (
        "fig4-dnt-eps0.8",
        "Fig. 4",
        "at eps = 0.8 VDN's DNT error is higher than IQL's",
        "VDN higher",
        "reproduced",
        "none claimed",
        FIG4_HOW + "; VDN minus IQL",
    ),
    (
        "fig4-iql-rate-falls",
        "Fig. 4",
        "IQL's average data rate falls as eps goes from 0.8 to 0.99",
        "falls",
        "reproduced",
        "none claimed",
        "IQL per-user rate at eps 0.99 minus at 0.8 (separate runs)",
    ),
    (
        "fig5-u12-rate",
        "Fig. 5",
        "with 12 users VDN's data rate is 10.15% higher than IQL's",
        "+10.15%",
        "reproduced",
        "not comparable",
        FIG5_HOW + ", U = 12; gain = 100 (rate_VDN - rate_IQL) / rate_IQL",
    ),
    (
        "fig5-u12-dnt",
        "Fig. 5",
        "with 12 users VDN's DNT error is 0.2 higher than IQL's",
        "+0.2",
        "reproduced",
        "not comparable",
        FIG5_HOW + ", U = 12; VDN minus IQL",
    ),
    (
        "fig5-dnt_error-trend-vdn",
        "Fig. 5",
        "VDN's DNT error rises as the number of users grows",
        "rises",
        "reproduced",
        "none claimed",
        "VDN's per-user DNT error at U = 12 minus at U = 6 (separate runs)",
    ),
    (
        "fig5-dnt_error-trend-iql",
        "Fig. 5",
        "IQL's DNT error rises as the number of users grows",
        "rises",
        "reproduced",
        "none claimed",
        "IQL's per-user DNT error at U = 12 minus at U = 6 (separate runs)",
    ),
    (
        "fig5-rate-trend-vdn",
        "Fig. 5",
        "VDN's data rate falls as the number of users grows",
        "falls",
        # [11, 11.1, 11.2] against [11, 11.5, 10.5]: a change of 0.1 +- 0.9
        "inconclusive",
        "none claimed",
        "VDN's per-user data rate at U = 12 minus at U = 6 (separate runs)",
    ),
    (
        "fig5-rate-trend-iql",
        "Fig. 5",
        "IQL's data rate falls as the number of users grows",
        "falls",
        "reproduced",
        "none claimed",
        "IQL's per-user data rate at U = 12 minus at U = 6 (separate runs)",
    ),
    (
        "fig6-dnt-error",
        "Fig. 6",
        "VDN keeps a smaller DNT error than IQL over the evaluation episodes",
        "VDN lower",
        # the runs of fig5-u12-dnt: VDN's error is higher
        "opposite",
        "none claimed",
        "mean DNT error per user over every slot of every evaluation episode, eps = 0.25, "
        "N = 12, U = 12; VDN minus IQL",
    ),
    (
        "fig2-mse",
        "Fig. 2",
        "the GRU's positioning MSEs of users 2, 4 and 7 are 0.188, 0.075 and 0.320",
        "0.188 / 0.075 / 0.320",
        "none claimed",
        "not comparable",
        "one-step MSE per user over the test trajectories, normalised as eq. (14); one trained "
        "twin, no interval over seeds",
    ),
]
KEYS = ("id", "figure", "claim", "paper", "direction", "magnitude", "how")


# the labels of each claim's two samples a and b in its row's "values"
LABELS = {
    "fig4-iql-rate-falls": ("eps 0.99", "eps 0.8"),
    **{
        f"fig5-{k}-trend-{m}": ("U = 12", "U = 6")
        for k in ("dnt_error", "rate")
        for m in ("vdn", "iql")
    },
}


def _check_values(c, a, b):
    """The row lists each sample's per-seed values, a's first, and counts them."""
    la, lb = LABELS.get(c["id"], ("VDN", "IQL"))
    assert list(c["values"]) == [la, lb]
    assert c["values"][la] == _approx(list(a)) and c["values"][lb] == _approx(list(b))
    assert all(type(x) is float for x in c["values"][la] + c["values"][lb])  # JSON-ready
    assert c["seeds_per_method"] == [len(a), len(b)]


def _samples(cid):
    """The two compared samples of ``cid`` in the full store."""
    if cid == "fig3-gain":
        return [c[-1] for c in FIG3["vdn"]], [c[-1] for c in FIG3["iql"]]
    if cid in FIG4_SLOTS:
        rate, err = _fig4_data()
        where = {
            "vdn_rate": rate["vdn"][I8],
            "iql_rate": rate["iql"][I8],
            "iql_rate_099": rate["iql"][I99],
            "vdn_err": err["vdn"][I8],
            "iql_err": err["iql"][I8],
        }
        return tuple(where[k] for k in FIG4_SLOTS[cid])
    if cid == "fig6-dnt-error":
        return FIG5_ERR["vdn"][U12], FIG5_ERR["iql"][U12]
    data = {"rate": FIG5_RATE, "err": FIG5_ERR}
    return tuple(data[w][algo][i] for w, algo, i in FIG5_SLOTS[cid])


def test_every_claim_of_a_hand_made_store(monkeypatch):
    # the real probability of improvement, with fewer resamples
    calls = []

    def fewer(x, y):
        calls.append((list(x), list(y)))
        return real_poi(x, y, reps=100)

    monkeypatch.setattr(claims_module, "probability_of_improvement", fewer)
    table = claims(SEEDS, True, _full_store(), {}, _base("fig4", "fig5"), FIG2, ALL)
    assert table["seeds"] == SEEDS and table["quick"] is True
    assert table["reading"] == "at_most_once"
    assert table["code_versions"] == ["abc", "abd", "fig2v"]
    assert table["stale_runs"] == 2
    rows = table["claims"]
    assert [c["id"] for c in rows] == [r[0] for r in EXPECTED_ROWS]
    for c, row in zip(rows, EXPECTED_ROWS, strict=True):
        assert {k: c[k] for k in KEYS} == dict(zip(KEYS, row, strict=True))
    assert len(calls) == 6  # one per VDN-vs-IQL comparison

    # the numbers behind each row, against the references
    by_id = {c["id"]: c for c in rows}
    for cid, (_, sign, kind, paper, deps, orient) in SPEC.items():
        c = by_id[cid]
        a, b = _samples(cid)
        v, lo, hi = _check_estimate(c["estimate"], kind, a, b)
        assert c["text"].startswith(_text(v, lo, hi, "%" if kind == "gain" else ""))
        assert (c["sign"], c["paper_value"], c["depends_on"]) == (sign, paper, list(deps))
        assert c["detectable"] == c["estimate"]["detectable"]
        assert c["unstated"] == list(deps)
        if orient is None:
            assert c["poi"] is None
        else:
            assert c["poi"]["method"] == "percentile bootstrap"
            value = _u(a, b) if orient > 0 else _u(b, a)
            assert c["poi"]["value"] == _approx(value)
            assert c["poi"]["low"] <= value <= c["poi"]["high"]
        _check_values(c, a, b)
    for cid in ("fig3-gain", "fig4-rate-eps0.8", "fig5-u12-rate", "fig5-u12-dnt"):
        assert by_id[cid]["magnitude_why"] == (
            "depends on " + ", ".join(SPEC[cid][4]) + ", which the paper does not state"
        )

    # Fig. 3: the gain, each method's mean and the largest gain of the mean curves
    f3 = by_id["fig3-gain"]
    vdn, iql = _samples("fig3-gain")
    assert f3["text"] == (
        f"{_text(*_fieller_ref(vdn, iql)[:3], '%')}; VDN {_text(*_t_ref(vdn))}, "
        f"IQL {_text(*_t_ref(iql))}"
    )
    assert f3["text"].startswith("30% [")  # 13 against 10
    assert [f3["vdn"][k] for k in ("value", "low", "high")] == _approx(list(_t_ref(vdn)))
    assert [f3["iql"][k] for k in ("value", "low", "high")] == _approx(list(_t_ref(iql)))
    assert f3["vdn"]["method"] == "Student-t" and f3["vdn"]["df"] == SEEDS - 1
    # mean curves [6, 10, 13] and [4, 8, 10]: gains 50%, 25%, 30%
    assert f3["max_over_evaluations_gain_pct"] == pytest.approx(50.0)
    # hand-worked values
    assert by_id["fig4-rate-eps0.8"]["estimate"]["value"] == pytest.approx(32.0)
    assert by_id["fig4-dnt-eps0.8"]["estimate"]["value"] == pytest.approx(0.4)
    assert by_id["fig4-iql-rate-falls"]["estimate"]["value"] == pytest.approx(-0.75)
    assert by_id["fig5-u12-rate"]["estimate"]["value"] == pytest.approx(11.0)
    assert by_id["fig5-u12-dnt"]["estimate"]["value"] == pytest.approx(0.2)
    assert by_id["fig5-rate-trend-iql"]["estimate"]["value"] == pytest.approx(-5.5)
    # the notes tie Figs. 5 and 6 together
    assert by_id["fig5-u12-dnt"]["note"] == (
        "Fig. 6 claims the opposite order at the same settings (fig6-dnt-error)"
    )
    assert by_id["fig6-dnt-error"]["note"] == (
        "the same runs and measurement as fig5-u12-dnt, whose claim is the opposite order: "
        "one measurement judges both"
    )

    # Fig. 2: numbers, no interval
    f2 = by_id["fig2-mse"]
    assert f2["text"] == "0.190 / 0.080 / 0.300 (Bayes floor 0.180 / 0.070 / 0.310)"
    assert f2["estimate"] is None and f2["poi"] is None and f2["detectable"] is None
    assert f2["values"] == {} and f2["seeds_per_method"] == []
    assert (f2["paper_value"], f2["depends_on"]) == (0.188, list(FIG2_DEPS))
    assert f2["test_mse"] == [0.19, 0.08, 0.3]
    assert f2["bayes_floor"] == [0.18, 0.07, 0.31]
    assert f2["trajectory_mse"] == [0.2, 0.1, 0.35]
    assert f2["magnitude_why"] == (
        "depends on move probabilities, step length, twin training, which the paper does not state"
    )

    # and the table as Markdown
    md = claims_markdown(table)
    assert md.startswith(
        "# Claims of Section V, checked\n\n3 seeds per setting (quick budget: not a result); "
        "eq. (16) read as: no user served twice; code abc, abd, fig2v. Intervals are 95%: "
        "Student-t for means, Welch for differences, Fieller for percentage gains"
    )
    assert "**Stale**: 2 of the runs" in md
    f6 = by_id["fig6-dnt-error"]
    assert (
        "| Fig. 6 | VDN keeps a smaller DNT error than IQL over the evaluation episodes | "
        f"VDN lower | {f6['text']} | **opposite** | {f6['detectable']:.3g} | none claimed | "
        f"{f6['poi']['value']:.2f} [{f6['poi']['low']:.2f}, {f6['poi']['high']:.2f}] |\n"
    ) in md
    assert md.count("**reproduced**") == 9 and md.count("**inconclusive**") == 1
    assert md.count("**opposite**") == 1 and md.count("**none claimed**") == 1
    for cid, *_ in EXPECTED_ROWS:
        assert f"- `{cid}`: " in md


def test_with_nothing_unstated_every_paper_number_of_the_store_is_judged():
    """With nothing unstated every paper number in the full store is judged, and lies in our
    interval (the data were made so)."""
    table = claims(SEEDS, True, _full_store(), {}, _base("fig4", "fig5"), FIG2, ALL, unstated={})
    got = {c["id"]: (c["magnitude"], c["unstated"]) for c in table["claims"]}
    for cid in ("fig3-gain", "fig4-rate-eps0.8", "fig5-u12-rate", "fig5-u12-dnt"):
        assert got[cid] == ("reproduced", [])
    assert got["fig2-mse"] == ("not comparable", [])  # one twin: no interval to judge by
    assert got["fig4-dnt-eps0.8"] == ("none claimed", [])
    json.dumps(table, allow_nan=False)  # every number is finite: valid JSON
    # the directions do not depend on what is unstated
    default = claims(SEEDS, True, _full_store(), {}, _base("fig4", "fig5"), FIG2, ALL)
    assert [c["direction"] for c in table["claims"]] == [c["direction"] for c in default["claims"]]


# -- each claim's direction ---------------------------------------------------------------------


def _poi_pair(a, b, orient):
    """The samples the probability of improvement should get: VDN's first, larger is better."""
    sign = 1.0 if orient > 0 else -1.0
    return [sign * x for x in a], [sign * x for x in b]


@pytest.mark.parametrize("effect", [1, -1, 0], ids=["positive", "negative", "none"])
@pytest.mark.parametrize("cid", list(SPEC))
def test_flipping_the_effect_flips_the_direction(cid, effect, poi):
    _, sign, kind, paper, deps, orient = SPEC[cid]
    a, b = _pair(effect)
    c = _claim(cid, a, b)
    expected = {sign: "reproduced", -sign: "opposite", 0: "inconclusive"}[effect]
    why = {
        "reproduced": "the whole interval lies on the claimed side of 0",
        "opposite": "the whole interval lies on the other side of 0",
        "inconclusive": "the interval contains 0",
    }[expected]
    assert (c["direction"], c["direction_why"]) == (expected, why)
    v, *_ = _check_estimate(c["estimate"], kind, a, b)
    _check_values(c, a, b)
    assert v == pytest.approx(20.0 * effect if kind == "gain" else 2.0 * effect, abs=1e-9)
    assert (c["sign"], c["paper_value"], c["depends_on"]) == (sign, paper, list(deps))
    assert c["magnitude"] == ("none claimed" if paper is None else "not comparable")
    # the probability that VDN is better, oriented to the claimed direction
    if orient is None:
        assert c["poi"] is None
    else:
        want_x, want_y = _poi_pair(a, b, orient)
        (_, y, args, kwargs) = next(call for call in poi if np.allclose(call[0], want_x))
        np.testing.assert_allclose(y, want_y, rtol=1e-12)
        assert (args, kwargs) == ((), {})  # the default seed and resamples
        better = effect * orient  # +1: VDN better in the claimed sense on every seed
        assert c["poi"]["value"] == {1: 1.0, -1: 0.0, 0: 0.5}[better]
        assert c["poi"]["value"] == _approx(_u(a, b) if orient > 0 else _u(b, a))


def test_fig3_gain_over_a_negative_reward_is_over_its_size():
    # VDN -7 against IQL -10: 30% better
    a, b = [-7.1, -7.0, -6.9], [-10.05, -9.95, -10.0]
    c = _claim("fig3-gain", a, b)
    v, lo, _ = _check_estimate(c["estimate"], "gain", a, b)
    assert v == pytest.approx(30.0) and lo > 0 and c["direction"] == "reproduced"


@pytest.mark.filterwarnings("error")  # quietly: no division warnings
def test_fig3_gain_over_a_zero_reward_is_unbounded():
    # IQL's final rewards average 0 (and its curve is 0 at every evaluation)
    vdn, iql = [[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]], [[0.0, -1.0], [0.0, 1.0], [0.0, 0.0]]
    table = claims(SEEDS, True, _runs("fig3", _fig3(vdn, iql)), {}, {}, None, ("fig3",))
    (c,) = table["claims"]
    # JSON-safe: the undefined gain and the unbounded ends are stored as None
    est = c["estimate"]
    assert [est[k] for k in ("value", "low", "high", "se", "df", "detectable")] == [None] * 6
    assert (c["direction"], c["direction_why"]) == ("inconclusive", "the interval is unbounded")
    assert c["detectable"] is None  # nothing is detectable, and JSON has no inf
    assert c["text"] == f"nan% [-inf, inf]; VDN {_text(*_t_ref([1, 2, 3]))}, IQL " + _text(
        *_t_ref([-1, 1, 0])
    )
    assert c["max_over_evaluations_gain_pct"] is None  # no evaluation has a defined gain


def test_fig3_largest_gain_skips_undefined_evaluations():
    # mean curves [1, 10, 13] against [0, 8, 10]: the first gain is undefined; 25% and 30%
    vdn = [[1.0, 10.0, 12.0], [1.0, 10.0, 13.0], [1.0, 10.0, 14.0]]
    iql = [[0.0, 8.0, 10.0], [0.0, 8.0, 10.5], [0.0, 8.0, 9.5]]
    table = claims(SEEDS, True, _runs("fig3", _fig3(vdn, iql)), {}, {}, None, ("fig3",))
    (c,) = table["claims"]
    assert c["max_over_evaluations_gain_pct"] == pytest.approx(30.0)


def test_an_unbounded_row_is_json_safe():
    vdn, iql = [[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]], [[0.0, -1.0], [0.0, 1.0], [0.0, 0.0]]
    table = claims(SEEDS, True, _runs("fig3", _fig3(vdn, iql)), {}, {}, None, ("fig3",))
    json.dumps(table, allow_nan=False)


# -- each claim's magnitude ---------------------------------------------------------------------

PAPER_CLAIMS = [cid for cid, spec in SPEC.items() if spec[3] is not None]


def _at(cid, gain_or_diff):
    """Samples a and b of ``cid`` with the given gain (%) or difference of means."""
    kind = SPEC[cid][2]
    b = [10.0 + n for n in NOISE_B]
    shift = 10.0 * gain_or_diff / 100 if kind == "gain" else gain_or_diff
    return [10.0 + shift + n for n in NOISE_A], b


@pytest.mark.parametrize("cid", PAPER_CLAIMS)
def test_each_dependency_flips_the_magnitude(cid):
    _, _, kind, paper, deps, _ = SPEC[cid]
    near = _at(cid, paper)  # our value is the paper's
    far = _at(cid, paper + (15.0 if kind == "gain" else 1.0))
    ref = _fieller_ref if kind == "gain" else _welch_ref
    assert ref(*near)[1] <= paper <= ref(*near)[2] and not ref(*far)[1] <= paper <= ref(*far)[2]
    # nothing unstated: the magnitude is judged
    c = _claim(cid, *near, unstated={})
    assert (c["magnitude"], c["magnitude_why"], c["unstated"]) == (
        "reproduced",
        "the paper's value lies in our interval",
        [],
    )
    c = _claim(cid, *far, unstated={})
    assert (c["magnitude"], c["magnitude_why"]) == (
        "not reproduced",
        "the paper's value lies outside our interval",
    )
    assert c["direction"] == "reproduced"
    # one dependency unstated: not comparable, naming it, whatever our value
    for d in deps:
        for data in (near, far):
            c = _claim(cid, *data, unstated={d: UNSTATED[d]})
            assert (c["magnitude"], c["magnitude_why"], c["unstated"]) == (
                "not comparable",
                f"depends on {d}, which the paper does not state",
                [d],
            )
    # a value the claim does not depend on changes nothing
    for other in sorted(set(UNSTATED) - set(deps)):
        assert _claim(cid, *near, unstated={other: UNSTATED[other]})["magnitude"] == "reproduced"
    # by default every dependency is unstated
    c = _claim(cid, *near)
    assert c["magnitude"] == "not comparable" and c["unstated"] == list(deps)


def test_the_dependencies_are_registered():
    for deps in (REWARD_DEPS, DNT_DEPS, FIG2_DEPS):
        assert set(deps) <= set(UNSTATED)


@pytest.mark.parametrize(
    ("unstated", "why", "missing"),
    [
        ({}, "one measurement, no interval to judge it by", []),
        ({"penalty": "x"}, "one measurement, no interval to judge it by", []),
        ({"twin training": "x"}, "depends on twin training, which the paper does not state", None),
        ({"step length": "x"}, "depends on step length, which the paper does not state", None),
        (
            {"move probabilities": "x"},
            "depends on move probabilities, which the paper does not state",
            None,
        ),
    ],
)
def test_fig2_magnitude(unstated, why, missing):
    table = claims(SEEDS, True, {}, {}, {}, FIG2, ("fig2",), unstated=unstated)
    (c,) = table["claims"]
    assert (c["id"], c["direction"], c["magnitude"], c["magnitude_why"]) == (
        "fig2-mse",
        "none claimed",
        "not comparable",
        why,
    )
    assert c["unstated"] == (missing if missing is not None else list(unstated))
    assert table["code_versions"] == ["fig2v"] and table["reading"] is None


# -- Figs. 5 and 6 share their runs -------------------------------------------------------------


def test_fig6_and_fig5_u12_dnt_read_the_same_runs_with_opposite_signs(poi):
    fig5 = {c.filename() for c in figure_cells("fig5", SEEDS, True)}
    assert {c.filename() for c in figure_cells("fig6", SEEDS, True)} <= fig5
    runs = _runs("fig5", _sweep(*_fig5_data()))  # Fig. 5's runs only
    table = claims(SEEDS, True, runs, {}, _base("fig5"), None, ("fig5", "fig6"))
    rows = {c["id"]: c for c in table["claims"]}
    u12, f6 = rows["fig5-u12-dnt"], rows["fig6-dnt-error"]
    assert u12["estimate"] == f6["estimate"]
    assert (u12["sign"], f6["sign"]) == (1, -1)
    assert (u12["direction"], f6["direction"]) == ("reproduced", "opposite")
    # VDN's error is higher on every pair of seeds: P(VDN higher) 1, P(VDN lower) 0
    assert (u12["poi"]["value"], f6["poi"]["value"]) == (1.0, 0.0)
    vdn, iql = FIG5_ERR["vdn"][U12], FIG5_ERR["iql"][U12]
    pairs = [(x.tolist(), y.tolist()) for x, y, *_ in poi]
    assert (vdn, iql) in pairs and ([-v for v in vdn], [-v for v in iql]) in pairs


# -- tables of some figures, or of too few seeds ------------------------------------------------


def test_claims_of_some_figures_only():
    runs = _runs(
        "fig6", _fig6(FIG5_ERR["vdn"][U12], FIG5_ERR["iql"][U12]), version="v6", quick=False
    )
    # Fig. 2's data given but not asked for: no claim, but its code version is listed
    table = claims(SEEDS, False, runs, {}, {}, FIG2, ("fig6",))
    assert [c["id"] for c in table["claims"]] == ["fig6-dnt-error"]
    assert table["code_versions"] == ["fig2v", "v6"] and table["stale_runs"] == 0
    assert table["quick"] is False and table["seeds"] == SEEDS
    # Fig. 2 asked for but without data: no claim either
    table = claims(SEEDS, False, runs, {}, {}, None, ("fig2", "fig6"))
    assert [c["id"] for c in table["claims"]] == ["fig6-dnt-error"]
    assert table["code_versions"] == ["v6"]
    # Fig. 4 alone: its three rows
    runs = _runs("fig4", _sweep(*_fig4_data()))
    table = claims(SEEDS, True, runs, {}, _base("fig4"), None, ("fig4",))
    assert [c["id"] for c in table["claims"]] == [
        "fig4-rate-eps0.8",
        "fig4-dnt-eps0.8",
        "fig4-iql-rate-falls",
    ]


def test_fewer_than_two_seeds_judge_nothing():
    runs = _runs("fig3", _fig3(FIG3["vdn"], FIG3["iql"]), seeds=1)
    _runs("fig5", _sweep(*_fig5_data()), seeds=1, runs=runs)
    next(iter(runs.values())).update(stale=True)
    table = claims(1, True, runs, {}, _base("fig5"), FIG2, ALL)
    assert table["claims"] == [] and table["seeds"] == 1
    assert table["code_versions"] == ["abc", "fig2v"] and table["stale_runs"] == 1
    md = claims_markdown(table)
    assert "With fewer than 2 seeds there is no interval, so no claim is judged.\n" in md
    assert "**Stale**: 1 of the runs" in md
    assert md.count("\n| ") == 2  # the table's header and rule, no rows
    two = claims_markdown(
        claims(SEEDS, True, _runs("fig3", _fig3(FIG3["vdn"], FIG3["iql"])), {}, {}, None, ("fig3",))
    )
    assert "fewer than 2 seeds" not in two


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
    methods, baselines = sweep_arrays("fig4", SEEDS, True, runs, {}, base)
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
    runs = _runs("fig5", _sweep(*_fig5_data()))
    base = {
        c.config_hash(): {"nearest": {"dnt_error": 0.0, "sum_rate": 60.0}}
        for c in figure_configs("fig5")
    }
    methods, baselines = sweep_arrays("fig5", SEEDS, True, runs, {}, base)
    assert methods["IQL"]["rate"][:, 0].tolist() == _approx([15.0, 16.0, 15.5])
    assert baselines["nearest"]["rate"].tolist() == _approx([60 / u for u in USER_VALUES])


def test_sweep_arrays_hold_nan_where_a_run_is_absent():
    rate, err = _fig4_data()
    runs = _runs("fig4", _sweep(rate, err))
    gone = next(
        c
        for c in figure_cells("fig4", SEEDS, True)
        if c.algo == "iql" and c.seed == 1 and c.cfg.epsilon == 0.8
    )
    del runs[gone.filename()]
    methods, _ = sweep_arrays("fig4", SEEDS, True, runs, {}, _base("fig4"))
    got = methods["IQL"]["rate"]
    assert got.shape == (SEEDS, len(EPS_VALUES)) and np.isnan(got[1, I8])
    assert np.isnan(got).sum() == 1 and not np.isnan(methods["VDN"]["rate"]).any()
    np.testing.assert_allclose(got[[0, 2], I8], np.array(rate["iql"][I8])[[0, 2]], rtol=1e-12)
    # the rows reading it use the two seeds left and say so
    table = claims(SEEDS, True, runs, {}, _base("fig4"), None, ("fig4",))
    row = table["claims"][0]
    assert row["seeds_per_method"] == [3, 2] and row["seeds_needed"] == [3, 3]
    assert row["mark"] == "VDN: 3 of 3, IQL: 2 of 3 seeds" and row["direction"] != "pending"
    assert (table["runs_needed"], table["runs_missing"]) == (2 * SEEDS * len(EPS_VALUES), 1)


# -- the Markdown table ---------------------------------------------------------------------------


def test_fmt():
    e = Estimate(1.23456, -0.5, 2.0, 1.0, 1.0, "x")
    assert _fmt(e) == "1.23 [-0.5, 2]"
    assert _fmt(e._replace(value=26.3, low=20.0, high=32.6), "%") == "26.3% [20, 32.6]"


def _row(cid, direction, magnitude="none claimed", unstated=(), **extra):
    return {
        "id": cid,
        "figure": "Fig. 9",
        "claim": f"claim {cid}",
        "paper": "1%",
        "text": "2% [1, 3]",
        "direction": direction,
        "detectable": 0.123456,
        "magnitude": magnitude,
        "magnitude_why": "why " + cid,
        "unstated": list(unstated),
        "poi": {"value": 0.756, "low": 0.4, "high": 1.0},
        "how": f"how {cid}",
        "seeds_per_method": [5, 5],
        **extra,
    }


HEADER = (
    "| figure | claim | paper | ours [95% CI] | direction | detectable | magnitude "
    "| P(VDN better) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
)


def test_claims_markdown():
    table = {
        "seeds": 5,
        "quick": False,
        "reading": "at_most_once",
        "code_versions": ["aaa", "bbb"],
        "stale_runs": 0,
        "claims": [
            _row("a", "reproduced", "not comparable", ["penalty"]),
            _row("b", "inconclusive", "reproduced", poi=None, detectable=None, note="n b"),
            _row("c", "opposite", seeds_per_method=[4, 3]),
        ],
    }
    md = claims_markdown(table)
    head, rest = md.split("\n\n| figure", 1)
    assert head.startswith(
        "# Claims of Section V, checked\n\n5 seeds per setting; eq. (16) read as: no user "
        "served twice; code aaa, bbb. Intervals are 95%: Student-t for means, Welch for "
        "differences, Fieller for percentage gains"
    )
    for words in (
        "*reproduced* when the whole interval lies on the claimed side of 0",
        "*opposite*",
        "*inconclusive*",
        "*detectable*",
        "Magnitude: judged only",
        "probability of improvement",
    ):
        assert words in head
    assert "Stale" not in md and "fewer than 2 seeds" not in md and "quick" not in md
    assert "| figure" + rest == (
        HEADER + "| Fig. 9 | claim a | 1% | 2% [1, 3] | **reproduced** | 0.123 | not comparable "
        "(why a) | 0.76 [0.40, 1.00] |\n"
        "| Fig. 9 | claim b | 1% | 2% [1, 3] | **inconclusive** |  | reproduced |  |\n"
        "| Fig. 9 | claim c | 1% | 2% [1, 3] | **opposite** | 0.123 | none claimed "
        "| 0.76 [0.40, 1.00] |\n"
        "\n"
        "How each number was computed:\n"
        "\n"
        "- `a`: how a; seeds 5/5.\n"
        "- `b`: how b; seeds 5/5. Note: n b.\n"
        "- `c`: how c; seeds 4/3.\n"
    )
    # the printed reading, a quick budget, stale runs and a row without seed counts
    row = _row("d", "reproduced")
    del row["seeds_per_method"]
    table.update(reading="exactly_once", quick=True, stale_runs=3, claims=[row])
    md = claims_markdown(table)
    assert md.startswith(
        "# Claims of Section V, checked\n\n5 seeds per setting (quick budget: not a result); "
        "eq. (16) read as: printed; code aaa, bbb."
    )
    assert (
        "\n\n**Stale**: 3 of the runs behind this table were made by older code than the "
        "current one (reused with `--allow-stale`); rerun `python -m dnt reproduce` to retrain "
        "them.\n\n| figure" in md
    )
    assert md.endswith("- `d`: how d; seeds n/a.\n")


def test_markdown_names_the_reading_only_when_a_learner_figure_is_judged():
    table = claims(2, True, {}, {}, {}, FIG2, ("fig2",))
    assert table["reading"] is None
    md = claims_markdown(table)
    assert "read as" not in md and md.startswith(
        "# Claims of Section V, checked\n\n2 seeds per setting (quick budget: not a result); code "
    )
