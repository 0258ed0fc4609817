"""The reproduction pipeline: quick end-to-end run, the store's checks, committed results."""

import json
from pathlib import Path

import pytest

from dnt.marl import TrainConfig
from dnt.repro.executor import batches, run_cell
from dnt.repro.reproduce import reproduce
from dnt.repro.specs import FIGURES, Cell, figure_cells
from dnt.repro.store import ResultStore
from dnt.sim.config import SystemConfig

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results"


@pytest.fixture(scope="module")
def quick_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    first = reproduce(FIGURES, seeds=2, jobs=2, quick=True, root=root, progress=False)
    return root, first


def test_quick_reproduce_draws_every_figure_and_claim(quick_store):
    root, first = quick_store
    assert first["trained_now"] == first["runs"] > 0
    for fig in FIGURES:
        for ext in ("png", "pdf"):
            assert (root / "figures" / f"{fig}.{ext}").stat().st_size > 0
    table = json.loads((root / "claims.json").read_text())
    assert table["quick"] is True
    figs = {c["figure"] for c in table["claims"]}
    assert figs == {"Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6"}
    for c in table["claims"]:
        assert c["verdict"] in ("reproduced", "not reproduced", "not comparable")
    assert "| figure | claim |" in (root / "claims.md").read_text()


def test_stored_runs_are_not_redone(quick_store):
    root, _ = quick_store
    again = reproduce(("fig3",), seeds=2, jobs=1, quick=True, root=root, progress=False)
    assert again["trained_now"] == 0


def test_a_mismatching_file_is_detected_and_redone(quick_store):
    root, _ = quick_store
    store = ResultStore(root)
    cell = figure_cells("fig3", 2, True)[0]
    path = store.run_path(cell)
    data = json.loads(path.read_text())
    data["config"]["epsilon"] = 0.9  # tampered: no longer the config its name promises
    path.write_text(json.dumps(data))
    assert store.load_run(cell) is None
    again = reproduce(("fig3",), seeds=2, jobs=1, quick=True, root=root, progress=False)
    assert again["trained_now"] == 1
    assert store.load_run(cell) is not None


def _committed_runs():
    return sorted((COMMITTED / "runs").glob("*.json"))


def test_committed_results_match_their_config_hash():
    files = _committed_runs()
    assert files, "results/runs holds no committed results"
    store = ResultStore(COMMITTED)
    for f in files:
        d = json.loads(f.read_text())
        tc = TrainConfig(algo=d["algo"], **d["train"])
        cell = Cell(SystemConfig.from_dict(d["config"]), tc, d["seed"])
        assert cell.filename() == f.name, f.name
        assert store.load_run(cell) is not None


def test_rerunning_a_small_committed_cell_gives_the_same_numbers():
    candidates = []
    for f in _committed_runs():
        d = json.loads(f.read_text())
        candidates.append((d["config"]["num_users"], d["train"]["eval_every"], f, d))
    assert candidates
    _, _, f, d = min(candidates, key=lambda c: (c[0], -c[1], c[2].name))
    cell = Cell(
        SystemConfig.from_dict(d["config"]), TrainConfig(algo=d["algo"], **d["train"]), d["seed"]
    )
    name, metrics = run_cell((cell, str(COMMITTED), False))
    assert name == f.name
    assert metrics["final"] == d["metrics"]["final"]
    assert metrics["episode0"] == d["metrics"]["episode0"]


def test_cells_are_batched_by_setting_and_split_to_fill_the_jobs():
    cells = figure_cells("fig3", 3, True) + figure_cells("fig6", 3, True)
    groups = batches(cells, jobs=2)
    assert sorted(c.filename() for g in groups for c in g) == sorted(
        {c.filename(): c for c in cells}
    )
    for g in groups:  # one setting and one algorithm per group, seeds distinct
        assert len({c.run_hash() + c.algo for c in g}) == 1
        assert len({c.seed for c in g}) == len(g)
    assert len(groups) == len({c.run_hash() + c.algo for c in cells})
    one = [c for c in cells if c.algo == "vdn"][:3]
    split = batches(one, jobs=2)  # one group, two jobs: halved
    assert [len(g) for g in split] == [2, 1]
    assert batches(one[:1], jobs=4) == [one[:1]]


def test_ray_executor_gives_the_claims_of_the_local_pool(tmp_path):
    ray = pytest.importorskip("ray")  # the [cluster] extra; `make test` installs it
    local = tmp_path / "local"
    reproduce(("fig6",), seeds=2, jobs=2, quick=True, root=local, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = tmp_path / "ray"
        out = reproduce(
            ("fig6",), seeds=2, jobs=2, quick=True, root=on_ray, progress=False, executor="ray"
        )
    finally:
        ray.shutdown()
    assert out["trained_now"] == 4
    a = json.loads((local / "claims.json").read_text())
    b = json.loads((on_ray / "claims.json").read_text())
    assert [c["ours"] for c in a["claims"]] == [c["ours"] for c in b["claims"]]
    for f in (local / "runs").glob("*.json"):
        ma = json.loads(f.read_text())["metrics"]
        mb = json.loads((on_ray / "runs" / f.name).read_text())["metrics"]
        assert ma["final"] == mb["final"] and ma["episode0"] == mb["episode0"]


def test_executor_rejects_an_unknown_kind():
    from dnt.repro.executor import Executor

    with pytest.raises(ValueError, match="executor"):
        Executor("slurm")
