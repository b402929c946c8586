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
    np.testing.assert_array_equal(sh.jacobian_norms([[1.0], [1.0]]), [0.0, 0.0])  # one key


def test_jacobian_norm_of_a_saturated_row_keeps_its_size():
    # p = (1 - e, e) with e far below machine precision: the norm is 2 p1 p2 = 2e, although
    # p1 rounds to 1 (forming p1 - p1**2 would give 0 and the norm 1.62 e).
    e = 1e-30
    np.testing.assert_allclose(sh.jacobian_norms([[1.0 - e, e]]), [2 * e], rtol=1e-12)
    np.testing.assert_allclose(sh.jacobian_norms([[e, 1.0, e]]), [3 * e], rtol=1e-12)


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
    t = sh.sharpness_sweep(d_ks=(1, 16, 256), n_keys=8, n_rows=100, n_seeds=3, seed=0)
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
        (lambda: sh.sharpness_sweep(n_seeds=1), "n_seeds", ValueError),
        (lambda: sh.sharpness_sweep(d_ks=(4,), seed=-1), "seed", ValueError),
        (lambda: sh.sharpness_sweep(d_ks=(4,), seed=1.5), "seed", TypeError),
        (lambda: sh.temperature_curves([[1.0]]), "factors", ValueError),
        (lambda: sh.row_gradients([-1.0]), "factors", ValueError),
        (lambda: sh.row_gradients([1.0], n_seeds=0), "n_seeds", ValueError),
        (lambda: sh.gradient_summary(np.ones((2, 1, 5))), "grads", ValueError),
        (lambda: sh.gradient_summary(-np.ones((2, 2, 5))), "grads", ValueError),
        (lambda: sh.gradient_summary(np.ones((2, 2, 5)), quantiles=[1.5]), "quantiles", ValueError),
        (lambda: sh.tie_limit(n_keys=1), "n_keys", ValueError),
        (lambda: sh.gradient_spread(factors=[1.0]), "factors", ValueError),
        (lambda: sh.gradient_spread(d_k=1), "d_k", ValueError),
        (lambda: sh.gradient_spread(n_seeds=1), "n_seeds", ValueError),
        (lambda: sh.temperature_panel(factor=0.0), "factor", ValueError),
        (lambda: sh.sharpness_vs_dk({"d_k": [1]}), "table", TypeError),
    ],
)
def test_bad_input(call, name, exc):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


def test_figures_are_new_deterministic_and_described():
    a = sh.temperature_panel(factor=3.0, n_keys=8)
    b = sh.temperature_panel(factor=30.0, n_keys=8)
    assert isinstance(a, Figure) and a is not b and png_bytes(a) != png_bytes(b)
    assert len(a.axes) == 2
    assert "c = 3" in sh.describe_temperature_panel(factor=3.0, n_keys=8)
    t = sh.sharpness_sweep(d_ks=(1, 4), n_keys=4, n_rows=20, n_seeds=2)
    assert len(sh.sharpness_vs_dk(t).axes) == 4 and "4 keys" in sh.describe_sharpness_vs_dk(t)
    kw = dict(factors=(0.5, 5.0, 50.0), d_k=16, n_keys=8, n_rows=50, n_seeds=3)
    f = sh.gradient_spread(**kw)
    assert len(f.axes) == 2 and png_bytes(f) == png_bytes(sh.gradient_spread(**kw))
    assert "8 keys" in sh.describe_gradient_spread(**kw)


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


def test_sweep_error_is_over_independent_seeds():
    t = sh.sharpness_sweep(d_ks=(16,), n_keys=8, n_rows=40, n_seeds=4, seed=3)
    per_seed = [
        (ws.softmax(sh.random_logits(16, 8, 40, sh.seed_streams(3, 16, r))).max(axis=1)).mean()
        for r in range(4)
    ]
    mean, se = t.at(16, "unscaled", "max_weight")
    assert mean == pytest.approx(np.mean(per_seed))
    assert se == pytest.approx(np.std(per_seed, ddof=1) / 2)
    # the streams differ from seed to seed and from d_k to d_k
    assert len({sh.seed_streams(0, d, r) for d in (1, 2) for r in (0, 1)}) == 4


def test_sweep_one_hot_share_matches_a_larger_independent_estimate():
    """Issue 17: the d_k = 64 share is within 3 standard errors of a 40,000-row estimate."""
    t = sh.sharpness_sweep(d_ks=(64,), n_keys=16, n_rows=500, n_seeds=8, seed=0)
    mean, se = t.at(64, "unscaled", "one_hot")
    big = ws.softmax(sh.random_logits(64, 16, 40_000, seed=12345)).max(axis=1) > 0.99
    assert abs(mean - big.mean()) < 3 * se


def test_row_gradients_are_c_times_the_jacobian_norm():
    g = sh.row_gradients([0.5, 4.0], d_k=16, n_keys=5, n_rows=7, n_seeds=2, seed=1)
    assert g.shape == (2, 2, 7)
    s = sh.scaled_logits_given_norm(16, 5, 7, sh.seed_streams(1, 16, 1))
    want = [4.0 * np.linalg.norm(ws.softmax_jacobian(row), 2) for row in ws.softmax(4.0 * s)]
    np.testing.assert_allclose(g[1, 1], want, atol=1e-12)


def test_gradient_summary_hand_values():
    # one factor, two seeds of four rows: total 10, the largest row (6) carries half
    g = np.array([[[6.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]])
    out = sh.gradient_summary(g, quantiles=(0.5,))
    assert out["mean"][0] == pytest.approx(1.25)
    assert out["se"][0] == pytest.approx(np.std([1.5, 1.0], ddof=1) / np.sqrt(2))
    assert out["q50"][0] == pytest.approx(1.0)
    assert out["half_share"][0] == pytest.approx(1 / 8)
    flat = sh.gradient_summary(np.ones((1, 2, 10)))
    assert flat["half_share"][0] == pytest.approx(0.5)


def test_median_vanishes_the_mean_does_not_and_tends_to_the_tie_limit():
    """The chapter's headline: at large c the typical row has no gradient, the average does."""
    g = sh.row_gradients([1.0, 100.0], d_k=64, n_keys=16, n_rows=2000, n_seeds=4, seed=0)
    out = sh.gradient_summary(g)
    assert out["q50"][1] < 1e-6 < 0.1 < out["q50"][0]
    assert out["mean"][1] > 5 * out["mean"][0]
    assert abs(out["mean"][1] - sh.tie_limit(64, 16)) < 4 * out["se"][1]
    assert out["half_share"][1] < 0.02 < 0.3 < out["half_share"][0]


def test_tie_limit_is_the_density_of_the_top_gap_at_zero():
    s = sh.random_logits(64, 16, 40_000, seed=5, factor=1 / 8)
    top2 = np.sort(s, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    assert (gap < 0.05).mean() / 0.05 == pytest.approx(sh.tie_limit(64, 16), rel=0.12)
    # more keys crowd the top: the density at 0 grows
    assert sh.tie_limit(64, 64) > sh.tie_limit(64, 16) > sh.tie_limit(64, 4)
    assert sh.tie_limit(1, 16) == float("inf")


def test_sweep_logits_are_the_sweeps_draws():
    z = sh.sweep_logits(4, n_keys=3, n_rows=5, n_seeds=2, seed=0)
    assert z.shape == (2, 5, 3)
    np.testing.assert_array_equal(z[1], sh.random_logits(4, 3, 5, sh.seed_streams(0, 4, 1)))


@pytest.mark.parametrize("d_k", [1, 4, 64])
def test_logits_given_the_norm_have_the_distribution_of_the_dot_products(d_k):
    fast = sh.scaled_logits_given_norm(d_k, 8, 20_000, seed=1)
    slow = sh.random_logits(d_k, 8, 20_000, seed=2, factor=d_k**-0.5)
    qs = [0.01, 0.1, 0.5, 0.9, 0.99]
    np.testing.assert_allclose(np.quantile(fast, qs), np.quantile(slow, qs), atol=0.06)
    # the spread within a row (what the softmax sees) has the same distribution too
    np.testing.assert_allclose(
        np.quantile(np.ptp(fast, axis=1), qs), np.quantile(np.ptp(slow, axis=1), qs), rtol=0.06
    )


def _jacobian_norms_eigvalsh(p):
    """The reference: form diag(p) - p p^T (top diagonal entry p_top * (1 - p_top) with
    1 - p_top as the sum of the other weights) and take LAPACK's largest eigenvalue."""
    p = np.asarray(p, dtype=float)
    top = np.argmax(p, axis=1)[:, None]
    is_top = np.arange(p.shape[1]) == top
    rest = np.where(is_top, 0.0, p).sum(axis=1, keepdims=True)
    jac = -p[:, :, None] * p[:, None, :]
    idx = np.arange(p.shape[1])
    jac[:, idx, idx] = np.where(is_top, p * rest, p * (1.0 - p))
    return np.clip(np.linalg.eigvalsh(jac)[:, -1], 0.0, None)


@st.composite
def scaled_logit_rows(draw):
    """Rows of logits times a scale from 1e-12 to 1e6, with ties copied in and saturated rows."""
    n_rows, n_keys = draw(st.integers(1, 6)), draw(st.integers(2, 17))
    z = draw(arrays(np.float64, (n_rows, n_keys), elements=st.floats(-3, 3)))
    for r in range(n_rows):
        tie = draw(st.sampled_from(["none", "top", "all", "zeros"]))
        if tie == "top":
            z[r, draw(st.integers(0, n_keys - 1))] = z[r].max()
        elif tie == "all":
            z[r] = z[r, 0]
        elif tie == "zeros":
            z[r, : draw(st.integers(1, n_keys))] = 0.0
    z = z * 10.0 ** draw(st.floats(-12, 6))
    # saturated rows: the top logit far above near-equal runners-up (p2 ~ p3 ~ 1e-80, as
    # at c = 300 in the gradient-spread experiment), a case where Newton overshoots to 0
    for r in range(n_rows):
        if draw(st.booleans()):
            z[r, np.argmax(z[r])] += draw(st.floats(30, 740))
    return z


@given(scaled_logit_rows())
@settings(max_examples=300, deadline=None)
def test_jacobian_norm_secular_root_matches_eigvalsh(z):
    p = ws.softmax(z)
    got, want = sh.jacobian_norms(p), _jacobian_norms_eigvalsh(p)
    assert np.all(np.isfinite(got))
    # relative agreement, also for saturated rows (a tiny J is computed as accurately as a
    # large one); only an underflowing norm is compared absolutely
    near_zero = want < 1e-280
    np.testing.assert_allclose(got[near_zero], want[near_zero], rtol=0, atol=1e-15)
    np.testing.assert_allclose(got[~near_zero], want[~near_zero], rtol=1e-12, atol=0)


def test_jacobian_norm_secular_root_at_ties_and_saturation():
    # equal top weights: the norm is that weight (eigenvector e1 - e2), however many rows
    p = np.array([[0.4, 0.4, 0.2], [0.3, 0.3, 0.3 - 1e-17 + 0.1]])
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sh.jacobian_norms(p), _jacobian_norms_eigvalsh(p), rtol=1e-12)
    # a near tie one ulp apart, and saturated rows down to subnormal runners-up
    p1 = 0.5 + np.finfo(float).eps
    rows_list = (
        [[p1, 1 - p1]],
        [[1.0, 1e-300]],
        [[1.0, 1e-320, 0.0], [1.0, 0.0, 0.0]],
        [[1.0, 9.2348e-82, 6.0394e-82, 1.0877e-115]],  # B(0) < 0: the first guess fails
    )
    for rows in rows_list:
        np.testing.assert_allclose(
            sh.jacobian_norms(rows), _jacobian_norms_eigvalsh(rows), rtol=1e-12, atol=1e-15
        )
