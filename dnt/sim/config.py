"""System parameters of the DNT network (Section II and Section V / Table II of the paper).

Every number the simulator uses lives in :class:`SystemConfig`. Values the paper states are
taken from it; values it leaves unstated are our documented choices (see the ``Assumption``
comments below and the book's assumptions page).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["FADING_MODELS", "INTERFERENCE_MODELS", "MAX_USERS", "SystemConfig"]

#: ``"physical"``: the interference a receiver sees on RB n is P times the gain from every
#: other transmitting BS to *that* receiver. ``"printed"``: eqs. (3) and (5) exactly as typeset.
INTERFERENCE_MODELS = ("physical", "printed")
#: ``"rayleigh"``: o_u ~ Exp(1) i.i.d. per user and slot; ``"none"``: o_u = 1 (for checks).
FADING_MODELS = ("rayleigh", "none")
#: The twin's predictor when none is passed in: hold the last position, the Bayes-optimal
#: one-step predictor of the scenario, or the scenario's trained GRU (cached, see dnt.twin).
TWIN_PREDICTORS = ("hold_last", "bayes", "gru")
#: Condition of the first branch of eq. (16). "exactly_once" (as printed): every user that some
#: BS covers is served by exactly one BS. "at_most_once": no user is served by two BSs (unserved
#: users then simply add no rate); a reading we measure against the printed one.
SERVE_CONDITIONS = ("exactly_once", "at_most_once")
#: Action ids are ``int64`` bit sets of ``U + 1`` bits, so U is capped at 62.
MAX_USERS = 62


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        a, b = value
        return (float(a), float(b))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of two numbers, got {value!r}") from None


@dataclass(frozen=True)
class SystemConfig:
    """All parameters of one simulated scenario; validated on construction.

    Paper values: area 300 x 100, BSs at (-100, 0), (0, 0), (100, 0) with coverage radius 60,
    cloud at (0, 50), U = 12 users (Section V text; Table II says 10), M = 3 BSs, N = 12 RBs,
    B = 1, P = 1, N0 = 1e-5, K = 5 (Table II), episode of 30 slots (trajectory length, Sec. V).
    """

    # --- geometry (Section V-A) -------------------------------------------------------------
    area_x: tuple[float, float] = (-150.0, 150.0)
    area_y: tuple[float, float] = (-50.0, 50.0)
    bs_positions: tuple[tuple[float, float], ...] = ((-100.0, 0.0), (0.0, 0.0), (100.0, 0.0))
    coverage_radius: float = 60.0
    cloud_position: tuple[float, float] = (0.0, 50.0)
    # --- users and spectrum -----------------------------------------------------------------
    #: U. Section V's text says 12 users; Table II lists 10. We follow the text.
    num_users: int = 12
    #: N, RBs per BS (Fig. 3, 5, 6 use 12; Fig. 4 uses 9).
    num_rbs: int = 12
    bandwidth: float = 1.0  # B (Table II)
    tx_power: float = 1.0  # P (Table II)
    noise_psd: float = 1e-5  # N0 (Table II)
    # --- objective (eqs. 8, 16) -------------------------------------------------------------
    #: weight epsilon of eq. (8)/(16); Fig. 3 uses 0.3.
    epsilon: float = 0.3
    #: rho of eq. (16), penalty per BS serving a doubly-served user. Assumption: not stated; -5.
    penalty: float = -5.0
    # --- twin (Section III-A) ---------------------------------------------------------------
    history_len: int = 5  # K (Table II)
    episode_len: int = 30  # slots per episode = trajectory length of Section V-A
    # --- values the paper leaves unstated (our assumptions, documented in the book) ---------
    #: Delta l of eq. (1). Assumption: 1 (grid steps of one distance unit).
    step_length: float = 1.0
    #: Seed of the scenario: draws each user's move probabilities p_u from Dirichlet(1,...,1)
    #: once, so the twin can learn each user's habits. Assumption.
    scenario_seed: int = 0
    #: Distances are Euclidean, floored at d_min to keep d^-2 finite. Assumption: 1.
    min_distance: float = 1.0
    #: D_m of eq. (6), the size of one twin update. Assumption: 1 (same unit as B).
    update_size: float = 1.0
    #: alpha of (8g), the deadline on T_m. Assumption: 1 slot.
    deadline: float = 1.0
    #: Interference model of eqs. (3)/(5); see INTERFERENCE_MODELS.
    interference_model: str = "physical"
    #: Small-scale fading o_u; see FADING_MODELS.
    fading_model: str = "rayleigh"
    #: Rounds of Algorithm 1. 1 = the paper (one pass, BSs in index order). >1 goes beyond
    #: the paper: each BS re-optimises given all others until nothing changes or this limit.
    allocation_rounds: int = 1
    #: First-branch condition of eq. (16); see SERVE_CONDITIONS.
    serve_condition: str = "exactly_once"
    #: Predictor of the twin when no predictor object is given; see TWIN_PREDICTORS.
    twin_predictor: str = "hold_last"

    # ----------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        # normalise sequences to tuples of floats so that equality and hashing are stable
        object.__setattr__(self, "area_x", _pair(self.area_x, "area_x"))
        object.__setattr__(self, "area_y", _pair(self.area_y, "area_y"))
        object.__setattr__(self, "cloud_position", _pair(self.cloud_position, "cloud_position"))
        try:
            bs = tuple(_pair(p, "bs_positions[i]") for p in self.bs_positions)
        except TypeError:
            raise ValueError("bs_positions must be a sequence of (x, y) pairs") from None
        object.__setattr__(self, "bs_positions", bs)
        self.validate()

    # ----------------------------------------------------------------------------------------
    @property
    def num_bs(self) -> int:
        """M, the number of base stations."""
        return len(self.bs_positions)

    @property
    def num_actions(self) -> int:
        """Size of one BS's action space, 2**(U+1) (Section IV-A)."""
        return 2 ** (self.num_users + 1)

    # ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter and its allowed range on bad input."""

        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: must be {rule}")

        def finite(v: float) -> bool:
            return isinstance(v, (int, float)) and math.isfinite(v)

        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        (x0, x1), (y0, y1) = self.area_x, self.area_y
        need(finite(x0) and finite(x1) and x0 < x1, "area_x", "a finite (min, max) with min < max")
        need(finite(y0) and finite(y1) and y0 < y1, "area_y", "a finite (min, max) with min < max")

        def inside(p: tuple[float, float]) -> bool:
            return x0 <= p[0] <= x1 and y0 <= p[1] <= y1

        need(len(self.bs_positions) >= 1, "bs_positions", "at least one (x, y) pair")
        need(
            all(inside(p) for p in self.bs_positions),
            "bs_positions",
            f"inside the area x in [{x0}, {x1}], y in [{y0}, {y1}]",
        )
        need(
            len(set(self.bs_positions)) == len(self.bs_positions),
            "bs_positions",
            "pairwise distinct",
        )
        need(
            inside(self.cloud_position),
            "cloud_position",
            f"inside the area x in [{x0}, {x1}], y in [{y0}, {y1}]",
        )
        need(
            finite(self.coverage_radius) and self.coverage_radius > 0,
            "coverage_radius",
            "a finite number > 0",
        )
        need(
            is_int(self.num_users) and 1 <= self.num_users <= MAX_USERS,
            "num_users",
            f"an integer in [1, {MAX_USERS}]",
        )
        need(is_int(self.num_rbs) and self.num_rbs >= 1, "num_rbs", "an integer >= 1")
        for name in ("bandwidth", "tx_power", "noise_psd", "step_length", "min_distance"):
            need(
                finite(getattr(self, name)) and getattr(self, name) > 0, name, "a finite number > 0"
            )
        for name in ("update_size", "deadline"):
            need(
                finite(getattr(self, name)) and getattr(self, name) > 0, name, "a finite number > 0"
            )
        need(
            finite(self.epsilon) and 0 < self.epsilon < 1, "epsilon", "in the open interval (0, 1)"
        )
        need(finite(self.penalty) and self.penalty < 0, "penalty", "a finite number < 0 (rho < 0)")
        need(is_int(self.history_len) and self.history_len >= 1, "history_len", "an integer >= 1")
        need(is_int(self.episode_len) and self.episode_len >= 1, "episode_len", "an integer >= 1")
        need(
            is_int(self.scenario_seed) and self.scenario_seed >= 0,
            "scenario_seed",
            "an integer >= 0",
        )
        need(
            self.interference_model in INTERFERENCE_MODELS,
            "interference_model",
            f"one of {INTERFERENCE_MODELS}",
        )
        need(self.fading_model in FADING_MODELS, "fading_model", f"one of {FADING_MODELS}")
        need(
            self.serve_condition in SERVE_CONDITIONS,
            "serve_condition",
            f"one of {SERVE_CONDITIONS}",
        )
        need(
            self.twin_predictor in TWIN_PREDICTORS,
            "twin_predictor",
            f"one of {TWIN_PREDICTORS}",
        )
        need(
            is_int(self.allocation_rounds) and 1 <= self.allocation_rounds <= 1000,
            "allocation_rounds",
            "an integer in [1, 1000]",
        )

    # ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict (tuples become lists); ``from_dict`` inverts it."""
        d = dataclasses.asdict(self)
        return json.loads(json.dumps(d))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SystemConfig:
        """Build a config from ``to_dict`` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SystemConfig parameter(s): {', '.join(unknown)}")
        kwargs = dict(data)
        if "bs_positions" in kwargs:
            kwargs["bs_positions"] = tuple(tuple(p) for p in kwargs["bs_positions"])
        return cls(**kwargs)

    def replace(self, **changes: Any) -> SystemConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def config_hash(self) -> str:
        """Stable content hash (16 hex digits) of every parameter; identifies a config."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
