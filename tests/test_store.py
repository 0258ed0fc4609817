"""The result store's own logic on tiny made-up artifacts (fast: no training, so that the
mutation run can use it): twins and their records, runs, rule evaluations, the audit."""

import json
from pathlib import Path

import pytest
import torch

from dnt._io import code_version
from dnt.repro.records import file_hash, record
from dnt.repro.specs import Cell, base_config
from dnt.repro.store import ResultStore, project_root
from dnt.rl.config import TrainConfig
from dnt.sim.gru import GRUPredictor, _TwinNet

CFG = base_config(epsilon=0.3, num_rbs=12)
TC = TrainConfig(algo="vdn", gradient_steps=10)


def _twin(store: ResultStore, made_by: str | None = None, seed: int = 0) -> Path:
    """A quick-size twin of CFG's scenario (random weights), as if trained by ``made_by``."""
    torch.manual_seed(seed)
    net = _TwinNet(CFG.num_users, 16)
    path = store.twin_file(CFG)
    path.parent.mkdir(parents=True, exist_ok=True)
    GRUPredictor(CFG, net, {"code_version": made_by or code_version()}).save(path)
    return path


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results", quick=True)


def test_a_twin_made_by_this_code_gets_its_record_and_others_are_stale(store):
    assert store.twin_reasons(CFG) == ["twin missing"]
    assert store.run_inputs(CFG) == {"twin": None}
    path = _twin(store)
    assert store.twin_reasons(CFG) == []
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["records"] == record("twin") and side["config"] == CFG.to_dict()
    assert side["file"] == ResultStore.twin_hash(path, CFG)
    assert store.run_inputs(CFG) == {"twin": side["file"]}
    # the file replaced after its record was written
    _twin(store, seed=1)
    assert store.twin_reasons(CFG) == ["twin file replaced after its record was written"]
    # a twin from other code, with no record
    path.with_suffix(".json").unlink()
    _twin(store, made_by="0123456789ab")
    assert store.twin_reasons(CFG) == [
        f"twin made by code 0123456789ab, not the current {code_version()}"
    ]
    assert not path.with_suffix(".json").exists()


def test_a_twins_hash_is_of_its_weights_not_its_file(store, tmp_path):
    path = _twin(store)
    h = ResultStore.twin_hash(path, CFG)
    other = tmp_path / "copy.pt"
    twin = GRUPredictor.load(path, CFG)
    GRUPredictor(CFG, twin.net, {"code_version": "x", "train_seconds": 9.0}).save(other)
    assert file_hash(other) != file_hash(path) and ResultStore.twin_hash(other, CFG) == h
    with torch.no_grad():
        next(twin.net.parameters()).add_(1.0)
    GRUPredictor(CFG, twin.net).save(other)
    assert ResultStore.twin_hash(other, CFG) != h


def test_which_artifacts_read_the_twin(store):
    _twin(store)
    bayes = CFG.replace(twin_predictor="bayes")
    assert store.run_inputs(bayes) == {}  # a run with another predictor reads no twin
    assert set(store.run_inputs(bayes, twin=True)) == {"twin"}  # a rule's evaluation does
    assert store.run_inputs(CFG, twin=False) == {}
    assert store.twin_file(CFG).name.endswith("-n60.pt")  # the quick store's twin settings
    assert ResultStore(store.root).twin_file(CFG).name.endswith("-n2000.pt")


def test_a_run_is_current_while_its_record_holds(store):
    _twin(store)
    cell = Cell(CFG, TC, 3)
    assert store.run_status(cell) == "missing" and store.load_run(cell) is None
    store.save_run(cell, {"final": {"reward": 1.0}}, batch_seeds=2)
    d = json.loads(store.run_path(cell).read_text())
    assert d["records"] == record("run", store.run_inputs(CFG)) and d["seed"] == 3
    assert d["timing"] == {"batch_seeds": 2} and d["code_version"] == code_version()
    assert store.run_status(cell) == "current" and store.why_stale(cell) == []
    assert store.load_run(cell)["metrics"] == {"final": {"reward": 1.0}}
    store.save_run(cell, {"final": {}})
    assert "timing" not in json.loads(store.run_path(cell).read_text())
    # another learner made it
    d["records"]["code"]["dnt.rl.learner"] = "000000000000"
    store.run_path(cell).write_text(json.dumps(d))
    assert store.run_status(cell) == "stale"
    assert store.why_stale(cell) == ["code changed: dnt.rl.learner"]
    assert store.load_run(cell) is None
    marked = ResultStore(store.root, allow_stale=True, quick=True).load_run(cell)
    assert marked["stale"] is True and marked["seed"] == 3
    # a new twin: stale through its input
    store.save_run(cell, {"final": {}})
    _twin(ResultStore(store.root, quick=True), seed=5)
    store.twin_file(CFG).with_suffix(".json").unlink()
    fresh = ResultStore(store.root, quick=True)
    assert fresh.why_stale(cell) == ["input changed: twin"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["config"].update(epsilon=0.9),
        lambda d: d["train"].update(lr=0.5),
        lambda d: d.update(algo="iql"),
        lambda d: d.update(seed=4),
        lambda d: d.pop("metrics"),
    ],
    ids=["config", "train", "algo", "seed", "no-metrics"],
)
def test_a_file_that_is_not_its_cell_counts_as_missing(store, tamper):
    _twin(store)
    cell = Cell(CFG, TC, 3)
    store.save_run(cell, {"final": {}})
    d = json.loads(store.run_path(cell).read_text())
    tamper(d)
    store.run_path(cell).write_text(json.dumps(d))
    assert store.run_status(cell) == "missing" and store.why_stale(cell) == []
    assert store.audit()[f"runs/{cell.filename()}"] == ["not the cell its name promises"]


def test_rule_evaluations_are_found_by_config_and_episodes(store):
    _twin(store)
    store.save_baselines(CFG, 16, {"rule": {"reward": 1.0}})
    d = store.load_baselines(CFG, 16)
    assert d["results"] == {"rule": {"reward": 1.0}} and d["episodes"] == 16
    assert d["records"] == record("baselines", store.run_inputs(CFG, twin=True))
    assert store.load_baselines(CFG, 8) is None
    assert store.load_baselines(CFG.replace(epsilon=0.5), 16) is None
    path = store.baseline_path(CFG, 16)
    path.write_text(json.dumps({**d, "episodes": 8}))
    assert store.load_baselines(CFG, 16) is None
    path.write_text(json.dumps({**d, "records": None}))
    assert store.load_baselines(CFG, 16) is None
    assert ResultStore(store.root, True, True).load_baselines(CFG, 16)["stale"] is True


def test_the_audit_covers_every_kind(store):
    _twin(store)
    cell = Cell(CFG, TC, 0)
    store.save_run(cell, {"final": {}})
    store.save_baselines(CFG, 16, {})
    fig2 = store.root / "fig2" / "f.json"
    fig2.parent.mkdir()
    inputs = store.run_inputs(CFG, twin=True)
    fig2.write_text(json.dumps({"config": CFG.to_dict(), "records": record("fig2", inputs)}))
    runs = {cell.filename(): file_hash(store.run_path(cell))}
    tuning = store.root / "tuning.json"
    tuning.write_text(json.dumps({"records": record("tuning", runs)}))
    (store.root / "runs" / "junk-seed0.json").write_text("{}")
    audit = store.audit()
    assert audit == {
        f"runs/{cell.filename()}": [],
        "runs/junk-seed0.json": ["unreadable"],
        f"baselines/{store.baseline_path(CFG, 16).name}": [],
        f"twins/{store.twin_file(CFG).name}": [],
        "fig2/f.json": [],
        "tuning.json": [],
    }
    # a changed run file makes the tuning study that read it stale; a twin without a record
    store.save_run(cell, {"final": {"reward": 2.0}})
    store.twin_file(CFG).with_suffix(".json").unlink()
    audit = store.audit()
    assert audit["tuning.json"] == [f"input changed: {cell.filename()}"]
    assert audit[f"twins/{store.twin_file(CFG).name}"] == ["no dependency record"]
    # the twin's record comes back (made by this code), then its file is replaced
    assert store.twin_reasons(CFG) == []
    _twin(store, seed=2)
    assert ResultStore(store.root, quick=True).audit()[f"twins/{store.twin_file(CFG).name}"] == [
        "twin file replaced after its record was written"
    ]
    store.run_path(cell).unlink()
    assert ResultStore(store.root, quick=True).audit()["tuning.json"] == [
        f"input missing or stale: {cell.filename()}"
    ]


def test_load_and_current_and_project_root(store, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert store.load(bad) is None and store.load(tmp_path / "none.json") is None
    assert store.current(None, {}) is None
    rec = {"records": record("twin")}
    assert store.current(rec, {}) is rec
    assert store.current({"records": None}, {}) is None
    assert ResultStore(tmp_path, allow_stale=True).current({"x": 1}, {}) == {"x": 1, "stale": True}
    assert store.twins == store.root / "twins"
    root = Path(__file__).resolve().parents[1]
    assert project_root(root / "book") == root and project_root(root / "dnt" / "repro") == root
    assert project_root(tmp_path) == tmp_path.resolve()  # no project above: the start itself
