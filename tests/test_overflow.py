"""whysqrt.overflow: exp limits, masking, online softmax/attention, the classifier's softmax."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure

import whysqrt as ws

o = ws.overflow
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


# -- exp limits ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", o.FLOAT_DTYPES)
def test_exp_limits_are_tight(dtype):
    lim = o.exp_limits(dtype)
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        x = dt.type(lim["overflow"])
        assert np.isfinite(np.exp(x)) and not np.isfinite(np.exp(np.nextafter(x, dt.type(np.inf))))
        u = dt.type(lim["underflow"])
        assert np.exp(u) > 0 and np.exp(np.nextafter(u, dt.type(-np.inf))) == 0
        nrm = dt.type(lim["normal"])
        assert np.exp(nrm) >= np.finfo(dt).tiny > np.exp(np.nextafter(nrm, dt.type(-np.inf)))


@pytest.mark.parametrize("dtype", o.FLOAT_DTYPES)
def test_exp_limits_near_log_of_max(dtype):
    lim = o.exp_limits(dtype)
    fi = np.finfo(dtype)
    # within one spacing (plus rounding) of log(max) and log(smallest subnormal / 2)
    assert lim["overflow"] == pytest.approx(math.log(float(fi.max)), abs=0.01)
    smallest = float(fi.smallest_subnormal)
    assert lim["underflow"] == pytest.approx(math.log(smallest) - math.log(2), abs=0.05)


def test_float16_overflow_value_by_hand():
    # log(65504) = 11.0898; float16 spacing at 8..16 is 2**-7, and exp(11.09375) > 65520
    assert o.exp_limits("float16")["overflow"] == 11.0859375


@pytest.mark.parametrize(
    "bad, exc", [("int32", ValueError), ("float128x", TypeError), (object, ValueError)]
)
def test_exp_limits_bad_dtype(bad, exc):
    with pytest.raises((ValueError, TypeError), match=r"^dtype"):
        o.exp_limits(bad)


# -- float16 scores ----------------------------------------------------------------------
def test_float16_scores_by_hand():
    q, k = np.array([[2.0, 0.0], [300.0, 300.0]]), np.array([[1.0, 1.0], [300.0, -300.0]])
    s = o.float16_scores(q, k)  # scale 1/sqrt(2) applied after the product
    assert s.dtype == np.float16
    np.testing.assert_allclose(
        s.astype(float), np.array([[2, 600], [600, 0]]) / math.sqrt(2), rtol=2e-3
    )
    # rounding every product to float16 overflows 300*300 = 90000 > 65504: inf - inf = NaN
    with np.errstate(invalid="ignore"):
        assert np.isnan(o.float16_scores(q, k, accumulate="float16")[1, 1])


def test_float16_scores_match_numpy_half_matmul():
    rng = np.random.default_rng(0)
    q, k = 40 * rng.standard_normal((6, 64)), 40 * rng.standard_normal((5, 64))
    with np.errstate(over="ignore"):
        numpy_half = q.astype(np.float16) @ k.astype(np.float16).T
    ours = o.float16_scores(q, k) / np.float16(0.125)
    np.testing.assert_array_equal(np.isinf(numpy_half), np.isinf(ours))
    finite = np.isfinite(numpy_half)
    np.testing.assert_allclose(ours[finite], numpy_half[finite], rtol=2e-3)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 40), st.floats(0.0, 60.0), st.integers(0, 2**32 - 1))
def test_float16_overflow_iff_exact_product_reaches_65520(d_k, sigma, seed):
    rng = np.random.default_rng(seed)
    q, k = sigma * rng.standard_normal((3, d_k)), sigma * rng.standard_normal((4, d_k))
    exact = q.astype(np.float16).astype(float) @ k.astype(np.float16).astype(float).T
    s = o.float16_scores(q, k)
    clear = np.abs(exact) < 65400  # away from the rounding boundary
    assert np.isfinite(s[clear]).all()
    assert np.isinf(s[np.abs(exact) > 65600]).all()
    assert np.isfinite(o.float16_scores(q, k, scale_first=True)).sum() >= np.isfinite(s).sum()


@pytest.mark.parametrize("acc", ["float32", "float16"])
def test_float16_threshold_is_tight_and_scaling_first_raises_it(acc):
    d = 64
    sig = o.float16_overflow_threshold(d, accumulate=acc, n=8)
    zq, zk = o._unit_qk(d, 8, 0)
    assert not np.isfinite(o.float16_scores(sig * zq, sig * zk, accumulate=acc)).all()
    lower = sig / 1.002
    assert np.isfinite(o.float16_scores(lower * zq, lower * zk, accumulate=acc)).all()
    first = o.float16_overflow_threshold(d, scale_first=True, accumulate=acc, n=8)
    assert first / sig == pytest.approx(d**0.25, rel=0.06)


def test_float16_table_has_every_pipeline():
    values, table = o.float16_threshold_table(d_ks=(16,), n=4)
    assert len(values) == 4 and "<table" in table.html and "d_k = 16" in table.html


def test_float16_bad_input():
    with pytest.raises(ValueError, match=r"^q"):
        o.float16_scores(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"^q"):
        o.float16_scores(np.full((1, 2), 7e4), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"^k"):
        o.float16_scores(np.zeros((1, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"^accumulate"):
        o.float16_scores(np.zeros((1, 2)), np.zeros((1, 2)), accumulate="bfloat16")
    with pytest.raises(TypeError, match=r"^scale_first"):
        o.float16_scores(np.zeros((1, 2)), np.zeros((1, 2)), scale_first="yes")
    with pytest.raises(ValueError, match=r"^d_k"):
        o.float16_overflow_threshold(0)
    with pytest.raises(ValueError, match=r"^d_ks"):
        o.float16_threshold_table(d_ks=(64, -1))


# -- masking --------------------------------------------------------------------------
def test_masked_softmax_known_values_and_empty_row():
    s = np.array([[0.0, 5.0, np.log(3.0)], [1.0, 2.0, 3.0]])
    m = np.array([[True, False, True], [False, False, False]])
    w, empty = o.masked_softmax(s, m)
    np.testing.assert_allclose(w[0], [0.25, 0.0, 0.75])
    np.testing.assert_array_equal(w[1], 0.0)
    assert empty.tolist() == [False, True]


@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 9)), elements=finite), st.data()
)
def test_masked_softmax_matches_attention_on_nonempty_rows(s, data):
    m = data.draw(arrays(np.bool_, s.shape))
    w, empty = o.masked_softmax(s, m)
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(w.sum(axis=-1), np.where(empty, 0.0, 1.0), atol=1e-12)
    assert np.all(w[~m] == 0)
    rows = ~empty
    if rows.any():
        expected = ws.softmax(np.where(m[rows], s[rows], -1e300))
        np.testing.assert_allclose(w[rows], expected, atol=1e-12)


def test_masked_softmax_bad_input():
    with pytest.raises(TypeError, match=r"^mask"):
        o.masked_softmax(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^mask"):
        o.masked_softmax(np.zeros((2, 3)), np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"^scores"):
        o.masked_softmax(np.array([[np.nan, 1.0]]), np.ones((1, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"^scores"):
        o.masked_softmax(np.zeros((0,)), np.ones(0, dtype=bool))
    with pytest.raises(TypeError, match=r"^scores"):
        o.masked_softmax(np.array(["a"]), np.ones(1, dtype=bool))


# -- online softmax and attention ---------------------------------------------------------
@given(arrays(np.float64, st.integers(1, 40), elements=finite))
def test_online_softmax_equals_direct_for_every_block_size(x):
    direct = ws.softmax(x)
    for b in range(1, x.size + 2):
        np.testing.assert_allclose(o.online_softmax(x, b), direct, rtol=1e-10, atol=1e-300)
        assert o.online_softmax_trace(x, b).logsumexp == pytest.approx(
            float(ws.logsumexp(x)), rel=1e-12, abs=1e-12
        )


@settings(deadline=None, max_examples=40)
@given(
    st.integers(1, 5),
    st.integers(1, 17),
    st.integers(1, 6),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.floats(0.1, 30.0),
)
def test_online_attention_equals_direct_for_every_block_size(n_q, n_k, d_k, d_v, seed, spread):
    rng = np.random.default_rng(seed)
    q, k = spread * rng.standard_normal((n_q, d_k)), spread * rng.standard_normal((n_k, d_k))
    val = rng.standard_normal((n_k, d_v))
    direct, _ = ws.scaled_dot_product_attention(q, k, val)
    for b in range(1, n_k + 1):
        np.testing.assert_allclose(o.online_attention(q, k, val, b), direct, rtol=1e-9, atol=1e-12)


def test_online_trace_by_hand():
    t = o.online_softmax_trace([0.0, 1.0, 3.0], 2)
    np.testing.assert_allclose(t.m, [1.0, 3.0])
    np.testing.assert_allclose(t.l, [1 + math.exp(-1), math.exp(-3) + math.exp(-2) + 1])
    assert t.bounds == ((0, 2), (2, 3))


def test_online_softmax_survives_float64_overflow_range():
    x = np.array([1000.0, 999.0, -1000.0])
    np.testing.assert_allclose(o.online_softmax(x, 1), ws.softmax(x))


def test_online_bad_input():
    with pytest.raises(ValueError, match=r"^block_size"):
        o.online_softmax([1.0, 2.0], 0)
    with pytest.raises(TypeError, match=r"^block_size"):
        o.online_softmax([1.0, 2.0], 1.5)
    with pytest.raises(ValueError, match=r"^x"):
        o.online_softmax_trace(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match=r"^x"):
        o.online_softmax([np.inf], 1)
    with pytest.raises(ValueError, match=r"^x"):
        o.online_softmax([], 1)
    with pytest.raises(ValueError, match=r"^q"):
        o.online_attention(np.zeros((2, 3)), np.zeros((4, 2)), np.zeros((4, 1)), 2)
    with pytest.raises(ValueError, match=r"^v"):
        o.online_attention(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((3, 1)), 2)
    with pytest.raises(ValueError, match=r"^scale"):
        o.online_attention(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((4, 1)), 2, scale=-1.0)


# -- the classifier's softmax -------------------------------------------------------------
def test_cross_entropy_grad_matches_finite_differences():
    z = np.array([0.3, -1.2, 2.0, 0.0])

    def loss(z_):
        return -float(ws.log_softmax(z_)[1])

    eps = 1e-6
    num = np.array([(loss(z + eps * e) - loss(z - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(o.cross_entropy_grad(z, 1), num, atol=1e-8)


@given(arrays(np.float64, st.integers(2, 12), elements=st.floats(-50, 50)), st.data())
def test_cross_entropy_grad_sums_to_zero_and_is_bounded(z, data):
    t = data.draw(st.integers(0, z.size - 1))
    g = o.cross_entropy_grad(z, t)
    assert abs(g.sum()) < 1e-12 and np.linalg.norm(g) <= math.sqrt(2) + 1e-12
    assert g[t] <= 0


def test_saturation_contrast():
    small, big = o.saturation_gradients(0.1), o.saturation_gradients(50.0)
    assert big["ce_wrong"] > 1.3 and big["jac"] < 1e-6 and big["ce_right"] < 1e-6
    assert small["jac"] > big["jac"] and small["p_max"] < big["p_max"]


@pytest.mark.parametrize("init", sorted(o.OUTPUT_INITS))
def test_output_logit_variance_matches_formula(init):
    r = o.output_logit_variance(64, 50, init, n=2000, seed=3)
    assert abs(r["sample"] - r["exact"]) < 5 * r["se"] + 0.05 * r["exact"]


def test_output_logit_variance_by_hand():
    assert o.output_logit_variance(512, 10, "unit", n=10)["exact"] == 512
    assert o.output_logit_variance(512, 10, "lecun", n=10)["exact"] == pytest.approx(1.0)


def test_classifier_bad_input():
    with pytest.raises(ValueError, match=r"^target"):
        o.cross_entropy_grad([1.0, 2.0], 2)
    with pytest.raises(TypeError, match=r"^target"):
        o.cross_entropy_grad([1.0, 2.0], 0.5)
    with pytest.raises(ValueError, match=r"^logits"):
        o.cross_entropy_grad([[1.0, 2.0]], 0)
    with pytest.raises(ValueError, match=r"^scale"):
        o.saturation_gradients(0.0)
    with pytest.raises(ValueError, match=r"^n_classes"):
        o.saturation_gradients(1.0, n_classes=1)
    with pytest.raises(ValueError, match=r"^init"):
        o.output_logit_variance(8, 2, "he")
    with pytest.raises(ValueError, match=r"^d_model"):
        o.output_logit_variance(0, 2, "unit")


# -- figures -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, describe, params",
    [
        (o.online_softmax_figure, o.describe_online_softmax_figure, {"step": 3}),
        (o.saturation_figure, o.describe_saturation_figure, {"scale": 8.0, "correct": True}),
    ],
)
def test_figures_and_alt_text(make, describe, params):
    assert isinstance(make(**params), Figure)
    text = describe(**params)
    assert isinstance(text, str) and len(text) > 40


def test_figure_bad_input():
    with pytest.raises(TypeError, match=r"^correct"):
        o.saturation_figure(1.0, correct="yes")
    with pytest.raises(ValueError, match=r"^block_size"):
        o.online_softmax_figure(block_size=0)
    with pytest.raises(ValueError, match=r"^step"):
        o.online_softmax_figure(step=0)
    with pytest.raises(ValueError, match=r"^step"):
        o.describe_online_softmax_figure(step=7)


@pytest.mark.parametrize("step", range(1, 7))
def test_online_alt_text_is_grammatical_and_ends_at_direct(step):
    text = o.describe_online_softmax_figure(step)
    assert "1 blocks" not in text and f"after block {step} of 6" in text
    assert ("equals the direct sum" in text) == (step == 6)


@pytest.mark.parametrize("step", range(1, 7))
def test_online_figure_compares_l_with_the_direct_sum_over_the_logits_seen(step):
    """Review: ℓ is relative to the running max, so it must be compared with the sum over the
    logits seen so far (relative to their max), not with the final sum over all 24 logits."""
    x = o._demo_logits(24, 0)
    t = o.online_softmax_trace(x, 4)
    done = t.bounds[step - 1][1]
    m_seen, direct = o._direct_seen(x, done)
    assert m_seen == pytest.approx(t.m[step - 1]) and direct == pytest.approx(t.l[step - 1])
    text = o.describe_online_softmax_figure(step)
    assert f"ℓ = {t.l[step - 1]:.3f}" in text and f"{direct:.3f}" in text.split("ℓ =")[1]
    final = float(np.exp(x - x.max()).sum())
    if step < 6:
        assert f"{final:.3f}" not in text  # the all-logits sum would not match ℓ yet
    fig = o.online_softmax_figure(step)
    cells = {c.get_text().get_text() for c in fig.axes[1].tables[0].get_celld().values()}
    assert f"direct, first {done}" in cells and f"{direct:.3f}" in cells


def test_products_rounded_to_float16_cancel_to_nan_not_zero():
    """Issue 17.8: (300, 300)·(300, -300) is 0 with a float32 accumulator, NaN (inf - inf) in float16."""
    q, k = np.array([[300.0, 300.0]]), np.array([[300.0, -300.0]])
    assert ws.overflow.float16_scores(q, k, accumulate="float32")[0, 0] == 0
    assert np.isnan(ws.overflow.float16_scores(q, k, accumulate="float16")[0, 0])
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan((q.astype(np.float16) * k.astype(np.float16)).sum())


def test_bf16_softmax_shift_grows_with_the_logit_scale():
    out = ws.overflow.bf16_softmax_shift((1.0, 10.0), n_keys=64, n_rows=200, n_seeds=3, seed=0)
    assert out["tv"][1] > 3 * out["tv"][0] > 0
    # a logit's rounding error is at most half a unit in its 8th bit, so it scales with sigma
    assert out["logit_err"][1] == pytest.approx(10 * out["logit_err"][0], rel=0.3)
    assert np.all(out["tv_se"] > 0) and np.all(out["tv_q99"] >= out["tv_median"])
    tab = ws.overflow.bf16_table(out, 64, 200, 3)
    assert tab.cells[0][0] == "1"


def test_bf16_softmax_shift_hand_check():
    out = ws.overflow.bf16_softmax_shift((2.0,), n_keys=8, n_rows=5, n_seeds=2, seed=1)
    tvs = []
    for r in range(2):
        z = np.random.default_rng([1, r]).standard_normal((5, 8))
        s = (2.0 * z).astype(np.float32)
        p = ws.softmax(s.astype(float))
        p16 = ws.softmax(ws.numerics.round_to_bfloat16(s).astype(float))
        tvs.append(0.5 * np.abs(p - p16).sum(axis=1))
    assert out["tv"][0] == pytest.approx(np.mean(tvs))


@pytest.mark.parametrize("block", [1, 3, 10])
def test_online_lse_exp2_matches_logsumexp_and_softmax(block):
    x = np.random.default_rng(2).standard_normal(10) * 20
    lse, p = ws.overflow.online_lse_exp2(x, block, scale=0.125)
    assert lse == pytest.approx(float(ws.logsumexp(0.125 * x)), abs=1e-12)
    np.testing.assert_allclose(p, ws.softmax(0.125 * x), atol=1e-14)


def test_online_lse_exp2_masked_keys_and_empty_rows():
    lse, p = ws.overflow.online_lse_exp2([-np.inf, 1.0, 2.0], 1)
    np.testing.assert_allclose(p, [0.0, *ws.softmax([1.0, 2.0])])
    lse, p = ws.overflow.online_lse_exp2([-np.inf, -np.inf], 1)
    assert lse == np.inf and np.all(p == 0)  # zeros, not NaN
    for bad in ([np.nan], [np.inf, 1.0], []):
        with pytest.raises(ValueError, match="^x"):
            ws.overflow.online_lse_exp2(bad, 1)
    with pytest.raises(ValueError, match="^scale"):
        ws.overflow.online_lse_exp2([1.0], 1, scale=0.0)
    with pytest.raises(ValueError, match="^sigmas"):
        ws.overflow.bf16_softmax_shift([-1.0])
    with pytest.raises(TypeError, match="^result"):
        ws.overflow.bf16_table({}, 1, 1, 1)
