import numpy as np
import pytest

from dnt.sim.twin import DigitalTwin, HoldLastPredictor, Predictor, dnt_error, twin_mapping


def test_twin_mapping_eq7():
    true = np.arange(8.0).reshape(4, 2)
    pred = -np.ones((4, 2))
    cov = np.array([[1, 1, 0, 0], [0, 1, 1, 0]], bool)  # user 3 uncovered
    out = twin_mapping(true, pred, cov, np.array([True, False]))
    np.testing.assert_array_equal(out, [[0, 1], [2, 3], [-1, -1], [-1, -1]])
    out = twin_mapping(true, pred, cov, np.array([False, True]))
    np.testing.assert_array_equal(out, [[-1, -1], [2, 3], [4, 5], [-1, -1]])
    assert dnt_error(true, out) == pytest.approx(((true[[0, 3]] + 1) ** 2).sum() / 4)


def test_hold_last_and_history(cfg):
    c = cfg.replace(num_users=2, history_len=3)
    twin = DigitalTwin(c)
    assert isinstance(twin.predictor, HoldLastPredictor)
    assert isinstance(twin.predictor, Predictor)
    with pytest.raises(RuntimeError, match="reset"):
        twin.predict()
    start = np.array([[1.0, 2.0], [3.0, 4.0]])
    twin.reset(start)
    assert twin.history.shape == (3, 2, 2)
    np.testing.assert_array_equal(twin.predict(), start)  # starts from the true positions
    true = start + 1
    cov = np.array([[True, False]])
    s1 = twin.step(true, cov, np.array([True]))
    np.testing.assert_array_equal(s1, [[2, 3], [3, 4]])
    s2 = twin.step(true + 1, cov, np.array([False]))
    np.testing.assert_array_equal(s2, s1)  # nothing arrived: hold the last state
    np.testing.assert_array_equal(twin.history[0], start)
    np.testing.assert_array_equal(twin.history[-1], s2)
    twin.step(true, cov, np.array([False]))
    np.testing.assert_array_equal(twin.history[0], s1)  # oldest dropped


def test_batched_partial_reset(cfg):
    c = cfg.replace(num_users=1, history_len=2)
    twin = DigitalTwin(c)
    twin.reset(np.zeros((3, 1, 2)))
    twin.commit(np.ones((3, 1, 2)))
    where = np.array([False, True, False])
    twin.reset(np.full((3, 1, 2), 5.0), where=where)
    np.testing.assert_array_equal(twin.state[:, 0, 0], [1, 5, 1])


def test_a_named_predictor_must_be_passed_in(cfg):
    with pytest.raises(ValueError, match="make_predictor"):
        DigitalTwin(cfg.replace(twin_predictor="bayes"))


def test_first_slot_after_a_reset_is_the_initial_state(cfg):
    c = cfg.replace(num_users=1, history_len=2)

    class Plus:
        def predict(self, history):
            return history[..., -1, :, :] + 1.0

    twin = DigitalTwin(c, Plus())
    twin.reset(np.zeros((2, 1, 2)))
    np.testing.assert_array_equal(twin.predict(), 0.0)  # synchronised start
    twin.commit(twin.predict())
    np.testing.assert_array_equal(twin.predict(), 1.0)  # then the predictor's forecast
    twin.reset(np.full((2, 1, 2), 5.0), where=np.array([True, False]))
    np.testing.assert_array_equal(twin.predict()[:, 0, 0], [5.0, 1.0])
