"""The CSV beside every figure holds exactly what the figure draws; the claims CSV holds the
claims table; every committed figure has its CSV, and the committed claims CSV lists the
committed claims."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from dnt.repro.figure_data import COLUMNS, claims_frame, figure_frame, record, write_csv
from dnt.repro.figures import figure2, figure3, figure4, figure6
from dnt.repro.intervals import mean_ci

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_figure3_csv_is_the_drawn_lines_and_bands():
    rng = np.random.default_rng(3)
    curves = {"VDN": rng.normal(size=(4, 6)), "IQL": rng.normal(size=(4, 6))}
    x = np.arange(1, 7) * 500
    fig = figure3(curves, x, references={"rule": 0.25})
    t = figure_frame(fig)
    assert tuple(t.columns) == COLUMNS
    ax = fig.axes[0]
    for line, (label, v) in zip(ax.lines, curves.items(), strict=False):
        rows = t[t.series == label]
        np.testing.assert_array_equal(rows.y.to_numpy(), line.get_ydata())
        np.testing.assert_array_equal(rows.x.to_numpy(), x)
        mean, lo, hi = mean_ci(v)
        np.testing.assert_array_equal(rows.y.to_numpy(), mean)
        np.testing.assert_array_equal(rows.low.to_numpy(), lo)
        np.testing.assert_array_equal(rows.high.to_numpy(), hi)
        assert (rows.seeds == 4).all()
    ref = t[t.series == "rule"]
    assert len(ref) == 1 and ref.y.iloc[0] == 0.25 and np.isnan(ref.x.iloc[0])


def test_a_single_seed_has_no_band_in_the_csv():
    fig = figure3({"VDN": np.arange(5.0)[None]})
    t = figure_frame(fig)
    assert t.low.isna().all() and t.high.isna().all() and (t.seeds == 1).all()


def test_sweep_and_slot_figures_record_every_panel_and_series():
    rng = np.random.default_rng(4)
    methods = {m: {k: rng.normal(size=(3, 4)) for k in ("dnt_error", "rate")} for m in "AB"}
    rule = {"rule": {"dnt_error": np.ones(4), "rate": np.zeros(4)}}
    t = figure_frame(figure4([0.1, 0.3, 0.5, 0.8], methods, rule))
    assert set(t.panel) == {"average DNT error per user", "average data rate per user"}
    assert len(t) == 2 * 3 * 4  # two panels, three series, four x values
    got = t[(t.series == "B") & (t.panel == "average data rate per user")].y.to_numpy()
    np.testing.assert_allclose(got, methods["B"]["rate"].mean(0), rtol=1e-12)
    np.testing.assert_array_equal(t[t.series == "rule"].low.isna(), True)
    slots = {m: {k: rng.normal(size=(2, 5)) for k in ("updates", "dnt_error")} for m in "AB"}
    t6 = figure_frame(figure6(slots))
    assert len(t6) == 2 * 2 * 5 and set(t6.x) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_a_sweep_with_missing_seeds_records_each_points_seeds():
    rng = np.random.default_rng(7)
    methods = {m: {k: rng.normal(size=(3, 4)) for k in ("dnt_error", "rate")} for m in "AB"}
    methods["A"]["rate"][1:, 2] = np.nan  # one seed left at the third point
    methods["A"]["rate"][:, 3] = np.nan  # none at the fourth: not drawn
    t = figure_frame(figure4([0.1, 0.3, 0.5, 0.8], methods))
    a = t[(t.series == "A") & (t.panel == "average data rate per user")]
    assert a.seeds.tolist() == [3, 3, 1, 0]
    assert a.y.iloc[2] == methods["A"]["rate"][0, 2] and np.isnan(a.y.iloc[3])
    assert a.low.iloc[2:].isna().all() and a.high.iloc[2:].isna().all()
    mean, lo, _ = mean_ci(methods["A"]["rate"][:, :2])
    np.testing.assert_array_equal(a.y.iloc[:2], mean)
    np.testing.assert_array_equal(a.low.iloc[:2], lo)
    b = t[(t.series == "B") & (t.panel == "average data rate per user")]
    assert (b.seeds == 3).all()


def test_figure2_csv_holds_each_users_true_and_predicted_path():
    rng = np.random.default_rng(5)
    traj = rng.normal(size=(6, 8, 2))
    t = figure_frame(figure2(traj, traj[1:] + 0.1, users=(1, 3)))
    true = t[(t.panel == "user 4") & (t.series == "true")]
    np.testing.assert_array_equal(true[["x", "y"]].to_numpy(), traj[:, 3])
    assert list(true.point) == list(range(6))
    assert len(t[t.series == "predicted"]) == 2 * 5


def test_record_rejects_mismatched_series_and_a_figure_without_data():
    fig = Figure()
    with pytest.raises(ValueError, match="series 's'"):
        record(fig, "p", "s", [1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="recorded no data"):
        figure_frame(Figure())


def test_write_csv_round_trips_the_floats(tmp_path):
    fig = figure3({"VDN": np.random.default_rng(6).normal(size=(3, 4))})
    path = write_csv(figure_frame(fig), tmp_path / "f.csv")
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, figure_frame(fig), check_dtype=False)


def test_claims_csv_has_one_row_per_claim_with_both_verdict_parts():
    table = json.loads((RESULTS / "claims.json").read_text())
    frame = claims_frame(table)
    assert list(frame.id) == [c["id"] for c in table["claims"]]
    assert list(frame.direction) == [c["direction"] for c in table["claims"]]
    assert list(frame.magnitude) == [c["magnitude"] for c in table["claims"]]
    committed = pd.read_csv(RESULTS / "claims.csv", keep_default_na=False, na_values=[""])
    assert list(committed.id) == list(frame.id)
    assert list(committed.direction) == list(frame.direction)


@pytest.mark.parametrize("fig", ["fig2", "fig3", "budget", "fig4", "fig5", "fig6"])
def test_every_committed_figure_has_its_csv(fig):
    path = RESULTS / "figures" / f"{fig}.csv"
    t = pd.read_csv(path)
    assert tuple(t.columns) == COLUMNS and len(t) > 0
    assert (RESULTS / "figures" / f"{fig}.png").exists()
