import itertools

import numpy as np
import pytest
import torch

from dnt.baselines import RandomPolicy, baseline_policies
from dnt.marl import (
    ALGOS,
    GreedyPolicy,
    MARLTrainer,
    QNetwork,
    TrainConfig,
    _HiddenProduct,
    actions_by_count,
    available_pairs,
    feature_size,
    td_loss,
    td_targets,
    train,
    train_seeds,
)
from dnt.sim.config import SystemConfig
from dnt.sim.env import VectorDNTEnv
from dnt.sim.evaluation import EVAL_SEED_BASE, evaluate_policy
from dnt.sim.reward import allowed_bits

TINY = SystemConfig(num_users=4, num_rbs=4, episode_len=8)
TINY_TC = dict(
    epochs=4,
    hidden=16,
    envs_per_epoch=4,
    updates_per_epoch=2,
    batch_episodes=4,
    buffer_episodes=32,
    eval_episodes=4,
    eps_decay_epochs=2,
)


def test_actions_by_count_enumerates_exactly_the_available_actions():
    rng = np.random.default_rng(0)
    u = 5
    cov = rng.random((40, u)) < 0.5
    seen = np.zeros(len(cov), bool)
    for rows, acts in actions_by_count(cov):
        for r, row in zip(rows, acts, strict=True):
            seen[r] = True
            allowed = allowed_bits(cov[r][None])[0]
            expect = {a for a in range(2 ** (u + 1)) if a & ~allowed == 0}
            assert set(row.tolist()) == expect and len(row) == len(expect)
    assert seen.all()
    row_of, acts = available_pairs(cov)
    for r in range(len(cov)):
        allowed = allowed_bits(cov[r][None])[0]
        expect = [a for a in range(2 ** (u + 1)) if a & ~allowed == 0]
        assert acts[row_of == r].tolist() == expect  # ascending: ties go to the lowest id


@pytest.mark.parametrize(
    ("head", "rows", "u"),
    [("factored", 30, 5), ("plain", 30, 5), ("factored", 300, 5), ("factored", 300, 8)],
)
def test_q_max_over_available_equals_masked_full_head(head, rows, u):
    # 30 rows: the flat pass; 300 rows: the grouped pass (one product per agent and group
    # with the head rows of the distinct actions of its rows)
    assert (rows <= QNetwork.FLAT_ROWS) == (rows == 30)
    gen = torch.Generator().manual_seed(0)
    a_n = 2 ** (u + 1)
    net = QNetwork(3, 7, 16, a_n, head=head)
    net.reset_parameters(gen)
    with torch.no_grad():
        net.head_w.weight.normal_(generator=gen)  # non-zero residuals for the factored head
    rng = np.random.default_rng(1)
    h = torch.randn(rows, 16, generator=gen)
    agent = rng.integers(0, 3, rows)
    cov = rng.random((rows, u)) < (0.6 if u < 8 else rng.random((rows, 1)))
    # u = 5: many rows share a coverage (and so their actions); u = 8: few do
    patterns = len({(int(m), tuple(c)) for m, c in zip(agent, cov, strict=True)})
    assert (patterns < rows / 2) == (u == 5 and rows == 300) or rows == 30
    with torch.no_grad():
        best, best_a = net.q_max(h, agent, cov)
        chosen = net.q_of(h, torch.from_numpy(agent), torch.from_numpy(best_a)[:, None])[:, 0]
        torch.testing.assert_close(chosen, best, rtol=1e-5, atol=1e-5)
        for i in range(rows):
            full = net.q_all(h[i : i + 1], int(agent[i]))[0]
            mask = torch.from_numpy((np.arange(a_n) & ~allowed_bits(cov[i][None])[0]) == 0)
            ref = full.masked_fill(~mask, -torch.inf)
            assert best[i] == pytest.approx(float(ref.max()), rel=1e-5, abs=1e-5)
            assert full[best_a[i]] == pytest.approx(float(ref.max()), rel=1e-5, abs=1e-5)
            assert mask[best_a[i]]  # masking never lets an unavailable action through


def test_batched_agent_networks_equal_torch_gru():
    """The agents' networks, evaluated together, follow torch.nn.Linear + ReLU + nn.GRU."""
    gen = torch.Generator().manual_seed(5)
    net = QNetwork(3, 7, 16, 2**4)
    net.reset_parameters(gen)
    x = torch.randn(3, 9, 5, 7, generator=gen)  # (M, T, N, F)
    h0 = torch.randn(3, 5, 16, generator=gen)
    with torch.no_grad():
        hs = net.unroll(x, h0)
        for m in range(3):
            fc, gru = torch.nn.Linear(7, 16), torch.nn.GRU(16, 16)
            fc.weight.copy_(net.fc_w[m].T)
            fc.bias.copy_(net.fc_b[m])
            gru.weight_ih_l0.copy_(net.w_ih[m].T)
            gru.weight_hh_l0.copy_(net.w_hh[m].T)
            gru.bias_ih_l0.copy_(net.b_ih[m])
            gru.bias_hh_l0.copy_(net.b_hh[m])
            ref, _ = gru(torch.relu(fc(x[m])), h0[m][None])
            torch.testing.assert_close(hs[m], ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(net.step(x[:, 0], h0), hs[:, 0])


def test_target_max_is_sum_of_per_agent_maxes():
    """max over joint available actions of sum_m Q_m equals sum_m max_a Q_m (eq. 21)."""
    gen = torch.Generator().manual_seed(2)
    net = QNetwork(3, 5, 8, 2**4)
    net.reset_parameters(gen)
    rng = np.random.default_rng(3)
    h = torch.randn(3, 8, generator=gen)
    cov = rng.random((3, 3)) < 0.7
    with torch.no_grad():
        per_agent, _ = net.q_max(h, np.arange(3), cov)
        tables = []
        for m in range(3):
            q = net.q_all(h[m : m + 1], m)[0]
            allowed = allowed_bits(cov[m][None])[0]
            tables.append([float(q[a]) for a in range(16) if a & ~allowed == 0])
        joint = max(sum(c) for c in itertools.product(*tables))
    assert float(per_agent.sum()) == pytest.approx(joint, rel=1e-6)


def test_vdn_and_iql_losses_follow_the_equations():
    gamma = 0.2
    team = torch.tensor([[1.0, 2.0]])  # (E=1, T=2)
    local = torch.tensor([[[0.5, 0.1, 0.2], [1.0, 0.3, 0.4]]])  # (1, 2, M=3)
    next_max = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    not_done = torch.tensor([[1.0, 0.0]])
    q = torch.tensor([[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]])
    y = td_targets("vdn", gamma, team, local, next_max, not_done)
    # eq. (21): y = r + gamma * sum_m max Q~_m; the last slot is terminal
    np.testing.assert_allclose(y[..., 0].numpy(), [[1.0 + 0.2 * 6.0, 2.0]], rtol=1e-6)
    # eq. (22): mean over transitions of (y - sum_m Q_m)^2
    expect = ((1.0 + 1.2 - 0.6) ** 2 + (2.0 - 1.5) ** 2) / 2
    assert float(td_loss("vdn", q, y)) == pytest.approx(expect, rel=1e-6)
    # eq. (37): each agent on its local reward
    yi = td_targets("iql", gamma, team, local, next_max, not_done)
    np.testing.assert_allclose(
        yi.numpy(), [[[0.5 + 0.2, 0.1 + 0.4, 0.2 + 0.6], [1.0, 0.3, 0.4]]], rtol=1e-6
    )
    expect_iql = float(((yi - q) ** 2).mean())
    assert float(td_loss("iql", q, yi)) == pytest.approx(expect_iql, rel=1e-6)


def test_greedy_and_exploring_actions_are_available():
    for eps, joint in [(0.0, False), (0.7, False), (1.0, True)]:
        tc = TrainConfig(**TINY_TC, explore_joint=joint, explore_serve_prob=0.8)
        tr = MARLTrainer(TINY, tc, seed=0)
        env = VectorDNTEnv(TINY, num_envs=6)
        obs = env.reset(seed=4)
        pol = GreedyPolicy(tr, epsilon=eps, rng=np.random.default_rng(0))
        pol.reset(6)
        for _ in range(TINY.episode_len):
            a = pol.act(obs, env)
            assert ((a & ~env.allowed_bits()) == 0).all()
            obs, _, _, info = env.step(a)  # would raise on an unavailable action
            pol.observe(info)


def test_feature_size_matches(cfg):
    tr = MARLTrainer(TINY, TrainConfig(**TINY_TC), seed=0)
    assert tr.net.in_dim == tr.net.fc_w.shape[1] == feature_size(TINY, True) == 3 * 4 + 5 + 1


def _weights(tr):
    return {k: v.clone() for k, v in tr.net.state_dict().items()}


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    tc = TrainConfig(**TINY_TC)
    full = train(TINY, tc, seed=3, out_dir=tmp_path / "a", progress=False)
    again = train(TINY, tc, seed=3, progress=False)
    assert full["trainer"].curve == [
        {**r, "wall_seconds": a["wall_seconds"]}
        for r, a in zip(again["trainer"].curve, full["trainer"].curve, strict=True)
    ]
    # interrupted after 1 epoch, then twice resumed from the folder
    part = train(TINY, tc, seed=3, out_dir=tmp_path / "b", progress=False, stop_after=1)
    assert not part["complete"] and not (tmp_path / "b" / "metrics.json").exists()
    train(TINY, tc, seed=3, out_dir=tmp_path / "b", progress=False, stop_after=2)
    resumed = train(TINY, tc, seed=3, out_dir=tmp_path / "b", progress=False)
    assert resumed["complete"] and (tmp_path / "b" / "metrics.json").exists()
    strip = [{k: v for k, v in r.items() if k != "wall_seconds"} for r in full["trainer"].curve]
    strip_r = [
        {k: v for k, v in r.items() if k != "wall_seconds"} for r in resumed["trainer"].curve
    ]
    assert strip == strip_r
    wa, wb = _weights(full["trainer"]), _weights(resumed["trainer"])
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    csv = (tmp_path / "b" / "curve.csv").read_text().splitlines()
    assert len(csv) == 1 + tc.epochs and csv[0].startswith("epoch,")
    with pytest.raises(ValueError, match="another run"):
        train(TINY, tc, seed=4, out_dir=tmp_path / "b", progress=False)


def test_evaluation_during_collection_equals_a_separate_evaluation():
    """The fused pass (next epoch's collection + greedy evaluation) reports what
    ``MARLTrainer.evaluate`` reports on its own, and collects the same episodes."""
    tc = TrainConfig(**TINY_TC)
    tr = MARLTrainer(TINY, tc, seed=5)
    tr.run_epoch()  # collects epoch 0, trains, then collects epoch 1 with the evaluation
    fused = {k[5:]: v for k, v in tr.curve[-1].items() if k.startswith("eval_")}
    (alone,) = tr.evaluate()
    assert fused == pytest.approx({k: v for k, v in alone.items() if k != "episodes"}, rel=1e-9)
    assert set(fused) == set(alone) - {"episodes"}
    # ... and what evaluate_policy reports for the same greedy policy
    direct = evaluate_policy(
        TINY,
        GreedyPolicy(tr),
        episodes=tc.eval_episodes,
        predictor=tr.env.twin.predictor,
        seed_base=EVAL_SEED_BASE,
    )
    assert direct == alone
    # epoch 1's episodes are those a collection without evaluation would have gathered
    tr2 = MARLTrainer(TINY, tc, seed=5)
    tr2.rngs = [np.random.default_rng(9)]
    tr.rngs = [np.random.default_rng(9)]
    tr2.net.load_state_dict(tr.net.state_dict())
    (r_with,) = tr.collect(2, evaluate=True)
    (r_without,) = tr2.collect(2, evaluate=False)
    assert r_with["train_reward"] == r_without["train_reward"]
    b1, b2 = tr.buffers[0], tr2.buffers[0]
    for k in b1.data:
        np.testing.assert_array_equal(
            b1.data[k][(b1.pos - 1) % b1.capacity],
            b2.data[k][(b2.pos - 1) % b2.capacity],
            err_msg=k,
        )


def _no_wall(curve):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in curve]


@pytest.mark.parametrize("algo", ALGOS)
def test_seeds_trained_side_by_side_equal_seeds_trained_alone(algo):
    """train_seeds batches runs (stacked networks, one env batch) without mixing them: each
    seed's curve, final evaluation and weights are those of its own train() call."""
    tc = TrainConfig(**{**TINY_TC, "algo": algo, "eval_every": 2})
    seeds = [3, 5, 8]
    together = train_seeds(TINY, tc, seeds, progress=False)
    trainer = together[0]["trainer"]
    m_bs = TINY.num_bs
    for i, s in enumerate(seeds):
        alone = train(TINY, tc, s, progress=False)
        assert _no_wall(trainer.curves[i]) == _no_wall(alone["trainer"].curve)
        assert together[i]["final"] == alone["final"] and together[i]["seed"] == s
        assert trainer.final_records[i] == alone["trainer"].final_records[0]
        net_a = alone["trainer"].net
        for name, p in trainer.net.named_parameters():
            q = dict(net_a.named_parameters())[name]
            rows = slice(i * len(q), (i + 1) * len(q))  # run i's agents (or head rows)
            assert len(p) == len(seeds) * len(q) and torch.equal(p[rows], q), name
        assert len(trainer.net.fc_w) == len(seeds) * m_bs


def test_hidden_product_matches_bmm_in_values_and_gradients():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(3, 5, 8, generator=gen, requires_grad=True)
    w = torch.randn(3, 8, 24, generator=gen, requires_grad=True)
    g = torch.randn(3, 5, 24, generator=gen)
    out = _HiddenProduct.apply(h, w, w.detach().transpose(1, 2).contiguous())
    (out * g).sum().backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    ref = torch.bmm(h, w)
    (ref * g).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(gh, h.grad)
    torch.testing.assert_close(gw, w.grad)


def test_train_config_validation():
    with pytest.raises(ValueError, match="algo"):
        TrainConfig(algo="qmix")
    with pytest.raises(ValueError, match="gamma"):
        TrainConfig(gamma=1.0)
    with pytest.raises(ValueError, match="head"):
        TrainConfig(head="mlp")
    with pytest.raises(ValueError, match="envs_per_epoch"):
        TrainConfig(envs_per_epoch=0)
    tc = TrainConfig(eps_start=1.0, eps_end=0.1, eps_decay_epochs=10)
    assert (
        tc.epsilon(0) == 1.0
        and tc.epsilon(5) == pytest.approx(0.55)
        and tc.epsilon(50) == pytest.approx(0.1)
    )


def test_baselines_run_and_are_distinct():
    res = {k: evaluate_policy(TINY, p, episodes=8) for k, p in baseline_policies(TINY).items()}
    assert res["nearest_always_update"]["updates_per_slot"] == TINY.num_bs
    assert res["nearest_never_update"]["updates_per_slot"] == 0
    assert res["nearest_never_update"]["penalty_share"] == 0  # nearest BS: one server per user
    again = evaluate_policy(TINY, RandomPolicy(0), episodes=8)
    assert again == res["random"]  # fixed evaluation episodes and seed


def test_a_tiny_configuration_learns_above_random():
    """Two BSs with disjoint coverage: the greedy VDN policy beats random actions clearly."""
    cfg = SystemConfig(
        num_users=3,
        num_rbs=3,
        episode_len=8,
        bs_positions=((-15.0, 0.0), (15.0, 0.0)),
        coverage_radius=14.0,
        area_x=(-30.0, 30.0),
        area_y=(-10.0, 10.0),
        cloud_position=(0.0, 10.0),
    )
    tc = TrainConfig(
        epochs=20,
        hidden=16,
        envs_per_epoch=8,
        updates_per_epoch=4,
        batch_episodes=8,
        buffer_episodes=200,
        eval_episodes=8,
        eps_decay_epochs=10,
        lr=3e-3,
    )
    m = train(cfg, tc, seed=0, progress=False)
    random_reward = evaluate_policy(cfg, RandomPolicy(0), episodes=8)["reward"]
    assert m["final"]["reward"] > random_reward + 1.0


def test_cli_train_writes_results(tmp_path):
    from dnt.cli import main

    out = tmp_path / "run"
    args = ["train", "--algo", "iql", "--seed", "1", "--epochs", "2", "--out", str(out)]
    args += ["--twin", "hold_last", "--no-progress", "--set", "num_users=4"]
    args += ["--set", "episode_len=6", "--train-set", "envs_per_epoch=2"]
    args += ["--train-set", "batch_episodes=2", "--train-set", "eval_episodes=2"]
    assert main(args) == 0
    import json

    m = json.loads((out / "metrics.json").read_text())
    assert m["algo"] == "iql" and m["seed"] == 1 and m["complete"]
    assert m["config"]["num_users"] == 4 and m["config"]["twin_predictor"] == "hold_last"
    assert {"reward", "sum_rate", "dnt_error", "updates_per_slot"} <= set(m["final"])
    assert len((out / "curve.csv").read_text().splitlines()) == 3
    assert main([*args[:-2], "--train-set", "bogus=1"]) == 2


def test_unroll_gradients_equal_plain_autograd():
    """The unroll's own backward pieces (_HiddenProduct, _RecurrentParams) give the gradients
    of the textbook GRU written with plain differentiable operations."""
    gen = torch.Generator().manual_seed(7)
    net = QNetwork(3, 6, 8, 2**4)
    net.reset_parameters(gen)
    x = torch.randn(3, 5, 4, 6, generator=gen)
    h0 = torch.zeros(3, 4, 8)
    g = torch.randn(3, 5, 4, 8, generator=gen)
    (net.unroll(x, h0) * g).sum().backward()
    ours = {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}
    net.zero_grad()
    a = torch.relu(torch.baddbmm(net.fc_b[:, None], x.reshape(3, 20, 6), net.fc_w))
    gi = torch.baddbmm(net.b_ih[:, None], a, net.w_ih).view(3, 5, 4, 24)
    h, out = h0, []
    for t in range(5):
        gh = torch.baddbmm(net.b_hh[:, None], h, net.w_hh)
        r = torch.sigmoid(gi[:, t, :, :8] + gh[..., :8])
        z = torch.sigmoid(gi[:, t, :, 8:16] + gh[..., 8:16])
        cand = torch.tanh(gi[:, t, :, 16:] + r * gh[..., 16:])
        h = (1 - z) * cand + z * h
        out.append(h)
    (torch.stack(out, 1) * g).sum().backward()
    assert set(ours) == {"fc_w", "fc_b", "w_ih", "w_hh", "b_ih", "b_hh"}
    for k, v in ours.items():
        torch.testing.assert_close(v, dict(net.named_parameters())[k].grad, msg=k)
