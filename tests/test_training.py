"""whysqrt.training: the retrieval task, hand-derived gradients (finite differences), SGD, figures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws

tr = ws.training


def _small(seed=3, batch=5, n_keys=4, d_model=6, d_v=3, d_k=7):
    task = tr.make_task(batch, n_keys, d_model, d_v=d_v, rng=np.random.default_rng(seed))
    return tr.init_params(d_model, d_k, seed=seed + 1), task


def numeric_grad(params, task, alpha, eps=1e-6):
    """Central finite differences of the loss, entry by entry."""
    out = {}
    for name in params:
        g = np.zeros_like(params[name])
        for idx in np.ndindex(g.shape):
            plus = {k: w.copy() for k, w in params.items()}
            minus = {k: w.copy() for k, w in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            g[idx] = (
                tr.loss_and_grads(plus, task, alpha)[0] - tr.loss_and_grads(minus, task, alpha)[0]
            ) / (2 * eps)
        out[name] = g
    return out


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_gradient_matches_central_finite_differences(alpha):
    params, task = _small()
    _, grads, _ = tr.loss_and_grads(params, task, alpha)
    num = numeric_grad(params, task, alpha)
    for name in params:
        assert np.abs(num[name]).max() > 1e-3  # the check is not vacuous
        np.testing.assert_allclose(grads[name], num[name], rtol=1e-5, atol=1e-8)


@given(st.integers(0, 10_000), st.floats(0.0, 1.5))
@settings(max_examples=15, deadline=None)
def test_gradient_matches_finite_differences_for_random_draws(seed, alpha):
    params, task = _small(seed=seed, batch=3, n_keys=3, d_model=4, d_v=2, d_k=3)
    _, grads, _ = tr.loss_and_grads(params, task, alpha)
    num = numeric_grad(params, task, alpha)
    for name in params:
        np.testing.assert_allclose(grads[name], num[name], rtol=1e-4, atol=1e-7)


def test_the_finite_difference_check_catches_a_wrong_gradient():
    params, task = _small()
    _, grads, _ = tr.loss_and_grads(params, task, 0.5)
    num = numeric_grad(params, task, 0.5)
    wrong = grads["W_K"] * 2**-0.5  # e.g. a forgotten factor
    assert not np.allclose(wrong, num["W_K"], rtol=1e-5, atol=1e-8)


def test_loss_by_hand_for_a_one_key_task():
    # one key: softmax weight 1, output = its value, loss 0 whatever the weights
    task = tr.make_task(4, n_keys=1, d_model=3, rng=np.random.default_rng(0))
    params = tr.init_params(3, 2)
    loss, grads, p = tr.loss_and_grads(params, task)
    assert loss == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(p, 1.0)
    assert all(np.allclose(g, 0.0) for g in grads.values())


def test_task_query_copies_its_target_key():
    task = tr.make_task(50, n_keys=5, d_model=8, noise=0.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(task.x[np.arange(50), 1 + task.target], task.x[:, 0])
    np.testing.assert_array_equal(task.y, task.values[np.arange(50), task.target])


def test_init_gives_unit_variance_queries():
    params = tr.init_params(64, 256, seed=0)
    x = np.random.default_rng(1).standard_normal((500, 64))
    assert (x @ params["W_Q"].T).var() == pytest.approx(1.0, rel=0.1)


def test_training_reduces_the_loss_and_is_seeded():
    a = tr.train(16, alphas=(0.5,), lr=3.0, steps=150)
    b = tr.train(16, alphas=(0.5,), lr=3.0, steps=150)
    np.testing.assert_array_equal(a.loss[0.5], b.loss[0.5])
    assert a.final_loss(0.5) < 0.5 * np.mean(a.loss[0.5][:10])
    assert np.all(np.isfinite(a.grad_norm[0.5]))


def test_larger_alpha_starts_with_flatter_attention_and_smaller_gradient():
    r = tr.train(256, lr=1.0, steps=2)
    assert r.init_entropy[0.0] < r.init_entropy[0.5] < r.init_entropy[1.0]
    assert r.grad_norm[0.0][0] > r.grad_norm[0.5][0] > r.grad_norm[1.0][0]


def test_lr_sweep_shape_and_best():
    sw = tr.lr_sweep(d_ks=(4,), lrs=(0.5, 2.0), alphas=(0.0, 1.0), steps=20)
    assert sw.loss.shape == (1, 2, 2)
    loss, lr = sw.best(4, 0.0)
    assert loss == sw.loss[0, 0].min() and lr in (0.5, 2.0)
    assert sw.best_alpha(4, 0.5) in (0.0, 1.0)


@pytest.mark.parametrize(
    "call, name, exc",
    [
        (lambda: tr.make_task(0), "batch", ValueError),
        (lambda: tr.make_task(4, n_keys=0), "n_keys", ValueError),
        (lambda: tr.make_task(4, noise=-1.0), "noise", ValueError),
        (lambda: tr.make_task(4, rng=3), "rng", TypeError),
        (lambda: tr.init_params(4, 0), "d_k", ValueError),
        (lambda: tr.loss_and_grads(tr.init_params(6, 2), "task"), "task", TypeError),
        (lambda: tr.loss_and_grads({"W_Q": 1}, _small()[1]), "params", TypeError),
        (lambda: tr.loss_and_grads(tr.init_params(5, 2), _small()[1]), "params", ValueError),
        (
            lambda: tr.loss_and_grads(
                {"W_Q": np.full((2, 6), np.nan), "W_K": np.ones((2, 6))}, _small()[1]
            ),
            "params",
            ValueError,
        ),
        (lambda: tr.loss_and_grads(_small()[0], _small()[1], alpha=-1.0), "alpha", ValueError),
        (lambda: tr.train(0), "d_k", ValueError),
        (lambda: tr.train(4, lr=0.0), "lr", ValueError),
        (lambda: tr.train(4, alphas=()), "alphas", ValueError),
        (lambda: tr.lr_sweep(d_ks=()), "d_ks", ValueError),
        (lambda: tr.alpha_panel(alpha=3.0), "alpha", ValueError),
        (lambda: tr.alpha_panel(d_k=0), "d_k", ValueError),
        (lambda: tr.training_curves([1]), "results", TypeError),
        (lambda: tr.lr_sweep_figure(None), "sweep", TypeError),
    ],
)
def test_bad_input(call, name, exc):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


def test_figures_and_alt_text():
    fig = tr.alpha_panel(alpha=1.0, d_k=256)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    alt = tr.describe_alpha_panel(alpha=1.0, d_k=256)
    assert "256" in alt and f"{256**-1:.3g}" in alt
    r = tr.train(16, lr=1.0, steps=20)
    assert len(tr.training_curves([r, r]).axes) == 4
    assert "d_k = 16" in tr.describe_training_curves([r])
    sw = tr.lr_sweep(d_ks=(4, 8), lrs=(0.5, 2.0), steps=20)
    assert len(tr.lr_sweep_figure(sw, chance=0.4).axes) == 2
    assert "d_k = 8" in tr.describe_lr_sweep_figure(sw)
