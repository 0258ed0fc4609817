import json

import numpy as np
import pytest
import torch

from dnt.cli import main
from dnt.repro.figures import figure2, one_step_predictions
from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.gru import GRUPredictor, GRUTrainConfig, scenario_twin, train_gru
from dnt.sim.twin import BayesPredictor, HoldLastPredictor, bayes_conditional_variance
from dnt.sim.twin_data import (
    closed_loop_errors,
    history_windows,
    make_twin_dataset,
    one_step_mse,
)

QUICK = GRUTrainConfig(hidden=32, max_epochs=6, patience=3)


@pytest.fixture(scope="module")
def data():
    return make_twin_dataset(SystemConfig(), seed=0, num_traj=300)


@pytest.fixture(scope="module")
def gru(data):
    return train_gru(SystemConfig(), data, seed=1, train_cfg=QUICK, progress=False)


def test_dataset_split_and_windows(data):
    assert data.train.shape == (210, 30, 12, 2)
    assert len(data.val) == 45 and len(data.test) == 45
    hist, target = history_windows(data.test, 5)
    assert hist.shape == (45 * 29, 5, 12, 2) and target.shape == (45 * 29, 12, 2)
    # the first window is the initial state repeated, as the twin starts
    np.testing.assert_array_equal(hist[0], np.repeat(data.test[0, :1], 5, axis=0))
    np.testing.assert_array_equal(hist[1, -2:], data.test[0, :2])
    np.testing.assert_array_equal(target[0], data.test[0, 1])
    again = make_twin_dataset(SystemConfig(), seed=0, num_traj=300)
    np.testing.assert_array_equal(again.test, data.test)


def test_predictor_shapes(gru, data):
    h = data.test[:7, :5]
    assert gru.predict(h).shape == (7, 12, 2)
    assert gru.predict(h[0]).shape == (12, 2)
    assert gru.predict(np.stack([h, h])).shape == (2, 7, 12, 2)


def test_training_is_deterministic(data, gru):
    again = train_gru(SystemConfig(), data, seed=1, train_cfg=QUICK, progress=False)
    for (k, a), b in zip(
        gru.net.state_dict().items(), again.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    other = train_gru(SystemConfig(), data, seed=2, train_cfg=QUICK, progress=False)
    assert not torch.equal(gru.net.out.weight, other.net.out.weight)


def test_gru_beats_hold_last_on_a_quick_config(gru, data):
    g, _ = one_step_mse(gru, data.test, 5)
    h, _ = one_step_mse(HoldLastPredictor(), data.test, 5)
    b, _ = one_step_mse(BayesPredictor(SystemConfig()), data.test, 5)
    assert b < g < h


def test_checkpoint_round_trip_and_refusal(gru, data, tmp_path):
    path = tmp_path / "twin.pt"
    gru.save(path)
    loaded = GRUPredictor.load(path, SystemConfig(epsilon=0.8, num_rbs=9))  # same scenario
    h = data.test[:5, :5]
    np.testing.assert_array_equal(loaded.predict(h), gru.predict(h))
    assert loaded.train_info["seed"] == 1
    with pytest.raises(ValueError, match="scenario_seed"):
        GRUPredictor.load(path, SystemConfig(scenario_seed=3))
    with pytest.raises(ValueError, match="num_users"):
        GRUPredictor.load(path, SystemConfig(num_users=10))
    bogus = tmp_path / "bogus.pt"
    torch.save({"format": "something else"}, bogus)
    with pytest.raises(ValueError, match="not a dnt GRU twin"):
        GRUPredictor.load(bogus, SystemConfig())


def test_bayes_predictor_respects_the_boundary():
    cfg = SystemConfig(num_users=1)
    bp = BayesPredictor(cfg)
    p = bp.probs[0]
    at_top_right = np.array([[[150.0, 50.0]]])  # forward and right are blocked
    pred = bp.predict(at_top_right[None])[0]
    expect = np.array([150.0 - p[3], 50.0 - p[2]])
    np.testing.assert_allclose(pred[0], expect)
    var = bayes_conditional_variance(cfg, at_top_right)[0, 0]
    assert var == pytest.approx(p[2] + p[3] - p[2] ** 2 - p[3] ** 2)


def test_bayes_floor_measured_matches_analytic():
    cfg = SystemConfig()
    d = make_twin_dataset(cfg, seed=5, num_traj=2000)
    measured, _ = one_step_mse(BayesPredictor(cfg), d.test, 5)
    hist, _ = history_windows(d.test, 5)
    analytic = bayes_conditional_variance(cfg, hist[:, -1]).mean() / 2
    assert measured == pytest.approx(analytic, rel=0.03)
    hold, _ = one_step_mse(HoldLastPredictor(), d.test, 5)
    assert measured < hold


def test_closed_loop_errors(data, gru):
    hold = closed_loop_errors(HoldLastPredictor(), data.test, 5, start=5, horizon=20)
    bayes = closed_loop_errors(BayesPredictor(SystemConfig()), data.test, 5, start=5, horizon=20)
    g = closed_loop_errors(gru, data.test, 5, start=5, horizon=20)
    assert hold.shape == bayes.shape == g.shape == (20,)
    assert np.all(np.diff(hold) > 0)  # drift: hold-last error grows with the gap
    assert bayes[-1] < hold[-1]
    # the iterated Bayes predictor follows the mean drift exactly away from the area's edges,
    # so its error after h slots is h one-step conditional variances: the analytic curve
    one_step = bayes_conditional_variance(SystemConfig(), data.test[:, 5]).mean() / 2
    np.testing.assert_allclose(bayes, one_step * np.arange(1, 21), rtol=0.1)
    # the GRU in closed loop stays close to that curve (this small test GRU within 30%)
    assert np.all(g >= 0.97 * bayes) and np.all(g <= 1.3 * bayes)
    with pytest.raises(ValueError, match="horizon"):
        closed_loop_errors(gru, data.test, 5, start=20, horizon=20)


def test_scenario_twin_is_cached(tmp_path, monkeypatch):
    cfg = SystemConfig(num_users=3)
    tc = GRUTrainConfig(hidden=8, max_epochs=1)
    first = scenario_twin(cfg, tmp_path, train_cfg=tc, num_traj=40)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1
    # a second call must load, not train: make training impossible
    monkeypatch.setattr("dnt.sim.gru.train_gru", lambda *a, **k: pytest.fail("retrained"))
    second = scenario_twin(cfg.replace(epsilon=0.9), tmp_path, train_cfg=tc, num_traj=40)
    h = np.zeros((2, 5, 3, 2))
    np.testing.assert_array_equal(first.predict(h), second.predict(h))


def test_env_uses_configured_predictor():
    env = VectorDNTEnv(SystemConfig(twin_predictor="bayes"), num_envs=2)
    assert isinstance(env.twin.predictor, BayesPredictor)
    assert isinstance(VectorDNTEnv(SystemConfig()).twin.predictor, HoldLastPredictor)


def test_figure2(gru, data):
    tr = data.test[0]
    pred = one_step_predictions(gru, tr, 5)
    fig = figure2(tr, pred)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title().startswith("user 2: MSE ")
    with pytest.raises(ValueError, match="users"):
        figure2(tr, pred, users=(0, 12))
    with pytest.raises(ValueError, match="T-1"):
        figure2(tr, pred[1:])


def test_cli_twin_writes_metrics(tmp_path):
    out = tmp_path / "run"
    args = ["twin", "--seed", "0", "--out", str(out), "--num-traj", "60", "--epochs", "2"]
    assert main([*args, "--hidden", "16", "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    for key in ("test_mse", "test_mse_per_user", "holdlast_mse", "bayes_mse", "bayes_mse_analytic"):
        assert key in m
    assert len(m["test_mse_per_user"]) == 12
    assert set(m["closed_loop"]) >= {"gru", "hold_last", "bayes", "slots_since_update"}
    assert (out / "twin.pt").exists() and (out / "figure2.png").exists()
    assert not list(out.glob(".*.tmp"))


def test_cli_rejects_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["twin", "--out", str(out), "--set", "num_users=0", "--no-progress"]) == 2
    assert "num_users" in capsys.readouterr().err
    assert main(["twin", "--out", str(out), "--set", "bogus=1", "--no-progress"]) == 2
    assert not out.exists()
