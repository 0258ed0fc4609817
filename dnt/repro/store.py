"""The content-addressed result store of the reproduction.

Under a root folder (default ``results/``): ``runs/`` (one JSON file per cell), ``baselines/``
(the rules on each config's evaluation episodes), ``twins/`` (the GRU twins of each scenario),
``fig2/`` (the twin's Fig. 2 data), ``figures/``, the claims table and ``summary.json``. Every
file is written atomically; a run file is used only if the settings stored inside hash to its
name and match the request, else the run is redone.

Every file records what its numbers depend on (:mod:`dnt.repro.records`: the code on the path
that produced it and the content hashes of the stored files it read; a GRU twin's record lies
beside it, ``<twin>.json``) and, as a label for tables, the version of the numeric tree
(:func:`dnt._io.code_version`). A file whose record no longer holds is *stale*: it is redone,
or, when the caller allows stale results, reused with ``"stale": True`` so that tables and
captions can say so. :meth:`ResultStore.why_stale` names what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dnt._io import atomic_write_json, code_version, content_hash
from dnt.repro.records import file_hash, record, stale_reasons
from dnt.repro.specs import Cell, twin_settings
from dnt.rl.config import TrainConfig
from dnt.sim.config import SystemConfig
from dnt.sim.gru import GRUPredictor, twin_path

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

    def __init__(
        self, root: str | Path = "results", allow_stale: bool = False, quick: bool = False
    ) -> None:
        self.root = Path(root)
        self.allow_stale = allow_stale
        self.quick = quick  # which twin settings a cell of this store reads (the quick budget's)
        self.version = code_version()
        self._twins: dict[tuple[str, int | None], str | None] = {}

    def current(
        self, d: dict[str, Any] | None, inputs: dict[str, str | None]
    ) -> dict[str, Any] | None:
        """``d`` if its dependency record still holds with the stored ``inputs`` it would read
        now; a stale ``d`` marked as such if stale files are allowed; else None."""
        if d is None:
            return None
        if not stale_reasons(d.get("records"), inputs):
            return d
        return {**d, "stale": True} if self.allow_stale else None

    # -- the twins: each GRU twin's record lies beside it ----------------------------------

    def twin_file(self, cfg: SystemConfig) -> Path:
        """The GRU twin a cell of ``cfg`` reads in this store (the store's twin settings)."""
        return twin_path(cfg, self.twins, *twin_settings(self.quick))

    def twin_reasons(self, cfg: SystemConfig) -> list[str]:
        """Why the scenario's twin is stale (empty: current). A twin without a record gets one
        when the code version it recorded when trained is the current one (it was made by this
        code); otherwise it is stale."""
        path = self.twin_file(cfg)
        if not path.exists():
            return ["twin missing"]
        side = path.with_suffix(".json")
        rec = self.load(side)
        if rec is None:
            made = GRUPredictor.load(path, cfg).train_info.get("code_version")
            if made != self.version:
                return [f"twin made by code {made}, not the current {self.version}"]
            rec = {
                "records": record("twin"),
                "file": self.twin_hash(path, cfg),
                "config": cfg.to_dict(),  # a config of the twin's scenario, to load it by
            }
            atomic_write_json(side, rec)
        if rec.get("file") != self.twin_hash(path, cfg):
            return ["twin file replaced after its record was written"]
        return stale_reasons(rec.get("records"), {})

    def run_inputs(self, cfg: SystemConfig, twin: bool | None = None) -> dict[str, str | None]:
        """The stored inputs an artifact of ``cfg`` reads, by content hash (None when missing or
        stale): the scenario's GRU twin, read by a run whose twin predictor is the GRU (the
        default of ``twin``) and by every rule's evaluation (``twin=True``)."""
        if not (cfg.twin_predictor == "gru" if twin is None else twin):
            return {}
        path = self.twin_file(cfg)
        key = (str(path), path.stat().st_mtime_ns if path.exists() else None)
        if key not in self._twins:
            self._twins[key] = None if self.twin_reasons(cfg) else self.twin_hash(path, cfg)
        return {"twin": self._twins[key]}

    @staticmethod
    def twin_hash(path: Path, cfg: SystemConfig) -> str:
        """A twin's content hash: of its weights, by name, so that two trainings to the same
        weights hash the same (the file also holds the training's wall time)."""
        h = hashlib.sha256()
        for name, tensor in sorted(GRUPredictor.load(path, cfg).net.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def why_stale(self, cell: Cell) -> list[str]:
        """What changed since the cell's stored run was made (empty: current or missing)."""
        d = self._matching_run(cell)
        return [] if d is None else stale_reasons(d.get("records"), self.run_inputs(cell.cfg))

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
        """ "current", "stale" (its dependency record no longer holds) or "missing" (absent or
        not this cell's)."""
        d = self._matching_run(cell)
        if d is None:
            return "missing"
        return "stale" if stale_reasons(d.get("records"), self.run_inputs(cell.cfg)) else "current"

    def load_run(self, cell: Cell) -> dict[str, Any] | None:
        """The cell's stored run, if current (or stale and stale files are allowed)."""
        return self.current(self._matching_run(cell), self.run_inputs(cell.cfg))

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
            "records": record("run", self.run_inputs(cell.cfg)),
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
        return self.current(d, self.run_inputs(cfg, twin=True))

    def save_baselines(self, cfg: SystemConfig, episodes: int, results: dict[str, Any]) -> None:
        data = {
            "config": cfg.to_dict(),
            "episodes": episodes,
            "code_version": self.version,
            "records": record("baselines", self.run_inputs(cfg, twin=True)),
            "results": results,
        }
        atomic_write_json(self.baseline_path(cfg, episodes), data)

    def audit(self) -> dict[str, list[str]]:
        """Every artifact of the store by path (relative to the root) with why it is stale
        (empty: current): runs, rule evaluations, twins, Fig. 2's data and the tuning study."""
        out: dict[str, list[str]] = {}
        for f in sorted((self.root / "runs").glob("*.json")):
            d = self.load(f) or {}
            try:
                tc = TrainConfig(algo=d["algo"], **d["train"])
                cell = Cell(SystemConfig.from_dict(d["config"]), tc, d["seed"])
            except (KeyError, TypeError, ValueError):
                out[f"runs/{f.name}"] = ["unreadable"]
                continue
            if cell.filename() != f.name or self._matching_run(cell) is None:
                out[f"runs/{f.name}"] = ["not the cell its name promises"]
                continue
            out[f"runs/{f.name}"] = self.why_stale(cell)
        for f in sorted((self.root / "baselines").glob("*.json")):
            d = self.load(f) or {}
            inputs = self.run_inputs(SystemConfig.from_dict(d["config"]), twin=True)
            out[f"baselines/{f.name}"] = stale_reasons(d.get("records"), inputs)
        for f in sorted(self.twins.glob("*.pt")):
            side = self.load(f.with_suffix(".json"))
            if side is None:
                out[f"twins/{f.name}"] = ["no dependency record"]
            elif side.get("file") != self.twin_hash(f, SystemConfig.from_dict(side["config"])):
                out[f"twins/{f.name}"] = ["twin file replaced after its record was written"]
            else:
                out[f"twins/{f.name}"] = stale_reasons(side.get("records"), {})
        for f in sorted((self.root / "fig2").glob("*.json")):
            d = self.load(f) or {}
            inputs = self.run_inputs(SystemConfig.from_dict(d["config"]), twin=True)
            out[f"fig2/{f.name}"] = stale_reasons(d.get("records"), inputs)
        tuning = self.load(self.root / "tuning.json")
        if tuning is not None:
            names = (tuning.get("records") or {}).get("inputs", {})
            now = {}
            for name in names:
                path = self.root / "runs" / name
                fine = path.exists() and not out.get(f"runs/{name}", ["missing"])
                now[name] = file_hash(path) if fine else None
            out["tuning.json"] = stale_reasons(tuning.get("records"), now)
        return out
