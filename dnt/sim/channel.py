"""Channel, interference and data rates: eqs. (2)-(6) and the deadline (8g).

Every function takes arrays with any leading batch shape ``...`` (parallel environments):
``user_pos`` (..., U, 2), ``fading`` (..., U), ``x`` (..., M, U, N) bool, ``y`` (..., M, N) bool.

Two readings of the interference terms, chosen by ``cfg.interference_model``:

``"physical"`` (default)
    On RB n, a receiver hears every *other* BS j that transmits on RB n (to a user or to the
    cloud), each with power P times the gain from j to that receiver: P o_u d_{uj}^-2 for user u,
    P d_{jC}^-2 for the cloud.
``"printed"``
    Eqs. (3) and (5) exactly as typeset: in (3) the user term uses the gain of BS j to *its own*
    user i, and the update term is summed once per other user i != u (so U - 1 times); in (5) the
    update term is summed once per user (U times).
"""

from __future__ import annotations

import numpy as np

from dnt.sim.config import SystemConfig

__all__ = [
    "bs_array",
    "cloud_gains",
    "cloud_interference",
    "coverage",
    "gains_from_sq_distances",
    "link_rates",
    "rates",
    "squared_distances",
    "update_delay",
    "update_success",
    "user_distances",
    "user_gains",
    "user_interference",
]


def bs_array(cfg: SystemConfig) -> np.ndarray:
    """BS positions l_m^M, shape (M, 2)."""
    return np.asarray(cfg.bs_positions, dtype=float)


def squared_distances(cfg: SystemConfig, user_pos: np.ndarray) -> np.ndarray:
    """Squared Euclidean user-BS distances (no floor), shape (..., M, U)."""
    diff = user_pos[..., None, :, :] - bs_array(cfg)[:, None, :]
    return np.einsum("...k,...k->...", diff, diff)


def user_distances(cfg: SystemConfig, user_pos: np.ndarray) -> np.ndarray:
    """Euclidean distance d_{um}, floored at ``cfg.min_distance``, shape (..., M, U)."""
    return np.maximum(np.sqrt(squared_distances(cfg, user_pos)), cfg.min_distance)


def coverage(cfg: SystemConfig, user_pos: np.ndarray) -> np.ndarray:
    """Boolean (..., M, U): user u is inside BS m's coverage disc (distance <= radius)."""
    return squared_distances(cfg, user_pos) <= cfg.coverage_radius**2


def gains_from_sq_distances(cfg: SystemConfig, d2: np.ndarray, fading: np.ndarray) -> np.ndarray:
    """h_m(l_u) = o_u d_{um}^-2 from squared distances (..., M, U) and fading (..., U)."""
    return fading[..., None, :] / np.maximum(d2, cfg.min_distance**2)


def user_gains(cfg: SystemConfig, user_pos: np.ndarray, fading: np.ndarray) -> np.ndarray:
    """h_m(l_u) = o_u d_{um}^-2 (below eq. 2), shape (..., M, U)."""
    return gains_from_sq_distances(cfg, squared_distances(cfg, user_pos), fading)


def cloud_gains(cfg: SystemConfig) -> np.ndarray:
    """h_m(l^C) = d_{mC}^-2 (no fading: our assumption), shape (M,)."""
    d = np.sqrt(((bs_array(cfg) - np.asarray(cfg.cloud_position)) ** 2).sum(-1))
    return 1.0 / np.maximum(d, cfg.min_distance) ** 2


def _sources(src: np.ndarray | None, m: int) -> np.ndarray:
    """(R, M) float matrix: row r selects the interfering BSs for receiver-BS row r."""
    if src is None:
        return 1.0 - np.eye(m)
    return np.asarray(src, dtype=float)


def user_interference(
    cfg: SystemConfig,
    gains: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    src: np.ndarray | None = None,
) -> np.ndarray:
    """I^U of eq. (3) for every (receiving BS m, user u, RB n), shape (..., R, U, N).

    ``gains`` is :func:`user_gains` output (..., M, U). ``src`` (R, M) selects which BSs j count
    as interferers for receiver row r; the default is all j != m (R = M). Algorithm 1 passes a
    single row with only the BSs that decided before the current one.
    """
    m = gains.shape[-2]
    s = _sources(src, m)  # (R, J)
    pg = cfg.tx_power * gains  # (..., J, U)
    xf = x.astype(float)
    yf = y.astype(float)
    if cfg.interference_model == "physical":
        tx = np.maximum(xf.max(axis=-2), yf)  # (..., J, N): BS j transmits on RB n
        # sum_j s[r, j] * tx[j, n] * pg[j, u]
        weighted = s[:, :, None] * pg[..., None, :, :]  # (..., R, J, U)
        return np.swapaxes(weighted, -1, -2) @ tx[..., None, :, :]  # (..., R, U, N)
    # printed eq. (3): sum_{i != u} sum_{j in src} (x_{ijn} P h_j(l_i) + y_{jn} P h_j(l_u))
    u = gains.shape[-1]
    own = np.einsum("...jin,...ji->...jn", xf, pg)  # sum_i x_{ijn} P h_j(l_i)
    all_users = np.einsum("rj,...jn->...rn", s, own)[..., :, None, :]  # (..., R, 1, N)
    self_term = np.einsum("rj,...jun,...ju->...run", s, xf, pg)  # the i = u term
    upd = np.einsum("rj,...jn,...ju->...run", s, yf, pg)
    return all_users - self_term + (u - 1) * upd


def cloud_interference(
    cfg: SystemConfig, x: np.ndarray, y: np.ndarray, src: np.ndarray | None = None
) -> np.ndarray:
    """I^C of eq. (5) at the cloud for each (sending BS row r, RB n), shape (..., R, N)."""
    m = y.shape[-2]
    s = _sources(src, m)
    phc = cfg.tx_power * cloud_gains(cfg)  # (J,)
    xf = x.astype(float)
    yf = y.astype(float)
    if cfg.interference_model == "physical":
        tx = np.maximum(xf.max(axis=-2), yf)
        return np.einsum("rj,...jn,j->...rn", s, tx, phc)
    u = x.shape[-2]
    return np.einsum("rj,...jn,j->...rn", s, xf.sum(axis=-2) + u * yf, phc)


def _shannon(cfg: SystemConfig, signal: np.ndarray, interference: np.ndarray) -> np.ndarray:
    return cfg.bandwidth * np.log2(1.0 + signal / (interference + cfg.bandwidth * cfg.noise_psd))


def link_rates(
    cfg: SystemConfig,
    user_pos: np.ndarray,
    fading: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-link rates: (c_{um} of eq. (2) as (..., M, U), c_m^C of eq. (4) as (..., M))."""
    x = np.asarray(x, dtype=bool)
    y = np.asarray(y, dtype=bool)
    g = user_gains(cfg, user_pos, fading)  # (..., M, U)
    i_u = user_interference(cfg, g, x, y)  # (..., M, U, N)
    per_rb = _shannon(cfg, cfg.tx_power * g[..., None], i_u)  # eq. (2) summand
    bs_user_rate = np.where(x, per_rb, 0.0).sum(axis=-1)
    i_c = cloud_interference(cfg, x, y)  # (..., M, N)
    per_rb_c = _shannon(cfg, cfg.tx_power * cloud_gains(cfg)[:, None], i_c)  # eq. (4)
    cloud_rate = np.where(y, per_rb_c, 0.0).sum(axis=-1)
    return bs_user_rate, cloud_rate


def rates(
    cfg: SystemConfig,
    user_pos: np.ndarray,
    fading: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Data rates for an allocation: (user_rate (..., U), cloud_rate (..., M)).

    ``user_rate[u]`` sums eq. (2) over the BSs and RBs serving u; ``cloud_rate[m]`` is eq. (4).
    """
    bs_user_rate, cloud_rate = link_rates(cfg, user_pos, fading, x, y)
    return bs_user_rate.sum(axis=-2), cloud_rate


def update_delay(cfg: SystemConfig, cloud_rate: np.ndarray) -> np.ndarray:
    """T_m = D_m / c_m^C of eq. (6); ``inf`` where the rate is zero (no update sent)."""
    with np.errstate(divide="ignore"):
        return np.where(
            cloud_rate > 0, cfg.update_size / np.where(cloud_rate > 0, cloud_rate, 1.0), np.inf
        )


def update_success(cfg: SystemConfig, y: np.ndarray, cloud_rate: np.ndarray) -> np.ndarray:
    """Bool (..., M): BS m sent an update and it met the deadline T_m <= alpha of (8g)."""
    return np.asarray(y, dtype=bool).any(axis=-1) & (update_delay(cfg, cloud_rate) <= cfg.deadline)
