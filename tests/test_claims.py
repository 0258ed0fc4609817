"""The claim machinery on hand-made inputs whose verdicts are known."""

import numpy as np
import pytest

from dnt.repro.claims import (
    bootstrap_stat,
    claims,
    claims_markdown,
    diff,
    gain,
    mean_ci,
    verdict_of,
)
from dnt.repro.specs import figure_cells


def test_gain_and_diff():
    assert gain(np.array([12.0, 14.0]), np.array([10.0, 10.0])) == pytest.approx(30.0)
    assert gain(np.array([-5.0]), np.array([-10.0])) == pytest.approx(50.0)  # |mean b|
    assert diff(np.array([1.0, 3.0]), np.array([0.5])) == pytest.approx(1.5)


def test_bootstrap_interval_brackets_and_is_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.normal(13, 1, 6), rng.normal(10, 1, 6)
    v, lo, hi = bootstrap_stat(gain, (a, b))
    assert lo < v < hi and v == pytest.approx(gain(a, b))
    assert bootstrap_stat(gain, (a, b)) == (v, lo, hi)  # seeded: the same interval again
    assert bootstrap_stat(gain, (a[:1], b)) == (gain(a[:1], b),) * 3  # one seed: a point
    m, l2, h2 = mean_ci(a[:, None])
    assert l2[0] < m[0] < h2[0]


@pytest.mark.parametrize(
    ("ci", "paper", "verdict", "why"),
    [
        ((29.0, 20.0, 35.0), 28.96, "reproduced", "lies in our interval"),
        ((10.0, 5.0, 15.0), 28.96, "not reproduced", "outside our interval"),
        ((-10.0, -15.0, -5.0), 28.96, "not reproduced", "opposite direction"),
        ((2.0, -3.0, 7.0), 28.96, "not reproduced", "contains 0"),
        ((-0.3, -0.5, -0.1), -0.2, "reproduced", "lies in our interval"),
        ((np.nan, np.nan, np.nan), 1.0, "not comparable", "undefined"),
    ],
)
def test_verdicts(ci, paper, verdict, why):
    got, reason = verdict_of(ci, paper)
    assert got == verdict and why in reason


def _fig3_runs(vdn, iql, seeds=5):
    runs = {}
    for c in figure_cells("fig3", seeds, True):
        r = (vdn if c.algo == "vdn" else iql)[c.seed]
        runs[c.filename()] = {
            "code_version": "abc",
            "metrics": {"final": {"reward": r}, "curve": [{"eval_reward": r}]},
        }
    return runs


@pytest.mark.parametrize(
    ("vdn", "iql", "verdict"),
    [
        ([12.9, 12.8, 12.95, 12.85, 12.9], [10.0, 9.95, 10.05, 10.0, 10.0], "reproduced"),
        ([8.0, 8.1, 7.9, 8.0, 8.05], [10.0, 9.95, 10.05, 10.0, 10.0], "not reproduced"),
        ([10.0, 9.0, 11.0, 10.5, 9.5], [10.0, 9.5, 10.5, 9.0, 11.0], "not reproduced"),
        ([1.0, 2.0, 1.5, 1.0, 2.0], [0.0] * 5, "not comparable"),
    ],
)
def test_claims_on_hand_made_runs(vdn, iql, verdict):
    table = claims(5, True, _fig3_runs(vdn, iql), {}, {}, None, ("fig3",))
    (c,) = table["claims"]
    assert c["id"] == "fig3-gain" and c["verdict"] == verdict
    assert table["code_versions"] == ["abc"] and table["stale_runs"] == 0
    md = claims_markdown(table)
    assert f"**{verdict}**" in md and "Stale" not in md
