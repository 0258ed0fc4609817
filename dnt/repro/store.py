"""The content-addressed result store of the reproduction.

Under a root folder (default ``results/``): ``runs/`` (one JSON file per cell), ``baselines/``
(the rules on each config's evaluation episodes), ``twins/`` (the GRU twins of each scenario),
``fig2/`` (the twin's Fig. 2 data), ``figures/``, the claims table and ``summary.json``. Every
file is written atomically; a run file is used only if the settings stored inside hash to its
name and match the request, else the run is redone.

Every file records the code version that made it (:func:`dnt._io.code_version`, a hash of the
code on the numeric path). A file from another code version is *stale*: it is redone, or, when
the caller allows stale results, reused with ``"stale": True`` so that tables and captions can
say so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dnt._io import atomic_write_json, code_version, content_hash
from dnt.repro.specs import Cell
from dnt.sim.config import SystemConfig

__all__ = ["ResultStore", "project_root"]


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``pyproject.toml`` and
    ``dnt/`` (the book's pages run from ``book/`` or from the top)."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").exists() and (d / "dnt").is_dir():
            return d
    return here


class ResultStore:
    """Content-addressed results under ``root``: ``runs/``, ``baselines/``, ``twins/``, ``fig2/``.

    A run file holds its config, training settings, seed, code version and metrics; it is used
    only if the settings stored inside hash to its name and match the request, else redone.
    """

    def __init__(self, root: str | Path = "results", allow_stale: bool = False) -> None:
        self.root = Path(root)
        self.allow_stale = allow_stale
        self.version = code_version()

    def current(self, d: dict[str, Any] | None) -> dict[str, Any] | None:
        """``d`` if made by this code; a stale ``d`` marked as such if stale files are allowed."""
        if d is None:
            return None
        if d.get("code_version") == self.version:
            return d
        return {**d, "stale": True} if self.allow_stale else None

    @property
    def twins(self) -> Path:
        return self.root / "twins"

    def load(self, path: Path) -> dict[str, Any] | None:
        """A JSON file of the store, or ``None`` if it is missing or unreadable."""
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def run_path(self, cell: Cell) -> Path:
        return self.root / "runs" / cell.filename()

    def run_status(self, cell: Cell) -> str:
        """ "current", "stale" (made by other code) or "missing" (absent or not this cell's)."""
        d = self._matching_run(cell)
        if d is None:
            return "missing"
        return "current" if d.get("code_version") == self.version else "stale"

    def load_run(self, cell: Cell) -> dict[str, Any] | None:
        """The cell's stored run, if current (or stale and stale files are allowed)."""
        return self.current(self._matching_run(cell))

    def _matching_run(self, cell: Cell) -> dict[str, Any] | None:
        d = self.load(self.run_path(cell))
        if d is None:
            return None
        stored = {"config": d.get("config"), "train": d.get("train")}
        ok = (
            content_hash(stored) == cell.run_hash()
            and stored == cell.settings()
            and d.get("algo") == cell.algo
            and d.get("seed") == cell.seed
            and "metrics" in d
        )
        return d if ok else None

    def save_run(self, cell: Cell, metrics: dict[str, Any], batch_seeds: int | None = None) -> None:
        """Write a run; ``batch_seeds``: how many seeds trained side by side in its batch (its
        ``metrics["train_wall_seconds"]`` is the batch's wall time), recorded under ``timing``
        for the time estimates of :mod:`dnt.repro.status`."""
        data = {
            **cell.settings(),
            "algo": cell.algo,
            "seed": cell.seed,
            "code_version": self.version,
            "metrics": metrics,
        }
        if batch_seeds is not None:
            data["timing"] = {"batch_seeds": int(batch_seeds)}
        atomic_write_json(self.run_path(cell), data)

    def baseline_path(self, cfg: SystemConfig, episodes: int) -> Path:
        return self.root / "baselines" / f"{cfg.config_hash()}-ep{episodes}.json"

    def load_baselines(self, cfg: SystemConfig, episodes: int) -> dict[str, Any] | None:
        d = self.load(self.baseline_path(cfg, episodes))
        if d is None or d.get("config") != cfg.to_dict() or d.get("episodes") != episodes:
            return None
        return self.current(d)

    def save_baselines(self, cfg: SystemConfig, episodes: int, results: dict[str, Any]) -> None:
        data = {
            "config": cfg.to_dict(),
            "episodes": episodes,
            "code_version": self.version,
            "results": results,
        }
        atomic_write_json(self.baseline_path(cfg, episodes), data)
