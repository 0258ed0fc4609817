"""A BS's actions as bits (Section III-C): bit 0 sends the twin update, bit u+1 serves user u.
Only subsets of the covered users are available (enumerated by
:func:`dnt.sim.reward.available_pairs`); this module converts ids and bits and draws random
available actions for exploration."""

from __future__ import annotations

import numpy as np

from dnt.sim.reward import allowed_bits

__all__ = ["action_bits", "bits_to_actions", "random_actions"]


def action_bits(actions: np.ndarray, num_users: int) -> np.ndarray:
    """Action ids (...) -> their U + 1 bits (..., U + 1) as 0/1 float32."""
    a = np.asarray(actions, dtype=np.int64)
    return ((a[..., None] >> np.arange(num_users + 1)) & 1).astype(np.float32)


def bits_to_actions(bits: np.ndarray) -> np.ndarray:
    """U + 1 bits (..., U + 1), any 0/1 dtype -> action ids (...) int64."""
    b = np.asarray(bits).astype(np.int64)
    return (b << np.arange(b.shape[-1], dtype=np.int64)).sum(-1)


def random_actions(rng: np.random.Generator, cov: np.ndarray, serve_prob: float) -> np.ndarray:
    """Random available actions for coverage (..., M, U): the update with probability 1/2, each
    covered user with probability ``serve_prob``; (..., M) int64."""
    u = cov.shape[-1]
    on = rng.random((*cov.shape[:-1], u + 1)) < serve_prob
    on[..., 0] = rng.random(cov.shape[:-1]) < 0.5
    return bits_to_actions(on) & allowed_bits(cov)
