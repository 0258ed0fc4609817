"""What a BS knows, as numbers: its observation s_t^m (the positions of the users it covers,
Section III-C) and what it remembers of its own past (its previous action, the outcome of its own
updates). Nothing here uses another BS's observation, the twin's state or the fading.

:class:`LocalState` keeps the remembered part for B environments; :func:`shared_features` and
:func:`paper_features` turn observations into the inputs of the two Q-networks.
"""

from __future__ import annotations

import numpy as np
import torch

from dnt.sim.config import SystemConfig

__all__ = [
    "LocalState",
    "agent_major",
    "bs_feature_size",
    "network_inputs",
    "paper_feature_size",
    "paper_features",
    "shared_features",
    "user_feature_size",
]


class LocalState:
    """Each BS's memory in B environments, updated after every slot by :meth:`observe`.

    ``since`` (B, M): slots since the BS's last successful update (0 at the episode's start: the
    twin starts synchronised); ``age`` (B, M, U): slots since the BS last synchronised each user
    (its update arrived while it covered the user); ``prev`` (B, M): its previous action id.
    """

    def __init__(self, cfg: SystemConfig, num_envs: int) -> None:
        m, u = cfg.num_bs, cfg.num_users
        self.since = np.zeros((num_envs, m))
        self.age = np.zeros((num_envs, m, u))
        self.prev = np.zeros((num_envs, m), np.int64)

    def reset(self, where: np.ndarray | None = None) -> None:
        """Forget everything (for the envs in the bool mask ``where``): a new episode."""
        sel = slice(None) if where is None else where
        self.since[sel] = 0.0
        self.age[sel] = 0.0
        self.prev[sel] = 0

    def observe(
        self, cov: np.ndarray, actions: np.ndarray, update_ok: np.ndarray, done: np.ndarray
    ) -> None:
        """After a slot: ``cov`` (B, M, U) the coverage when acting, ``actions`` (B, M),
        ``update_ok`` (B, M) whose updates arrived (a BS learns it from the cloud's
        acknowledgement), ``done`` (B,) the episodes that ended (their memory is reset)."""
        self.since = np.where(update_ok, 0.0, self.since + 1.0)
        self.age = np.where(cov & update_ok[..., None], 0.0, self.age + 1.0)
        self.prev = np.asarray(actions, dtype=np.int64).copy()
        if np.any(done):
            self.reset(np.asarray(done, dtype=bool))

    def arrays(self) -> dict[str, np.ndarray]:
        """Copies of the memory, for the replay buffer."""
        return {"since": self.since.copy(), "age": self.age.copy(), "prev": self.prev.copy()}


def user_feature_size(cfg: SystemConfig) -> int:
    """Length of one (BS, user) input row of the shared head."""
    return 2 + cfg.num_bs + 3


def bs_feature_size(cfg: SystemConfig) -> int:
    """Length of one BS's own input row of the shared head."""
    return 5


def shared_features(
    cfg: SystemConfig,
    pos: np.ndarray,
    cov: np.ndarray,
    t: np.ndarray,
    since: np.ndarray,
    age: np.ndarray,
    prev: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of the shared head for any leading shape ``...``: per (BS m, user u), zero unless m
    covers u, (..., M, U, F_u): u's position relative to m and its distance to every BS (in
    coverage radii; the BS layout is public), how many other BSs cover u (follows from u's
    position and the layout), slots since m last synchronised u, whether m served u in the
    previous slot. Per BS, (..., M, F_b): slots since its last successful update, the share of
    users it covers, its previous update bit, the slot index, the mean age of its users.
    Slot counts are divided by the episode length and capped at 1."""
    t_len, radius = cfg.episode_len, cfg.coverage_radius
    bs = np.asarray(cfg.bs_positions)
    covf = cov.astype(np.float64)
    rel = pos[..., None, :, :] - bs[:, None, :]  # (..., M, U, 2): user relative to each BS
    dist = np.sqrt((rel**2).sum(-1)) / radius  # (..., M, U)
    dist_all = np.broadcast_to(np.swapaxes(dist, -1, -2)[..., None, :, :], (*cov.shape, cfg.num_bs))
    others = cov.sum(-2, keepdims=True) - cov  # (..., M, U): other BSs covering u
    age_n = np.minimum(age, t_len) / t_len
    served = (prev[..., None] >> np.arange(1, cfg.num_users + 1)) & 1
    user = (
        np.concatenate(
            [rel / radius, dist_all, others[..., None], age_n[..., None], served[..., None]], -1
        )
        * covf[..., None]
    )
    n_cov = covf.sum(-1)
    bs_row = np.stack(
        [
            np.minimum(since, t_len) / t_len,
            n_cov / cfg.num_users,
            (prev & 1).astype(np.float64),
            np.broadcast_to(np.asarray(t, dtype=np.float64)[..., None] / t_len, since.shape),
            (age_n * covf).sum(-1) / np.maximum(n_cov, 1.0),
        ],
        -1,
    )
    return user.astype(np.float32), bs_row.astype(np.float32)


def paper_feature_size(cfg: SystemConfig) -> int:
    """Length of one BS's input vector of the paper's Q-network."""
    return 4 * cfg.num_users + 2


def paper_features(
    cfg: SystemConfig, pos: np.ndarray, cov: np.ndarray, since: np.ndarray, prev: np.ndarray
) -> np.ndarray:
    """Inputs of the paper's GRU Q-network, (..., M, F): the covered users' positions scaled to
    [-1, 1] by the area (others zero) and the coverage mask (s_t^m of Section III-C), the BS's
    previous action bits and the slots since its last successful update."""
    c = cfg
    center = np.array([sum(c.area_x) / 2, sum(c.area_y) / 2])
    scale = np.array([(c.area_x[1] - c.area_x[0]) / 2, (c.area_y[1] - c.area_y[0]) / 2])
    p = (pos[..., None, :, :] - center) / scale * cov[..., None]  # (..., M, U, 2)
    bits = (prev[..., None] >> np.arange(c.num_users + 1)) & 1
    parts = [
        p.reshape(*cov.shape[:-1], -1),
        cov.astype(np.float64),
        bits.astype(np.float64),
        np.minimum(since, c.episode_len)[..., None] / c.episode_len,
    ]
    return np.concatenate(parts, axis=-1).astype(np.float32)


def agent_major(a: np.ndarray) -> np.ndarray:
    """(R, L, N, M, ...) per-BS arrays of R runs -> (R * M, L, N, ...), the stacked agents'
    layout (run-major: agent r * M + m is BS m of run r)."""
    a = np.moveaxis(a, 3, 1)
    return a.reshape(a.shape[0] * a.shape[1], *a.shape[2:])


def slot_inputs(
    cfg: SystemConfig, head: str, slots: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The Q-network's inputs for slots of any leading shape ``...``, per environment: ``slots``
    holds ``pos`` (..., U, 2), ``cov`` (..., M, U), ``t`` (...), ``since`` and ``prev``
    (..., M), ``age`` (..., M, U). Shared head: ``user`` (..., M, U, F_u), ``bs``
    (..., M, F_b) and ``cov``; paper head: ``x`` (..., M, F) and ``cov``."""
    pos, cov = slots["pos"], slots["cov"]
    if head == "shared":
        user, bs = shared_features(
            cfg, pos, cov, slots["t"], slots["since"], slots["age"], slots["prev"]
        )
        return {"user": user, "bs": bs, "cov": cov}
    return {"x": paper_features(cfg, pos, cov, slots["since"], slots["prev"]), "cov": cov}


#: The keys of :func:`slot_inputs` in the order the networks take them.
INPUT_KEYS = {"shared": ("user", "bs", "cov"), "paper": ("x",)}


def network_inputs(head: str, inputs: dict[str, np.ndarray]) -> list[torch.Tensor]:
    """:func:`slot_inputs` of R runs, arrays (R, L, N, M, ...), as the stacked agents' tensors
    (R * M, L, N, ...) in the order the head's network takes them."""
    return [
        torch.from_numpy(np.ascontiguousarray(agent_major(inputs[k]))) for k in INPUT_KEYS[head]
    ]
