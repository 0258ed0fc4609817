"""dnt.rl.learner on stand-in Q-networks whose numbers can be followed by hand: the VDN target
(eqs. 19-22: the team reward plus gamma times the SUM over the BSs of the target network's
values), the IQL targets (eq. 37: each BS's local reward plus gamma times its own value),
double Q (the online network picks a', the target network values it), terminal masking, reward
scaling, Huber against squared error, the Adam step with its learning-rate schedule, Polyak
averaging of the target networks and per-run gradient clipping.

The stand-ins have the shared head's output layout (per agent and slot: the serve value of each
user, the update term b, the baseline v; Q(a) = v + a_0 b + sum_u a_u c_u) and read it with
:class:`SharedQ`'s ``q_values``/``greedy``. Agent k's output is its input row times its own
weight row ``w[k]`` (the "paper" stand-in first sums its inputs over the slots, a recurrence, so
that where its unroll starts matters).
"""

import numpy as np
import pytest
import torch

from dnt.rl.config import TrainConfig
from dnt.rl.learner import Learner, td_loss, td_targets
from dnt.rl.modules import SharedQ
from dnt.sim.config import SystemConfig


class ToyShared(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w, dtype=torch.float32))

    def forward(self, user, bs, cov):  # (K, L, N, U + 2) rows in ``bs``
        return bs * self.w[:, None, None, :]

    q_values = staticmethod(SharedQ.q_values)
    greedy = staticmethod(SharedQ.greedy)


class ToyPaper(ToyShared):
    def forward(self, x):  # the output at slot l depends on the inputs of slots 0..l
        return torch.cumsum(x, 1) * self.w[:, None, None, :]


# --- the hand example: one run, M = 2 BSs, U = 1 user, one transition -----------------------
# rows [serve value c, update term b, baseline v] of agents 0 and 1 (online weights are ones)
NOW = [[1.0, 2.0, 0.5], [-1.0, 0.5, 1.0]]
NEXT = [[2.0, -1.0, 1.0], [0.5, 1.0, -1.0]]
W_TARGET = [[-1.0, -2.0, 2.0], [4.0, 1.0, 3.0]]
ACTS = [3, 1]  # agent 0 updates and serves (Q = 0.5 + 2 + 1 = 3.5), agent 1 updates (1.5)
COV_NEXT = [True, False]  # agent 1 may not serve its user in the next slot
# next slot: the online greedy actions are a' = serve (c = 2 > 0, b = -1) for agent 0 and
# a' = update (b = 1 > 0; serving is unavailable) for agent 1. The target network's rows are
# NEXT * W_TARGET = [-2, 2, 2] and [2, 1, -3]:
#   double Q:  Q~_0(serve) = 2 - 2 = 0, Q~_1(update) = -3 + 1 = -2     (sum -2)
#   max Q~:    Q~_0 = 2 + max(2, 0) = 4 (update, not serve), Q~_1 = -3 + 1 = -2  (sum 2)
GAMMA, SCALE = 0.5, 0.1
REWARD, LOCAL = 10.0, [4.0, -2.0]  # scaled: 1.0 and (0.4, -0.2)
M, U = 2, 1
CFG = SystemConfig(num_users=U, bs_positions=((-50.0, 0.0), (50.0, 0.0)))

# (algo, double_q, done) -> (mse, huber), from the targets above:
#   vdn double:  target 1 + 0.5 * -2 = 0, error 5 - 0 = 5            -> 25, 4.5
#   vdn max:     target 1 + 0.5 * 2 = 2, error 3                      -> 9, 2.5
#   iql double:  targets (0.4 + 0, -0.2 - 1) = (0.4, -1.2), errors (3.1, 2.7)
#                -> (9.61 + 7.29) / 2 = 8.45, (2.6 + 2.2) / 2 = 2.4
#   iql max:     targets (0.4 + 2, -1.2), errors (1.1, 2.7) -> (1.21 + 7.29) / 2, (0.6 + 2.2) / 2
#   terminal:    no bootstrap: vdn error 5 - 1 = 4 -> 16, 3.5; iql errors (3.1, 1.7)
#                -> (9.61 + 2.89) / 2 = 6.25, (2.6 + 1.2) / 2 = 1.9
EXPECTED = {
    ("vdn", True, 0.0): (25.0, 4.5),
    ("vdn", False, 0.0): (9.0, 2.5),
    ("iql", True, 0.0): (8.45, 2.4),
    ("iql", False, 0.0): (4.25, 1.4),
    ("vdn", True, 1.0): (16.0, 3.5),
    ("vdn", False, 1.0): (16.0, 3.5),
    ("iql", True, 1.0): (6.25, 1.9),
    ("iql", False, 1.0): (6.25, 1.9),
}


def _batch(head, runs=1, reward=(REWARD,), done=0.0):
    """The hand example as a replay batch (R, L + 1 or L, N, M, ...) with L = N = 1; run r has
    the team reward ``reward[r]`` and otherwise the same numbers."""
    rows = np.array([NOW, NEXT], np.float32)  # (L + 1, M, U + 2)
    if head == "paper":  # inputs whose running sum over the slots is NOW, NEXT
        rows = np.array([NOW, np.subtract(NEXT, NOW)], np.float32)
    rows = np.broadcast_to(rows[None, :, None], (runs, 2, 1, M, U + 2)).copy()
    cov = np.ones((runs, 2, 1, M, U), bool)
    cov[:, 1, 0, :, 0] = COV_NEXT
    batch = {
        "cov": cov,
        "actions": np.broadcast_to(np.array(ACTS), (runs, 1, 1, M)).copy(),
        "reward": np.array(reward, np.float32).reshape(runs, 1, 1),
        "local_reward": np.broadcast_to(np.array(LOCAL, np.float32), (runs, 1, 1, M)).copy(),
        "done": np.full((runs, 1, 1), done, np.float32),
    }
    if head == "paper":
        batch["x"] = rows
    else:
        batch["bs"] = rows
        batch["user"] = np.zeros((runs, 2, 1, M, U, 1), np.float32)
    return batch


def _learner(head="shared", runs=1, w=None, w_target=None, **tc):
    """A Learner over the stand-ins; the target weights are set after construction."""
    toy = ToyPaper if head == "paper" else ToyShared
    w = np.ones((runs * M, U + 2)) if w is None else np.asarray(w)
    settings = dict(head=head, gamma=GAMMA, reward_scale=SCALE, grad_clip=1e3) | tc
    learner = Learner(CFG, TrainConfig(**settings), toy(w), toy(np.zeros_like(w)), runs)
    with torch.no_grad():
        learner.target.w.copy_(
            torch.tensor(np.tile(W_TARGET, (runs, 1)) if w_target is None else w_target)
        )
    return learner


@pytest.mark.parametrize("head", ["shared", "paper"])
@pytest.mark.parametrize("loss", ["mse", "huber"])
@pytest.mark.parametrize(("algo", "double_q", "done"), list(EXPECTED))
def test_learner_loss_by_hand(algo, double_q, done, loss, head):
    learner = _learner(head, algo=algo, double_q=double_q, loss=loss)
    got = learner.loss(_batch(head, done=done))
    assert got.shape == (1,)
    want = EXPECTED[algo, double_q, done][loss == "huber"]
    assert float(got[0].detach()) == pytest.approx(want, rel=1e-6)


def test_learner_starts_with_the_target_equal_to_the_online_networks_and_frozen():
    w = np.arange(6.0).reshape(2, 3)
    learner = Learner(CFG, TrainConfig(), ToyShared(w), ToyShared(np.zeros((2, 3))), 1)
    np.testing.assert_array_equal(learner.target.w.detach().numpy(), w)
    assert not any(p.requires_grad for p in learner.target.parameters())
    assert all(p.requires_grad for p in learner.net.parameters())
    assert learner.steps == 0


def test_td_targets_and_losses_on_several_runs_and_transitions():
    # two runs, (L, N) = (1, 2), M = 2
    reward = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]])
    local = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[2.0, 2.0], [1.0, 3.0]]]])
    next_q = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]])
    done = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]])
    vdn = td_targets("vdn", 0.5, reward, local, next_q, done)
    torch.testing.assert_close(vdn, torch.tensor([[[1.0 + 1.5, 2.0]], [[3.0, 4.0 + 7.5]]]))
    iql = td_targets("iql", 0.5, reward, local, next_q, done)
    want = torch.tensor([[[[1.5, 1.0], [0.0, 1.0]]], [[[2.0, 2.0], [4.5, 7.0]]]])
    torch.testing.assert_close(iql, want)
    q = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]], [[[0.0, 0.0], [2.0, 2.0]]]])
    # eq. (22): run 0 errors (2.5 - 2, 2 - 1), run 1 (3 - 0, 11.5 - 4): each run its own mean
    np.testing.assert_allclose(
        td_loss("vdn", "mse", q, vdn).numpy(), [(0.25 + 1.0) / 2, (9.0 + 56.25) / 2]
    )
    np.testing.assert_allclose(
        td_loss("vdn", "huber", q, vdn).numpy(), [(0.125 + 0.5) / 2, (2.5 + 7.0) / 2]
    )
    # eq. (37): run 0 errors (0.5, 0, -1, 1), run 1 (2, 2, 2.5, 5)
    np.testing.assert_allclose(
        td_loss("iql", "mse", q, iql).numpy(), [2.25 / 4, (4 + 4 + 6.25 + 25) / 4]
    )
    np.testing.assert_allclose(
        td_loss("iql", "huber", q, iql).numpy(),
        [(0.125 + 0.5 + 0.5) / 4, (1.5 + 1.5 + 2.0 + 4.5) / 4],
    )


# --- the update: Adam, the learning-rate schedule, Polyak averaging, clipping ----------------
# In the hand example (VDN, double Q, squared error) the loss is (sum_m Q_m - target)^2 with
# sum_m Q_m - target = 5, and dQ_m/dw_m = (a_serve * c, a_update * b, v) of agent m's row, so
# the gradient is 2 * 5 * that: agent 0 (a = 3) 10 * (1, 2, 0.5) = (10, 20, 5), agent 1 (a = 1)
# 10 * (0, 0.5, 1) = (0, 5, 10); its 2-norm is sqrt(650).
GRAD = np.array([[10.0, 20.0, 5.0], [0.0, 5.0, 10.0]])


def test_update_takes_one_adam_step_with_the_scheduled_learning_rate():
    lr = 0.01
    learner = _learner(
        algo="vdn",
        double_q=True,
        loss="mse",
        lr=lr,
        lr_end=0.001,
        gradient_steps=3,
        target_tau=1e-9,
    )
    losses = learner.update(_batch("shared"))
    assert isinstance(losses, np.ndarray) and losses.shape == (1,)
    assert float(losses[0]) == pytest.approx(25.0, rel=1e-6)  # the loss before the step
    assert learner.steps == 1
    assert learner.opt.param_groups[0]["lr"] == pytest.approx(lr)
    np.testing.assert_allclose(learner.net.w.grad.numpy(), GRAD, rtol=1e-6)
    # Adam's first step moves every parameter with a gradient by lr against its sign
    np.testing.assert_allclose(
        learner.net.w.detach().numpy(), 1.0 - lr * np.sign(GRAD), rtol=0, atol=1e-7
    )
    learner.update(_batch("shared"))
    assert learner.steps == 2
    assert learner.opt.param_groups[0]["lr"] == pytest.approx(0.0055)  # halfway to lr_end
    learner.update(_batch("shared"))
    assert learner.opt.param_groups[0]["lr"] == pytest.approx(0.001)


def test_update_moves_the_target_networks_by_polyak_averaging():
    lr, tau = 0.01, 0.25
    learner = _learner(algo="vdn", double_q=True, loss="mse", lr=lr, lr_end=lr, target_tau=tau)
    learner.update(_batch("shared"))
    online = 1.0 - lr * np.sign(GRAD)  # as in the Adam test
    np.testing.assert_allclose(
        learner.target.w.numpy(), 0.75 * np.array(W_TARGET) + 0.25 * online, rtol=0, atol=1e-6
    )
    # tau = 1: hard copies
    learner = _learner(algo="iql", double_q=False, loss="huber", target_tau=1.0)
    learner.update(_batch("shared"))
    np.testing.assert_array_equal(learner.target.w.numpy(), learner.net.w.detach().numpy())


def test_target_networks_move_only_every_target_every_steps():
    learner = _learner(algo="vdn", double_q=True, loss="mse", target_tau=0.5, target_every=2)
    before = learner.target.w.clone()
    learner.update(_batch("shared"))
    torch.testing.assert_close(learner.target.w, before, rtol=0, atol=0)  # step 1: unchanged
    learner.update(_batch("shared"))
    online = learner.net.w.detach().clone()
    torch.testing.assert_close(learner.target.w, 0.5 * before + 0.5 * online)
    learner.update(_batch("shared"))  # step 3: unchanged again
    torch.testing.assert_close(learner.target.w, 0.5 * before + 0.5 * online)


def test_gradient_clipping_is_per_run():
    """Two runs side by side: run 0 is the hand example (gradient norm sqrt(650) = 25.5), run 1
    has the team reward 55 instead of 10, so its target is 5.5 - 1 = 4.5 and its error 0.5:
    gradient (1, 2, 0.5), (0, 0.5, 1), norm sqrt(6.5) = 2.55. With a clip of 5 only run 0 is
    scaled, to norm 5."""
    learner = _learner(runs=2, algo="vdn", double_q=True, loss="mse", grad_clip=5.0)
    batch = _batch("shared", runs=2, reward=(10.0, 55.0))
    losses = learner.loss(batch)
    np.testing.assert_allclose(losses.detach().numpy(), [25.0, 0.25], rtol=1e-6)
    losses.sum().backward()
    norms = learner._clip()
    np.testing.assert_allclose(norms, [650**0.5, 6.5**0.5], rtol=1e-6)
    want = np.concatenate([GRAD * 5.0 / 650**0.5, GRAD / 10.0])
    np.testing.assert_allclose(learner.net.w.grad.numpy(), want, rtol=1e-5)
    # through update(): the gradient left on the parameters is the clipped one
    learner = _learner(runs=2, algo="vdn", double_q=True, loss="mse", grad_clip=5.0)
    learner.update(batch)
    np.testing.assert_allclose(learner.net.w.grad.numpy(), want, rtol=1e-5)
    # a clip above both norms changes nothing
    learner = _learner(runs=2, algo="vdn", double_q=True, loss="mse", grad_clip=30.0)
    learner.loss(batch).sum().backward()
    np.testing.assert_allclose(learner._clip(), [650**0.5, 6.5**0.5], rtol=1e-6)
    np.testing.assert_allclose(
        learner.net.w.grad.numpy(), np.concatenate([GRAD, GRAD / 10.0]), rtol=1e-6
    )


def test_gradient_clipping_at_and_beyond_the_limit():
    """Gradients set by hand, in units of 2**-12 (exact in float32): run 0's is (3, 4), norm 5,
    exactly the limit, and stays untouched; run 1's is (6, 8), norm 10, and is scaled to a norm
    of at most the limit (5 * 2**-12; the small stabiliser keeps it just below)."""
    unit = 2.0**-12
    learner = _learner(runs=2, grad_clip=5 * unit)
    grad = np.zeros((4, 3), np.float32)
    grad[0, :2] = (3 * unit, 4 * unit)  # run 0, BS 0
    grad[3, 1:] = (6 * unit, 8 * unit)  # run 1, BS 1
    learner.net.w.grad = torch.tensor(grad)
    np.testing.assert_allclose(learner._clip(), [5 * unit, 10 * unit], rtol=1e-7)
    after = learner.net.w.grad.numpy()
    np.testing.assert_array_equal(after[:2], grad[:2])  # at the limit: no scaling
    norm1 = float(np.sqrt((after[2:].astype(np.float64) ** 2).sum()))
    assert 5 * unit * (1 - 1e-3) < norm1 <= 5 * unit
    np.testing.assert_allclose(after[2:], grad[2:] / 2, rtol=1e-3)


# --- many runs, slots and transitions against a plain-loop reading of the equations ---------
def _reference(algo, loss, double_q, recurrent, w, w_t, rows, cov, acts, reward, local, done):
    """Per-run losses written as loops over runs, transitions and BSs, with the greedy action
    found by trying every available action (ties: the lowest id)."""
    r_n, l1, n_n, m_n, d = rows.shape
    u_n = d - 2
    feats = np.cumsum(rows, axis=1) if recurrent else rows

    def out(weights, r, m, t, n):
        return feats[r, t, n, m].astype(np.float64) * weights[r * m_n + m]

    def q(o, a):
        bits = [(a >> i) & 1 for i in range(u_n + 1)]
        return o[-1] + bits[0] * o[-2] + sum(bits[1 + u] * o[u] for u in range(u_n))

    def available(c):
        allowed = 1 | sum(1 << (u + 1) for u in range(u_n) if c[u])
        return [a for a in range(2 ** (u_n + 1)) if a & ~allowed == 0]

    def f(e):
        if loss == "mse":
            return e * e
        return 0.5 * e * e if abs(e) < 1 else abs(e) - 0.5

    losses = []
    for r in range(r_n):
        errs = []
        for t in range(l1 - 1):
            for n in range(n_n):
                qs, nq = [], []
                for m in range(m_n):
                    qs.append(q(out(w, r, m, t, n), acts[r, t, n, m]))
                    avail = available(cov[r, t + 1, n, m])
                    o_t = out(w_t, r, m, t + 1, n)
                    if double_q:
                        o = out(w, r, m, t + 1, n)
                        best = max(avail, key=lambda a, o=o: (q(o, a), -a))
                        nq.append(q(o_t, best))
                    else:
                        nq.append(max(q(o_t, a) for a in avail))
                boot = GAMMA * (1.0 - done[r, t, n])
                if algo == "vdn":
                    errs.append(SCALE * reward[r, t, n] + boot * sum(nq) - sum(qs))
                else:
                    errs += [SCALE * local[r, t, n, m] + boot * nq[m] - qs[m] for m in range(m_n)]
        losses.append(np.mean([f(e) for e in errs]))
    return np.array(losses)


@pytest.mark.parametrize("head", ["shared", "paper"])
@pytest.mark.parametrize("algo", ["vdn", "iql"])
@pytest.mark.parametrize("double_q", [True, False])
def test_learner_loss_matches_the_equations_on_many_runs_and_transitions(head, algo, double_q):
    r_n, l_n, n_n, m_n, u_n = 2, 3, 4, 2, 2  # M and U must match CFG below
    cfg = SystemConfig(num_users=u_n, bs_positions=((-50.0, 0.0), (50.0, 0.0)))
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(r_n, l_n + 1, n_n, m_n, u_n + 2)).astype(np.float32)
    cov = rng.random((r_n, l_n + 1, n_n, m_n, u_n)) < 0.6
    acts = rng.integers(0, 2 ** (u_n + 1), (r_n, l_n, n_n, m_n))
    reward = rng.normal(size=(r_n, l_n, n_n)).astype(np.float32) * 10
    local = rng.normal(size=(r_n, l_n, n_n, m_n)).astype(np.float32) * 10
    done = (rng.random((r_n, l_n, n_n)) < 0.3).astype(np.float32)
    w = rng.normal(size=(r_n * m_n, u_n + 2))
    w_t = rng.normal(size=(r_n * m_n, u_n + 2))
    batch = {"cov": cov, "actions": acts, "reward": reward, "local_reward": local, "done": done}
    if head == "paper":
        batch["x"] = rows
        toy = ToyPaper
    else:
        batch["bs"], batch["user"] = rows, np.zeros((r_n, l_n + 1, n_n, m_n, u_n, 1), np.float32)
        toy = ToyShared
    for loss in ("mse", "huber"):
        tc = TrainConfig(
            head=head, algo=algo, double_q=double_q, loss=loss, gamma=GAMMA, reward_scale=SCALE
        )
        learner = Learner(cfg, tc, toy(w), toy(w_t), r_n)
        with torch.no_grad():
            learner.target.w.copy_(torch.tensor(w_t))
        got = learner.loss(batch).detach().numpy()
        w32, wt32 = learner.net.w.detach().numpy(), learner.target.w.numpy()
        want = _reference(
            algo, loss, double_q, head == "paper", w32, wt32, rows, cov, acts, reward, local, done
        )
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
