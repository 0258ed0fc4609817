"""Independent references the tests compare the library's intervals with."""

import math

import numpy as np
from scipy import optimize, stats


def fieller_ref(a, b, confidence=0.95):
    """Fieller's interval of 100 (mean a - mean b) / |mean b|, found as the two roots of
    (ma - r mb)^2 = q^2 (va + r^2 vb) around the estimate by a root finder (bounded case only);
    q is the t quantile at the Welch-Satterthwaite degrees of freedom of va + r^2 vb. Returns
    (gain, low, high, delta-method standard error, degrees of freedom, q)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ma, mb = a.mean(), b.mean()
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    r = ma / mb
    df = (va + r * r * vb) ** 2 / (va**2 / (a.size - 1) + (r * r * vb) ** 2 / (b.size - 1))
    q = stats.t.ppf(0.5 + confidence / 2, df)

    def f(x):
        return (ma - x * mb) ** 2 - q * q * (va + x * x * vb)

    assert f(r) < 0 and mb * mb > q * q * vb  # bounded
    up = down = abs(r) + 1.0
    while f(r + up) < 0:
        up *= 2
    while f(r - down) < 0:
        down *= 2
    roots = optimize.brentq(f, r - down, r, xtol=1e-14), optimize.brentq(f, r, r + up, xtol=1e-14)
    lo, hi = sorted(100 * (x - 1) * np.sign(mb) for x in roots)
    se = 100 * math.sqrt(va + r * r * vb) / abs(mb)
    return 100 * (ma - mb) / abs(mb), lo, hi, se, df, q
