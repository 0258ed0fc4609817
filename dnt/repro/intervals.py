"""Interval estimates over seeds whose coverage at our seed counts is measured, not assumed.

Means get a Student-t interval, differences of means Welch's interval, percentage gains
Fieller's interval for a ratio of independent means (with Welch-Satterthwaite degrees of
freedom). :func:`coverage` simulates how often an interval method covers the true value; the
tests and the book's statistics section run it on normal and skewed data at 2, 3, 5 and 10 seeds.
The probability of improvement of Agarwal et al. (2021) comes from ``rliable`` with a seeded
percentile bootstrap over each method's seeds; no verdict rests on it, and its coverage at a
few seeds is not established (a percentile bootstrap of a mean covers about 84% at 5 seeds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import stats

__all__ = [
    "Estimate",
    "coverage",
    "coverage_table",
    "detectable_effect",
    "diff_interval",
    "gain_interval",
    "mean_ci",
    "mean_interval",
    "pooled_skewness",
    "probability_of_improvement",
]


class Estimate(NamedTuple):
    """A point estimate with its interval: ``value [low, high]``, standard error ``se``,
    degrees of freedom ``df`` and the method's name. Indexing [0:3] gives (value, low, high)."""

    value: float
    low: float
    high: float
    se: float
    df: float
    method: str

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict[str, float | str | None]:
        """As a JSON-safe dict (a non-finite number becomes None), with the detectable effect."""
        d = {**self._asdict(), "detectable": detectable_effect(self)}
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()
        }


def _seeds(x: np.ndarray | list[float], name: str) -> np.ndarray:
    v = np.asarray(x, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"{name} has shape {v.shape}: must be one value per seed, >= 2 seeds")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} holds a non-finite value: every seed's value must be finite")
    return v


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is invalid: must be in (0, 1)")


def mean_interval(x: np.ndarray | list[float], confidence: float = 0.95) -> Estimate:
    """Mean over seeds with the Student-t interval ``mean +- t_{n-1} s / sqrt(n)``."""
    _check_confidence(confidence)
    v = _seeds(x, "x")
    n = v.size
    se = float(v.std(ddof=1) / math.sqrt(n))
    q = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    m = float(v.mean())
    return Estimate(m, m - q * se, m + q * se, se, float(n - 1), "Student-t")


def mean_ci(
    values: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mean_interval` elementwise: ``values`` (S, ...) one row per seed -> (mean, low,
    high) arrays. With fewer than 2 seeds, or no spread, the interval is the mean itself.

    A NaN marks a missing seed (a part-rebuilt store): each column then gets the mean and the
    Student-t interval of its own values with its own count; a column of one value gets the
    value as its interval, a column of none NaN throughout."""
    _check_confidence(confidence)
    v = np.asarray(values, dtype=float)
    if np.isnan(v).any():
        return _nan_mean_ci(v, confidence)
    mean = v.mean(axis=0)
    n = v.shape[0]
    if n < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, mean - half, mean + half


def _nan_mean_ci(v: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mean_ci` of ``v`` (S, ...) whose NaNs are missing seeds, column by column."""
    ok = ~np.isnan(v)
    n = ok.sum(axis=0)
    filled = np.where(ok, v, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # columns of 0 or 1 values
        mean = np.where(n > 0, filled.sum(axis=0) / n, np.nan)
        dev = np.where(ok, v - mean, 0.0)
        sd = np.sqrt((dev**2).sum(axis=0) / (n - 1))
        q = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, q * sd / np.sqrt(n), 0.0)
    return mean, mean - half, mean + half


def _welch_df(va: float, na: int, vb: float, nb: int) -> float:
    """Welch-Satterthwaite degrees of freedom of ``va + vb`` (variances of two means)."""
    if va + vb == 0:
        return float(na + nb - 2)
    return (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))


def diff_interval(
    a: np.ndarray | list[float], b: np.ndarray | list[float], confidence: float = 0.95
) -> Estimate:
    """mean(a) - mean(b) over independent seeds with Welch's interval."""
    _check_confidence(confidence)
    a, b = _seeds(a, "a"), _seeds(b, "b")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = _welch_df(va, a.size, vb, b.size)
    se = math.sqrt(va + vb)
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    d = float(a.mean() - b.mean())
    return Estimate(d, d - q * se, d + q * se, se, float(df), "Welch")


def gain_interval(
    a: np.ndarray | list[float], b: np.ndarray | list[float], confidence: float = 0.95
) -> Estimate:
    """Percentage gain ``100 (mean a - mean b) / |mean b|`` with Fieller's interval for the ratio
    of two independent means (Welch-Satterthwaite degrees of freedom at the estimate). Where
    b's mean is not significantly away from 0 the interval is unbounded (-inf, inf)."""
    _check_confidence(confidence)
    a, b = _seeds(a, "a"), _seeds(b, "b")
    ma, mb = float(a.mean()), float(b.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    s = 1.0 if mb >= 0 else -1.0
    if mb == 0:
        return Estimate(math.nan, -math.inf, math.inf, math.inf, math.nan, "Fieller")
    r = ma / mb
    df = _welch_df(va, a.size, r * r * vb, b.size)
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    se = 100 * math.sqrt(va + r * r * vb) / abs(mb)  # delta-method standard error of the gain
    # (ma - r mb)^2 = q^2 (va + r^2 vb): A r^2 - 2 B r + C = 0
    big_a, big_b, big_c = mb * mb - q * q * vb, ma * mb, ma * ma - q * q * va
    disc = big_b * big_b - big_a * big_c
    gain = 100 * (r - 1) * s
    if big_a <= 0 or disc < 0:
        return Estimate(gain, -math.inf, math.inf, se, float(df), "Fieller")
    lo_r, hi_r = (big_b - math.sqrt(disc)) / big_a, (big_b + math.sqrt(disc)) / big_a
    lo, hi = sorted((100 * (lo_r - 1) * s, 100 * (hi_r - 1) * s))
    return Estimate(gain, lo, hi, se, float(df), "Fieller")


def detectable_effect(est: Estimate, confidence: float = 0.95, power: float = 0.8) -> float:
    """The smallest true effect this interval's design detects with probability ``power``: an
    effect of ``(t_{conf} + t_{power}) se`` puts the interval's far end beyond 0 that often
    (normal approximation to the t distribution's shift)."""
    if not (math.isfinite(est.se) and math.isfinite(est.df)):
        return math.inf
    t1 = float(stats.t.ppf(0.5 + confidence / 2, est.df))
    t2 = float(stats.t.ppf(power, est.df))
    return (t1 + t2) * est.se


def probability_of_improvement(
    x: np.ndarray | list[float],
    y: np.ndarray | list[float],
    seed: int = 0,
    reps: int = 2000,
    confidence: float = 0.95,
) -> Estimate:
    """P(X > Y) over seeds, ties counting one half (Agarwal et al. 2021, one task), computed by
    ``rliable.metrics.probability_of_improvement``, with a percentile bootstrap interval that
    resamples each method's seeds independently, as rliable's stratified bootstrap does, but
    drawn from ``numpy.random.default_rng(seed)`` (rliable's own resampler reads numpy's
    global state and ignores its seed). Descriptive: no verdict rests on it."""
    from rliable import metrics  # imported here: rliable pulls in arch and seaborn

    _check_confidence(confidence)
    xa, ya = _seeds(x, "x"), _seeds(y, "y")
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps={reps!r} is invalid: must be an integer >= 1")
    point = float(metrics.probability_of_improvement(xa[:, None], ya[:, None]))
    rng = np.random.default_rng(seed)
    bx = xa[rng.integers(0, xa.size, (reps, xa.size))]  # (reps, n_x) resampled seeds
    by = ya[rng.integers(0, ya.size, (reps, ya.size))]
    gt = (bx[:, :, None] > by[:, None, :]).mean((1, 2))
    eq = (bx[:, :, None] == by[:, None, :]).mean((1, 2))
    boot = gt + 0.5 * eq
    lo, hi = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Estimate(point, float(lo), float(hi), math.nan, math.nan, "percentile bootstrap")


def coverage(
    interval: Callable[..., Estimate],
    sample: Callable[[np.random.Generator, int], np.ndarray],
    truth: float,
    n: int,
    reps: int,
    seed: int,
    samples: int = 1,
) -> float:
    """Share of ``reps`` simulated studies whose interval contains ``truth``: each study draws
    ``samples`` independent samples of ``n`` seeds with ``sample(rng, n)`` and applies
    ``interval`` to them."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        est = interval(*(sample(rng, n) for _ in range(samples)))
        hits += est.low <= truth <= est.high
    return float(hits / reps)


#: Data shapes of the coverage table: name -> (sampler(rng, n), true mean). Gamma(k) has
#: skewness 2 / sqrt(k).
SHAPES: dict[str, tuple[Callable[[np.random.Generator, int], np.ndarray], float]] = {
    "normal": (lambda rng, n: rng.normal(0.0, 1.0, n), 0.0),
    "skewness 0.5": (lambda rng, n: rng.gamma(16.0, 1.0, n), 16.0),
    "skewness 1": (lambda rng, n: rng.gamma(4.0, 1.0, n), 4.0),
    "skewness 2": (lambda rng, n: rng.gamma(1.0, 1.0, n), 1.0),
}


def coverage_table(
    seeds: tuple[int, ...] = (2, 3, 5, 10), reps: int = 4000, seed: int = 0
) -> dict[str, dict[str, dict[int, float]]]:
    """Simulated coverage of the nominal 95% intervals: {method: {data shape: {n: share}}}.
    Means: Student-t on one sample. Differences: Welch on two samples of the same shape (true
    difference 0). Gains: Fieller on the shape shifted to mean 17 against mean 16.5 with the
    same spread (true gain 100 * 0.5 / 16.5)."""
    out: dict[str, dict[str, dict[int, float]]] = {"mean": {}, "difference": {}, "gain": {}}

    def gain(a: np.ndarray, b: np.ndarray) -> Estimate:  # centred samples -> means 17, 16.5
        return gain_interval(17.0 + 0.5 * a, 16.5 + 0.5 * b)

    for i, (name, (draw, mu)) in enumerate(SHAPES.items()):
        for key in out:
            out[key][name] = {}
        for j, n in enumerate(seeds):
            s = seed + 100 * i + j
            out["mean"][name][n] = coverage(mean_interval, draw, mu, n, reps, s)
            out["difference"][name][n] = coverage(diff_interval, draw, 0.0, n, reps, s, 2)

            def centred(rng: np.random.Generator, n: int, draw=draw, mu=mu) -> np.ndarray:
                return draw(rng, n) - mu

            out["gain"][name][n] = coverage(gain, centred, 100 * 0.5 / 16.5, n, reps, s, 2)
    return out


def pooled_skewness(groups: list[np.ndarray]) -> tuple[float, int]:
    """Skewness of the per-seed values of many settings pooled after standardising each setting
    (its mean removed, divided by its standard deviation); settings without spread are left out.
    Returns (skewness, number of values). Biased towards 0 at few seeds per setting."""
    z = []
    for g in groups:
        v = np.asarray(g, dtype=float)
        if v.size >= 3 and v.std(ddof=1) > 0:
            z.append((v - v.mean()) / v.std(ddof=1))
    if not z:
        return math.nan, 0
    pooled = np.concatenate(z)
    return float(stats.skew(pooled)), int(pooled.size)
