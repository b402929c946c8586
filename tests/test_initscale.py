"""Initialisation × width (whysqrt.initscale): the formula, the Monte Carlo, the table, bad input."""

import math

import numpy as np
import pytest
import sympy as sp

import whysqrt as ws

IS = ws.initscale


def test_the_formula_matches_sympy():
    """Var[q·k/sqrt(d_k)] = (d_model sigma^2)^2, derived symbolically for one coordinate pair."""
    d, dk, s = sp.symbols("d_model d_k sigma", positive=True)
    var_qi = d * s**2  # sum of d_model products w_ij x_j, each of variance sigma^2 * 1
    var_logit = dk * var_qi * var_qi / dk  # d_k uncorrelated products q_i k_i, then / sqrt(d_k)^2
    assert sp.simplify(var_logit - (d * s**2) ** 2) == 0
    assert sp.diff(var_logit, dk) == 0  # the head size drops out
    for width in (768, 8192):
        exact = sp.Rational(2, 100) ** 4 * width**2
        assert IS.predicted_logit_variance("normal", width) == pytest.approx(
            float(exact), rel=1e-12
        )


def test_gpt2_numbers_of_the_issue():
    assert IS.GPT2_STD == 0.02
    assert IS.predicted_logit_variance("normal", 768) == pytest.approx(0.0944, abs=1e-4)
    assert IS.predicted_logit_variance("normal", 8192) == pytest.approx(10.74, abs=0.01)
    assert IS.predicted_logit_variance("normal", round(IS.GPT2_STD**-2)) == pytest.approx(1.0)
    assert IS.predicted_logit_variance("normal", 768, std=0.01) == pytest.approx(
        0.0944 / 16, rel=1e-3
    )


@pytest.mark.parametrize("d_model", [64, 768, 8192])
def test_pytorch_defaults_do_not_depend_on_width_and_agree_with_practice(d_model):
    assert IS.predicted_logit_variance("mha", d_model) == pytest.approx(0.25)
    assert IS.predicted_logit_variance("fan-in", d_model) == pytest.approx(1.0)
    lin = IS.predicted_logit_variance("linear", d_model)
    assert lin == pytest.approx((1 / 3 + 1 / (3 * d_model)) ** 2)
    assert IS.component_variance("linear", d_model) == pytest.approx(1 / 3 + 1 / (3 * d_model))
    assert IS.component_variance("mha", d_model) == pytest.approx(1 / 2)


def test_linear_init_variance_is_one_third_over_fan_in():
    rng = np.random.default_rng(0)
    w, b = IS.torch_linear_init(512, 2000, rng)
    assert np.abs(w).max() <= 1 / math.sqrt(512)
    assert np.abs(b).max() <= 1 / math.sqrt(512)
    # U(-a, a) has variance a^2/3 with a = 1/sqrt(fan_in)
    assert w.var() == pytest.approx(1 / (3 * 512), rel=0.01)
    assert IS.torch_linear_init(8, 3, rng, bias=False)[1].tolist() == [0.0, 0.0, 0.0]


def test_xavier_bound():
    w = IS.xavier_uniform(512, 1536, np.random.default_rng(1))
    assert w.shape == (1536, 512)
    assert np.abs(w).max() <= math.sqrt(6 / 2048)
    assert w.var() == pytest.approx(1 / 1024, rel=0.01)


def test_monte_carlo_would_catch_a_wrong_bound():
    # with kaiming_uniform_'s default a = 0 instead of sqrt(5) the weight variance is 6x larger
    mc, se = IS.logit_variance_mc("linear", 128, 32, n_weights=10, seed=3)
    assert abs(mc - 36 * IS.predicted_logit_variance("linear", 128)) > 10 * se


@pytest.mark.parametrize("init", list(IS.INITS))
@pytest.mark.parametrize("d_k", [8, 64])
def test_monte_carlo_agrees_with_the_formula(init, d_k):
    mc, se = IS.logit_variance_mc(init, 512, d_k, n_weights=12, seed=3)
    pred = IS.predicted_logit_variance(init, 512)
    assert se > 0
    assert abs(mc - pred) < 5 * se + 1e-3 * pred


def test_monte_carlo_exact_input_average_matches_sampled_tokens():
    """The closed-form average over token pairs equals brute-force sampling of tokens."""
    rng = np.random.default_rng(7)
    d_model, d_k, n = 32, 4, 200_000
    w_q, b_q = IS.torch_linear_init(d_model, d_model, rng, True, rows=d_k)
    w_k, b_k = IS.torch_linear_init(d_model, d_model, rng, True, rows=d_k)
    x = rng.standard_normal((2, n, d_model))
    z = np.sum((x[0] @ w_q.T + b_q) * (x[1] @ w_k.T + b_k), axis=1) / math.sqrt(d_k)
    frob = np.sum((w_q @ w_q.T) * (w_k @ w_k.T))
    bias = np.sum((b_k @ w_q) ** 2) + np.sum((b_q @ w_k) ** 2) + (b_q @ b_k) ** 2
    exact = (frob + bias) / d_k
    se = np.sqrt(np.var(z**2) / n)
    assert abs(np.mean(z**2) - exact) < 4 * se


def test_monte_carlo_is_seeded():
    a = IS.logit_variance_mc("normal", 256, 16, n_weights=3, seed=1)
    assert a == IS.logit_variance_mc("normal", 256, 16, n_weights=3, seed=1)
    assert a != IS.logit_variance_mc("normal", 256, 16, n_weights=3, seed=2)


def test_the_table_has_one_row_per_init_and_one_column_per_width():
    t = IS.init_width_table((64, 256), ("linear", "normal"), d_k=8, n_weights=3, seed=0)
    assert t.header == ("initialisation of W_Q, W_K", "d_model = 64", "d_model = 256")
    assert [row[0] for row in t.cells] == ["PyTorch nn.Linear default", "N(0, 0.02²), GPT-2"]
    pred = IS.predicted_logit_variance("normal", 256)
    assert t.cells[1][2].startswith(f"{pred:.3g} (MC ")
    assert "±" in t.cells[0][1] and "3 independent weight draws" in t.caption
    other = IS.init_width_table((64,), ("normal",), d_k=8, std=0.05, n_weights=3)
    assert other.cells[0][0] == "N(0, 0.05²)"
    assert "<table" in t.html() and "d_model = 256" in t.markdown()


def test_largest_weight_at_init_logit_sd_and_saturation():
    kw = dict(d_model=256, n_keys=64, n_models=6, n_queries=32, seed=0)
    small, big = (IS.largest_weight_at_init("linear", d_k=d, **kw) for d in (16, 256))
    for d, r in ((16, small), (256, big)):  # unscaled sd = sqrt(d_k) Var[q_i]
        pred = math.sqrt(d) * IS.component_variance("linear", 256)
        assert abs(r["logit_sd"] / pred - 1) < 0.1, (d, r)
        assert r["rows"] == 6 * 32 and r["median_scaled_se"] > 0
        assert 1 / 64 < r["median_scaled"] < r["median_unscaled"] <= 1
    assert big["median_unscaled"] > small["median_unscaled"] + 5 * big["median_unscaled_se"]
    assert abs(big["median_scaled"] - small["median_scaled"]) < 0.02
    assert IS.largest_weight_at_init("linear", d_k=16, **kw) == small  # seeded


@pytest.mark.parametrize(
    "func, kw, name",
    [
        (IS.component_variance, {"init": "xavier"}, "init"),
        (IS.component_variance, {"d_model": 0}, "d_model"),
        (IS.predicted_logit_variance, {"std": 0.0}, "std"),
        (IS.predicted_logit_variance, {"std": float("nan")}, "std"),
        (IS.logit_variance_mc, {"d_k": 0}, "d_k"),
        (IS.logit_variance_mc, {"n_weights": 1}, "n_weights"),
        (IS.logit_variance_mc, {"init": None}, "init"),
        (IS.init_width_table, {"d_models": [768, -1]}, "d_models"),
        (IS.init_width_table, {"inits": ()}, "inits"),
        (IS.init_width_table, {"inits": ("linear", "bad")}, "init"),
        (IS.largest_weight_at_init, {"d_k": 128, "d_model": 64}, "d_k"),
        (IS.largest_weight_at_init, {"n_models": 1}, "n_models"),
        (IS.largest_weight_at_init, {"n_keys": 0}, "n_keys"),
    ],
)
def test_bad_input_raises_valueerror_naming_the_parameter(func, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        func(**kw)
