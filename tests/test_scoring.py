"""whysqrt.scoring: additive vs dot-product scores, shared vs separate projections."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws

sc = ws.scoring


# -- additive attention ----------------------------------------------------------------
def test_additive_scores_by_hand():
    q = np.array([[1.0, 0.0]])
    k = np.array([[0.0, 2.0], [0.0, 0.0]])
    w = np.eye(2)
    v_a = np.array([1.0, -1.0])
    expected = [[math.tanh(1) - math.tanh(2), math.tanh(1)]]
    np.testing.assert_allclose(sc.additive_scores(q, k, w, w, v_a), expected)


@settings(deadline=None, max_examples=30)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
    st.floats(0.1, 1e3),
)
def test_additive_scores_are_bounded_and_loop_equivalent(n, m, d_k, d_a, seed, spread):
    rng = np.random.default_rng(seed)
    q, k = spread * rng.standard_normal((n, d_k)), spread * rng.standard_normal((m, d_k))
    w_q, w_k, v_a = sc.additive_params(d_k, d_a, seed)
    e = sc.additive_scores(q, k, w_q, w_k, v_a)
    assert e.shape == (n, m) and np.all(np.abs(e) <= np.abs(v_a).sum() + 1e-12)
    i, j = n - 1, m - 1
    assert e[i, j] == pytest.approx(float(v_a @ np.tanh(w_q.T @ q[i] + w_k.T @ k[j])), abs=1e-9)


def test_operation_counts():
    c = sc.operation_counts()
    n, m, d_k, d_a = c["symbols"]
    vals = {n: 10, m: 20, d_k: 64, d_a: 64}
    assert c["dot_madds"].subs(vals) == 10 * 20 * 64 + 200
    assert c["add_madds"].subs(vals) == 30 * 64 * 64 + 200 * 64
    # with d_a = d_k and n = m the two counts agree to leading order in n
    ratio = sp.limit((c["add_madds"] / c["dot_madds"]).subs({m: n, d_a: d_k}), n, sp.oo)
    assert sp.simplify(ratio - d_k / (d_k + 1)) == 0


def test_benchmark_returns_positive_medians():
    r = sc.benchmark_scores(8, 8, 4, repeats=3)
    assert r["dot"] > 0 and r["additive"] > 0
    assert r["ratio"] == pytest.approx(r["additive"] / r["dot"])


def test_score_spread_grows_like_sqrt_dk_only_for_the_dot_product():
    a, b = sc.score_spread(4), sc.score_spread(256)
    assert b["dot"] / a["dot"] == pytest.approx(8.0, rel=0.1)
    assert abs(b["scaled"] - 1) < 0.05 and abs(a["scaled"] - 1) < 0.05
    assert b["additive"] <= b["bound"] and b["additive"] < 1.5 * a["additive"]


def test_additive_spread_is_far_below_l1_bound_and_init_controls_saturation():
    for d in (4, 256):
        s = sc.score_spread(d, n=2000)
        assert s["l2"] < s["bound"] and s["additive"] < s["l2"] < s["bound"] / 2
        assert s["additive"] < s["bound"] / 5  # the L1 bound is loose
        assert s["additive_unit"] <= s["bound"]  # still bounded without the 1/d_k init
    small, big = sc.score_spread(4, n=2000), sc.score_spread(256, n=2000)
    assert abs(big["saturated"] - small["saturated"]) < 0.05  # 1/d_k init: d_k-free
    assert big["saturated_unit"] > 0.8 > small["saturated_unit"]


def test_score_spread_unit_init_equals_scaled_at_dk_1():
    s = sc.score_spread(1, n=500)
    assert s["additive_unit"] == pytest.approx(s["additive"])
    assert s["saturated_unit"] == pytest.approx(s["saturated"])


def test_additive_bad_input():
    w_q, w_k, v_a = sc.additive_params(3, 2)
    with pytest.raises(ValueError, match=r"^q"):
        sc.additive_scores(np.zeros((2, 3)), np.zeros((2, 4)), w_q, w_k, v_a)
    with pytest.raises(ValueError, match=r"^w_q"):
        sc.additive_scores(np.zeros((2, 3)), np.zeros((2, 3)), w_q.T, w_k, v_a)
    with pytest.raises(ValueError, match=r"^v_a"):
        sc.additive_scores(np.zeros((2, 3)), np.zeros((2, 3)), w_q, w_k, [np.nan, 0.0])
    with pytest.raises(ValueError, match=r"^d_k"):
        sc.additive_params(0, 2)
    with pytest.raises(TypeError, match=r"^d_a"):
        sc.additive_params(2, "2")
    with pytest.raises(ValueError, match=r"^k"):
        sc.additive_scores(np.zeros((2, 3)), np.zeros((0, 3)), w_q, w_k, v_a)
    with pytest.raises(ValueError, match=r"^repeats"):
        sc.benchmark_scores(2, 2, 2, repeats=0)


# -- shared vs separate projections -----------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(st.integers(2, 10), st.integers(1, 16), st.integers(1, 16), st.integers(0, 2**32 - 1))
def test_shared_projection_gives_symmetric_psd_scores(n, d_model, d_k, seed):
    w_q, w_k = sc.projections(d_model, d_k, True, seed)
    x = np.random.default_rng([seed, 1]).standard_normal((n, d_model))
    s = sc.self_scores(x, w_q, w_k, scale=1.0)
    np.testing.assert_allclose(s, s.T, atol=1e-12)
    assert np.linalg.eigvalsh((s + s.T) / 2).min() > -1e-9  # Gram matrix of the queries
    d = np.diag(s)
    # Cauchy-Schwarz: s_ij <= sqrt(s_ii s_jj) <= max(s_ii, s_jj)
    assert np.all(s <= np.maximum.outer(d, d) + 1e-9)


def test_separate_projection_is_not_symmetric():
    w_q, w_k = sc.projections(16, 8, False, 0)
    x = np.random.default_rng(1).standard_normal((5, 16))
    s = sc.self_scores(x, w_q, w_k)
    assert np.abs(s - s.T).max() > 0.1


def test_diagonal_stats_match_theory():
    shared = sc.diagonal_stats(16, 512, 64, True, trials=10)
    separate = sc.diagonal_stats(16, 512, 64, False, trials=10)
    assert shared["diag_mean"] == pytest.approx(64, rel=0.1)
    assert abs(separate["diag_mean"]) < 5 and shared["argmax_diag"] > 0.95
    assert separate["argmax_diag"] < 0.3 and shared["asymmetry"] == 0.0
    assert separate["asymmetry"] > 0.1


def test_projection_bad_input():
    with pytest.raises(TypeError, match=r"^shared"):
        sc.projections(4, 2, "yes")
    with pytest.raises(ValueError, match=r"^d_k"):
        sc.projections(4, 0, True)
    with pytest.raises(ValueError, match=r"^x"):
        sc.self_scores(np.zeros((3, 5)), np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^x"):
        sc.self_scores(np.full((3, 4), np.inf), np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^n"):
        sc.diagonal_stats(1, 4, 2, True)


# -- figures -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, describe, params",
    [
        (sc.score_spread_figure, sc.describe_score_spread_figure, {"d_k": 16}),
        (sc.self_attention_figure, sc.describe_self_attention_figure, {"d_k": 8, "shared": False}),
    ],
)
def test_figures_and_alt_text(make, describe, params):
    assert isinstance(make(**params), Figure)
    assert len(describe(**params)) > 40
