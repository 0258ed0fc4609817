"""Dependency records (issue 31): each kind of change makes exactly the artifacts that depend on
it stale, in a scratch store, and every artifact of the committed store carries a record that
still holds."""

import json
import shutil
from pathlib import Path

import pytest
import torch

import dnt._io
from dnt.repro.records import PRODUCERS, code_record, file_hash, record, stale_reasons
from dnt.repro.reproduce import reproduce
from dnt.repro.specs import base_config, figure_cells
from dnt.repro.store import ResultStore
from dnt.sim.gru import GRUPredictor

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("runs", "baselines", "twins", "fig2", "tuning.json")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A quick store with every kind of artifact: Fig. 2 and Fig. 3 (runs, rule evaluations,
    the twin, Fig. 2's data) and a tuning study over Fig. 3's runs."""
    root = tmp_path_factory.mktemp("records") / "results"
    reproduce(("fig2", "fig3"), seeds=1, jobs=1, quick=True, root=root, progress=False)
    store = ResultStore(root, quick=True)
    runs = {c.filename(): file_hash(store.run_path(c)) for c in figure_cells("fig3", 1, True)}
    (root / "tuning.json").write_text(json.dumps({"records": record("tuning", runs)}))
    return root


def _stale_kinds(root: Path) -> dict[str, set[str]]:
    """Per kind of artifact: 'stale', 'current' or both."""
    out: dict[str, set[str]] = {}
    for path, why in ResultStore(root, quick=True).audit().items():
        out.setdefault(path.split("/")[0], set()).add("stale" if why else "current")
    return out


def _edit(tmp_path, monkeypatch, rel: str, old: str, new: str) -> None:
    """A copy of the package with one line of ``rel`` changed, made the package on record."""
    pkg = tmp_path / "dnt"
    shutil.copytree(ROOT / "dnt", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    f = pkg / rel
    text = f.read_text()
    assert old in text, f"{rel} no longer holds {old!r}"
    f.write_text(text.replace(old, new, 1))
    monkeypatch.setattr(dnt._io, "_PACKAGE", pkg)


def test_the_scratch_store_has_every_kind_and_all_current(scratch):
    kinds = _stale_kinds(scratch)
    assert set(kinds) == set(KINDS)
    assert all(v == {"current"} for v in kinds.values()), kinds


@pytest.mark.parametrize(
    ("rel", "old", "new", "stale", "names"),
    [
        (  # (a) the twin's training settings
            "repro/specs.py",
            'QUICK_TWIN = {"hidden": 16, "max_epochs": 1}',
            'QUICK_TWIN = {"hidden": 16, "max_epochs": 2}',
            {"runs", "baselines", "fig2", "tuning.json"},
            "dnt.repro.specs:QUICK_TWIN",
        ),
        (  # (b) one rule's code
            "baselines.py",
            "class NearestBSPolicy",
            "_EDITED = 1\n\n\nclass NearestBSPolicy",
            {"baselines"},
            "dnt.baselines",
        ),
        (  # (c) Fig. 2's user list
            "repro/reproduce.py",
            '"users": [1, 3, 6],',
            '"users": [1, 3, 5],',
            {"fig2"},
            "dnt.repro.reproduce:fig2_data",
        ),
        (  # (d) one line of dnt/rl
            "rl/learner.py",
            "from dnt.rl.config import TrainConfig",
            "from dnt.rl.config import TrainConfig\n\n_EDITED = 1",
            {"runs", "tuning.json"},
            "dnt.rl.learner",
        ),
        (  # (e) one line of the claims
            "repro/claims.py",
            "from dnt.repro.verdicts import UNSTATED, judge",
            "from dnt.repro.verdicts import UNSTATED, judge\n\n_EDITED = 1",
            set(),
            None,
        ),
    ],
    ids=["twin-settings", "baseline-rule", "fig2-users", "rl-line", "claims-line"],
)
def test_a_change_makes_exactly_its_dependents_stale(
    scratch, tmp_path, monkeypatch, rel, old, new, stale, names
):
    _edit(tmp_path, monkeypatch, rel, old, new)
    kinds = _stale_kinds(scratch)
    assert {k for k, v in kinds.items() if "stale" in v} == stale
    assert {k for k, v in kinds.items() if v == {"current"}} == set(KINDS) - stale
    audit = ResultStore(scratch, quick=True).audit()
    for path, why in audit.items():
        if why:
            assert f"code changed: {names}" in why, (path, why)


def test_a_new_twin_makes_its_readers_stale(scratch, tmp_path):
    """Stale propagates through inputs: a different twin file (verifiably made by this code)
    makes every run, rule evaluation and Fig. 2 data that read the old one stale."""
    root = tmp_path / "results"
    shutil.copytree(scratch, root)
    store = ResultStore(root, quick=True)
    cfg = base_config(epsilon=0.3, num_rbs=12)
    path = store.twin_file(cfg)
    twin = GRUPredictor.load(path, cfg)
    with torch.no_grad():
        next(twin.net.parameters()).add_(1e-3)
    path.with_suffix(".json").unlink()
    twin.save(path)
    kinds = _stale_kinds(root)
    assert kinds["twins"] == {"current"}  # a new twin, recorded anew
    for kind in ("runs", "baselines", "fig2", "tuning.json"):
        assert kinds[kind] == {"stale"}, kind
    why = ResultStore(root, quick=True).audit()
    assert all("input changed: twin" in why[k] for k in why if k.startswith("runs/"))


def test_stale_reasons_name_every_kind_of_difference():
    rec = {"kind": "twin", "code": {"dnt.sim.gru": "x", "dnt.gone": "y"}, "inputs": {"a": "1"}}
    why = stale_reasons(rec, {"a": "2", "b": None})
    now = code_record(PRODUCERS["twin"])
    assert "code changed: dnt.sim.gru" in why and "code no longer on the path: dnt.gone" in why
    assert all(f"code newly on the path: {k}" in why for k in now if k not in rec["code"])
    assert "input changed: a" in why and "input missing or stale: b" in why
    assert stale_reasons(None, {}) == ["no dependency record (made before records were kept)"]
    assert stale_reasons(record("twin"), {}) == []
    with pytest.raises(ValueError, match="kind='nope' is invalid"):
        record("nope")


def test_the_code_path_is_derived_from_the_code():
    run = code_record(PRODUCERS["run"])
    assert "dnt.repro.executor:run_cells" in run and "dnt.rl.learner" in run
    assert "dnt.sim.reward" in run  # imported on the way, never listed by hand
    assert "dnt.baselines" not in run and not any(k.startswith("dnt.repro.claims") for k in run)
    assert not any(k.startswith(("dnt.repro.store", "dnt._io")) for k in run)  # bookkeeping
    base = code_record(PRODUCERS["baselines"])
    assert "dnt.baselines" in base and "dnt.rl.learner" not in base
    fig2 = code_record(PRODUCERS["fig2"])
    assert "dnt.repro.system_figures:one_step_predictions" in fig2
    assert "dnt.baselines" not in fig2


def test_every_committed_artifact_kind_carries_a_record_that_holds():
    """Every kind is in the committed store and carries a record. Runs may be stale while the
    store is part-rebuilt (the claims mark them, tests/test_reproduce.py); the rest is remade
    by any redraw, so a stale one would change a tracked file: all of them must hold."""
    audit = ResultStore(ROOT / "results").audit()
    assert {k.split("/")[0] for k in audit} == set(KINDS)
    stale = {k: v for k, v in audit.items() if v and not k.startswith("runs/")}
    assert not stale, list(stale.items())[:3]
    for path in audit:
        f = ROOT / "results" / path
        d = json.loads((f.with_suffix(".json") if f.suffix == ".pt" else f).read_text())
        assert d["records"]["code"], path
