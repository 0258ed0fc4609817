"""A part-rebuilt result store: the claims, the summary, the figures and the landing page read
only the usable runs, say how many seeds each number rests on, leave a claim with fewer than 2
seeds in a group pending, and, from the complete committed store, give exactly the committed
claims table and figure data.

The runs are the committed ones (``results/runs``); a test removes some of them from the
``runs`` dict ``reproduce`` hands over (cells missing from the store) and marks others stale.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from dnt.book import measured, scoreboard, store_sentence, verdict_counts
from dnt.repro import figures as figures_module
from dnt.repro.claims import claims, claims_markdown
from dnt.repro.figure_data import claims_frame
from dnt.repro.intervals import gain_interval
from dnt.repro.reproduce import baselines_for
from dnt.repro.specs import (
    CLAIM_EPS,
    EPS_VALUES,
    FIGURES,
    budget_cells,
    figure_cells,
    figure_configs,
)
from dnt.repro.store import ResultStore
from dnt.repro.summary import learner_targets, summary

COMMITTED = Path(__file__).resolve().parents[1] / "results"
SEEDS = 5
TARGETS = ("fig3", "fig4", "fig5", "fig6", "budget")
#: Fig. 4's setting the claims compare VDN and IQL at (eps 0.8).
EPS_VALUES_INDEX = EPS_VALUES.index(CLAIM_EPS[0])


@pytest.fixture(scope="module")
def store():
    """The committed store's cells, runs, baselines (``base``) and ``fig2``, read as they are."""
    cells = {c.filename(): c for f in TARGETS for c in figure_cells(f, SEEDS, False)}
    runs = {n: json.loads((COMMITTED / "runs" / n).read_text()) for n in cells}
    configs = {c.cfg.config_hash(): c.cfg for c in cells.values()}
    base = baselines_for(ResultStore(COMMITTED, allow_stale=True), configs, False)  # all stored
    (fig2_file,) = sorted((COMMITTED / "fig2").glob("*.json"))
    return SimpleNamespace(
        cells=cells, runs=runs, base=base, fig2=json.loads(fig2_file.read_text())
    )


def _cells(fig: str, algo: str, config: int = 0, seeds=range(SEEDS)) -> list[str]:
    """File names of a figure's cells of one method at its ``config``-th setting."""
    h = figure_configs(fig)[config].config_hash()
    return [
        c.filename()
        for c in figure_cells(fig, SEEDS, False)
        if c.algo == algo and c.cfg.config_hash() == h and c.seed in seeds
    ]


def _fig3_rewards(runs: dict, algo: str) -> np.ndarray:
    return np.array(
        [runs[n]["metrics"]["final"]["reward"] for n in _cells("fig3", algo) if n in runs]
    )


@pytest.fixture()
def partial(store):
    """The committed runs with Fig. 3's VDN seeds 3 and 4 missing, IQL at eps 0.8 down to one
    seed, and Fig. 5's runs at its first setting stale."""
    runs = copy.deepcopy(store.runs)
    missing = _cells("fig3", "vdn", seeds=(3, 4))
    missing += _cells("fig4", "iql", EPS_VALUES_INDEX, seeds=(1, 2, 3, 4))
    for n in missing:
        del runs[n]
    stale = _cells("fig5", "vdn") + _cells("fig5", "iql")
    for n in stale:
        runs[n]["stale"] = True
    return SimpleNamespace(**{**vars(store), "runs": runs, "missing": missing, "stale": stale})


def _claims(s: SimpleNamespace, figs: tuple[str, ...] = FIGURES) -> dict:
    return claims(SEEDS, False, s.runs, s.cells, s.base, s.fig2, figs)


def _draw(s: SimpleNamespace, figs: tuple[str, ...], folder: Path) -> list[Path]:
    summ = summary(SEEDS, False, s.runs, s.base)
    return figures_module.draw_figures(
        figs, SEEDS, False, s.runs, s.cells, s.base, s.fig2, summ, folder
    )


def _without(s: SimpleNamespace, names: list[str]) -> SimpleNamespace:
    """``s`` with the runs ``names`` missing."""
    gone = set(names)
    return SimpleNamespace(
        **{**vars(s), "runs": {n: r for n, r in s.runs.items() if n not in gone}}
    )


# -- a complete store: today's files -----------------------------------------------------------


def test_the_complete_committed_store_gives_the_committed_claims_table(store):
    table = _claims(store)
    assert claims_markdown(table) == (COMMITTED / "claims.md").read_text()
    committed = json.loads((COMMITTED / "claims.json").read_text())
    for old, new in zip(committed["claims"], table["claims"], strict=True):
        assert {k: new[k] for k in old} == json.loads(json.dumps(old))
        assert new["mark"] == "" and new["seeds_needed"] == [SEEDS] * len(new["values"])
        assert new["seeds_current"] == new["seeds_per_method"]
    needed = {
        c.filename() for f in ("fig3", "fig4", "fig5", "fig6") for c in figure_cells(f, 5, False)
    }
    assert (table["runs_needed"], table["runs_current"], table["runs_missing"]) == (
        len(needed),
        len(needed),
        0,
    )
    assert claims_frame(table).to_csv(index=False) == (COMMITTED / "claims.csv").read_text()


def test_the_complete_committed_store_gives_the_committed_figure_data(store, tmp_path):
    written = _draw(store, TARGETS, tmp_path)
    csvs = [p for p in written if p.suffix == ".csv"]
    assert len(csvs) == 5
    for p in csvs:
        assert p.read_text() == (COMMITTED / "figures" / p.name).read_text(), p.name


# -- a part-rebuilt store: the claims ------------------------------------------------------------


def test_claim_rows_say_how_many_seeds_they_rest_on(partial):
    table = _claims(partial)
    rows = {c["id"]: c for c in table["claims"]}
    # Fig. 3: three VDN seeds of five; the gain is over those three
    f3 = rows["fig3-gain"]
    assert f3["seeds_per_method"] == f3["seeds_current"] == [3, 5]
    assert f3["seeds_needed"] == [5, 5]
    assert f3["mark"] == "VDN: 3 of 5, IQL: 5 of 5 seeds"
    want = gain_interval(_fig3_rewards(partial.runs, "vdn"), _fig3_rewards(partial.runs, "iql"))
    assert f3["estimate"]["value"] == want.value and f3["estimate"]["low"] == want.low
    assert f3["direction"] != "pending" and f3["poi"] is not None
    # Fig. 4 at eps 0.8: one IQL seed, so every row reading it is pending
    for cid, label in (
        ("fig4-rate-eps0.8", "IQL"),
        ("fig4-dnt-eps0.8", "IQL"),
        ("fig4-iql-rate-falls", "eps 0.8"),
    ):
        c = rows[cid]
        why = f"fewer than 2 current seeds; {label}: 1 of 5"
        assert (c["direction"], c["magnitude"]) == ("pending", "pending")
        assert (c["direction_why"], c["magnitude_why"]) == (why, why)
        assert c["text"] == f"pending ({why})"
        assert c["estimate"] is None and c["poi"] is None and c["detectable"] is None
        assert c["seeds_current"] == [5, 1] and c["seeds_needed"] == [5, 5]
    # stale runs are used (allowed) and counted as stale, not missing
    assert rows["fig5-u12-rate"]["mark"] == "" and rows["fig2-mse"]["mark"] == ""
    assert table["stale_runs"] == len(partial.stale)
    assert table["runs_missing"] == len(partial.missing)
    n = table["runs_needed"]
    assert table["runs_current"] == n - len(partial.missing) - len(partial.stale)
    json.dumps(table, allow_nan=False)


def test_the_markdown_of_a_part_rebuilt_store_says_so(partial):
    table = _claims(partial)
    md = claims_markdown(table)
    title, top, rest = md.split("\n\n", 2)
    assert title == "# Claims of Section V, checked"
    assert top == (
        f"**Part-rebuilt store**: {table['runs_current']} of {table['runs_needed']} runs "
        f"behind this table are current ({len(partial.stale)} stale, "
        f"{len(partial.missing)} missing); rows marked with their seed counts are computed "
        "from the runs present only; pending rows (fewer than 2 current seeds in a group) are "
        "not judged."
    )
    assert "**Stale**: " in rest
    f3 = next(c for c in table["claims"] if c["id"] == "fig3-gain")
    assert f"| {f3['text']} (VDN: 3 of 5, IQL: 5 of 5 seeds) | **" in md
    assert md.count("**pending**") == 3
    assert "- `fig3-gain`: " in md and "; seeds 3/5 of 5/5." in md
    # the landing page: counts and the scoreboard's marks
    counts = verdict_counts(table)
    assert counts["pending"] == 3 and counts["directions"] == 11
    assert measured(f3) == f3["text"] + " (VDN: 3 of 5, IQL: 5 of 5 seeds)"
    assert measured(f3) in scoreboard(table)


def test_one_seed_in_a_group_leaves_the_row_pending(store):
    s = _without(store, _cells("fig3", "vdn", seeds=(1, 2, 3, 4)))
    (c,) = _claims(s, ("fig3",))["claims"]
    assert (c["direction"], c["magnitude"]) == ("pending", "pending")
    assert c["vdn"] is None and c["iql"] is not None
    assert c["max_over_evaluations_gain_pct"] is None
    (first,) = _cells("fig3", "vdn", seeds=(0,))
    assert c["values"]["VDN"] == [s.runs[first]["metrics"]["final"]["reward"]]
    assert c["mark"] == "VDN: 1 of 5, IQL: 5 of 5 seeds"


# -- a part-rebuilt store: the summary -----------------------------------------------------------


def test_summary_rows_average_the_seeds_present(partial):
    summ = summary(SEEDS, False, partial.runs, partial.base)
    m = summ["fig3"]["methods"]
    assert (m["VDN"]["seeds"], m["VDN"]["seeds_needed"]) == (3, 5)
    vdn = _fig3_rewards(partial.runs, "vdn")
    assert m["VDN"]["reward"] == pytest.approx(vdn.mean(), rel=1e-12)
    assert (m["IQL"]["seeds"], m["IQL"]["seeds_needed"]) == (5, 5)
    assert "seeds_needed" not in m["myopic_oracle"]
    study = summ["budget_study"]  # every entry has a seed; the chosen one is Fig. 3's runs
    chosen = next(r for r in study["VDN"] if r["gradient_steps"] == study["chosen_gradient_steps"])
    assert (chosen["seeds"], chosen["seeds_needed"]) == (3, 5)
    assert all(r["seeds_needed"] == 5 for r in study["IQL"])


def test_a_method_without_a_seed_is_pending_and_the_budget_study_waits(store):
    s = _without(store, _cells("fig3", "vdn"))
    summ = summary(SEEDS, False, s.runs, s.base)
    assert summ["fig3"]["methods"]["VDN"] == {
        "reward": None,
        "reward_ci": None,
        "sum_rate": None,
        "dnt_error": None,
        "updates_per_slot": None,
        "seeds": 0,
        "seeds_needed": 5,
        "pending": True,
    }
    assert "percent_of_oracle" in summ["fig3"]["methods"]["IQL"]
    assert "budget_study" not in summ  # the chosen budget's VDN entry has no seed
    assert learner_targets(summ) == []  # every target reads VDN's reward or the budget study
    # one seed of each budget entry is enough for the study
    budget = budget_cells(SEEDS, False).values()
    s = _without(store, [c.filename() for cs in budget for c in cs[1:]])
    study = summary(SEEDS, False, s.runs, s.base)["budget_study"]
    rows = study["VDN"] + study["IQL"] + [study["VDN_paper_literal"], study["IQL_paper_literal"]]
    assert all((r["seeds"], r["seeds_needed"]) == (1, 5) for r in rows)


# -- a part-rebuilt store: the figures -----------------------------------------------------------


def test_figures_draw_the_seeds_present_and_say_so(partial, tmp_path, monkeypatch):
    drawn = []
    frame = figures_module.figure_frame

    def keep(f):
        drawn.append(f)
        return frame(f)

    monkeypatch.setattr(figures_module, "figure_frame", keep)
    written = _draw(partial, TARGETS, tmp_path)
    assert sorted(p.name for p in written if p.suffix == ".png") == sorted(
        f"{f}.png" for f in TARGETS
    )
    titles = {
        name: f.get_suptitle() or f.axes[0].get_title()
        for f, name in zip(drawn, TARGETS, strict=True)
    }
    n = {f: len(figure_cells(f, SEEDS, False)) for f in TARGETS}
    assert titles["fig3"].endswith(f"[{n['fig3'] - 2} of {n['fig3']} runs current]")
    assert titles["fig4"].endswith(f"[{n['fig4'] - 4} of {n['fig4']} runs current]")
    stale = len(partial.stale)
    five = f"[{n['fig5'] - stale} of {n['fig5']} runs current] [STALE: made by older code]"
    assert titles["fig5"].endswith(five)
    assert "runs current" not in titles["fig6"]  # its runs (U = 12) are all current
    # the CSVs count the seeds of each point
    t3 = pd.read_csv(tmp_path / "fig3.csv")
    assert set(t3[t3.series == "VDN"].seeds) == {3} and set(t3[t3.series == "IQL"].seeds) == {5}
    t4 = pd.read_csv(tmp_path / "fig4.csv")
    iql = t4[(t4.series == "IQL") & (t4.panel == "average data rate per user")]
    assert iql.seeds.tolist() == [1 if i == EPS_VALUES_INDEX else 5 for i in range(len(iql))]
    one = iql.iloc[EPS_VALUES_INDEX]
    assert np.isnan(one.low) and np.isnan(one.high) and np.isfinite(one.y)
    legend = [t.get_text() for t in drawn[1].axes[0].get_legend().get_texts()]
    assert "IQL (1-5 seeds, 95% CI)" in legend and "VDN (5 seeds, 95% CI)" in legend
    tb = pd.read_csv(tmp_path / "budget.csv")
    assert tb[tb.series == "VDN"].seeds.tolist() == [5, 5, 3, 5]  # the chosen budget: Fig. 3's


def test_a_method_without_runs_is_left_out_and_keeps_its_colour(store, tmp_path, monkeypatch):
    drawn = []
    frame = figures_module.figure_frame
    monkeypatch.setattr(figures_module, "figure_frame", lambda f: drawn.append(f) or frame(f))
    vdn = [c.filename() for c in figure_cells("fig6", SEEDS, False) if c.algo == "vdn"]
    s = _without(store, _cells("fig3", "vdn") + vdn)
    _draw(s, ("fig3", "fig6"), tmp_path)
    for f, csv in zip(drawn, ("fig3", "fig6"), strict=True):
        t = pd.read_csv(tmp_path / f"{csv}.csv")
        assert "VDN" not in set(t.series) and (t[t.series == "IQL"].seeds == SEEDS).all()
        iql = [line for line in f.axes[0].lines if line.get_label().startswith("IQL")]
        assert iql and all(line.get_color() == "C1" for line in iql)
    assert drawn[0].axes[0].get_title().endswith(f"[{SEEDS} of {2 * SEEDS} runs current]")


def test_a_figure_without_runs_or_study_is_drawn_as_a_pending_stand_in(store, tmp_path):
    """No earlier drawing may stay in place of a figure whose runs are all gone: a stand-in
    says it is pending, and its CSV holds no point."""
    s = _without(store, _cells("fig3", "vdn") + _cells("fig3", "iql"))
    written = _draw(s, ("fig3", "budget"), tmp_path)
    assert sorted(p.name for p in written) == [
        "budget.csv",
        "budget.pdf",
        "budget.png",
        "fig3.csv",
        "fig3.pdf",
        "fig3.png",
    ]
    for name in ("fig3.csv", "budget.csv"):
        lines = (tmp_path / name).read_text().splitlines()
        assert lines[0].startswith("panel,series,point,x,y,low,high,seeds") and lines[1:] == []
    fig = figures_module.pending_figure("Fig. 3: pending [0 of 10 runs current]")
    assert fig._suptitle.get_text() == "Fig. 3: pending [0 of 10 runs current]"


# -- the landing page's sentence on the store ------------------------------------------------------


def test_store_sentence():
    counts = {"needed": 228, "current": 180, "stale": 30, "missing": 18}
    table = {
        "claims": [{"direction": "pending"}, {"direction": "reproduced"}],
        "store": {
            "complete": False,
            "runs": counts,
            "targets": {"fig3": counts},
            "stale_code_versions": ["e2d3c00684eb"],
        },
    }
    assert store_sentence(table) == (
        "The result store is part-rebuilt: 180 of 228 runs are current (30 stale: made by code "
        "e2d3c00684eb; 18 missing); rows and figures drawn from fewer seeds or from stale runs "
        "say so, and the pending row is not judged."
    )
    table["claims"].append({"direction": "pending"})
    table["store"]["runs"] = {"needed": 228, "current": 210, "stale": 0, "missing": 18}
    assert store_sentence(table).startswith(
        "The result store is part-rebuilt: 210 of 228 runs are current (18 missing); "
    )
    assert store_sentence(table).endswith("and the 2 pending rows are not judged.")
    table["store"] = {
        "complete": True,
        "runs": {"needed": 228, "current": 228, "stale": 0, "missing": 0},
        "targets": {},
        "stale_code_versions": [],
    }
    assert store_sentence(table) == (
        "The result store is complete: all 228 runs behind these numbers were made by the "
        "current code."
    )
    assert store_sentence({"claims": []}) == ""  # a table from before the store was recorded
