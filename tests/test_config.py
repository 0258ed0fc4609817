import dataclasses
import json

import pytest

from dnt.sim.config import SystemConfig


def test_defaults_follow_the_paper(cfg):
    assert cfg.area_x == (-150.0, 150.0) and cfg.area_y == (-50.0, 50.0)
    assert cfg.bs_positions == ((-100.0, 0.0), (0.0, 0.0), (100.0, 0.0))
    assert cfg.coverage_radius == 60 and cfg.cloud_position == (0.0, 50.0)
    assert (cfg.num_users, cfg.num_bs, cfg.num_rbs) == (12, 3, 12)
    assert (cfg.bandwidth, cfg.tx_power, cfg.noise_psd) == (1.0, 1.0, 1e-5)
    assert (cfg.history_len, cfg.episode_len) == (5, 30)
    assert (cfg.step_length, cfg.min_distance, cfg.update_size, cfg.deadline) == (1, 1, 1, 1)
    assert cfg.penalty == -5
    assert cfg.num_actions == 2**13


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("num_users", 0, "num_users"),
        ("num_users", 63, "[1, 62]"),
        ("num_users", 2.5, "integer"),
        ("num_rbs", 0, ">= 1"),
        ("epsilon", 0.0, "(0, 1)"),
        ("epsilon", 1.0, "(0, 1)"),
        ("epsilon", float("nan"), "epsilon"),
        ("tx_power", 0.0, "> 0"),
        ("noise_psd", -1e-5, "noise_psd"),
        ("bandwidth", float("inf"), "bandwidth"),
        ("coverage_radius", -1.0, "coverage_radius"),
        ("min_distance", 0.0, "min_distance"),
        ("penalty", 1.0, "< 0"),
        ("history_len", 0, "history_len"),
        ("episode_len", 0, "episode_len"),
        ("deadline", 0.0, "deadline"),
        ("update_size", 0.0, "update_size"),
        ("area_x", (10.0, -10.0), "min < max"),
        ("bs_positions", ((0.0, 0.0), (500.0, 0.0)), "inside the area"),
        ("bs_positions", (), "at least one"),
        ("bs_positions", ((0.0, 0.0), (0.0, 0.0)), "distinct"),
        ("cloud_position", (0.0, 60.0), "cloud_position"),
        ("interference_model", "nope", "physical"),
        ("fading_model", "nakagami", "rayleigh"),
        ("allocation_rounds", 0, "allocation_rounds"),
        ("twin_predictor", "oracle", "hold_last"),
        ("scenario_seed", -1, "scenario_seed"),
    ],
)
def test_bad_values_are_rejected_with_the_parameter_named(field, value, words):
    with pytest.raises(ValueError) as err:
        SystemConfig(**{field: value})
    assert field in str(err.value) and words in str(err.value)


def test_round_trip_and_json(cfg):
    d = cfg.to_dict()
    json.dumps(d)  # plain JSON
    assert SystemConfig.from_dict(d) == cfg
    other = cfg.replace(num_users=7, epsilon=0.8, interference_model="printed")
    assert SystemConfig.from_dict(json.loads(json.dumps(other.to_dict()))) == other


def test_from_dict_rejects_unknown_keys(cfg):
    d = cfg.to_dict() | {"bogus": 1}
    with pytest.raises(ValueError, match="bogus"):
        SystemConfig.from_dict(d)


def test_hash_is_stable_and_content_addressed(cfg):
    h = cfg.config_hash()
    assert h == SystemConfig().config_hash() and len(h) == 16
    assert SystemConfig.from_dict(cfg.to_dict()).config_hash() == h
    # lists vs tuples and ints vs floats must not change the identity
    assert SystemConfig(bs_positions=[[-100, 0], [0, 0], [100, 0]]).config_hash() == h
    assert cfg.replace(epsilon=0.31).config_hash() != h
    assert cfg.replace(scenario_seed=1).config_hash() != h


def test_frozen(cfg):
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_users = 3  # type: ignore[misc]
