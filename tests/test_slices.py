"""A reproduction rebuilt in slices: the status report, the training order, the time estimates,
the time limit and resumption, on the committed store and on scratch copies of it."""

import json
import shutil
from pathlib import Path

import pytest

from dnt.cli import main
from dnt.repro.reproduce import ALL, reproduce
from dnt.repro.specs import CLAIM_EPS, CLAIM_USERS, Cell, figure_cells
from dnt.repro.status import (
    CostModel,
    completeness,
    makespan,
    plan_groups,
    priority,
    store_status,
)
from dnt.repro.store import ResultStore
from dnt.rl.config import TrainConfig
from dnt.sim.config import SystemConfig

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results"


def test_priority_puts_the_claims_cells_first_then_curves_then_studies():
    ordered = priority((*ALL, "ablations"), 5, False)
    names = [c.filename() for c, _, _ in ordered]
    assert len(names) == len(set(names))  # every cell once
    needed = {c.filename() for f in (*ALL, "ablations") for c in figure_cells(f, 5, False)}
    assert set(names) == needed
    tiers = [t for _, _, t in ordered]
    assert tiers == sorted(tiers)
    fig3 = {c.filename() for c in figure_cells("fig3", 5, False)}
    assert set(names[: len(fig3)]) == fig3  # Fig. 3's cells lead
    for c, target, tier in ordered:
        if tier == 0:
            assert target in ("fig3", "fig4", "fig5", "fig6")
            if target == "fig4":
                assert c.cfg.epsilon in CLAIM_EPS
            if target == "fig5":
                assert c.cfg.num_users in CLAIM_USERS
        elif tier == 1:
            assert target in ("fig4", "fig5")
        else:
            assert target in ("budget", "ablations")
    # the budget study's chosen budget is Fig. 3's cells: listed once, under Fig. 3
    budget = {c.filename() for c in figure_cells("budget", 5, False)}
    assert fig3 <= budget
    assert {t for c, t, _ in ordered if c.filename() in fig3} == {"fig3"}


def test_plan_groups_keep_priority_and_split_for_the_workers():
    cfg = SystemConfig()
    a = [Cell(cfg, TrainConfig(algo="vdn", gradient_steps=10), s) for s in range(4)]
    b = [Cell(cfg, TrainConfig(algo="iql", gradient_steps=10), s) for s in range(2)]
    groups = plan_groups([*a, *b], 1)
    assert [[c.filename() for c in g] for g in groups] == [
        [c.filename() for c in a],
        [c.filename() for c in b],
    ]
    split = plan_groups([*a, *b], 3)
    assert [len(g) for g in split] == [2, 2, 2] and split[0][0] is a[0]
    assert plan_groups([], 2) == []


def test_makespan_is_list_scheduling():
    assert makespan([], 2) == 0.0
    assert makespan([5.0], 4) == 5.0
    assert makespan([3.0, 3.0, 2.0], 2) == 5.0  # the third batch waits for the first worker
    assert makespan([3.0, 3.0, 2.0], 1) == 8.0


def _write_run(folder: Path, cell: Cell, wall: float, batch_seeds: int | None = None) -> None:
    store = ResultStore(folder)
    store.save_run(cell, {"final": {}, "train_wall_seconds": wall}, batch_seeds=batch_seeds)


def test_cost_model_infers_old_batches_and_reads_the_new_field(tmp_path):
    cfg = SystemConfig()
    tc = TrainConfig(algo="vdn", gradient_steps=100)
    old = [Cell(cfg, tc, s) for s in range(4)]
    for c in old[:3]:  # one batch of three seeds: the same wall time, no seed count recorded
        _write_run(tmp_path, c, 30.0)
    _write_run(tmp_path, old[3], 12.0)  # a batch of its own
    model = CostModel(ResultStore(tmp_path), calibrate=False)
    costs = sorted(r["cost"] for r in model.records)
    assert costs == [10.0, 10.0, 10.0, 12.0]
    seconds, how = model.estimate(Cell(cfg, tc, 9))
    assert (seconds, how) == (10.0, "this setting")
    # another budget of the same network: scaled by gradient steps
    seconds, how = model.estimate(Cell(cfg, tc.replace(gradient_steps=300), 0))
    assert how == "same network, scaled by gradient steps" and seconds == pytest.approx(30.0)
    # the new field: a batch of two recorded as such, whatever its wall time
    new = ResultStore(tmp_path / "new")
    other = tc.replace(lr=3e-4)
    for s in range(2):
        new.save_run(Cell(cfg, other, s), {"train_wall_seconds": 8.0 + s}, batch_seeds=2)
    model = CostModel(new, calibrate=False)
    assert sorted(r["cost"] for r in model.records) == [4.0, 4.5]
    # a different head: nothing comparable stored
    with pytest.raises(ValueError, match="calibrate=False"):
        model.estimate(Cell(cfg, tc.replace(head="paper"), 0))


@pytest.fixture
def scratch(tmp_path):
    """A copy of the committed store with 3 runs deleted and 2 made stale (Fig. 3's IQL seed 4
    and VDN seed 3 deleted, a Fig. 4 run deleted, two budget runs from other code)."""
    root = tmp_path / "results"
    shutil.copytree(COMMITTED, root)
    fig3 = figure_cells("fig3", 5, False)
    gone = [
        next(c for c in fig3 if c.algo == "iql" and c.seed == 4),
        next(c for c in fig3 if c.algo == "vdn" and c.seed == 3),
        figure_cells("fig4", 5, False)[7],
    ]
    for c in gone:
        (root / "runs" / c.filename()).unlink()
    only_budget = [
        c
        for c in figure_cells("budget", 5, False)
        if c.filename() not in {x.filename() for x in fig3}
    ]
    stale = only_budget[:2]
    for c in stale:
        p = root / "runs" / c.filename()
        d = json.loads(p.read_text())
        d["records"]["code"]["dnt.rl.learner"] = "000000000000"  # made by other learner code
        p.write_text(json.dumps({**d, "code_version": "0123456789ab"}))
    return root, gone, stale


def test_status_counts_a_part_rebuilt_store_exactly(scratch):
    root, gone, stale = scratch
    store = ResultStore(root)
    assert {store.run_status(c) for c in gone} == {"missing"}
    assert {store.run_status(c) for c in stale} == {"stale"}
    st = store_status(ALL, 5, False, store, jobs=2)
    t = st["targets"]
    assert t["fig3"] == t["fig3"] | {"needed": 10, "current": 8, "stale": 0, "missing": 2}
    assert (t["fig4"]["current"], t["fig4"]["missing"], t["fig4"]["stale"]) == (59, 1, 0)
    # the budget study shares Fig. 3's cells: its two deleted runs count there too
    assert (t["budget"]["current"], t["budget"]["stale"], t["budget"]["missing"]) == (46, 2, 2)
    assert (t["fig5"]["current"], t["fig6"]["current"]) == (40, 10)
    total = st["total"]
    assert (total["needed"], total["stale"], total["missing"]) == (150, 2, 3)
    assert not st["complete"] and st["stale_code_versions"] == ["0123456789ab"]
    assert total["seconds"] > 0 and total["core_seconds"] >= total["seconds"]
    assert sum(st["estimate"]["how"].values()) == 5
    done = completeness(ALL, 5, False, ResultStore(root))
    assert done["runs"] == {"needed": 150, "current": 145, "stale": 2, "missing": 3}
    assert not done["complete"]


def test_the_committed_store_is_complete_and_status_is_a_cli(capsys):
    assert main(["reproduce", "status", "--require-complete", "--root", str(COMMITTED)]) == 0
    assert "complete: every run and every artifact it reads is current." in capsys.readouterr().out
    assert main(["reproduce", "status", "--json", "--root", str(COMMITTED)]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["complete"] and st["total"]["needed"] == st["total"]["current"] == 150
    assert main(["reproduce", "status", "--from-empty", "--json", "--root", str(COMMITTED)]) == 0
    empty = json.loads(capsys.readouterr().out)
    assert empty["total"]["missing"] == 150 and empty["total"]["seconds"] > 0
    assert empty["estimate"]["how"] == {"this setting": 150}


def test_status_require_complete_fails_on_a_part_rebuilt_store(scratch, capsys):
    root, _, _ = scratch
    assert main(["reproduce", "status", "--require-complete", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "not complete: 5 runs to train" in out and "0123456789ab" in out
    assert "code changed: dnt.rl.learner (2 runs)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "all", "--time-limit", "-1"], "--time-limit -1.0 is invalid"),
        (["reproduce", "status", "--jobs", "0"], "--jobs 0 is invalid"),
        (["reproduce", "fig3", "--json"], "go with reproduce status"),
        (["reproduce", "status", "tuning"], "not tuning"),
    ],
)
def test_bad_slice_options_stop_with_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_time_limit_must_be_minutes_or_none(tmp_path):
    with pytest.raises(ValueError, match="time_limit=-2 is invalid"):
        reproduce(("fig3",), time_limit=-2, root=tmp_path)


def test_a_part_rebuilt_store_is_drawn_with_marks_and_its_pages_build(scratch):
    """The scratch store (3 runs deleted, 2 stale) plus every Fig. 6 run deleted (which are
    also Fig. 5's U = 12): redrawn with --time-limit 0, every incomplete number is marked, the
    pending ones are not judged, and the landing page and the figures page build from it."""
    papermill = pytest.importorskip("papermill")
    root, _, _ = scratch
    for c in figure_cells("fig6", 5, False):
        (root / "runs" / c.filename()).unlink()
    out = reproduce(ALL, seeds=5, root=root, progress=False, time_limit=0)
    assert out["trained_now"] == 0 and not out["remaining"]["complete"]
    table = json.loads((root / "claims.json").read_text())
    summary = json.loads((root / "summary.json").read_text())
    state = completeness(ALL, 5, False, ResultStore(root))
    assert table["store"] == summary["store"] == state
    assert state["runs"] == {"needed": 150, "current": 135, "stale": 2, "missing": 13}
    rows = {c["id"]: c for c in table["claims"]}
    head = rows["fig3-gain"]
    assert head["seeds_current"] == [4, 4] and head["seeds_needed"] == [5, 5] and head["mark"]
    assert head["direction"] in ("reproduced", "opposite", "inconclusive")
    for cid in ("fig6-dnt-error", "fig5-u12-rate", "fig5-u12-dnt"):
        assert rows[cid]["direction"] == "pending" and rows[cid]["magnitude"] == "pending"
    assert rows["fig4-iql-rate-falls"]["mark"] == ""  # its cells are all current
    md = (root / "claims.md").read_text()
    assert "**Part-rebuilt store**" in md and "pending" in md
    vdn = summary["fig3"]["methods"]["VDN"]
    assert (vdn["seeds"], vdn["seeds_needed"]) == (4, 5)
    fig3 = (root / "figures" / "fig3.csv").read_text().splitlines()
    assert any(line.startswith("reward,VDN,") and line.endswith(",4") for line in fig3)
    assert (root / "figures" / "fig6.csv").read_text().splitlines()[1:] == []  # pending
    for page, params in (("intro", {"results": str(root)}), ("figures", {"results": str(root)})):
        done = root.parent / f"{page}.ipynb"
        papermill.execute_notebook(
            str(ROOT / "book" / f"{page}.ipynb"),
            str(done),
            parameters=params,
            kernel_name="python3",
            cwd=str(ROOT / "book"),
            progress_bar=False,
        )
        if page == "intro":
            text = done.read_text()
            assert "part-rebuilt: 135 of 150 runs are current" in text


class _InstantExecutor:
    """Stands in for an :class:`~dnt.repro.executor.Executor`: 'trains' a batch at once and
    notes the batches in the order they were handed out."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def map(self, fn, units):
        for cells, _root, _quick in units:
            self.batches.append([c.filename() for c in cells])
            yield [(c.filename(), {"final": {}, "train_wall_seconds": 0.5}) for c in cells]


def test_a_deadline_cuts_a_batch_to_the_seeds_that_fit_and_stops_at_the_first_that_cannot(
    tmp_path,
):
    import time

    from dnt.repro.reproduce import _train

    cfg = SystemConfig()
    cheap = [Cell(cfg, TrainConfig(algo="vdn", gradient_steps=10), s) for s in range(3)]
    dear = [Cell(cfg, TrainConfig(algo="iql", gradient_steps=10), s) for s in range(2)]
    late = [Cell(cfg, TrainConfig(algo="vdn", gradient_steps=20), 0)]
    cost = {c.filename(): 10.0 for c in cheap} | {c.filename(): 1000.0 for c in dear}
    cost |= {c.filename(): 1.0 for c in late}
    ex, store = _InstantExecutor(), ResultStore(tmp_path)
    deadline = time.perf_counter() + 25.0  # the first batch (30 s) does not fit whole
    done, blocked = _train(ex, store, [*cheap, *dear, *late], cost, 1, deadline, False, False)
    names = [c.filename() for c in cheap]
    assert ex.batches == [names[:2], names[2:]]  # cut to the two seeds that fit, then the third
    assert done == names
    assert blocked["cell"] == dear[0].filename() and blocked["seconds"] == 1000.0
    # the cheap run after the blocked batch waits for it: the order is fixed
    assert store.run_status(late[0]) == "missing"
    assert json.loads(store.run_path(cheap[0]).read_text())["timing"] == {"batch_seeds": 2}
    # no deadline: everything, in priority order, nothing blocked
    ex = _InstantExecutor()
    done, blocked = _train(
        ex, ResultStore(tmp_path / "b"), [*cheap, *dear], cost, 1, None, False, False
    )
    assert blocked is None and [n for b in ex.batches for n in b] == [
        c.filename() for c in (*cheap, *dear)
    ]
