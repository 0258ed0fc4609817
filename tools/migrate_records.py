"""One-off migration (issue 31): give the committed store's artifacts their dependency records
where the code that made them is verifiably the current code; leave the rest without a record,
which makes them stale (and marked as such) until they are remade.

``python tools/migrate_records.py [--root results] [--check]``

- A **run** is verified when the code version it recorded, a hash over the files it covered
  (``dnt/sim``, ``dnt/rl``, ``dnt/baselines.py``, ``dnt/repro/executor.py``), equals that hash
  of the current tree, its stored settings hash to its file name (the cell it claims to be),
  and its scenario's twin was made by the same code version and has the file name of the
  current twin settings. The pieces of its new record outside those files (the cell's naming,
  the twin settings) are thereby checked against the artifact itself.
- A **twin** is verified when the code version in its training record is the current one.
- A **rule evaluation** (baselines) is verified like a run: its recorded code version (the
  rules, the simulator and the evaluation were in the files it covered), its file name, and
  its twin.
- The **tuning study** is verified by its code version once all its runs are.
- **Fig. 2's data** cannot be verified: its code (``fig2_data``, ``one_step_predictions``) was
  in no hashed file. It is left stale, and the next redraw recomputes it (seconds, no training).

``--check`` only reports what would be migrated. Prints one line per kind.
"""

from __future__ import annotations

import argparse
import json

from dnt._io import atomic_write_json, code_version
from dnt.repro.records import file_hash, record
from dnt.repro.reproduce import ALL
from dnt.repro.specs import Cell, figure_cells
from dnt.repro.store import ResultStore
from dnt.repro.tuning import trial_cells
from dnt.rl.config import TrainConfig
from dnt.sim.config import SystemConfig


def migrate_runs(store: ResultStore, check: bool) -> tuple[int, int]:
    now, done, left = code_version(), 0, 0
    for f in sorted((store.root / "runs").glob("*.json")):
        d = json.loads(f.read_text())
        if "records" in d:
            continue
        cell = Cell(
            SystemConfig.from_dict(d["config"]),
            TrainConfig(algo=d["algo"], **d["train"]),
            d["seed"],
        )
        inputs = store.run_inputs(cell.cfg)
        ok = (
            d.get("code_version") == now
            and cell.filename() == f.name
            and store._matching_run(cell) is not None
            and all(v is not None for v in inputs.values())
        )
        if not ok:
            left += 1
            continue
        done += 1
        if not check:
            atomic_write_json(f, {**d, "records": record("run", inputs)})
    return done, left


def migrate_baselines(store: ResultStore, check: bool) -> tuple[int, int]:
    """Rule evaluations: verified by the code version they recorded (their rules, simulator
    and evaluation were in the files it covered) and their scenario's twin."""
    now, done, left = code_version(), 0, 0
    for path in sorted((store.root / "baselines").glob("*.json")):
        d = json.loads(path.read_text())
        if "records" in d:
            continue
        cfg = SystemConfig.from_dict(d["config"])
        inputs = store.run_inputs(cfg, twin=True)
        if (
            d.get("code_version") != now
            or store.baseline_path(cfg, d["episodes"]) != path
            or (None in inputs.values())
        ):
            left += 1
            continue
        done += 1
        if not check:
            atomic_write_json(path, {**d, "records": record("baselines", inputs)})
    return done, left


def migrate_tuning(store: ResultStore, check: bool) -> bool:
    """The tuning study: verified by its code version; its inputs are its runs' files."""
    path = store.root / "tuning.json"
    d = json.loads(path.read_text())
    if "records" in d or d.get("code_version") != code_version():
        return "records" in d
    cells = {
        c.filename(): c for algo in ("vdn", "iql") for _, cs in trial_cells(algo, False) for c in cs
    }
    if any(store.run_status(c) != "current" for c in cells.values()):
        return False
    if not check:
        inputs = {n: file_hash(store.run_path(c)) for n, c in cells.items()}
        atomic_write_json(path, {**d, "records": record("tuning", inputs)})
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default="results")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    store = ResultStore(args.root)
    twins = {c.cfg.config_hash(): c.cfg for f in ALL for c in figure_cells(f, 5, False)}
    bad = [h for h, cfg in twins.items() if store.twin_reasons(cfg)]
    print(f"twins: {len(twins) - len(bad)} scenarios verified, {len(bad)} not")
    done, left = migrate_runs(store, args.check)
    print(f"runs: {done} verified and given records, {left} left without (stale)")
    done, left = migrate_baselines(store, args.check)
    print(f"rule evaluations: {done} verified and given records, {left} left without (stale)")
    print(f"tuning study: {'verified' if migrate_tuning(store, args.check) else 'not verified'}")
    print("Fig. 2's data: its code was never hashed, so it is left stale (recomputed by redrawing)")


if __name__ == "__main__":
    main()
