"""One verdict rule for every claim of Section V, in two parts.

*Direction* (testable whatever the units): the claim names the sign of an effect (VDN's gain
over IQL is positive, the rate falls as U grows, ...). It is *reproduced* when our whole
interval lies on the claimed side of 0, *opposite* when it lies wholly on the other side and
*inconclusive* when it contains 0; each direction part also states the smallest effect its
interval could detect (:func:`dnt.repro.intervals.detectable_effect`).

*Magnitude* (the paper's number): judged only when every quantity the number depends on is
stated in the paper. Otherwise it reads "not comparable (depends on ...)" and names the
unstated values (:data:`UNSTATED`, the assumptions page's table). When comparable it is
*reproduced* if the paper's value lies in our interval, else *not reproduced*.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dnt.repro.intervals import Estimate, detectable_effect

__all__ = ["DIRECTIONS", "MAGNITUDES", "UNSTATED", "judge"]

#: Values the paper leaves unstated that a claim's magnitude can depend on (short name: what).
#: Each is listed with our choice on the book's assumptions page.
UNSTATED: dict[str, str] = {
    "move probabilities": "the users' move probabilities p_u of eq. (1)",
    "step length": "the step length of eq. (1)",
    "penalty": "the penalty rho of eq. (16)",
    "update size": "the update size D_m and deadline alpha of eqs. (6) and (8g)",
    "training": "the Q-learning settings Table II leaves out (network, budget, exploration)",
    "twin training": "the GRU twin's training settings",
}
#: The verdicts of each part; "pending": a claim whose compared groups have fewer than 2 current
#: seeds (a part-rebuilt store) is not judged (:mod:`dnt.repro.claims` sets it, not :func:`judge`).
DIRECTIONS = ("reproduced", "opposite", "inconclusive", "none claimed", "pending")
MAGNITUDES = ("reproduced", "not reproduced", "not comparable", "none claimed", "pending")


def judge(
    est: Estimate | None,
    sign: int,
    paper: float | None = None,
    depends_on: Sequence[str] = (),
    unstated: Mapping[str, str] = UNSTATED,
) -> dict[str, Any]:
    """Both parts of the verdict on one estimated effect.

    ``est`` None: the paper claims no direction (only numbers, as in Fig. 2), and the magnitude
    part alone is judged. ``sign`` +1 or -1: the direction the paper claims; ``paper`` its
    number (None when the claim is a direction only); ``depends_on`` names of quantities the
    number depends on, judged against ``unstated`` (every name a key of :data:`UNSTATED`).
    """
    if sign not in (1, -1):
        raise ValueError(f"sign={sign!r} is invalid: must be +1 or -1")
    unknown = sorted(set(depends_on) - set(UNSTATED))
    if unknown:
        raise ValueError(f"depends_on names {unknown}: must be among {sorted(UNSTATED)}")
    lo, hi = (math.nan, math.nan) if est is None else (est.low, est.high)
    if est is None:
        direction, why = "none claimed", "the paper claims numbers, not a direction"
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        direction, why = "inconclusive", "the interval is unbounded"
    elif (lo > 0) if sign > 0 else (hi < 0):
        direction, why = "reproduced", "the whole interval lies on the claimed side of 0"
    elif (hi < 0) if sign > 0 else (lo > 0):
        direction, why = "opposite", "the whole interval lies on the other side of 0"
    else:
        direction, why = "inconclusive", "the interval contains 0"
    missing = [d for d in depends_on if d in unstated]
    if paper is None:
        magnitude, mwhy = "none claimed", "the paper claims a direction only"
    elif missing:
        magnitude = "not comparable"
        mwhy = "depends on " + ", ".join(missing) + ", which the paper does not state"
    elif est is None:
        magnitude, mwhy = "not comparable", "one measurement, no interval to judge it by"
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        magnitude, mwhy = "not comparable", "our interval is unbounded"
    elif lo <= paper <= hi:
        magnitude, mwhy = "reproduced", "the paper's value lies in our interval"
    else:
        magnitude, mwhy = "not reproduced", "the paper's value lies outside our interval"
    return {
        "direction": direction,
        "direction_why": why,
        "detectable": None if est is None or not math.isfinite(d := detectable_effect(est)) else d,
        "magnitude": magnitude,
        "magnitude_why": mwhy,
        "unstated": missing,
    }
