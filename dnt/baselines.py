"""Non-learning policies: what learning has to beat, and the references above it. Every policy
is scored by the common protocol of :mod:`dnt.sim.evaluation` (greedy, the same fixed
evaluation episodes, the same metrics).

What each one knows (:data:`INFORMATION`): the nearest-BS rules use only what a BS observes
(its covered users' positions and the public BS layout), so a learned BS could express them;
the threshold rule also sees the twin's error, which a BS does not; the one-slot optimiser
(``MyopicOracle``, results key ``myopic_oracle``) sees the full state (every position, this
slot's fading, the twin's prediction) and chooses all BSs' actions jointly to maximise the
current slot's team reward. It is a reference, not a bound: it ignores that an update also
lowers the twin's error in later slots, and policies are scored on the undiscounted mean over
all 30 slots, so a learner may legitimately beat it.
"""

from __future__ import annotations

import numpy as np

from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import Policy
from dnt.sim.reward import available_pairs

__all__ = [
    "INFORMATION",
    "MyopicOracle",
    "NearestBSPolicy",
    "RandomPolicy",
    "ThresholdPolicy",
    "baseline_policies",
    "nearest_association",
]


def nearest_association(
    cfg: SystemConfig, obs: dict[str, np.ndarray], skip_overlap: bool = False
) -> np.ndarray:
    """Action bits serving every covered user from its nearest covering BS, (B, M) int64; with
    ``skip_overlap``, users that two or more BSs cover are served by none."""
    bs = np.asarray(cfg.bs_positions)
    d2 = ((obs["state"][:, None, :, :] - bs[None, :, None, :]) ** 2).sum(-1)  # (B, M, U)
    cov = obs["coverage"]
    best = np.where(cov, d2, np.inf).argmin(axis=1)  # (B, U)
    assoc = (np.arange(cfg.num_bs)[None, :, None] == best[:, None, :]) & cov
    if skip_overlap:
        assoc &= (cov.sum(axis=1) == 1)[:, None, :]
    return (assoc.astype(np.int64) << np.arange(1, cfg.num_users + 1, dtype=np.int64)).sum(-1)


class RandomPolicy:
    """Uniformly random available actions (each available bit on with probability 1/2)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        bits = env.allowed_bits()
        return self.rng.integers(0, 2**62, bits.shape, dtype=np.int64) & bits


class NearestBSPolicy:
    """Nearest covering BS serves each user (with ``skip_overlap``: only users that one BS
    covers); updates always, never, or every ``period`` slots. Uses only what a BS knows."""

    def __init__(
        self, cfg: SystemConfig, update: str | int = "always", skip_overlap: bool = False
    ) -> None:
        if not (update in ("always", "never") or (isinstance(update, int) and update >= 1)):
            raise ValueError(f"update={update!r} is invalid: 'always', 'never' or an int >= 1")
        self.cfg = cfg
        self.update = update
        self.skip_overlap = skip_overlap

    def reset(self, num_envs: int) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        a = nearest_association(self.cfg, obs, self.skip_overlap)
        if self.update == "never":
            return a
        if self.update == "always":
            return a | 1
        send = (obs["t"] % self.update == 0)[:, None]
        return a | send.astype(np.int64)


class ThresholdPolicy:
    """Nearest-BS association; a BS updates when the twin's prediction of its covered users is
    off by more than ``threshold`` (mean squared distance over those users).

    The rule reads the twin's error, which needs the twin's prediction next to the users' true
    positions: a BS observes its users but not the twin's state, so this rule uses more than a BS
    knows (see :data:`INFORMATION`) and no learned BS could express it.
    """

    def __init__(self, cfg: SystemConfig, threshold: float = 1.0) -> None:
        if not (np.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold={threshold!r} is invalid: must be a finite number >= 0")
        self.cfg = cfg
        self.threshold = threshold

    def reset(self, num_envs: int) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        a = nearest_association(self.cfg, obs)
        pred = env.twin.predict()  # (B, U, 2): what the twin will hold without updates
        err = ((pred - obs["state"]) ** 2).sum(-1)  # (B, U)
        cov = obs["coverage"]
        n = np.maximum(cov.sum(-1), 1)
        mean_err = (err[:, None, :] * cov).sum(-1) / n  # (B, M)
        return a | (mean_err > self.threshold).astype(np.int64)


class MyopicOracle:
    """The one-slot optimiser: sees the full state and, each slot, chooses all BSs' actions
    jointly to maximise that slot's exact team reward (eq. 16), by coordinate ascent: each BS
    in turn takes its best available action given the others' (every one of its 2**(c+1)
    actions evaluated with the simulator), until a round changes nothing or ``rounds`` rounds
    are done; three starts (the nearest-BS rule with and without updates, and doing nothing),
    the best ascent wins. The result is optimal for each BS given the others; against an exhaustive
    joint search it is within a small gap (measured in the tests and the book). It ignores the
    future: an update now also lowers later slots' twin errors, and evaluation is the
    undiscounted 30-slot mean, so it is a reference, not an upper bound (a learner may beat
    it)."""

    def __init__(self, cfg: SystemConfig, rounds: int = 4) -> None:
        if not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds={rounds!r} is invalid: must be an integer >= 1")
        self.cfg = cfg
        self.rounds = rounds

    def reset(self, num_envs: int) -> None:
        pass

    def act(self, obs: dict[str, np.ndarray], env: VectorDNTEnv) -> np.ndarray:
        predicted = env.twin.predict()
        rows = np.arange(len(obs["coverage"]))
        near = nearest_association(self.cfg, obs)
        best_a, best_r = None, None
        for start in (near | 1, near, near & ~near):  # three starts, the best ascent wins
            a = self._ascend(obs, env, start, predicted)
            r = env.what_if(rows, a, predicted)["reward"]
            if best_a is None:
                best_a, best_r = a, r
            else:
                better = r > best_r
                best_a[better], best_r[better] = a[better], r[better]
        return best_a

    def _ascend(
        self, obs: dict[str, np.ndarray], env: VectorDNTEnv, cur: np.ndarray, predicted
    ) -> np.ndarray:
        """Coordinate ascent from the joint actions ``cur`` (B, M)."""
        cur = cur.copy()
        b_sz = len(cur)
        best = env.what_if(np.arange(b_sz), cur, predicted)["reward"]
        for _ in range(self.rounds):
            changed = False
            for m in range(self.cfg.num_bs):
                rows, acts = available_pairs(obs["coverage"][:, m])  # rows ascending
                cand = cur[rows].copy()
                cand[:, m] = acts
                r = env.what_if(rows, cand, predicted)["reward"]
                order = np.lexsort((-r, rows))  # per env, best first (lowest action on ties)
                first = order[np.searchsorted(rows[order], np.arange(b_sz))]
                better = r[first] > best + 1e-9 * np.maximum(1.0, np.abs(best))
                cur[better] = cand[first[better]]
                best = np.where(better, r[first], best)
                changed |= bool(better.any())
            if not changed:
                break
        return cur


#: What each baseline knows when it acts (see the module docstring).
INFORMATION = {
    "random": "nothing",
    "nearest_always_update": "what a BS observes",
    "nearest_never_update": "what a BS observes",
    "nearest_update_every_5": "what a BS observes",
    "nearest_skip_overlap_always_update": "what a BS observes",
    "nearest_threshold_1": "a BS's view plus the twin's error",
    "myopic_oracle": "the full state, all BSs jointly",
}


def baseline_policies(cfg: SystemConfig, seed: int = 0) -> dict[str, Policy]:
    """The baselines by name (keys of :data:`INFORMATION`)."""
    return {
        "random": RandomPolicy(seed),
        "nearest_always_update": NearestBSPolicy(cfg, "always"),
        "nearest_never_update": NearestBSPolicy(cfg, "never"),
        "nearest_update_every_5": NearestBSPolicy(cfg, 5),
        "nearest_skip_overlap_always_update": NearestBSPolicy(cfg, "always", skip_overlap=True),
        "nearest_threshold_1": ThresholdPolicy(cfg, 1.0),
        "myopic_oracle": MyopicOracle(cfg),
    }
