import numpy as np
import pytest
from scipy import stats

from dnt._io import atomic_write, atomic_write_json
from dnt.repro.figures import figure3
from dnt.repro.intervals import mean_ci
from dnt.studies.complexity import complexity_figure, measure_decision_time


def test_mean_ci_is_scipys_t_interval_per_column():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 7))
    m, lo, hi = mean_ci(v)
    ci = stats.ttest_1samp(v, 0.0, axis=0).confidence_interval(0.95)
    np.testing.assert_allclose(m, v.mean(0), rtol=1e-12)
    np.testing.assert_allclose(lo, ci.low, rtol=1e-12)
    np.testing.assert_allclose(hi, ci.high, rtol=1e-12)
    assert (lo < m).all() and (m < hi).all()
    one = mean_ci(v[:1])  # one seed: the interval is the value itself
    np.testing.assert_array_equal(one[1], v[0])
    np.testing.assert_array_equal(one[2], v[0])


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    assert path.read_text().strip().startswith("{")

    def boom(p):
        p.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "y.txt", boom)
    assert not (tmp_path / "y.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_figure3_draws_bands():
    rng = np.random.default_rng(1)
    fig = figure3({"VDN": rng.normal(size=(3, 10)), "IQL": rng.normal(size=(3, 10))})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    with pytest.raises(ValueError, match="empty"):
        figure3({})


def test_decision_time_measurement_runs():
    r = measure_decision_time(users=(3, 5), rbs=(4, 8), hidden=16, repeats=2)
    assert [row["U"] for row in r["users"]] == [3, 5]
    assert all(row["full_head_ms"] > 0 and row["available_ms"] > 0 for row in r["users"])
    assert r["users"][1]["order_eq25_q"] > r["users"][0]["order_eq25_q"]
    assert [row["N"] for row in r["rbs"]] == [4, 8]
    assert len(complexity_figure(r).axes) == 2
