"""whysqrt.sharpness: softmax sharpness statistics, sweeps and figures (softmax-sharpness chapter)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure

import whysqrt as ws
from whysqrt.interactive import png_bytes

sh = ws.sharpness
logit_rows = arrays(
    np.float64, st.tuples(st.integers(1, 4), st.integers(2, 9)), elements=st.floats(-60, 60)
)


def test_random_logits_are_dot_products_of_the_seeded_draws():
    rng = np.random.default_rng(7)
    q, k = rng.standard_normal((3, 1, 5)), rng.standard_normal((3, 4, 5))
    expected = np.array([[q[r, 0] @ k[r, j] for j in range(4)] for r in range(3)])
    np.testing.assert_allclose(sh.random_logits(5, 4, 3, seed=7), expected)
    np.testing.assert_allclose(sh.random_logits(5, 4, 3, seed=7, factor=0.5), expected / 2)


def test_random_logits_variance_is_dk():
    z = sh.random_logits(64, 50, 400, seed=1)
    assert z.var() == pytest.approx(64, rel=0.05)


def test_jacobian_norm_known_values():
    # two equal weights: J = [[1/4, -1/4], [-1/4, 1/4]], eigenvalues 0 and 1/2
    np.testing.assert_allclose(sh.jacobian_norms([[0.5, 0.5]]), [0.5])
    np.testing.assert_allclose(sh.jacobian_norms([[1.0, 0.0, 0.0]]), [0.0], atol=1e-15)
    # uniform over n: J = I/n - 11^T/n^2, largest eigenvalue 1/n
    np.testing.assert_allclose(sh.jacobian_norms(np.full((1, 8), 1 / 8)), [1 / 8])


@given(logit_rows)
@settings(max_examples=50, deadline=None)
def test_jacobian_norm_matches_numpy_and_is_bounded(z):
    p = ws.softmax(z)
    got = sh.jacobian_norms(p)
    want = [np.linalg.norm(ws.softmax_jacobian(row), 2) for row in p]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.all((got >= 0) & (got <= 0.5 + 1e-12))


@given(logit_rows)
@settings(max_examples=50, deadline=None)
def test_row_stats_are_finite_and_in_range(z):
    st_ = sh.row_stats(z)
    n = z.shape[1]
    assert set(st_) == set(sh.STATS)
    assert all(np.all(np.isfinite(x)) for x in st_.values())
    assert np.all((st_["max_weight"] >= 1 / n - 1e-12) & (st_["max_weight"] <= 1))
    assert np.all((st_["entropy"] >= -1e-12) & (st_["entropy"] <= math.log(n) + 1e-9))
    assert set(np.unique(st_["one_hot"])) <= {0.0, 1.0}


def test_row_stats_hand_values():
    st_ = sh.row_stats([[0.0, 0.0], [100.0, 0.0]])
    np.testing.assert_allclose(st_["max_weight"], [0.5, 1.0])
    np.testing.assert_allclose(st_["entropy"], [math.log(2), 0.0], atol=1e-12)
    np.testing.assert_allclose(st_["one_hot"], [0.0, 1.0])


def test_sweep_unscaled_sharpens_and_scaled_does_not():
    t = sh.sharpness_sweep(d_ks=(1, 16, 256), n_keys=8, n_rows=300, seed=0)
    u = t.mean["unscaled"]["max_weight"]
    s = t.mean["scaled"]["max_weight"]
    assert u[0] == pytest.approx(s[0])  # d_k = 1: the scale is 1
    assert u[2] > 0.9 and u[2] > u[1] > u[0]
    assert abs(s[2] - s[0]) < 0.1
    assert t.mean["unscaled"]["jac_norm"][2] < t.mean["scaled"]["jac_norm"][2]
    assert np.all(t.se["scaled"]["entropy"] > 0)


def test_temperature_curves_vanish_at_both_ends():
    c = sh.temperature_curves([1e-3, 1.0, 1e3], d_k=16, n_keys=8, n_rows=200)
    g = c["grad_norm"]
    assert g[1] > 10 * g[0] and g[1] > 10 * g[2]
    assert c["entropy"][0] == pytest.approx(math.log(8), abs=1e-3)


@pytest.mark.parametrize(
    "call, name, exc",
    [
        (lambda: sh.random_logits(0, 4), "d_k", ValueError),
        (lambda: sh.random_logits(4.5, 4), "d_k", TypeError),
        (lambda: sh.random_logits(4, 0), "n_keys", ValueError),
        (lambda: sh.random_logits(4, 4, factor=float("nan")), "factor", ValueError),
        (lambda: sh.random_logits(4, 4, factor="big"), "factor", TypeError),
        (lambda: sh.jacobian_norms([0.5, 0.5]), "p", ValueError),
        (lambda: sh.jacobian_norms([[0.5, 0.6]]), "p", ValueError),
        (lambda: sh.jacobian_norms(np.empty((0, 3))), "p", ValueError),
        (lambda: sh.row_stats([[1.0, np.inf]]), "logits", ValueError),
        (lambda: sh.row_stats([["a", "b"]]), "logits", TypeError),
        (lambda: sh.row_stats([1.0, 2.0]), "logits", ValueError),
        (lambda: sh.sharpness_sweep(d_ks=()), "d_ks", ValueError),
        (lambda: sh.sharpness_sweep(d_ks=(4, -1)), "d_ks", ValueError),
        (lambda: sh.sharpness_sweep(n_rows=1), "n_rows", ValueError),
        (lambda: sh.temperature_curves([[1.0]]), "factors", ValueError),
        (lambda: sh.weights_bars(d_k=0), "d_k", ValueError),
        (lambda: sh.weights_bars(scaled="yes"), "scaled", TypeError),
        (lambda: sh.temperature_panel(factor=0.0), "factor", ValueError),
        (lambda: sh.sharpness_vs_dk({"d_k": [1]}), "table", TypeError),
    ],
)
def test_bad_input(call, name, exc):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


def test_figures_are_new_deterministic_and_described():
    a = sh.weights_bars(d_k=64, scaled=False, n_keys=8)
    b = sh.weights_bars(d_k=64, scaled=True, n_keys=8)
    assert isinstance(a, Figure) and a is not b and png_bytes(a) != png_bytes(b)
    assert png_bytes(a) == png_bytes(sh.weights_bars(d_k=64, scaled=False, n_keys=8))
    alt = sh.describe_weights_bars(d_k=64, scaled=True, n_keys=8)
    p = ws.softmax(sh.random_logits(64, 8, 1, 0)[0] / 8)
    assert "64" in alt and f"{p.max():.3f}" in alt
    assert len(sh.source001_grid(n_keys=6).axes) == 4
    assert "d_k = 100" in sh.describe_source001_grid(n_keys=6)
    assert len(sh.temperature_panel(factor=3.0, n_keys=8).axes) == 2
    assert "c = 3" in sh.describe_temperature_panel(factor=3.0, n_keys=8)
    t = sh.sharpness_sweep(d_ks=(1, 4), n_keys=4, n_rows=20)
    assert len(sh.sharpness_vs_dk(t).axes) == 4 and "4 keys" in sh.describe_sharpness_vs_dk(t)


def test_source001_one_seed_hand_check_and_reading():
    out = sh.source001(n_keys=10, n_rows=300, seed=0)
    z = sh.random_logits(100, 10, 300, seed=0)
    top = ws.softmax(z).max(axis=1)
    assert out["100-unscaled"][0] == pytest.approx(top[0])
    assert out["100-unscaled"][1] == pytest.approx(top.mean())
    assert out["100-unscaled"][2] == pytest.approx(top.std(ddof=1) / math.sqrt(300))
    # the experiment's reading: unscaled d_k = 100 is much sharper; scaled d_k = 100 is like d_k = 5 scaled
    assert out["100-unscaled"][1] > 0.8 > 0.4 > out["100-scaled"][1]
    assert abs(out["100-scaled"][1] - out["5-scaled"][1]) < 0.05
    # the figure shows the same first query
    assert f"{top[0]:.3f}" in sh.describe_source001_grid(n_keys=10, n_rows=300)


def test_sweep_table_quotes_the_sweep():
    t = sh.sharpness_sweep(d_ks=(1, 4), n_keys=4, n_rows=20)
    tab = sh.sweep_table(t, d_ks=(4,))
    mean, se = t.at(4, "scaled", "jac_norm")
    assert tab.cells[0][0] == "4" and tab.cells[0][-1] == f"{mean:.3f} ± {se:.3f}"
    with pytest.raises(ValueError, match="^d_ks"):
        sh.sweep_table(t, d_ks=(64,))
    with pytest.raises(TypeError, match="^table"):
        sh.sweep_table({"d_k": [1]})


def test_temperature_grid_is_the_panel_curve():
    g = sh.temperature_grid(16, 8)
    assert g is sh.temperature_grid(16, 8)  # computed once
    np.testing.assert_allclose(g["factor"], sh.FACTORS)
    # uniform limit: ||J|| -> 1/n; one-hot limit: ||J|| -> 0
    assert g["jac_norm"][0] == pytest.approx(1 / 8, rel=0.05) and g["jac_norm"][-1] < 1e-3


def test_many_keys_draw_as_lines():
    fig = sh.weights_bars(d_k=8, n_keys=1024)
    assert len(fig.axes[1].patches) == 0 and len(fig.axes[1].collections) == 1
    assert "1024 keys" in sh.describe_weights_bars(d_k=8, n_keys=1024)
