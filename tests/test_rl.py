"""The learners (dnt.rl): networks, targets, features, replay, training, and the ladder of checks
on problems whose answer is known."""

import itertools
import json

import numpy as np
import pytest
import torch

from dnt.baselines import RandomPolicy
from dnt.rl.actions import action_bits, bits_to_actions, random_actions
from dnt.rl.buffer import EpisodeBuffer
from dnt.rl.config import TrainConfig
from dnt.rl.features import LocalState, paper_features, shared_features
from dnt.rl.learner import td_loss, td_targets
from dnt.rl.modules import PaperQ, SharedQ
from dnt.rl.train import Trainer, build_network, train, train_seeds
from dnt.sim.config import SystemConfig
from dnt.sim.evaluation import evaluate_policy
from dnt.sim.reward import allowed_bits, available_pairs
from dnt.studies.ladder import fit_check, optimum_check

TINY = SystemConfig(num_users=4, num_rbs=4, episode_len=8, serve_condition="at_most_once")
TINY_TC = dict(
    gradient_steps=24,
    hidden=8,
    envs=4,
    env_steps_per_update=4,
    batch_size=16,
    buffer_episodes=16,
    learning_starts=32,
    eval_episodes=4,
    eval_every=8,
)


def _curve(trainer, i=0):
    """A run's learning curve without its wall-clock times."""
    return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in trainer.curves[i]]


def test_available_pairs_enumerate_exactly_the_available_actions():
    rng = np.random.default_rng(0)
    u = 5
    cov = rng.random((40, u)) < 0.5
    row_of, acts = available_pairs(cov)
    for r in range(len(cov)):
        allowed = allowed_bits(cov[r][None])[0]
        expect = [a for a in range(2 ** (u + 1)) if a & ~allowed == 0]
        assert acts[row_of == r].tolist() == expect  # ascending: ties go to the lowest id


def test_action_bits_round_trip_and_random_actions_are_available():
    ids = np.arange(2**5)
    np.testing.assert_array_equal(bits_to_actions(action_bits(ids, 4)), ids)
    rng = np.random.default_rng(1)
    cov = rng.random((50, 3, 6)) < 0.4
    a = random_actions(rng, cov, 0.5)
    assert a.shape == (50, 3) and ((a & ~allowed_bits(cov)) == 0).all()
    assert (a & 1).any() and not (a & 1).all()  # the update bit is a coin


def _shared(u: int, k: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    net = SharedQ(k, 5, 3, 8, gen)
    user = torch.randn(k, 2, 6, u, 5, generator=gen)
    bs = torch.randn(k, 2, 6, 3, generator=gen)
    cov = torch.rand(k, 2, 6, u, generator=gen) < 0.6
    return net, user, bs, cov


def test_shared_head_greedy_is_the_max_over_available_actions():
    u = 4
    net, user, bs, cov = _shared(u)
    with torch.no_grad():
        out = net(user, bs, cov)
        best, ids = net.greedy(out, cov.numpy())
        for idx in itertools.product(*(range(n) for n in out.shape[:3])):
            allowed = int(allowed_bits(cov[idx].numpy()[None])[0])
            acts = torch.tensor([a for a in range(2 ** (u + 1)) if a & ~allowed == 0])
            q = net.q_values(out[idx].expand(len(acts), -1), acts)
            assert float(best[idx]) == pytest.approx(float(q.max()), rel=1e-6, abs=1e-6)
            assert ids[idx] & ~allowed == 0
            chosen = net.q_values(out[idx][None], torch.tensor([int(ids[idx])]))
            assert float(chosen[0]) == pytest.approx(float(q.max()), rel=1e-6, abs=1e-6)


def test_shared_head_ignores_uncovered_users_and_agents_are_independent():
    net, user, bs, cov = _shared(5)
    with torch.no_grad():
        out = net(user, bs, cov)
        changed = user.clone()
        changed[~cov] += 100.0  # uncovered rows change: nothing may move
        torch.testing.assert_close(net(changed, bs, cov), out, rtol=0, atol=0)
        other = user.clone()
        other[1:] += 1.0  # other agents' inputs change: agent 0's outputs stay bit-identical
        assert torch.equal(net(other, bs, cov)[0], out[0])


def test_paper_head_greedy_equals_the_masked_full_head_and_gru_equals_torch():
    gen = torch.Generator().manual_seed(5)
    u, k = 4, 3
    net = PaperQ(k, 7, 16, 2 ** (u + 1), gen)
    x = torch.randn(k, 9, 5, 7, generator=gen)
    cov = (torch.rand(k, 9, 5, u, generator=gen) < 0.6).numpy()
    with torch.no_grad():
        hs = net(x)
        for m in range(k):
            fc, gru = torch.nn.Linear(7, 16), torch.nn.GRU(16, 16)
            fc.weight.copy_(net.fc_w[m].T)
            fc.bias.copy_(net.fc_b[m, 0])
            gru.weight_ih_l0.copy_(net.w_ih[m].T)
            gru.weight_hh_l0.copy_(net.w_hh[m].T)
            gru.bias_ih_l0.copy_(net.b_ih[m, 0])
            gru.bias_hh_l0.copy_(net.b_hh[m, 0])
            ref, _ = gru(torch.relu(fc(x[m])))
            torch.testing.assert_close(hs[m], ref, rtol=1e-5, atol=1e-6)
        best, ids = net.greedy(hs, cov)
        a_n = 2 ** (u + 1)
        for m, t, n in itertools.product(range(k), range(9), range(5)):
            rows = slice(m * a_n, (m + 1) * a_n)
            full = hs[m, t, n] @ net.head_w[rows].T + net.head_b[rows]
            allowed = int(allowed_bits(cov[m, t, n][None])[0])
            mask = torch.tensor([a & ~allowed == 0 for a in range(a_n)])
            ref = full.masked_fill(~mask, -torch.inf)
            assert float(best[m, t, n]) == pytest.approx(float(ref.max()), rel=1e-5, abs=1e-5)
            assert mask[ids[m, t, n]]


def test_vdn_and_iql_targets_and_losses_follow_the_equations():
    gamma = 0.2
    reward = torch.tensor([[1.0, 2.0]])  # (R=1, 2 transitions)
    local = torch.tensor([[[0.5, 0.1, 0.2], [1.0, 0.3, 0.4]]])  # (1, 2, M=3)
    next_q = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    done = torch.tensor([[0.0, 1.0]])
    vdn = td_targets("vdn", gamma, reward, local, next_q, done)  # eq. (21)
    torch.testing.assert_close(vdn, torch.tensor([[1.0 + 0.2 * 6.0, 2.0]]))
    iql = td_targets("iql", gamma, reward, local, next_q, done)  # eq. (37)
    torch.testing.assert_close(iql, torch.tensor([[[0.7, 0.5, 0.8], [1.0, 0.3, 0.4]]]))
    q = torch.tensor([[[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]])
    # eq. (22): the squared error of the target against the SUM of the BSs' Q-values
    assert float(td_loss("vdn", "mse", q, vdn)[0]) == pytest.approx(
        ((2.2 - 1.5) ** 2 + (2.0 - 3.0) ** 2) / 2
    )
    assert float(td_loss("iql", "mse", q, iql)[0]) == pytest.approx(float(((iql - q) ** 2).mean()))
    # Huber: quadratic (halved) within 1, linear beyond
    big = torch.tensor([[10.0, 0.5]])
    assert float(td_loss("vdn", "huber", torch.zeros(1, 2, 1), big)[0]) == pytest.approx(
        ((10 - 0.5) + 0.5 * 0.25) / 2
    )


def test_local_state_tracks_each_bss_own_updates():
    cfg = SystemConfig(num_users=3)
    st = LocalState(cfg, 2)
    cov = np.zeros((2, 3, 3), bool)
    cov[:, 0, :2] = True  # BS 0 covers users 0 and 1
    ok = np.array([[True, False, False], [False, False, False]])
    st.observe(cov, np.full((2, 3), 5), ok, np.array([False, False]))
    np.testing.assert_array_equal(st.since, [[0, 1, 1], [1, 1, 1]])
    np.testing.assert_array_equal(st.age[0, 0], [0, 0, 1])  # synced while covered
    np.testing.assert_array_equal(st.age[1, 0], [1, 1, 1])
    assert (st.prev == 5).all()
    st.observe(cov, np.zeros((2, 3), np.int64), ok * False, np.array([True, False]))
    assert (st.since[0] == 0).all() and (st.age[0] == 0).all()  # env 0 ended: forgotten
    np.testing.assert_array_equal(st.since[1], [2, 2, 2])


def test_features_use_only_what_the_bs_knows():
    cfg = SystemConfig(num_users=6)
    rng = np.random.default_rng(2)
    pos = rng.uniform([-150, -50], [150, 50], (4, 6, 2))
    d2 = ((pos[:, None] - np.asarray(cfg.bs_positions)[None, :, None]) ** 2).sum(-1)
    cov = d2 <= cfg.coverage_radius**2
    since, age = rng.integers(0, 9, (4, 3)), rng.integers(0, 9, (4, 3, 6))
    prev = rng.integers(0, 2**7, (4, 3))
    user, bs = shared_features(cfg, pos, cov, np.zeros(4), since, age, prev)
    assert user.shape == (4, 3, 6, 2 + 3 + 3) and bs.shape == (4, 3, 5)
    assert (user[~cov] == 0).all()  # a BS sees nothing of users it does not cover
    x = paper_features(cfg, pos, cov, since, prev)
    assert x.shape == (4, 3, 4 * 6 + 2)
    # moving a user BS 0 does not cover changes nothing of BS 0's inputs
    moved = pos.copy()
    u0 = np.argwhere(~cov[0, 0])[0, 0]
    moved[0, u0] += 0.5
    d2m = ((moved[:, None] - np.asarray(cfg.bs_positions)[None, :, None]) ** 2).sum(-1)
    covm = d2m <= cfg.coverage_radius**2
    if (covm[0, 0] == cov[0, 0]).all():
        user_m, bs_m = shared_features(cfg, moved, covm, np.zeros(4), since, age, prev)
        np.testing.assert_array_equal(user_m[0, 0], user[0, 0])
        np.testing.assert_array_equal(bs_m[0, 0], bs[0, 0])


def test_replay_samples_transitions_and_whole_episodes():
    cfg = SystemConfig(num_users=2, episode_len=5)
    example = {"x": np.zeros((3, 4), np.float32), "cov": np.zeros((3, 2), bool)}
    buf = EpisodeBuffer(cfg, 3, example)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(np.random.default_rng(0), 2, False)
    for i in range(4):  # one more than the capacity: the oldest goes
        ep = {
            "x": np.full((1, 6, 3, 4), i, np.float32),
            "cov": np.ones((1, 6, 3, 2), bool),
            "actions": np.full((1, 5, 3), i),
            "reward": np.arange(5, dtype=np.float32)[None] + 10 * i,
            "local_reward": np.zeros((1, 5, 3), np.float32),
        }
        buf.add(ep)
    assert buf.size == 3
    s = buf.sample(np.random.default_rng(1), 50, False)
    assert s["x"].shape == (50, 2, 3, 4) and s["actions"].shape == (50, 1, 3)
    assert set(np.unique(s["x"])) <= {1.0, 2.0, 3.0}
    t = s["t"][:, 0]
    np.testing.assert_array_equal(s["reward"][:, 0] % 10, t)
    np.testing.assert_array_equal(s["done"][:, 0], t == 4)
    w = buf.sample(np.random.default_rng(2), 4, True)
    assert w["x"].shape == (4, 6, 3, 4) and w["done"][:, -1].all() and not w["done"][:, :-1].any()


def test_train_config_validation_names_the_parameter():
    for bad, name in (
        ({"algo": "qmix"}, "algo"),
        ({"head": "big"}, "head"),
        ({"gamma": 1.0}, "gamma"),
        ({"lr": 0.0}, "lr"),
        ({"gradient_steps": 0}, "gradient_steps"),
        ({"target_tau": 0.0}, "target_tau"),
        ({"eps_end": 1.5}, "eps_end"),
        ({"loss": "l1"}, "loss"),
    ):
        with pytest.raises(ValueError, match=name):
            TrainConfig(**bad)
    tc = TrainConfig(gradient_steps=100, env_steps_per_update=10, learning_starts=0)
    assert tc.epsilon(0) == 1.0 and tc.epsilon(500) == pytest.approx(tc.eps_end)
    assert tc.learning_rate(0) == tc.lr and tc.learning_rate(99) == pytest.approx(tc.lr_end)


@pytest.mark.parametrize(("algo", "head"), [("vdn", "shared"), ("iql", "shared"), ("vdn", "paper")])
def test_seeds_trained_side_by_side_equal_seeds_trained_alone(algo, head):
    tc = TrainConfig(algo=algo, head=head, **TINY_TC)
    both = train_seeds(TINY, tc, [3, 7], progress=False)
    alone = train(TINY, tc, 7, progress=False)
    assert both[1]["final"] == alone["final"]
    assert _curve(both[1]["trainer"], 1) == _curve(alone["trainer"])
    assert both[0]["final"] != both[1]["final"]


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    tc = TrainConfig(**TINY_TC)
    a = train(TINY, tc, 0, progress=False)
    b = train(TINY, tc, 0, progress=False)
    assert a["final"] == b["final"]
    out = tmp_path / "run"
    part = train(TINY, tc, 0, out_dir=out, progress=False, stop_after=10)
    assert not part["complete"] and (out / "checkpoint.pt").exists()
    assert not (out / "metrics.json").exists()
    resumed = train(TINY, tc, 0, out_dir=out, progress=False)
    assert resumed["complete"] and resumed["final"] == a["final"]
    assert _curve(resumed["trainer"]) == _curve(a["trainer"])
    assert json.loads((out / "metrics.json").read_text())["final"] == a["final"]
    with pytest.raises(ValueError, match="another run"):
        train(TINY, tc, 1, out_dir=out, progress=False)


def test_network_initialisation_is_per_seed():
    tc = TrainConfig(hidden=8)
    one = build_network(TINY, tc, [4])
    two = build_network(TINY, tc, [9, 4])
    for (name, p1), (_, p2) in zip(one.named_parameters(), two.named_parameters(), strict=True):
        assert torch.equal(p2.view(2, -1)[1], p1.view(-1)), name


def test_fit_check_recovers_the_exact_expected_rewards():
    """Ladder, rung 1 (small budget; benchmarks/bench_ladder.py runs the full one): with
    gamma = 0 and random actions, the Q-values match the exact expected immediate rewards of
    every available action (averaged over fading with the simulator) within 15% of their
    spread."""
    tc = TrainConfig(
        gradient_steps=1000,
        envs=8,
        env_steps_per_update=8,
        learning_starts=64,
        batch_size=128,
        eval_every=1000,
    )
    res = fit_check(tc, states=48, fading_draws=256)
    assert res["relative_rmse"] < 0.15, res


@pytest.mark.parametrize("algo", ["vdn", "iql"])
def test_known_optimum_is_reached(algo):
    """Ladder, rung 2: one BS that covers everything, enough RBs: serving everyone and updating
    every slot is optimal; the greedy policy reaches at least 95% of it."""
    tc = TrainConfig(
        algo=algo,
        gradient_steps=400,
        envs=8,
        env_steps_per_update=8,
        learning_starts=240,
        batch_size=128,
        eval_every=400,
    )
    res = optimum_check(tc)
    assert res["share"] >= 0.95, res


def test_a_tiny_configuration_learns_above_random_with_the_default_learning_rate():
    cfg = SystemConfig(
        num_users=3,
        num_rbs=3,
        episode_len=8,
        bs_positions=((-15.0, 0.0), (15.0, 0.0)),
        coverage_radius=14.0,
        area_x=(-30.0, 30.0),
        area_y=(-10.0, 10.0),
        cloud_position=(0.0, 10.0),
        serve_condition="at_most_once",
    )
    tc = TrainConfig(
        gradient_steps=300,
        envs=8,
        env_steps_per_update=8,
        learning_starts=64,
        batch_size=64,
        eval_episodes=8,
        eval_every=300,
    )
    assert tc.lr == TrainConfig().lr
    m = train(cfg, tc, seed=0, progress=False)
    random_reward = evaluate_policy(cfg, RandomPolicy(0), episodes=8)["reward"]
    assert m["final"]["reward"] > random_reward + 1.0


def test_trainer_rejects_bad_seeds():
    with pytest.raises(ValueError, match="seeds"):
        Trainer(TINY, TrainConfig(**TINY_TC), [1, 1])


def test_cli_train_writes_results_and_prints_its_settings(tmp_path, capsys):
    from dnt.cli import main

    out = tmp_path / "run"
    args = ["train", "--algo", "iql", "--seed", "1", "--gradient-steps", "8", "--out", str(out)]
    args += ["--twin", "hold_last", "--no-progress", "--set", "num_users=4"]
    args += ["--set", "episode_len=6", "--train-set", "envs=2", "--train-set", "batch_size=8"]
    args += ["--train-set", "eval_episodes=2", "--train-set", "learning_starts=12"]
    args += ["--train-set", "buffer_episodes=8", "--train-set", "eval_every=4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "'at_most_once'" in printed and "'hold_last'" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["algo"] == "iql" and m["seed"] == 1 and m["complete"]
    assert m["config"]["serve_condition"] == "at_most_once"  # the reproduction's reading
    assert m["config"]["epsilon"] == 0.3 and m["config"]["num_rbs"] == 12
    assert {"reward", "sum_rate", "dnt_error", "updates_per_slot"} <= set(m["final"])
    assert len((out / "curve.csv").read_text().splitlines()) == 3
    assert main([*args, "--printed-reading", "--out", str(tmp_path / "p")]) == 0
    printed = json.loads((tmp_path / "p" / "metrics.json").read_text())
    assert printed["config"]["serve_condition"] == "exactly_once"
    assert main([*args, "--train-set", "bogus=1"]) == 2
