"""The content-addressed result store of the reproduction.

Under a root folder (default ``results/``): ``runs/`` (one JSON file per cell), ``baselines/``
(the rules on each config's evaluation episodes), ``twins/`` (the GRU twins of each scenario),
``fig2/`` (the twin's Fig. 2 data), ``figures/`` and the claims table. Every file is written
atomically; a run file is used only if the settings stored inside hash to its name and match
the request, else the run is redone.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dnt._io import atomic_write_json, content_hash
from dnt.repro.specs import Cell
from dnt.sim.config import SystemConfig

__all__ = ["ResultStore", "code_version", "project_root"]

PACKAGE = Path(__file__).resolve().parents[1]


def code_version() -> str:
    """Package version and a hash of the library's source files (informational)."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE.rglob("*.py")):
        h.update(str(f.relative_to(PACKAGE)).encode())
        h.update(f.read_bytes())
    try:
        v = version("dnt")
    except PackageNotFoundError:  # running from a source tree
        v = "unknown"
    return f"{v}+{h.hexdigest()[:12]}"


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

    def __init__(self, root: str | Path = "results") -> None:
        self.root = Path(root)

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

    def load_run(self, cell: Cell) -> dict[str, Any] | None:
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

    def save_run(self, cell: Cell, metrics: dict[str, Any]) -> None:
        data = {
            **cell.settings(),
            "algo": cell.algo,
            "seed": cell.seed,
            "code_version": code_version(),
            "metrics": metrics,
        }
        atomic_write_json(self.run_path(cell), data)

    def baseline_path(self, cfg: SystemConfig, episodes: int) -> Path:
        return self.root / "baselines" / f"{cfg.config_hash()}-ep{episodes}.json"

    def load_baselines(self, cfg: SystemConfig, episodes: int) -> dict[str, Any] | None:
        d = self.load(self.baseline_path(cfg, episodes))
        if d is None or d.get("config") != cfg.to_dict() or d.get("episodes") != episodes:
            return None
        return d

    def save_baselines(self, cfg: SystemConfig, episodes: int, results: dict[str, Any]) -> None:
        data = {
            "config": cfg.to_dict(),
            "episodes": episodes,
            "code_version": code_version(),
            "results": results,
        }
        atomic_write_json(self.baseline_path(cfg, episodes), data)
