"""What the reproduction trains: the settings of each figure of Section V, as cells.

A cell is one training run, (config, training settings, algorithm, seed); its content hash names
its file in the result store. The quick budget runs the same pipeline with tiny training, for
tests and CI.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dnt._io import content_hash
from dnt.marl import TrainConfig
from dnt.sim.config import SystemConfig
from dnt.sim.gru import GRUTrainConfig

__all__ = [
    "ABLATION_SEEDS",
    "EPS_VALUES",
    "FIGURES",
    "QUICK_TRAIN",
    "USER_VALUES",
    "Cell",
    "ablation_cells",
    "base_config",
    "figure_cells",
    "figure_configs",
    "train_config",
    "twin_settings",
]

FIGURES = ("fig2", "fig3", "fig4", "fig5", "fig6")
#: Fig. 4: epsilon values (the paper's axis is not given numerically; six values incl. 0.8).
EPS_VALUES = (0.1, 0.3, 0.5, 0.8, 0.9, 0.99)
#: Fig. 5: numbers of users (four values including 12).
USER_VALUES = (6, 8, 10, 12)
#: --quick: a budget for tests and CI (same pipeline, tiny training).
QUICK_TRAIN = {
    "epochs": 4,
    "hidden": 16,
    "envs_per_epoch": 4,
    "updates_per_epoch": 1,
    "batch_episodes": 4,
    "buffer_episodes": 64,
    "eval_episodes": 4,
    "eps_decay_epochs": 2,
}
QUICK_TWIN = {"hidden": 16, "max_epochs": 1}
QUICK_TWIN_TRAJ = 60
#: Seeds of the training ablations (``reproduce ablations``, see :func:`ablation_cells`).
ABLATION_SEEDS = 2


def twin_settings(quick: bool) -> tuple[GRUTrainConfig, int]:
    """The GRU twin's training settings and number of trajectories (the paper's 2,000)."""
    return (GRUTrainConfig(**QUICK_TWIN), QUICK_TWIN_TRAJ) if quick else (GRUTrainConfig(), 2000)


def base_config(**changes: Any) -> SystemConfig:
    """The Section V scenario every figure starts from: the GRU twin, and eq. (16) read as
    "no user served twice" (``serve_condition="at_most_once"``): under the printed condition
    VDN learns only to serve nobody (see the training notes), which would make every
    comparison degenerate."""
    return SystemConfig(twin_predictor="gru", serve_condition="at_most_once").replace(**changes)


class Cell:
    """One training run of the reproduction: (config, training settings, algorithm, seed)."""

    def __init__(self, cfg: SystemConfig, tc: TrainConfig, seed: int) -> None:
        self.cfg, self.tc, self.seed = cfg, tc, int(seed)

    @property
    def algo(self) -> str:
        return self.tc.algo

    def settings(self) -> dict[str, Any]:
        t = dataclasses.asdict(self.tc)
        t.pop("algo")
        return {"config": self.cfg.to_dict(), "train": t}

    def run_hash(self) -> str:
        """Content hash of the config and the training settings (the algorithm aside)."""
        return content_hash(self.settings())

    def setting(self) -> str:
        """Everything but the seed: cells with the same setting can train side by side."""
        return f"{self.run_hash()}-{self.algo}"

    def filename(self) -> str:
        return f"{self.setting()}-seed{self.seed}.json"

    def __repr__(self) -> str:
        return f"Cell({self.cfg.config_hash()}, {self.algo}, seed={self.seed})"


def figure_configs(fig: str) -> list[SystemConfig]:
    """The system configs a figure needs (Section V settings)."""
    if fig == "fig3":
        return [base_config(epsilon=0.3, num_rbs=12)]
    if fig == "fig4":
        return [base_config(epsilon=e, num_rbs=9) for e in EPS_VALUES]
    if fig in ("fig5",):
        return [base_config(epsilon=0.25, num_rbs=12, num_users=u) for u in USER_VALUES]
    if fig == "fig6":
        return [base_config(epsilon=0.25, num_rbs=12, num_users=12)]
    if fig == "fig2":
        return []
    raise ValueError(f"figure {fig!r} unknown: must be one of {FIGURES}")


def train_config(algo: str, quick: bool, curve: bool = True) -> TrainConfig:
    """Training settings of the reproduction: the library defaults (or the quick budget);
    ``curve=False`` evaluates only after the last epoch (Figs. 4-6 use final figures only)."""
    tc = TrainConfig(algo=algo, **(QUICK_TRAIN if quick else {}))
    return tc if curve else dataclasses.replace(tc, eval_every=tc.epochs)


def ablation_cells(seeds: int, quick: bool) -> dict[str, list[Cell]]:
    """The training ablations (not a paper figure) by name, at Fig. 3's settings: the printed
    reading of eq. (16) for both methods, VDN without the locally known extras, and VDN with the
    plain head; at most ``ABLATION_SEEDS`` seeds. The reference runs are Fig. 3's own cells."""
    n = min(seeds, ABLATION_SEEDS)
    cfg = figure_configs("fig3")[0]
    printed = cfg.replace(serve_condition="exactly_once")
    vdn = train_config("vdn", quick)
    return {
        "printed_reward": [
            Cell(printed, train_config(a, quick), s) for a in ("vdn", "iql") for s in range(n)
        ],
        "no_extras": [Cell(cfg, dataclasses.replace(vdn, extras=False), s) for s in range(n)],
        "plain_head": [Cell(cfg, dataclasses.replace(vdn, head="plain"), s) for s in range(n)],
    }


def figure_cells(fig: str, seeds: int, quick: bool) -> list[Cell]:
    """Every cell a figure (or ``"ablations"``) needs, ``seeds`` seeds per setting."""
    if fig == "ablations":
        return [c for cells in ablation_cells(seeds, quick).values() for c in cells]
    return [
        Cell(cfg, train_config(algo, quick, curve=fig == "fig3"), s)
        for cfg in figure_configs(fig)
        for algo in ("vdn", "iql")
        for s in range(seeds)
    ]
