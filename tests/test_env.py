import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.parallel_env import DNTParallelEnv
from dnt.sim.reward import (
    action_mask,
    allowed_bits,
    decode_actions,
    local_rewards,
    team_reward,
)


def _random_valid_actions(rng, bits):
    a = rng.integers(0, 2**62, bits.shape, dtype=np.int64)
    return a & bits


def test_parallel_api(cfg):
    parallel_api_test(DNTParallelEnv(cfg), num_cycles=40)
    parallel_api_test(DNTParallelEnv(cfg.replace(num_users=3, num_rbs=2)), num_cycles=40)


def test_observation_and_mask(cfg):
    env = DNTParallelEnv(cfg)
    obs, _ = env.reset(seed=3)
    state = env.state()
    assert state.shape == (24,) and env.state_space.contains(state)
    for m, agent in enumerate(env.possible_agents):
        o = obs[agent]
        assert env.observation_space(agent).contains(o)
        cov = o["coverage"].astype(bool)
        pos = state.reshape(12, 2)
        d = np.hypot(*(pos - np.array(cfg.bs_positions[m])).T)
        np.testing.assert_array_equal(cov, d <= 60)
        np.testing.assert_array_equal(o["positions"][~cov], 0.0)
        np.testing.assert_allclose(o["positions"][cov], pos[cov])
        mask = o["action_mask"].astype(bool)
        acts = np.flatnonzero(mask)
        _sync, assoc = decode_actions(acts, 12)
        assert not (assoc & ~cov).any()  # masking never lets an unavailable action through
        assert mask.sum() == 2 ** (cov.sum() + 1)  # and allows every available one


def test_unavailable_and_bad_actions_are_rejected(cfg):
    env = DNTParallelEnv(cfg)
    obs, _ = env.reset(seed=0)
    agent = next(a for a in env.agents if not obs[a]["coverage"].all())
    u = int(np.flatnonzero(obs[agent]["coverage"] == 0)[0])
    acts = dict.fromkeys(env.agents, 0)
    acts[agent] = 1 << (u + 1)
    with pytest.raises(ValueError, match="outside its coverage"):
        env.step(acts)
    with pytest.raises(ValueError, match=r"\[0, 8191\]"):
        env.step(dict.fromkeys(env.agents, 2**13))
    with pytest.raises(ValueError, match="missing"):
        env.step({"bs_0": 0})
    venv = VectorDNTEnv(cfg, num_envs=2)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="seed"):
        venv.reset(seed=-1)


def test_reset_really_reseeds(cfg):
    env = DNTParallelEnv(cfg)
    rng = np.random.default_rng(0)

    def play(seed):
        obs, _ = env.reset(seed=seed)
        out = [env.state()]
        while env.agents:
            acts = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
            obs, rew, *_ = env.step(acts)
            out.append(env.state())
            out.append(np.array([rew["bs_0"]]))
        return np.concatenate(out)

    a = play(5)
    rng = np.random.default_rng(0)
    b = play(5)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    assert not np.array_equal(a, play(6))


def test_vector_env_b_equals_parallel_env_seed_s_plus_b(cfg):
    c = cfg.replace(episode_len=7)
    nb, s = 4, 11
    venv = VectorDNTEnv(c, num_envs=nb)
    vobs = venv.reset(seed=s)
    rng = np.random.default_rng(1)
    steps = 17  # crosses two auto-resets
    actions = []
    v_rew, v_err, v_local, v_state = [], [], [], [vobs["state"].copy()]
    for _ in range(steps):
        a = _random_valid_actions(rng, venv.allowed_bits())
        actions.append(a)
        vobs, r, done, info = venv.step(a)
        v_rew.append(r)
        v_err.append(info["dnt_error"])
        v_local.append(info["local_reward"])
        v_state.append(vobs["state"].copy())
        assert done.any() == ((len(actions)) % 7 == 0)
    for b in range(nb):
        env = DNTParallelEnv(c)
        env.reset(seed=s + b)
        np.testing.assert_array_equal(env.state().reshape(-1, 2), v_state[0][b].astype(np.float32))
        for t in range(steps):
            if not env.agents:
                env.reset()  # the next episode of the same generator
            acts = {f"bs_{m}": int(actions[t][b, m]) for m in range(c.num_bs)}
            _, rew, _, _, inf = env.step(acts)
            assert rew["bs_0"] == v_rew[t][b]
            assert inf["bs_0"]["dnt_error"] == v_err[t][b]
            assert [inf[f"bs_{m}"]["local_reward"] for m in range(3)] == list(v_local[t][b])
            if env.agents:
                np.testing.assert_array_equal(
                    env.state().reshape(-1, 2), v_state[t + 1][b].astype(np.float32)
                )


def test_vector_env_determinism_and_autoreset(cfg):
    def run(seed):
        venv = VectorDNTEnv(cfg, num_envs=8)
        obs = venv.reset(seed=seed)
        rng = np.random.default_rng(0)
        rs = []
        for _ in range(35):
            obs, r, done, info = venv.step(_random_valid_actions(rng, venv.allowed_bits()))
            rs.append(r)
            if done.any():
                assert (obs["t"][done] == 0).all()
                assert (info["final_obs"]["t"][done] == cfg.episode_len).all()
        return np.array(rs)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_team_reward_both_branches(cfg):
    c = cfg.replace(num_users=3, epsilon=0.25, penalty=-5.0)
    cov = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], bool)  # user 2 covered by nobody
    err = np.array([1.0, 2.0, 9.0])
    rate = np.array([4.0, 8.0, 0.0])
    assoc = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], bool)
    expect = -(0.75 / 3) * 12.0 + 0.25 * 12.0  # user 2 is left out of the condition
    assert team_reward(c, assoc, cov, err, rate) == pytest.approx(expect)
    # user 1 served twice: the penalty branch, xi * rho
    assoc2 = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], bool)
    assert team_reward(c, assoc2, cov, err, rate) == pytest.approx(2 * -5.0)
    # a covered user left unserved: "otherwise" with no doubly-served user gives 0
    assoc3 = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 0]], bool)
    assert team_reward(c, assoc3, cov, err, rate) == 0.0


def test_local_rewards_eq17(cfg):
    c = cfg.replace(num_users=3, epsilon=0.5, penalty=-2.0)
    cov = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]], bool)
    err = np.array([1.0, 2.0, 3.0])
    bs_rate = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 4.0]])
    assoc = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], bool)  # user 2 served by BS 1 and 2
    r = local_rewards(c, assoc, cov, err, bs_rate)
    assert r[0] == pytest.approx(-(0.5 / 3) * 3.0 + 0.5 * 1.0)
    assert r[1] == pytest.approx(2 * -2.0)
    assert r[2] == pytest.approx(2 * -2.0)


def test_env_reward_is_eq16_of_its_infos(cfg):
    venv = VectorDNTEnv(cfg, num_envs=16)
    obs = venv.reset(seed=0)
    # nearest covering BS serves each user, every BS updates: the non-penalty branch
    d2 = ((obs["state"][:, None] - np.array(cfg.bs_positions)[None, :, None]) ** 2).sum(-1)
    best = np.where(obs["coverage"], d2, np.inf).argmin(1)
    assoc = (np.arange(3)[None, :, None] == best[:, None, :]) & obs["coverage"]
    acts = (assoc.astype(np.int64) << np.arange(1, 13)).sum(-1) | 1
    _obs2, r, _, info = venv.step(acts)
    assert info["all_served_once"].all() and (info["doubly_served"] == 0).all()
    expect = -(1 - cfg.epsilon) * info["dnt_error"] + cfg.epsilon * info["sum_rate"]
    np.testing.assert_allclose(r, expect)
    # users whose covering BS's update succeeded are known to the twin exactly
    known = (obs["coverage"] & info["update_success"][:, :, None]).any(1)
    np.testing.assert_array_equal(info["twin_state"][known], obs["state"][known])
    # no BS serves a doubly-served user, so each local reward is the eq. (17) objective
    err_u = ((obs["state"] - info["twin_state"]) ** 2).sum(-1)
    own_err = (err_u[:, None, :] * obs["coverage"]).sum(-1)
    own_rate = (np.where(assoc, info["user_rate"][:, None, :], 0.0)).sum(-1)
    np.testing.assert_allclose(
        info["local_reward"], -(1 - cfg.epsilon) / 12 * own_err + cfg.epsilon * own_rate
    )


def test_custom_predictor_is_used(cfg):
    class Zero:
        def predict(self, history):
            return np.zeros(history.shape[:-3] + history.shape[-2:])

    venv = VectorDNTEnv(cfg, num_envs=2, predictor=Zero())
    obs = venv.reset(seed=0)
    _, _, _, info = venv.step(np.zeros((2, 3), np.int64))  # nobody updates
    np.testing.assert_array_equal(info["twin_state"], obs["state"])  # slot 0: s_0 itself
    _, _, _, info = venv.step(np.zeros((2, 3), np.int64))
    np.testing.assert_array_equal(info["twin_state"], 0.0)  # slot 1: the predictor's guess


def test_mask_helpers():
    cov = np.array([True, False, True])
    assert allowed_bits(cov[None])[0] == 0b1011
    m = action_mask(cov)
    assert m.dtype == np.int8 and m.shape == (16,)
    assert set(np.flatnonzero(m)) == {a for a in range(16) if a & ~0b1011 == 0}


def test_default_config_constructs():
    assert DNTParallelEnv().cfg == SystemConfig()


def test_twin_starts_synchronised_and_slot_1_has_the_one_step_error():
    """With no update ever: slot 0's DNT error is exactly 0 (the twin holds s_0), and slot 1's
    is the one-step Bayes predictor's error, whose expectation given s_0 is known exactly."""
    from dnt.sim.twin import bayes_conditional_variance

    cfg = SystemConfig(twin_predictor="bayes")
    n = 500
    env = VectorDNTEnv(cfg, num_envs=n)
    obs = env.reset(seed=11)
    s0 = obs["state"].copy()
    never = np.zeros((n, cfg.num_bs), np.int64)
    _, _, _, info0 = env.step(never)
    np.testing.assert_array_equal(info0["dnt_error"], 0.0)
    _, _, _, info1 = env.step(never)
    expect = bayes_conditional_variance(cfg, s0).sum(-1) / cfg.num_users  # E[error | s_0]
    se = info1["dnt_error"].std() / np.sqrt(n)
    assert abs(info1["dnt_error"].mean() - expect.mean()) < 4 * se
    assert info1["dnt_error"].mean() > 0


def test_what_if_gives_the_outcome_that_step_pays():
    cfg = SystemConfig(twin_predictor="bayes")
    env = VectorDNTEnv(cfg, num_envs=6)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        a = _random_valid_actions(rng, env.allowed_bits())
        guess = env.what_if(np.arange(6), a)
        again = env.what_if(np.array([4, 1]), a[[4, 1]])  # any rows, nothing stepped
        np.testing.assert_array_equal(again["reward"], guess["reward"][[4, 1]])
        _, r, _, info = env.step(a)
        np.testing.assert_array_equal(guess["reward"], r)
        np.testing.assert_array_equal(guess["twin_state"], info["twin_state"])
