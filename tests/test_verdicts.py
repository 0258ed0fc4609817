"""Every branch of the two-part verdict rule (:func:`dnt.repro.verdicts.judge`)."""

import math

import pytest

from dnt.repro.intervals import Estimate, detectable_effect
from dnt.repro.verdicts import DIRECTIONS, MAGNITUDES, UNSTATED, judge

REPRODUCED = "the whole interval lies on the claimed side of 0"
OPPOSITE = "the whole interval lies on the other side of 0"
CONTAINS = "the interval contains 0"
UNBOUNDED = "the interval is unbounded"
IN = "the paper's value lies in our interval"
OUT = "the paper's value lies outside our interval"


def _est(low, high, value=None, se=0.5, df=4.0):
    v = (low + high) / 2 if value is None else value
    return Estimate(v, low, high, se, df, "test")


@pytest.mark.parametrize(
    ("low", "high", "sign", "direction", "why"),
    [
        (1.0, 3.0, 1, "reproduced", REPRODUCED),
        (1.0, 3.0, -1, "opposite", OPPOSITE),
        (-3.0, -1.0, -1, "reproduced", REPRODUCED),
        (-3.0, -1.0, 1, "opposite", OPPOSITE),
        (-1.0, 3.0, 1, "inconclusive", CONTAINS),
        (-1.0, 3.0, -1, "inconclusive", CONTAINS),
        (-3.0, 1.0, -1, "inconclusive", CONTAINS),
        # an interval that touches 0 is not on either side
        (0.0, 3.0, 1, "inconclusive", CONTAINS),
        (0.0, 3.0, -1, "inconclusive", CONTAINS),
        (-3.0, 0.0, -1, "inconclusive", CONTAINS),
        (-3.0, 0.0, 1, "inconclusive", CONTAINS),
        # a tiny effect counts: the rule compares with 0
        (1e-9, 2e-9, 1, "reproduced", REPRODUCED),
        (-2e-9, -1e-9, 1, "opposite", OPPOSITE),
        # unbounded (Fieller's interval when the baseline's mean may be 0), or one end undefined
        (-math.inf, math.inf, 1, "inconclusive", UNBOUNDED),
        (-math.inf, math.inf, -1, "inconclusive", UNBOUNDED),
        (1.0, math.inf, 1, "inconclusive", UNBOUNDED),
        (-math.inf, -1.0, -1, "inconclusive", UNBOUNDED),
        (math.nan, 1.0, 1, "inconclusive", UNBOUNDED),
    ],
)
def test_direction(low, high, sign, direction, why):
    est = _est(low, high, value=1.0)
    got = judge(est, sign)
    assert (got["direction"], got["direction_why"]) == (direction, why)
    assert got["detectable"] == detectable_effect(est) and got["detectable"] > 0
    # no paper value: the magnitude is not claimed
    assert (got["magnitude"], got["magnitude_why"], got["unstated"]) == (
        "none claimed",
        "the paper claims a direction only",
        [],
    )
    assert got["direction"] in DIRECTIONS and got["magnitude"] in MAGNITUDES


def test_detectable_is_none_without_a_standard_error():
    # JSON-safe: no inf where nothing is detectable
    est = Estimate(math.nan, -math.inf, math.inf, math.inf, math.nan, "Fieller")
    assert judge(est, 1)["detectable"] is None
    assert judge(est._replace(value=1.0, se=2.0), 1)["detectable"] is None  # df undefined
    assert judge(_est(1.0, 3.0, se=2.0, df=4.0), 1)["detectable"] == pytest.approx(
        7.4348194, abs=1e-6
    )  # (t_{0.975, 4} + t_{0.8, 4}) 2


@pytest.mark.parametrize(
    ("low", "high", "paper", "magnitude", "why"),
    [
        (20.0, 40.0, 28.96, "reproduced", IN),
        (10.0, 20.0, 28.96, "not reproduced", OUT),
        (30.0, 40.0, 28.96, "not reproduced", OUT),
        # the ends belong to the interval
        (28.96, 40.0, 28.96, "reproduced", IN),
        (20.0, 28.96, 28.96, "reproduced", IN),
        # judged whatever the direction: a paper value on the other side of 0
        (-0.5, -0.1, -0.2, "reproduced", IN),
        (0.1, 0.5, -0.2, "not reproduced", OUT),
        (-1.0, 1.0, 0.0, "reproduced", IN),
    ],
)
def test_magnitude_when_comparable(low, high, paper, magnitude, why):
    for unstated in ({}, {"penalty": "x"}):  # "penalty" is not a dependency here
        got = judge(_est(low, high), 1, paper, ("training",), unstated)
        assert (got["magnitude"], got["magnitude_why"], got["unstated"]) == (magnitude, why, [])


def test_magnitude_is_not_comparable_when_a_dependency_is_unstated():
    deps = ("training", "penalty", "step length")
    est = _est(20.0, 40.0)  # contains the paper's 28.96
    assert judge(est, 1, 28.96, deps, {})["magnitude"] == "reproduced"
    for d in deps:
        got = judge(est, 1, 28.96, deps, {d: "what"})
        assert got["magnitude"] == "not comparable" and got["unstated"] == [d]
        assert got["magnitude_why"] == f"depends on {d}, which the paper does not state"
        assert got["direction"] == "reproduced"  # the direction is judged all the same
    # the default registry: every dependency is unstated, named in the claim's order
    got = judge(est, 1, 28.96, deps)
    assert got["magnitude"] == "not comparable" and got["unstated"] == list(deps)
    assert got["magnitude_why"] == (
        "depends on training, penalty, step length, which the paper does not state"
    )
    # ... and an interval that misses the paper's value is not comparable either
    assert judge(_est(1.0, 2.0), 1, 28.96, deps)["magnitude"] == "not comparable"


def test_no_estimate_judges_the_magnitude_alone():
    got = judge(None, 1)
    assert (got["direction"], got["direction_why"]) == (
        "none claimed",
        "the paper claims numbers, not a direction",
    )
    assert got["detectable"] is None and got["magnitude"] == "none claimed"
    # a paper number with nothing unstated: still no interval to judge it by
    got = judge(None, 1, 0.188, ("twin training",), {})
    assert (got["magnitude"], got["magnitude_why"], got["unstated"]) == (
        "not comparable",
        "one measurement, no interval to judge it by",
        [],
    )
    got = judge(None, -1, 0.188, ("move probabilities", "twin training"))
    assert got["magnitude"] == "not comparable" and got["direction"] == "none claimed"
    assert got["unstated"] == ["move probabilities", "twin training"]
    assert got["magnitude_why"].startswith("depends on move probabilities, twin training")


def test_no_paper_value_claims_no_magnitude_whatever_the_dependencies():
    got = judge(_est(1.0, 2.0), 1, None, ("training",), {})
    assert (got["magnitude"], got["magnitude_why"]) == (
        "none claimed",
        "the paper claims a direction only",
    )


def test_unknown_dependency_names_raise():
    with pytest.raises(ValueError, match=r"depends_on names \['speed'\]: must be among"):
        judge(_est(1.0, 2.0), 1, 1.5, ("training", "speed"))
    # checked against the registry even when the caller's list says otherwise
    with pytest.raises(ValueError, match=r"\['bogus', 'speed'\]"):
        judge(_est(1.0, 2.0), 1, 1.5, ("speed", "bogus"), {"speed": "x", "bogus": "y"})


@pytest.mark.parametrize("sign", [0, 2, -2, None, "1"])
def test_bad_sign_raises(sign):
    with pytest.raises(ValueError, match=rf"sign={sign!r} is invalid: must be \+1 or -1"):
        judge(_est(1.0, 2.0), sign)


def test_the_registry_names_what_the_paper_leaves_out():
    assert {
        "move probabilities",
        "step length",
        "penalty",
        "update size",
        "training",
        "twin training",
    } == set(UNSTATED)
    assert all(isinstance(v, str) and v for v in UNSTATED.values())
    assert DIRECTIONS == ("reproduced", "opposite", "inconclusive", "none claimed", "pending")
    assert MAGNITUDES == (
        "reproduced",
        "not reproduced",
        "not comparable",
        "none claimed",
        "pending",
    )


def test_an_unbounded_interval_never_reproduces_a_magnitude():
    # (-inf, inf) contains every number: with nothing unstated it still compares nothing
    est = Estimate(5.0, -math.inf, math.inf, 3.0, 4.0, "Fieller")
    got = judge(est, 1, 28.96, ("penalty",), unstated={})
    assert (got["magnitude"], got["magnitude_why"]) == (
        "not comparable",
        "our interval is unbounded",
    )
    # ... but an unstated dependency is named first
    got = judge(est, 1, 28.96, ("penalty",))
    assert got["magnitude"] == "not comparable" and got["unstated"] == ["penalty"]


@pytest.mark.parametrize(("lo", "hi"), [(-math.inf, 5.0), (1.0, math.inf)])
def test_an_interval_with_one_end_unbounded_compares_no_magnitude(lo, hi):
    """Fieller's interval can be unbounded on one side: the paper's value may lie between the
    finite end and infinity, yet nothing is compared (a one-sided bound is no magnitude)."""
    est = Estimate(2.0, lo, hi, 1.0, 4.0, "fieller")
    v = judge(est, 1, paper=3.0, depends_on=(), unstated={})
    assert v["direction"] == "inconclusive" and v["direction_why"] == "the interval is unbounded"
    assert v["magnitude"] == "not comparable" and v["magnitude_why"] == "our interval is unbounded"
