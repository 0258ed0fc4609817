"""The reproduction pipeline: quick end-to-end run, the store's checks (content, staleness),
the committed results and the determinism contract."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import dnt._io
from dnt._io import code_version
from dnt.repro.executor import batches, run_cells
from dnt.repro.intervals import mean_ci
from dnt.repro.reproduce import ALL, reproduce
from dnt.repro.specs import Cell, budget_cells, figure_cells
from dnt.repro.store import ResultStore
from dnt.repro.verdicts import DIRECTIONS, MAGNITUDES
from dnt.rl.config import TrainConfig
from dnt.sim.config import SystemConfig

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results"


@pytest.fixture(scope="module")
def quick_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    first = reproduce(ALL, seeds=2, jobs=2, quick=True, root=root, progress=False)
    return root, first


def test_quick_reproduce_draws_every_figure_claim_and_the_summary(quick_store):
    root, first = quick_store
    assert first["trained_now"] == first["runs"] > 0 and first["stale"] == 0
    for fig in ALL:
        for ext in ("png", "pdf"):
            assert (root / "figures" / f"{fig}.{ext}").stat().st_size > 0
    table = json.loads((root / "claims.json").read_text())
    assert table["quick"] is True and table["code_versions"] == [code_version()]
    figs = {c["figure"] for c in table["claims"]}
    assert figs == {"Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6"}
    for c in table["claims"]:
        assert c["direction"] in DIRECTIONS and c["magnitude"] in MAGNITUDES
    assert "| figure | claim |" in (root / "claims.md").read_text()
    s = json.loads((root / "summary.json").read_text())
    methods = s["fig3"]["methods"]
    assert {"VDN", "IQL", "myopic_oracle", "nearest_always_update"} <= set(methods)
    for row in methods.values():
        assert {"reward", "reward_ci", "sum_rate", "dnt_error", "seeds"} <= set(row)
        assert row["reward_ci"][0] <= row["reward"] <= row["reward_ci"][1]
    assert methods["VDN"]["seeds"] == 2 and methods["myopic_oracle"]["seeds"] == 1
    study = s["budget_study"]
    assert [r["gradient_steps"] for r in study["VDN"]] == [10, 20, 40, 80]
    assert study["chosen_gradient_steps"] == 40
    assert study["VDN_paper_literal"]["gradient_steps"] == 75
    # the chosen budget's row is Fig. 3's VDN row
    chosen = next(r for r in study["VDN"] if r["gradient_steps"] == 40)
    assert chosen["reward"] == methods["VDN"]["reward"]


def _numbers(root: Path) -> dict[str, object]:
    """Everything a store holds that is a result: each run file without its wall times (no two
    runs take the same time) and the claims, summary and figure data drawn from them."""
    out: dict[str, object] = {}
    for f in sorted((root / "runs").glob("*.json")):
        d = json.loads(f.read_text())
        d.pop("timing", None)
        d["metrics"].pop("train_wall_seconds")
        for point in d["metrics"]["curve"]:
            point.pop("wall_seconds")
        out[f.name] = d
    for name in ("claims.json", "claims.md", "summary.json", "claims.csv"):
        out[name] = (root / name).read_text()
    for f in sorted((root / "figures").glob("*.csv")):
        out[f.name] = f.read_text()
    return out


def test_a_time_limited_reproduction_resumed_until_done_equals_one_built_in_one_go(
    quick_store, tmp_path
):
    """Slices of a few seconds each, each resuming where the last stopped, until the store is
    complete: bit-identical to the store built in one go (same machine)."""
    one_go, first = quick_store
    root = tmp_path / "sliced"
    trained, partial = [], False
    for limit in (0.1, 0.1, 0.1, *[0.5] * 10):  # minutes: short slices, then longer ones
        out = reproduce(
            ALL, seeds=2, jobs=2, quick=True, root=root, progress=False, time_limit=limit
        )
        trained.append(out["trained_now"])
        if out["remaining"]["complete"]:
            break
        total = out["remaining"]["total"]
        partial |= 0 < total["current"] < total["needed"]
        claims = json.loads((root / "claims.json").read_text())
        assert claims["store"]["complete"] is False  # a part-rebuilt store says so
    assert out["remaining"]["complete"] and partial and len(trained) >= 2, trained
    assert sum(trained) == first["runs"]
    sliced, whole = _numbers(root), _numbers(one_go)
    assert sliced.keys() == whole.keys()
    assert [k for k in whole if sliced[k] != whole[k]] == []
    again = reproduce(ALL, seeds=2, jobs=2, quick=True, root=root, progress=False, time_limit=0)
    assert again["trained_now"] == 0 and _numbers(root) == _numbers(one_go)


def test_time_limit_zero_on_the_committed_store_trains_nothing_and_changes_no_file(tmp_path):
    root = tmp_path / "results"
    shutil.copytree(COMMITTED, root)
    out = reproduce(ALL, seeds=5, root=root, progress=False, time_limit=0)
    assert out["trained_now"] == 0 and out["remaining"]["complete"]
    for f in sorted(COMMITTED.rglob("*")):
        if f.is_file():
            copy = root / f.relative_to(COMMITTED)
            assert copy.read_bytes() == f.read_bytes(), f"redrawing changed {f.name}"
    extra = {p.relative_to(root) for p in root.rglob("*")} - {
        p.relative_to(COMMITTED) for p in COMMITTED.rglob("*")
    }
    assert not extra, f"redrawing wrote new files: {sorted(extra)[:3]}"


def test_stored_runs_are_not_redone(quick_store):
    root, _ = quick_store
    again = reproduce(("fig3",), seeds=2, jobs=1, quick=True, root=root, progress=False)
    assert again["trained_now"] == 0


def test_a_mismatching_file_is_detected_and_redone(quick_store):
    root, _ = quick_store
    store = ResultStore(root, quick=True)
    cell = figure_cells("fig3", 2, True)[0]
    path = store.run_path(cell)
    data = json.loads(path.read_text())
    data["config"]["epsilon"] = 0.9  # tampered: no longer the config its name promises
    path.write_text(json.dumps(data))
    assert store.load_run(cell) is None and store.run_status(cell) == "missing"
    again = reproduce(("fig3",), seeds=2, jobs=1, quick=True, root=root, progress=False)
    assert again["trained_now"] == 1
    assert store.load_run(cell) is not None


def test_code_version_follows_code_not_docs(tmp_path, monkeypatch):
    pkg = tmp_path / "dnt"
    shutil.copytree(ROOT / "dnt", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(dnt._io, "_PACKAGE", pkg)
    before = code_version()
    env = pkg / "sim" / "env.py"
    text = env.read_text()
    env.write_text(text.replace('"""The vector environment', '"""Edited docs. The vector env', 1))
    figures = pkg / "repro" / "figures.py"  # plotting is not on the numeric path
    figures.write_text(figures.read_text() + "\nX = 1\n")
    assert code_version() == before
    env.write_text(text.replace("self.t += 1", "self.t += 1  # a comment\n        self.t += 0"))
    assert code_version() != before


def test_stale_runs_are_retrained_or_reused_with_a_visible_mark(tmp_path, monkeypatch):
    root = tmp_path / "store"
    reproduce(("fig6",), seeds=1, jobs=1, quick=True, root=root, progress=False)
    # the code on the numeric path changes (a copy of the package with one line more)
    pkg = tmp_path / "dnt"
    shutil.copytree(ROOT / "dnt", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "rl" / "learner.py").write_text((pkg / "rl" / "learner.py").read_text() + "\nZ = 2\n")
    monkeypatch.setattr(dnt._io, "_PACKAGE", pkg)
    store = ResultStore(root, quick=True)
    cells = figure_cells("fig6", 1, True)
    assert "code changed: dnt.rl.learner" in store.why_stale(cells[0])
    assert {store.run_status(c) for c in cells} == {"stale"}
    assert store.load_run(cells[0]) is None  # never handed out as current
    reused = reproduce(
        ("fig6",), seeds=1, jobs=1, quick=True, root=root, progress=False, allow_stale=True
    )
    assert reused["stale"] == 2 and reused["trained_now"] == 0
    md = (root / "claims.md").read_text()
    assert "**Stale**: 2 of the runs" in md
    redone = reproduce(("fig6",), seeds=1, jobs=1, quick=True, root=root, progress=False)
    assert redone["stale"] == 2 and redone["trained_now"] == 2
    assert {store.run_status(c) for c in cells} == {"current"}
    assert "Stale" not in (root / "claims.md").read_text()


def test_budget_cells_reuse_fig3_and_span_the_budgets():
    cells = budget_cells(2, False)
    fig3 = {c.filename() for c in figure_cells("fig3", 2, False)}
    assert {c.filename() for c in cells["vdn", "6000"]} <= fig3
    steps = sorted(cells["vdn", b][0].tc.gradient_steps for b in ("375", "1500", "6000", "12000"))
    assert steps[-1] / steps[0] >= 10**1.5  # at least 1.5 decades
    literal = cells["iql", "paper-literal"][0].tc
    assert literal.gradient_steps == 75 and literal.env_steps_per_update == 480


def _committed_runs():
    return sorted((COMMITTED / "runs").glob("*.json"))


def test_committed_results_match_their_names_and_every_shown_number_is_current_or_marked():
    """Every committed run is the cell its name promises. The store may be part-rebuilt, but
    then it says so: claims.json and summary.json record the store's completeness exactly as
    the store has it, every claim row drawn from fewer current seeds than needed carries a mark
    (pending where it cannot be judged), and a complete store was drawn from current runs only
    (``reproduce status --require-complete`` tells whether it is complete)."""
    from dnt.repro.status import completeness

    files = _committed_runs()
    assert files, "results/runs holds no committed results"
    store = ResultStore(COMMITTED)
    for f in files:
        d = json.loads(f.read_text())
        tc = TrainConfig(algo=d["algo"], **d["train"])
        cell = Cell(SystemConfig.from_dict(d["config"]), tc, d["seed"])
        assert cell.filename() == f.name, f.name
    state = completeness(ALL, 5, False, store)
    summary = json.loads((COMMITTED / "summary.json").read_text())
    table = json.loads((COMMITTED / "claims.json").read_text())
    assert summary["store"] == state and table["store"] == state
    for row in table["claims"]:
        if row["figure"] == "Fig. 2":
            continue
        short = row["seeds_current"] != row["seeds_needed"]
        assert bool(row["mark"]) == short, row["id"]
        if min(row["seeds_current"]) < 2:
            assert row["direction"] == "pending", row["id"]
    if state["complete"]:
        assert summary["code_versions"] == [code_version()] and not summary["stale"]
        assert table["code_versions"] == [code_version()] and not table["stale_runs"]


def test_rerunning_a_committed_cell_meets_the_determinism_contract():
    """Same machine (same CPU, torch and numpy as recorded in the run): bit-identical. Any
    other x86-64 machine: float rounding differs and training amplifies it, so the contract is
    statistical: the rerun's mean final reward over the setting's seeds lies in the committed
    95% interval over seeds, widened by 1% of its mean (stated tolerance)."""
    candidates = {}
    for f in _committed_runs():
        d = json.loads(f.read_text())
        if d["train"]["eval_every"] == d["train"]["gradient_steps"]:  # final-only cells
            key = (d["config"]["num_users"], d["config"]["num_rbs"], f.name.rsplit("-", 1)[0])
            candidates.setdefault(key, []).append(d)
    assert candidates
    _, runs = min(candidates.items(), key=lambda kv: kv[0])  # the cheapest setting
    runs.sort(key=lambda d: d["seed"])
    cells = [
        Cell(
            SystemConfig.from_dict(d["config"]),
            TrainConfig(algo=d["algo"], **d["train"]),
            d["seed"],
        )
        for d in runs
    ]
    fresh = dict(run_cells((cells, str(COMMITTED), False)))
    same_machine = all(
        d["metrics"].get("machine") == fresh[c.filename()]["machine"]
        for d, c in zip(runs, cells, strict=True)
    )
    committed = np.array([d["metrics"]["final"]["reward"] for d in runs])
    rerun = np.array([fresh[c.filename()]["final"]["reward"] for c in cells])
    if same_machine:
        for d, c in zip(runs, cells, strict=True):
            assert fresh[c.filename()]["final"] == d["metrics"]["final"]
            assert fresh[c.filename()]["episode0"] == d["metrics"]["episode0"]
    else:
        assert _within_cross_cpu_tolerance(committed, rerun), (committed, rerun)


def _within_cross_cpu_tolerance(committed: np.ndarray, rerun: np.ndarray) -> bool:
    """The contract on another CPU: the rerun's mean over seeds lies in the committed 95%
    Student-t interval over seeds, widened by 1% of the committed mean on each side."""
    _, lo, hi = mean_ci(committed[:, None])
    tol = 0.01 * abs(committed.mean())
    return bool(lo[0] - tol <= rerun.mean() <= hi[0] + tol)


def test_the_cross_cpu_tolerance_accepts_rounding_and_rejects_a_real_change():
    """The branch a different CPU takes, on hand-made numbers (this machine takes the other)."""
    committed = np.array([17.1, 17.3, 17.4, 17.5, 17.2])
    assert _within_cross_cpu_tolerance(committed, committed + 1e-9)  # rounding noise
    assert _within_cross_cpu_tolerance(committed, committed[::-1])  # same mean, other seeds
    # the interval is about [17.18, 17.42], widened by 0.17: a 0.1 shift stays inside,
    assert _within_cross_cpu_tolerance(committed, committed + 0.1)
    # a 0.5 shift (a learner change of 3%) does not, in either direction
    assert not _within_cross_cpu_tolerance(committed, committed + 0.5)
    assert not _within_cross_cpu_tolerance(committed, committed - 0.5)


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
    assert a["claims"] == b["claims"] and a["claims"]  # estimates, verdicts, values
    for f in (local / "runs").glob("*.json"):
        ma = json.loads(f.read_text())["metrics"]
        mb = json.loads((on_ray / "runs" / f.name).read_text())["metrics"]
        assert ma["final"] == mb["final"] and ma["episode0"] == mb["episode0"]


def test_executor_rejects_an_unknown_kind():
    from dnt.repro.executor import Executor

    with pytest.raises(ValueError, match="executor"):
        Executor("slurm")


def test_the_reproduction_trains_with_the_committed_tuning_winners():
    """Each method's settings are its own best trial of the committed equal-effort search."""
    from dnt.repro.specs import TUNED
    from dnt.repro.tuning import GRID, TUNING_SEEDS, trials

    study = json.loads((COMMITTED / "tuning.json").read_text())
    assert study["grid"] == {k: list(v) for k, v in GRID.items()}
    assert study["seeds"] == TUNING_SEEDS and study["scored_on"] == "validation episodes"
    for algo in ("vdn", "iql"):
        rows = study[algo]["trials"]
        assert [r["trial"] for r in rows] == trials()  # every trial, the same for both methods
        best = max(rows, key=lambda r: r["reward"])["trial"]
        assert study[algo]["best"] == best
        assert TrainConfig(algo=algo).replace(**best) == TrainConfig(algo=algo, **TUNED[algo])
