"""whysqrt.numerics: values, invariants (hypothesis) and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import whysqrt as ws

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
rows = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 12)), elements=finite)


# -- softmax and friends ------------------------------------------------------
def test_softmax_known_values():
    p = ws.softmax([0.0, np.log(3.0)])
    np.testing.assert_allclose(p, [0.25, 0.75])


def test_softmax_does_not_overflow():
    p = ws.softmax([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-300)
    assert np.isfinite(ws.logsumexp([1e308, 1e308]))


@given(rows)
def test_softmax_is_a_distribution(x):
    p = ws.softmax(x, axis=-1)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@given(rows, finite)
def test_softmax_is_shift_invariant(x, c):
    np.testing.assert_allclose(ws.softmax(x), ws.softmax(x + c), atol=1e-9)


@given(rows)
def test_log_softmax_matches_log_of_softmax_where_defined(x):
    p = ws.softmax(x)
    lp = ws.log_softmax(x)
    assert np.all(np.isfinite(lp))
    mask = p > 1e-300
    np.testing.assert_allclose(np.exp(lp[mask]), p[mask], rtol=1e-9, atol=1e-300)


@given(arrays(np.float64, st.integers(1, 30), elements=st.floats(-50, 50)))
def test_entropy_bounds(x):
    p = ws.softmax(x)
    h = ws.entropy(p)
    assert -1e-12 <= h <= math.log(len(p)) + 1e-9


def test_entropy_uniform_and_one_hot():
    assert ws.entropy(np.full(8, 1 / 8)) == pytest.approx(math.log(8))
    assert ws.entropy([0.0, 1.0, 0.0]) == 0.0


@given(arrays(np.float64, st.integers(1, 10), elements=st.floats(-20, 20)))
def test_softmax_jacobian_matches_finite_differences(x):
    p = ws.softmax(x)
    jac = ws.softmax_jacobian(p)
    eps = 1e-6
    num = np.empty_like(jac)
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = eps
        num[:, j] = (ws.softmax(x + e) - ws.softmax(x - e)) / (2 * eps)
    np.testing.assert_allclose(jac, num, atol=1e-6)
    np.testing.assert_allclose(jac.sum(axis=0), 0.0, atol=1e-12)  # columns sum to 0


# -- attention ---------------------------------------------------------------
def test_attention_scores_shape_and_default_scale():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 5, 16)), rng.standard_normal((2, 3, 7, 16))
    s = ws.attention_scores(q, k)
    assert s.shape == (2, 3, 5, 7)
    np.testing.assert_allclose(s, q @ np.swapaxes(k, -1, -2) / 4.0)
    np.testing.assert_allclose(ws.attention_scores(q, k, scale=1.0) / 4.0, s)


def test_attention_output_is_convex_combination_of_values():
    rng = np.random.default_rng(1)
    q, k, v = (
        rng.standard_normal((4, 8)),
        rng.standard_normal((6, 8)),
        rng.standard_normal((6, 3)),
    )
    out, w = ws.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    np.testing.assert_allclose(out, w @ v)
    mask = np.tril(np.ones((4, 6), dtype=bool))
    _, wm = ws.scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(wm[~mask] == 0.0)


# -- dot-product moments ------------------------------------------------------
def test_samples_are_seeded():
    a = ws.dot_product_samples(16, 100, seed=3)
    b = ws.dot_product_samples(16, 100, seed=3)
    c = ws.dot_product_samples(16, 100, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"mu_q": 0.5, "mu_k": -1.0, "sigma_q": 2.0, "sigma_k": 0.5},
        {"rho": 0.6},
        {"rho": 1.0},
        {"rho": -0.3, "mu_q": 1.0, "mu_k": 1.0},
    ],
)
def test_monte_carlo_matches_exact_moments(kw):
    d_k, n = 32, 40_000
    x = ws.dot_product_samples(d_k, n, seed=11, **kw)
    mean, var = ws.product_moments(d_k, **kw)
    # 5 standard errors: a real formula error is far larger, a false alarm is ~1e-6
    se_mean = math.sqrt(var / n)
    se_var = np.std((x - x.mean()) ** 2, ddof=1) / math.sqrt(n)
    assert abs(x.mean() - mean) < 5 * se_mean
    assert abs(x.var(ddof=1) - var) < 5 * se_var


def test_moments_table_tracks_dk():
    t = ws.experiments.dot_product_moments_mc(d_ks=(1, 16, 256), n=5000, seed=0)
    assert t.max_var_z < 5
    np.testing.assert_allclose(t.scaled_var, 1.0, atol=0.1)


# -- bad input names the parameter ---------------------------------------------
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ws.softmax([1.0, np.nan]), "x"),
        (lambda: ws.softmax([1.0, np.inf]), "x"),
        (lambda: ws.softmax([]), "x"),
        (lambda: ws.softmax([1.0, 2.0], temperature=0), "temperature"),
        (lambda: ws.softmax([1.0, 2.0], axis=3), "axis"),
        (lambda: ws.entropy([0.5, 0.6]), "p"),
        (lambda: ws.entropy([-0.5, 1.5]), "p"),
        (lambda: ws.softmax_jacobian(np.ones((2, 2)) / 4), "p"),
        (lambda: ws.attention_scores(np.ones((2, 4)), np.ones((2, 5))), "q and k"),
        (lambda: ws.attention_scores(np.ones(4), np.ones((2, 4))), "q"),
        (lambda: ws.attention_scores(np.ones((2, 4)), np.ones((2, 4)), scale=-1.0), "scale"),
        (
            lambda: ws.scaled_dot_product_attention(
                np.ones((2, 4)), np.ones((3, 4)), np.ones((2, 4))
            ),
            "v",
        ),
        (
            lambda: ws.scaled_dot_product_attention(
                np.ones((2, 4)), np.ones((3, 4)), np.ones((3, 4)), mask=np.zeros((2, 3), bool)
            ),
            "mask",
        ),
        (lambda: ws.dot_product_samples(0, 10), "d_k"),
        (lambda: ws.dot_product_samples(-4, 10), "d_k"),
        (lambda: ws.dot_product_samples(8, 0), "n"),
        (lambda: ws.sample_qk(8, 10, rho=1.5), "rho"),
        (lambda: ws.sample_qk(8, 10, sigma_q=0.0), "sigma_q"),
        (lambda: ws.sample_qk(8, 10, mu_k=np.nan), "mu_k"),
        (lambda: ws.product_moments(0), "d_k"),
        (lambda: ws.experiments.dot_product_moments_mc(d_ks=(), n=10), "d_ks"),
        (lambda: ws.experiments.dot_product_moments_mc(d_ks=(4,), n=1), "n"),
    ],
)
def test_bad_input_raises_value_error_naming_parameter(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ws.softmax(["a", "b"]), "x"),
        (lambda: ws.dot_product_samples(2.5, 10), "d_k"),
        (lambda: ws.dot_product_samples(True, 10), "d_k"),
        (
            lambda: ws.scaled_dot_product_attention(
                np.ones((2, 4)), np.ones((3, 4)), np.ones((3, 4)), mask=np.ones((2, 3))
            ),
            "mask",
        ),
    ],
)
def test_wrong_types_raise_type_error_naming_parameter(call, name):
    with pytest.raises(TypeError, match=rf"^{name}\b"):
        call()


@settings(max_examples=50)
@given(
    st.integers(1, 64),
    st.floats(-3, 3),
    st.floats(-3, 3),
    st.floats(0.1, 3),
    st.floats(0.1, 3),
    st.floats(-1, 1),
)
def test_exact_moments_are_finite_and_variance_nonnegative(d, mq, mk, sq, sk, r):
    mean, var = ws.product_moments(d, mu_q=mq, mu_k=mk, sigma_q=sq, sigma_k=sk, rho=r)
    assert math.isfinite(mean) and math.isfinite(var) and var >= 0


def test_moments_summary_quotes_the_table():
    t = ws.experiments.dot_product_moments_mc(d_ks=(1, 8), n=300, seed=0)
    s = t.summary(at=8)
    assert s["n"] == 300 and s["var-8"] == float(t.var[1])
    assert abs(s["max-z"]) == t.max_var_z and s["max-z-dk"] in (1, 8)
    assert s["var-8-se"] == float(t.var_se[1]) and s["scaled-var-8-se"] == float(t.var_se[1] / 8)
    with pytest.raises(ValueError, match="^at"):
        t.summary(at=3)


def test_max_z_chance_is_the_familywise_tail_probability():
    t = ws.experiments.dot_product_moments_mc(d_ks=(1, 2, 4), n=2000, seed=0)
    z = t.max_var_z
    two_sided = math.erfc(z / math.sqrt(2))
    assert t.max_z_chance == pytest.approx(1 - (1 - two_sided) ** 3)
    # calibration: under the null, the z scores of many grids look standard normal
    zs = np.concatenate(
        [ws.experiments.dot_product_moments_mc(d_ks=(8,), n=2000, seed=s).var_z for s in range(60)]
    )
    assert abs(zs.mean()) < 0.5 and 0.7 < zs.std() < 1.3


def test_variance_with_se_matches_the_formula_for_normal_draws():
    x = np.random.default_rng(0).standard_normal(200_000) * 3
    var, se = ws.experiments.variance_with_se(x)
    assert abs(var - 9) < 4 * se and se == pytest.approx(9 * math.sqrt(2 / x.size), rel=0.05)
    with pytest.raises(ValueError, match="^x"):
        ws.experiments.variance_with_se([1.0])


def test_correlated_product_variance_separates_the_two_constructions():
    r = ws.experiments.correlated_product_variance(0.5, n=200_000, seed=1)
    assert r["linear"]["exact"] == 1.25 and r["mixture"]["exact"] == 1.75
    for name in ("linear", "mixture"):
        assert abs(r[name]["sample"] - r[name]["exact"]) < 5 * r[name]["se"]
    # rho = 0 and rho = 1 make the two constructions coincide
    for rho, exact in ((0.0, 1.0), (1.0, 2.0)):
        r = ws.experiments.correlated_product_variance(rho, n=1000, seed=0)
        assert r["linear"]["exact"] == r["mixture"]["exact"] == exact
    with pytest.raises(ValueError, match="^rho"):
        ws.experiments.correlated_product_variance(1.5)


def test_monte_carlo_uses_the_seeded_samples_of_dot_product_samples():
    # the book shows dot_product_moments_mc's loop; it must draw what dot_product_samples draws
    t = ws.experiments.dot_product_moments_mc(d_ks=(3, 16), n=500, seed=4)
    for i, d in enumerate((3, 16)):
        x = ws.dot_product_samples(d, 500, seed=4 + d)
        assert t.var[i] == pytest.approx(x.var(ddof=1)) and t.mean[i] == pytest.approx(x.mean())


def test_attention_hand_values():
    q = np.array([[1.0, 0.0]])
    k = np.array([[2.0, 0.0], [0.0, 2.0]])
    v = np.array([[1.0], [3.0]])
    out, w = ws.scaled_dot_product_attention(q, k, v)
    p1 = 1 / (1 + np.exp(-np.sqrt(2)))  # scores sqrt(2) and 0 after dividing by sqrt(2)
    np.testing.assert_allclose(w, [[p1, 1 - p1]])
    np.testing.assert_allclose(out, [[p1 + 3 * (1 - p1)]])
    out_m, w_m = ws.scaled_dot_product_attention(q, k, v, mask=np.array([[False, True]]))
    np.testing.assert_allclose(w_m, [[0.0, 1.0]]) and np.testing.assert_allclose(out_m, [[3.0]])
    with pytest.raises(ValueError, match="^v"):
        ws.scaled_dot_product_attention(q, k, np.ones((3, 1)))


def test_round_to_bfloat16_hand_values():
    r = ws.numerics.round_to_bfloat16
    # 8 significant bits: 1 + 2^-7 is the next bfloat16 after 1
    assert r(1.0 + 2.0**-7) == np.float32(1.0 + 2.0**-7)
    # exact halfway cases go to the even neighbour
    assert r(1.0 + 2.0**-8) == np.float32(1.0)
    assert r(1.0 + 3 * 2.0**-8) == np.float32(1.0 + 2.0**-6)
    assert r(1 / 3) == np.float32(0.333984375)
    assert r(-2.5) == np.float32(-2.5)
    # float16's largest value is not a bfloat16: 65504 rounds up to 2^16
    assert r(65504.0) == np.float32(65536.0)
    # the range is float32's: 1e38 stays finite, beyond the bfloat16 maximum is inf
    assert np.isfinite(r(1e38)) and np.isinf(r(3.4e38))
    assert r(np.zeros((2, 0))).shape == (2, 0)


def test_round_to_bfloat16_is_nearest_with_half_an_ulp_of_error():
    exponents = np.random.default_rng(4).integers(-6, 6, 20_000)
    x = np.random.default_rng(3).standard_normal(20_000) * 10.0**exponents
    y = ws.numerics.round_to_bfloat16(x).astype(np.float64)
    x32 = x.astype(np.float32).astype(np.float64)
    # at most half a unit in the 8th significant bit: 2^(e - 8) for |x| in [2^e, 2^(e+1))
    half_ulp = 2.0 ** (np.floor(np.log2(np.abs(x32))) - 8)
    assert np.all(np.abs(y - x32) <= half_ulp)
    assert np.any(np.abs(y - x32) > 0.9 * half_ulp)  # and the bound is reached
    # the result has 8 significant bits: the lower 16 bits of its float32 pattern are zero
    assert np.all(ws.numerics.round_to_bfloat16(x).view(np.uint32) & 0xFFFF == 0)
    # idempotent, and monotone
    np.testing.assert_array_equal(ws.numerics.round_to_bfloat16(y), y.astype(np.float32))
    order = np.argsort(x32)
    assert np.all(np.diff(y[order]) >= 0)


def test_round_to_bfloat16_refuses_bad_input():
    with pytest.raises(ValueError, match="^x"):
        ws.numerics.round_to_bfloat16([1.0, np.nan])
    with pytest.raises(TypeError, match="^x"):
        ws.numerics.round_to_bfloat16(["a"])
