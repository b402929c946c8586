"""whysqrt.positional: the sinusoidal encoding, the shift rotation M_Δ, RoPE, figures, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws
from whysqrt.interactive import png_bytes

P = ws.positional
even_d = st.integers(1, 64).map(lambda n: 2 * n)
pos = st.integers(0, 10_000)


def test_encoding_known_values_d4():
    # d_model = 4: omega_0 = 1, omega_1 = 10000**(-1/2) = 0.01
    pe = P.sinusoidal_encoding([0, 1, 100], 4)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1])
    np.testing.assert_allclose(pe[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)])
    np.testing.assert_allclose(pe[2], [math.sin(100), math.cos(100), math.sin(1), math.cos(1)])


def test_wavelengths_for_512():
    lam = P.wavelengths(512)
    assert lam.size == 256
    assert lam[0] == pytest.approx(2 * math.pi)
    assert lam[-1] == pytest.approx(2 * math.pi * 10000 ** (510 / 512))
    assert lam[-1] < 2 * math.pi * 10000
    assert np.all(np.diff(lam) > 0)


def test_shift_matrix_by_hand_d2():
    m = P.shift_matrix(2, 2)  # omega_0 = 1
    np.testing.assert_allclose(m, [[math.cos(2), math.sin(2)], [-math.sin(2), math.cos(2)]])


@settings(max_examples=50, deadline=None)
@given(pos, st.integers(-500, 500), even_d)
def test_shift_is_a_rotation_independent_of_pos(p, k, d):
    m = P.shift_matrix(k, d)
    np.testing.assert_allclose(
        P.sinusoidal_encoding([p + k], d)[0], m @ P.sinusoidal_encoding([p], d)[0], atol=1e-8
    )
    np.testing.assert_allclose(m.T @ m, np.eye(d), atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(pos, pos, st.integers(0, 300), even_d)
def test_dot_product_depends_only_on_offset(p1, p2, k, d):
    a = P.sinusoidal_encoding([p1, p1 + k], d)
    b = P.sinusoidal_encoding([p2, p2 + k], d)
    expected = np.cos(k * P.frequencies(d)).sum()
    assert a[0] @ a[1] == pytest.approx(expected, abs=1e-7)
    assert b[0] @ b[1] == pytest.approx(expected, abs=1e-7)


def test_shift_matrices_compose():
    np.testing.assert_allclose(
        P.shift_matrix(2, 8) @ P.shift_matrix(3, 8), P.shift_matrix(5, 8), atol=1e-12
    )


def test_rope_by_hand():
    # one pair, d = 2, theta_0 = 1: rotate (1, 0) at position pi/2 -> (0, 1)
    out = P.rope_rotate([[1.0, 0.0]], [math.pi / 2])
    np.testing.assert_allclose(out, [[0.0, 1.0]], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), pos, pos, st.integers(0, 200))
def test_rope_score_depends_only_on_offset_and_preserves_norm(seed, m, n, off):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, 1, 16))
    s1 = P.rope_rotate(q, [m])[0] @ P.rope_rotate(k, [m + off])[0]
    s2 = P.rope_rotate(q, [n])[0] @ P.rope_rotate(k, [n + off])[0]
    assert s1 == pytest.approx(s2, abs=1e-8)
    assert np.linalg.norm(P.rope_rotate(q, [m])) == pytest.approx(np.linalg.norm(q))


def test_rope_batched_shape():
    x = np.ones((2, 3, 5, 8))
    assert P.rope_rotate(x, np.arange(5)).shape == x.shape


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: P.sinusoidal_encoding([0, 1], 7), ValueError, "d_model"),
        (lambda: P.sinusoidal_encoding([0, 1], 0), ValueError, "d_model"),
        (lambda: P.sinusoidal_encoding([0, 1], 2.5), TypeError, "d_model"),
        (lambda: P.sinusoidal_encoding([0, np.nan], 4), ValueError, "positions"),
        (lambda: P.sinusoidal_encoding([], 4), ValueError, "positions"),
        (lambda: P.sinusoidal_encoding([[0, 1]], 4), ValueError, "positions"),
        (lambda: P.sinusoidal_encoding(["a"], 4), TypeError, "positions"),
        (lambda: P.frequencies(4, base=1.0), ValueError, "base"),
        (lambda: P.shift_matrix(np.inf, 4), ValueError, "delta"),
        (lambda: P.rope_rotate(np.ones((3, 5)), [0, 1, 2]), ValueError, "x's last axis"),
        (lambda: P.rope_rotate(np.ones((3, 4)), [0, 1]), ValueError, "positions"),
        (lambda: P.rope_rotate(np.ones(4), [0]), ValueError, "x"),
        (lambda: P.shift_plot(-1, 16), ValueError, "delta"),
        (lambda: P.shift_plot(1.5, 16), TypeError, "delta"),
        (lambda: P.encoding_heatmap(15), ValueError, "d_model"),
        (lambda: P.tensor2tensor_frequencies(2), ValueError, "d_model"),
        (lambda: P.tensor2tensor_frequencies(8, min_timescale=0.0), ValueError, "min_timescale"),
        (lambda: P.tensor2tensor_frequencies(8, max_timescale=0.5), ValueError, "max_timescale"),
        (lambda: P.rope_mean_logit([0], 8, 1.5), ValueError, "rho"),
        (lambda: P.rope_mean_logit([0], 7, 0.5), ValueError, "d_k"),
        (lambda: P.rope_mean_logit([np.nan], 8, 0.5), ValueError, "offsets"),
        (lambda: P.permutation_check(n=1), ValueError, "n"),
        (lambda: P.permutation_check(seed=-1), ValueError, "seed"),
        (lambda: P.rope_correlation_plot(rho=2.0), ValueError, "rho"),
    ],
)
def test_bad_input(call, exc, name):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value).startswith(name)


def test_figures_and_alt_text():
    a, b = P.shift_plot(0, 16), P.shift_plot(5, 16)
    assert isinstance(a, Figure) and png_bytes(a) != png_bytes(b)
    alt = P.describe_shift_plot(5, 16)
    assert "16" in alt and f"{np.cos(5 * P.frequencies(16)).sum():.2f}" in alt
    assert "128 columns" in P.describe_encoding_heatmap(128, 50)
    assert isinstance(P.encoding_heatmap(16, 20), Figure)


def test_tensor2tensor_frequencies_reach_max_timescale():
    # get_timing_signal_1d: a geometric sequence from 1/min_timescale to exactly 1/max_timescale
    f = P.tensor2tensor_frequencies(512)
    assert f.size == 256
    assert f[0] == pytest.approx(1.0)
    assert 2 * math.pi / f[-1] == pytest.approx(2 * math.pi * 10000, rel=1e-12)
    # d_model = 4: two timescales, 1 and 10000
    np.testing.assert_allclose(P.tensor2tensor_frequencies(4), [1.0, 1e-4])
    # the paper's formula does not reach it
    assert P.wavelengths(512)[-1] < 2 * math.pi / f[-1]


def test_rope_mean_logit_closed_form_and_monte_carlo():
    d = 16
    # offset 0: rho * sqrt(d_k); independent pair: 0 at every offset
    assert P.rope_mean_logit([0], d, 0.5)[0] == pytest.approx(0.5 * math.sqrt(d))
    np.testing.assert_allclose(P.rope_mean_logit([0, 3, 100], d, 0.0), 0.0)
    rng = np.random.default_rng(0)
    n = 40_000
    q = rng.standard_normal((n, d))
    k = 0.5 * q + math.sqrt(0.75) * rng.standard_normal((n, d))
    for off in (0, 5, 300):
        s = (P.rope_rotate(q, np.full(n, off)) * P.rope_rotate(k, np.zeros(n))).sum(1) / 4
        se = s.std() / math.sqrt(n)
        assert abs(s.mean() - P.rope_mean_logit([off], d, 0.5)[0]) < 5 * se


def test_rope_mean_logit_review_numbers():
    # issue 17, point 10: rho = 0.5, d_k = 128 -> 5.66 at distance 0, -0.30 at 4096
    m = P.rope_mean_logit([0, 4096], 128, 0.5)
    assert m[0] == pytest.approx(5.657, abs=1e-3)
    assert m[1] == pytest.approx(-0.299, abs=1e-3)


def test_permutation_check_invariance_vs_equivariance():
    r = P.permutation_check(n=5, d_k=4, seed=3)
    assert r["keys"] < 1e-12 and r["tokens"] < 1e-12
    assert r["tokens-unpermuted"] > 1e-3


def test_rope_correlation_plot_and_alt():
    a, b = P.rope_correlation_plot(0.5, 128), P.rope_correlation_plot(0.25, 128)
    assert isinstance(a, Figure) and png_bytes(a) != png_bytes(b)
    alt = P.describe_rope_correlation_plot(0.5, 128)
    assert "5.66" in alt and "-0.30" in alt and "4096" in alt


def test_rope_correlation_plot_compares_bases():
    one, two = P.rope_correlation_plot(0.5, 128, bases=(10_000,)), P.rope_correlation_plot()
    assert png_bytes(one) != png_bytes(two)
    alt = P.describe_rope_correlation_plot(0.5, 128)
    assert "base 10,000" in alt and "base 500,000" in alt and "2.17" in alt
    # a larger base rotates slower, so the correlated logit stays higher at Δ = 4096
    m10k, m500k = (P.rope_mean_logit([4096], 128, 0.5, base=b)[0] for b in P.ROPE_BASES)
    assert m500k > 2.0 > 0.0 > m10k


def _deepseek_v3_yarn(dim, base, factor, n_train, beta_fast=32, beta_slow=1):
    """DeepSeek-V3 inference/model.py precompute_freqs_cis, transcribed line by line."""

    def find_correction_dim(num_rotations):
        return dim * math.log(n_train / (num_rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(find_correction_dim(beta_fast)), 0)
    high = min(math.ceil(find_correction_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float32) - low) / (high - low), 0, 1)
    smooth = 1 - ramp
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    return freqs / factor * (1 - smooth) + freqs * smooth


@pytest.mark.parametrize("dim, factor, n_train", [(64, 40, 4096), (128, 8, 8192), (16, 4, 512)])
def test_yarn_matches_deepseek_v3_code(dim, factor, n_train):
    ours = P.extended_frequencies(dim, "yarn", factor, n_train)
    np.testing.assert_allclose(ours, _deepseek_v3_yarn(dim, 10_000.0, factor, n_train), rtol=1e-6)


@pytest.mark.parametrize("dim, n_train", [(64, 4096), (128, 4096), (128, 32768)])
def test_yarn_ramp_keeps_fast_pairs_and_interpolates_slow_ones(dim, n_train):
    ramp = P.yarn_ramp(dim, n_train)
    turns = n_train * P.frequencies(dim) / (2 * np.pi)  # full turns within the training length
    assert np.all(turns[ramp == 0] > 32) and np.all(turns[ramp == 1] < 1)
    assert np.all(np.diff(ramp) >= 0) and (ramp == 0).any() and (ramp == 1).any()
    assert [int((P.yarn_ramp(64, 4096) == x).sum()) for x in (0, 1)] == [11, 9]


def test_pi_and_ntk_frequencies():
    theta = P.frequencies(64)
    np.testing.assert_allclose(P.extended_frequencies(64, "pi", 8), theta / 8)
    ntk = P.extended_frequencies(64, "ntk", 8)
    np.testing.assert_allclose(ntk, P.frequencies(64, 10_000 * 8 ** (64 / 62)))
    # the fastest pair is unchanged, the slowest is divided by exactly the factor
    assert ntk[0] == pytest.approx(theta[0]) and ntk[-1] == pytest.approx(theta[-1] / 8)
    assert np.all(np.diff(theta / ntk) > 0)
    # factor 1 changes nothing, whatever the method
    for method in P.EXTENSION_METHODS:
        np.testing.assert_allclose(P.extended_frequencies(32, method, 1.0), P.frequencies(32))


def test_extension_plot_and_alt():
    a, b = P.extension_plot(64, 40, 4096), P.extension_plot(64, 8, 4096)
    assert isinstance(a, Figure) and png_bytes(a) != png_bytes(b)
    alt = P.describe_extension_plot(64, 40, 4096)
    assert "11 fastest" in alt and "9 slowest" in alt and "40-fold" in alt


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: P.extended_frequencies(64, "linear", 8), "method"),
        (lambda: P.extended_frequencies(64, "pi", 0.5), "factor"),
        (lambda: P.extended_frequencies(2, "ntk", 8), "d_k"),
        (lambda: P.yarn_ramp(64, 4096, beta_fast=1, beta_slow=32), "beta_slow"),
        (lambda: P.yarn_ramp(64, 0), "n_train"),
        (lambda: P.rope_correlation_plot(bases=()), "bases"),
        (lambda: P.rope_correlation_plot(bases=(1.0,)), "base"),
    ],
)
def test_extension_bad_input(call, name):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(name)


def _meta_llama3_apply_scaling(freqs, factor=8, low=1, high=4, old=8192):
    # loop transcription of meta-llama/llama-models models/llama3/reference_impl/model.py
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < old / high:
            out.append(f)
        elif wl > old / low:
            out.append(f / factor)
        else:
            s = (old / wl - low) / (high - low)
            out.append((1 - s) * f / factor + s * f)
    return np.array(out)


@pytest.mark.parametrize("dim, base", [(128, 500_000.0), (64, 10_000.0)])
def test_llama3_matches_meta_reference(dim, base):
    theta = P.frequencies(dim, base)
    ours = P.llama3_frequencies(dim, base)
    np.testing.assert_allclose(ours, _meta_llama3_apply_scaling(theta), rtol=1e-12)
    stretch = theta / ours
    assert stretch[0] == pytest.approx(1) and stretch[-1] == pytest.approx(8)
    assert np.all(np.diff(stretch) >= -1e-12)
    # Llama 3.1 (d_k 128, base 500,000): 29 pairs kept, 29 divided by 8, 6 in between
    s = P.frequencies(128, 500_000.0) / P.llama3_frequencies(128)
    assert [int(np.isclose(s, 1).sum()), int(np.isclose(s, 8).sum())] == [29, 29]


def test_llama3_rejects_bad_input():
    with pytest.raises(ValueError, match="factor"):
        P.llama3_frequencies(128, factor=0.5)
    with pytest.raises(ValueError, match="low_freq_factor"):
        P.llama3_frequencies(128, low_freq_factor=4, high_freq_factor=1)
    with pytest.raises(ValueError, match="n_train"):
        P.llama3_frequencies(128, n_train=0)
