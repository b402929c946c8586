"""whysqrt.practice: log n scaling, QK-norm training, soft-capping, Gemma's scale."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws

pr = ws.practice


# ------------------------------------------------------------------ hand values


def test_log_n_multiplier_hand_values():
    np.testing.assert_allclose(pr.log_n_multiplier([512, 4096, 64]), [1.0, 4 / 3, 2 / 3])
    assert pr.log_n_multiplier(64, base=64) == pytest.approx(1.0)


def test_uniform_softmax_entropy_is_log_n():
    # sigma = 0: every logit equal, the softmax is uniform
    h = pr.noise_entropy([1, 7, 64], [0.0], rows=3)
    np.testing.assert_allclose(h[0], np.log([1, 7, 64]), atol=1e-12)


def test_entropy_approx_matches_simulation_at_large_n():
    h = pr.noise_entropy([4096], [0.5, 1.0], rows=200, seed=1)[:, 0]
    np.testing.assert_allclose(h, pr.entropy_approx(4096, np.array([0.5, 1.0])), atol=0.03)


def test_sigma_for_entropy_inverts_the_approximation():
    s = pr.sigma_for_entropy([512, 4096], 3.0)
    np.testing.assert_allclose(pr.entropy_approx([512, 4096], s), 3.0)


def test_solve_sigma_hits_the_target_entropy():
    s = pr.solve_sigma(256, 3.0, rows=50, seed=2)
    assert pr.noise_entropy([256], [s], rows=50, seed=2)[0, 0] == pytest.approx(3.0, abs=1e-6)
    assert pr.solve_sigma(256, 4.0, rows=50, seed=2) < s  # higher entropy, smaller sigma


# ------------------------------------------------------------------ QK-norm


def _numeric(fun, w, eps=1e-6):
    g = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        g[idx] = (fun(w + e) - fun(w - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("variant", ["plain", "norm", "norm+gain"])
def test_qk_gradients_match_finite_differences(variant):
    rng = np.random.default_rng(4)
    w_q, w_k = rng.standard_normal((2, 2, 5, 4))
    gamma = np.array([1.7, 0.6])
    x0, x, t = pr._qk_batch(rng, 3, 4, 4, 0.5, runs=2)

    def loss(wq=w_q, wk=w_k, g=gamma):
        return pr.qk_loss_and_grads(wq, wk, x0, x, t, variant, g)[0].sum()

    _, g_q, g_k, g_gamma, _ = pr.qk_loss_and_grads(w_q, w_k, x0, x, t, variant, gamma)
    num_q = _numeric(lambda w: loss(wq=w), w_q)
    num_k = _numeric(lambda w: loss(wk=w), w_k)
    num_g = _numeric(lambda g: loss(g=g), gamma)
    assert np.abs(num_q).max() > 1e-3
    np.testing.assert_allclose(g_q, num_q, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g_k, num_k, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g_gamma, num_g, rtol=1e-5, atol=1e-8)
    assert (np.abs(num_g).max() > 1e-3) == (variant == "norm+gain")
    assert not np.allclose(2 * g_q, num_q)  # the comparison can fail


@pytest.mark.parametrize("variant", ["plain", "norm", "norm+gain", "clip"])
def test_training_logits_are_the_chapters_qk_logits(variant):
    # qk_loss_and_grads computes the logits inline (reusing them backwards); they must be
    # the logits of qk_logits, the function the chapter prints
    rng = np.random.default_rng(7)
    w_q, w_k = rng.standard_normal((2, 2, 5, 4))
    x0, x, t = pr._qk_batch(rng, 6, 4, 4, 0.5, runs=2)
    gamma = np.array([0.5, 3.0])
    s = pr.qk_loss_and_grads(w_q, w_k, x0, x, t, variant, gamma)[4]
    q, k = x0 @ w_q.transpose(0, 2, 1), np.einsum("rbnd,rkd->rbnk", x, w_k)
    g = gamma if variant == "norm+gain" else np.ones(2)
    ref = pr.qk_logits(q, k, variant in ("norm", "norm+gain"), g[:, None])
    np.testing.assert_allclose(s, ref, rtol=1e-12, atol=1e-12)


def test_runs_are_independent_and_paired():
    # one run of a vectorised batch equals the same run alone: the run axis does not mix
    rng = np.random.default_rng(5)
    w_q, w_k = rng.standard_normal((2, 3, 5, 4))
    x0, x, t = pr._qk_batch(rng, 6, 4, 4, 0.5, runs=3)
    full = pr.qk_loss_and_grads(w_q, w_k, x0, x, t, "norm+gain", np.array([1.0, 2.0, 3.0]))
    one = pr.qk_loss_and_grads(w_q[1:2], w_k[1:2], x0[1:2], x[1:2], t[1:2], "norm+gain", [2.0])
    for a, b in zip(full, one):
        np.testing.assert_allclose(np.asarray(a)[1:2], b)
    # the same seed gives every variant the same start (paired comparison)
    a, b = pr.qk_train("plain", steps=1, n_runs=2), pr.qk_train("norm+gain", steps=1, n_runs=2)
    assert not np.allclose(a.loss, b.loss)  # different logits...
    c = pr.qk_train("norm", steps=1, n_runs=2)
    np.testing.assert_allclose(b.loss, c.loss)  # ...but the gain starts at 1


def test_qk_norm_bounds_the_logits_and_the_gain_lifts_the_bound():
    plain, normed, gained = (
        pr.qk_train(v, steps=150, n_runs=3) for v in ("plain", "norm", "norm+gain")
    )
    assert np.all(plain.max_logit[0, :, -20:].mean(-1) > 3 * plain.max_logit[0, :, :5].mean(-1))
    assert normed.max_logit.max() <= math.sqrt(16) + 1e-9
    assert np.all(gained.max_logit <= gained.gamma * math.sqrt(16) + 1e-9)
    assert gained.max_logit.max() > math.sqrt(16)  # the gain has grown
    assert np.all(gained.final("loss") < normed.final("loss"))
    summary = pr.qk_summary([plain, normed, gained])
    assert summary["norm+gain"]["logit-end"] < summary["plain"]["logit-end"]


def test_large_learning_rate_separates_plain_and_qk_norm():
    lrs = (0.02, 1.0)
    plain, gained = (pr.qk_train(v, steps=120, lrs=lrs, n_runs=2) for v in ("plain", "norm+gain"))
    assert np.all(plain.final("loss")[1] > math.log(8))  # worse than uniform attention
    assert np.all(gained.final("loss")[1] < 0.2)


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(2, 9))
@settings(max_examples=25, deadline=None)
def test_qk_norm_logits_are_bounded_by_sqrt_dk(seed, n, d_k):
    rng = np.random.default_rng(seed)
    q, k = 10 * rng.standard_normal((3, d_k)), 10 * rng.standard_normal((3, n, d_k))
    assert np.abs(pr.qk_logits(q, k, True)).max() <= math.sqrt(d_k) + 1e-9
    # without normalisation the logit is the plain scaled dot product
    np.testing.assert_allclose(pr.qk_logits(q, k, False)[0, 0], q[0] @ k[0, 0] / math.sqrt(d_k))


# ------------------------------------------------------------------ properties


@given(st.integers(2, 300), st.floats(0.0, 3.0))
@settings(max_examples=30, deadline=None)
def test_noise_entropy_between_zero_and_log_n(n, sigma):
    h = pr.noise_entropy([n], [sigma], rows=5)[0, 0]
    assert -1e-12 <= h <= math.log(n) + 1e-12


@given(st.integers(1, 10**6), st.integers(1, 10**6))
@settings(max_examples=30, deadline=None)
def test_log_n_multiplier_is_monotone(a, b):
    lo, hi = sorted((a, b))
    m = pr.log_n_multiplier([lo, hi])
    assert m[0] <= m[1]


def test_extrapolation_log_n_keeps_entropy_flatter():
    r = pr.length_extrapolation(ns=(64, 1024), seeds=(0, 1, 2), rows=100)
    e = r.mean("entropy")
    assert e[0, 0] == pytest.approx(e[1, 0])  # same factor at the training length
    assert e[1, 1] - e[1, 0] < 0.5 * (e[0, 1] - e[0, 0])
    assert r.at("weight", "log n", 1024) > r.at("weight", "fixed", 1024)


# ------------------------------------------------------------------ figures


def test_figures_and_descriptions():
    ns, sig = [16, 64, 256], [0.5, 1.0]
    h = pr.noise_entropy(ns, sig, rows=20)
    assert isinstance(pr.log_n_figure(ns, sig, h), Figure)
    assert "512" in pr.describe_log_n_figure(ns, sig, h)
    r = pr.length_extrapolation(ns=(64, 256), seeds=(0, 1), rows=50)
    assert isinstance(pr.extrapolation_figure(r), Figure)
    assert "n = 64" in pr.describe_extrapolation_figure(r)
    runs = [pr.qk_train(v, steps=5, lrs=(0.02, 1.0), n_runs=2) for v in pr.QK_VARIANTS]
    assert isinstance(pr.qk_norm_figure(runs), Figure)
    assert isinstance(pr.qk_lr_figure(runs, last=2), Figure)
    text = pr.describe_qk_norm_figure(runs)
    assert "5 Adam steps" in text
    s = pr.qk_summary(runs)["plain"]
    assert f"{s['loss']:.3f} ± {s['loss-se']:.3f}" in text  # alt text prints the prose's numbers
    assert isinstance(pr.extrapolation_row(256, True), Figure)
    assert "256 keys" in pr.describe_extrapolation_row(256, True)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: pr.log_n_multiplier(0), "n"),
        (lambda: pr.log_n_multiplier(10, base=1), "base"),
        (lambda: pr.noise_entropy([4], [-1.0]), "sigmas"),
        (lambda: pr.noise_entropy([4], [np.nan]), "sigmas"),
        (lambda: pr.sigma_for_entropy(4, 5.0), "n"),
        (lambda: pr.solve_sigma(4, 5.0), "h0"),
        (lambda: pr.retrieval_scores(rho=1.5), "rho"),
        (lambda: pr.retrieval_scores(n_max=1), "n_max"),
        (lambda: pr.length_extrapolation(ns=(64, 128), n_train=32), "n_train"),
        (lambda: pr.length_extrapolation(seeds=(0,)), "seeds"),
        (lambda: pr.qk_train("norm", lrs=(-1.0,)), "lrs"),
        (lambda: pr.qk_train("layernorm"), "variant"),
        (lambda: pr.qk_train("plain", n_runs=0), "n_runs"),
        (lambda: pr.qk_train("clip", tau=0.0), "tau"),
        (lambda: pr.softcap(1.0, 0.0), "cap"),
        (lambda: pr.softcap_tv([-1.0], 50.0), "sigmas"),
        (lambda: pr.extrapolation_row(5000), "n"),
        (lambda: pr.qk_logits(np.ones((2, 3)), np.ones((2, 4, 5)), False), "q"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="^result"):
        pr.extrapolation_figure("not a result")
    with pytest.raises(TypeError, match="^runs"):
        pr.qk_norm_figure([])


# ------------------------------------------------------------------ QK-clip, soft-capping, scales


def test_qk_clip_keeps_the_logits_near_tau_and_the_run_alive():
    plain, clip = (
        pr.qk_train(v, steps=120, lrs=(1.0,), n_runs=2, tau=10.0) for v in ("plain", "clip")
    )
    assert clip.max_logit[..., -20:].max() < 0.1 * plain.max_logit[..., -20:].min()
    assert np.all(clip.final("loss") < math.log(8))
    assert np.all(plain.final("loss") > math.log(8))


def test_softcap_hand_values_and_slope():
    np.testing.assert_allclose(pr.softcap([0.0, 50.0], 50.0), [0.0, 50 * math.tanh(1.0)])
    assert abs(pr.softcap(1e6, 30.0)) <= 30.0
    # the slope is the derivative of the cap
    s = np.linspace(-120, 120, 7)
    numeric = (pr.softcap(s + 1e-5, 50.0) - pr.softcap(s - 1e-5, 50.0)) / 2e-5
    np.testing.assert_allclose(pr.softcap_slope(s, 50.0), numeric, rtol=1e-6)
    assert pr.softcap_slope(50.0, 50.0) == pytest.approx(1 - math.tanh(1.0) ** 2)


def test_softcap_moves_the_softmax_more_as_logits_spread():
    tv = pr.softcap_tv([0.0, 1.0, 10.0], 50.0, n=64, rows=20)
    assert tv[0] == pytest.approx(0.0, abs=1e-12)  # equal logits: nothing to cap
    assert tv[0] < tv[1] < tv[2] < 1
    assert pr.softcap_tv([10.0], 10.0, n=64, rows=20)[0] > tv[2]  # a lower cap moves it more


def test_query_scale_table():
    text = pr.query_scale_latex({"a": (4608, 32, 128, 144), "b": (3584, 16, 256, 256)})
    assert f"{math.sqrt(128 / 144):.3f}" in text and "1.000" in text and "144" in text
    with pytest.raises(ValueError, match="^scalar"):
        pr.query_scale_latex({"bad": (64, 2, 32, 0)})
    assert isinstance(pr.softcap_figure(30.0), Figure)
    assert "0.42" in pr.describe_softcap_figure(50.0)


def test_sink_weight():
    # equal logits: a sink at the same value takes 1/(n+1); e^b/(n+e^b) in general
    assert pr.sink_weight(np.zeros(128), 0.0) == pytest.approx(1 / 129)
    assert pr.sink_weight(np.zeros(128), 5.0) == pytest.approx(math.exp(5) / (128 + math.exp(5)))
    # stable for large logits, and shift-invariant
    assert pr.sink_weight(np.full(4, 1000.0), 1000.0) == pytest.approx(0.2)
    rows = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    w = pr.sink_weight(rows, np.array([0.5, 2.0]))
    ref = np.exp([0.5, 2.0]) / (np.exp(rows).sum(axis=1) + np.exp([0.5, 2.0]))
    np.testing.assert_allclose(w, ref)
    assert pr.sink_weight(np.zeros(8), 3.0) > pr.sink_weight(np.zeros(8), 2.0)
    with pytest.raises(ValueError, match="^logits"):
        pr.sink_weight([np.nan, 0.0], 0.0)
    with pytest.raises(ValueError, match="^sink"):
        pr.sink_weight([0.0, 0.0], np.inf)


def test_query_scale_header_names_no_head_index():
    text = pr.query_scale_latex({"a": (4608, 32, 128, 144)})
    assert r"\sqrt a" not in text and "d_{\\text{pre}}" in text
