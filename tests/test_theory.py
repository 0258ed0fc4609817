import numpy as np
import pytest

from dnt.studies.theory import (
    bellman,
    chain_check,
    decomposition_error,
    fitted_vdn_iteration,
    project_vdn,
    q_star,
    random_game,
    random_policy,
)


def test_bellman_is_a_gamma_contraction_in_sup_norm():
    rng = np.random.default_rng(0)
    for gamma in (0.2, 0.9):
        g = random_game(4, (2, 3), gamma, 1.0, rng)
        for _ in range(20):
            a, b = rng.normal(size=(2, 4, 6)) * 5
            lhs = np.abs(bellman(g, a) - bellman(g, b)).max()
            assert lhs <= gamma * np.abs(a - b).max() + 1e-12


def test_projection_is_exact_for_additive_q_and_idempotent():
    rng = np.random.default_rng(1)
    n = (2, 3, 2)
    parts = [rng.normal(size=(5, k)) for k in n]
    q = (
        parts[0][:, :, None, None] + parts[1][:, None, :, None] + parts[2][:, None, None, :]
    ).reshape(5, -1)
    np.testing.assert_allclose(project_vdn(q, n), q, atol=1e-12)
    r = rng.normal(size=(5, 12))
    p = project_vdn(r, n)
    np.testing.assert_allclose(project_vdn(p, n), p, atol=1e-12)
    # least squares: the residual is orthogonal to every additive table
    np.testing.assert_allclose(((r - p) * q).sum(axis=1), 0.0, atol=1e-10)


def test_q_star_is_the_bellman_fixed_point():
    g = random_game(5, (2, 2), 0.9, 0.5, np.random.default_rng(2))
    qs = q_star(g)
    np.testing.assert_allclose(bellman(g, qs), qs, atol=1e-10)


def test_fitted_vdn_reaches_q_star_for_additive_games():
    rng = np.random.default_rng(3)
    for gamma in (0.2, 0.9):
        # an additive reward and next states that do not depend on the joint action: Q* is
        # additive, so VDN's projection loses nothing
        g = random_game(4, (3, 2), gamma, 0.0, rng, action_independent=True)
        res = fitted_vdn_iteration(g)
        assert res["converged"]
        assert res["dist_to_q_star"] < 1e-8
        assert abs(res["return_gap"]) < 1e-8
        assert np.abs(decomposition_error(g, q_star(g))).max() < 1e-8


def test_chain_check_reports_every_step():
    rng = np.random.default_rng(4)
    g = random_game(3, (2, 2), 0.5, 1.0, rng)
    res = chain_check(g, random_policy(g, rng), random_policy(g, rng))
    assert list(res["values"]) == ["lhs", "(31)", "(32)", "(33)", "(34)", "(35)", "(36)"]
    assert res["holds"]["lhs -> (31)"]  # (31) is an identity
    assert res["eps"] >= 0 and res["values"]["(36)"] >= 0


def test_random_game_validation():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="gamma"):
        random_game(2, (2, 2), 1.0, 0.0, rng)
    with pytest.raises(ValueError, match="nonadditive"):
        random_game(2, (2, 2), 0.5, -1.0, rng)


def test_the_book_statement_on_where_the_proof_chain_breaks():
    """The convergence page says: (31) is an identity and holds everywhere; the step to (34)
    rests on a false identity and fails in some instances; the final bound (36) fails in some
    instances too. Checked on the same kind of sample the page uses (fewer instances)."""
    from dnt.studies.theory import chain_study

    chain = chain_study(60, 0)
    n = chain["instances"]
    assert chain["held"]["lhs -> (31)"] == n
    assert chain["held"]["(33) -> (34)"] < n
    assert chain["bound_36_held"] < n
    assert chain["first_failure"]["(33) -> (34)"]["instance"] < n
    assert max(chain["tightness"]) > 1.0  # some left side exceeds the right side of (36)
