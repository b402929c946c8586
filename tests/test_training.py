"""whysqrt.training: the retrieval task, hand-derived gradients (finite differences), SGD, figures."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- the soft task ---------------------------------------------------------------
def test_soft_task_target_is_the_teacher_mixture_and_not_one_hot():
    task = tr.make_soft_task(2000, rng=np.random.default_rng(0))
    w = task.soft
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(task.y, np.einsum("bj,bjv->bv", w, task.values))
    assert 0.3 < w.max(axis=1).mean() < 0.8  # spread out: neither one-hot nor uniform
    np.testing.assert_array_equal(task.target, w.argmax(axis=1))


def test_the_teacher_is_reachable_and_one_hot_attention_is_not_optimal():
    d_model, d_k, alpha, beta = 8, 16, 0.5, 1.5
    task = tr.make_soft_task(500, d_model=d_model, beta=beta, rng=np.random.default_rng(1))
    c = d_k**-alpha
    wq = np.zeros((d_k, d_model))
    wq[:d_model] = np.eye(d_model)
    wk = np.zeros((d_k, d_model))
    wk[:d_model] = beta * tr.teacher_matrix(d_model) / c  # c W_Q^T W_K = beta A*
    loss, grads, _ = tr.loss_and_grads({"W_Q": wq, "W_K": wk}, task, alpha)
    assert loss < 1e-20 and all(np.abs(g).max() < 1e-10 for g in grads.values())
    loss_hard, *_ = tr.loss_and_grads({"W_Q": wq, "W_K": 1e4 * wk}, task, alpha)  # one-hot
    assert loss_hard > 0.02


# -- the batched trainer -----------------------------------------------------------
def _stack(seeds=2, d_k=5, alphas=(0.0, 0.5, 1.0), batch=6):
    tasks = [
        tr.make_soft_task(batch, n_keys=4, d_model=3, d_v=2, rng=np.random.default_rng(r))
        for r in range(seeds)
    ]
    params = [tr.init_params(3, d_k, seed=10 + r) for r in range(seeds)]
    wq = np.stack([[p["W_Q"] * (1 + 0.3 * m) for m in range(len(alphas))] for p in params])
    wk = np.stack([[p["W_K"] for _ in alphas] for p in params])
    c = d_k ** -np.array(alphas)
    return tasks, wq, wk, c


def test_batched_grads_equal_the_one_run_gradients():
    tasks, wq, wk, c = _stack()
    x, vals, y = (np.stack([getattr(t, n) for t in tasks]) for n in ("x", "values", "y"))
    loss, gq, gk = tr.batched_grads(wq, wk, c, x, vals, y)
    for r, task in enumerate(tasks):
        for m, a in enumerate((0.0, 0.5, 1.0)):
            ref_loss, ref, _ = tr.loss_and_grads({"W_Q": wq[r, m], "W_K": wk[r, m]}, task, a)
            assert loss[r, m] == pytest.approx(ref_loss, rel=1e-12)
            np.testing.assert_allclose(gq[r, m], ref["W_Q"], rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(gk[r, m], ref["W_K"], rtol=1e-10, atol=1e-14)


def test_batched_grads_match_finite_differences():
    tasks, wq, wk, c = _stack(seeds=1)
    x, vals, y = (np.stack([getattr(t, n) for t in tasks]) for n in ("x", "values", "y"))
    _, gq, gk = tr.batched_grads(wq, wk, c, x, vals, y)
    eps = 1e-6
    for grad, which in ((gq, 0), (gk, 1)):
        for idx in [(0, 1, 2, 0), (0, 2, 4, 2), (0, 0, 0, 1)]:
            w = [wq.copy(), wk.copy()]
            w[which][idx] += eps
            plus = tr.batched_grads(*w, c, x, vals, y)[0][idx[:2]]
            w[which][idx] -= 2 * eps
            minus = tr.batched_grads(*w, c, x, vals, y)[0][idx[:2]]
            assert grad[idx] == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-9)


def test_adam_update_by_hand():
    g = np.array([2.0, -0.5, 0.0])
    step, m, s = tr.adam_update(g, np.zeros(3), np.zeros(3), 1, 0.1)
    np.testing.assert_allclose(step, [-0.1, 0.1, 0.0], atol=1e-8)  # -lr sign(g)
    np.testing.assert_allclose(m, 0.1 * g)
    np.testing.assert_allclose(s, 0.001 * g**2)
    # second step with the same gradient: m_hat = g, s_hat = g^2 again
    step2, *_ = tr.adam_update(g, m, s, 2, 0.1)
    np.testing.assert_allclose(step2, [-0.1, 0.1, 0.0], atol=1e-7)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_batched_grads_equal_loss_and_grads_run_by_run(alpha):
    """The vectorised backward pass (through A = W_Q^T W_K) against the plain one, per run."""
    tasks = [tr.make_soft_task(5, rng=np.random.default_rng(1000 + r), d_model=8) for r in range(2)]
    x, vals = np.stack([t.x for t in tasks]), np.stack([t.values for t in tasks])
    y = np.stack([t.y for t in tasks])
    params = [[tr.init_params(8, 6, seed=10 * r + m) for m in range(3)] for r in range(2)]
    wq = np.stack([[p["W_Q"] for p in row] for row in params])
    wk = np.stack([[p["W_K"] for p in row] for row in params])
    c = np.full(3, 6.0**-alpha)
    loss, gq, gk = tr.batched_grads(wq, wk, c, x, vals, y)
    assert loss.shape == (2, 3) and gq.shape == wq.shape
    for r in range(2):
        for m in range(3):
            ref_loss, ref, _ = tr.loss_and_grads(params[r][m], tasks[r], alpha)
            assert loss[r, m] == pytest.approx(ref_loss, rel=1e-9)
            np.testing.assert_allclose(gq[r, m], ref["W_Q"], rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(gk[r, m], ref["W_K"], rtol=1e-8, atol=1e-12)


# -- how far one step moves a logit ---------------------------------------------------
def _logits_after(params, grads, task, alpha, optimizer, h):
    """Logits after a step of size h: SGD, or Adam's first step (-h sign(grad))."""
    move = grads if optimizer == "sgd" else {n: np.sign(g) for n, g in grads.items()}
    q, k, c, _ = tr._forward_g({n: params[n] - h * move[n] for n in params}, task, alpha)
    return c * np.einsum("bnk,bk->bn", k, q)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_logit_change_closed_form_matches_a_real_step(optimizer, alpha):
    for seed in range(3):
        task = tr.make_soft_task(1, n_keys=5, d_model=4, d_v=3, rng=np.random.default_rng(seed))
        params = tr.init_params(4, 6, seed=seed)
        _, grads, _ = tr.loss_and_grads(params, task, alpha)
        q, k, c, _ = tr._forward_g(params, task, alpha)

        h = 1e-5
        args = (params, grads, task, alpha, optimizer)
        numeric = (_logits_after(*args, h) - _logits_after(*args, -h)) / (2 * h)
        closed = tr.logit_change(params, task, alpha, optimizer)
        np.testing.assert_allclose(closed, numeric, rtol=1e-6, atol=1e-9)
        if alpha > 0 and optimizer == "sgd":  # c instead of c^2 would be caught
            assert not np.allclose(closed / c, numeric, rtol=1e-3)


def test_symbolic_logit_step_agrees_with_the_closed_form():
    derived, closed = ws.symbolic.logit_step_sgd()
    assert sp.expand(derived - closed) == 0
    assert sp.expand(derived - 2 * closed) != 0  # the comparison can fail
    ex = ws.symbolic.logit_step_exponents()
    a = sp.Symbol("alpha", positive=True)
    assert sp.simplify(ex["sgd"] - (1 - 2 * a)) == 0 and ex["alpha_sgd"] == sp.Rational(1, 2)
    assert sp.simplify(ex["adam"] - (1 - a)) == 0 and ex["alpha_adam"] == 1


def test_measured_logit_step_follows_the_predicted_powers():
    d_ks = (8, 32, 128, 512)
    steps = tr.logit_step(d_ks, seeds=3, batch=32)
    for name in ("sgd", "adam"):
        for j, a in enumerate((0.0, 0.5, 1.0)):
            power = tr.fit_power(d_ks, steps[name][:, j])
            predicted = -tr.predicted_slope(name, a)
            tol = 0.35 if (name, a) == ("sgd", 0.0) else 0.12  # alpha = 0: saturation
            assert abs(power - predicted) < tol, (name, a, power)


# -- the sweep summary ---------------------------------------------------------------------
def _fake_sweep(gamma=0.5, noise=0.0):
    """A Sweep whose best log10 lr is exactly -1 + gamma log10(d_k / 4) (log loss a parabola)."""
    d_ks, lrs = (4, 16, 64), tuple(np.logspace(-3, 2, 16))
    x = np.log10(lrs)
    rng = np.random.default_rng(0)
    loss = np.empty((2, 3, 3, 16, 4))
    for i, d in enumerate(d_ks):
        best = -1 + gamma * np.log10(d / 4)
        loss[:, i] = np.exp((x[:, None] - best) ** 2 + noise * rng.standard_normal((16, 4)))
    return tr.Sweep(
        ("sgd", "adam"), d_ks, (0.0, 0.5, 1.0), {"sgd": lrs, "adam": lrs}, loss, 1.0, 10
    )


@given(st.floats(-0.9, 0.9))
@settings(max_examples=20, deadline=None)
def test_sweep_recovers_a_known_shift(gamma):
    sw = _fake_sweep(gamma)
    np.testing.assert_allclose(sw.best_log_lr("sgd", 16, 0.5), -1 + gamma * np.log10(4), atol=1e-9)
    slope, err = sw.shift("adam", 1.0)
    assert slope == pytest.approx(gamma, abs=1e-9)
    assert err == pytest.approx(sw.grid_error("adam"))  # no seed noise: the grid term only
    assert type(sw.grid_error("adam")) is float and type(err) is float  # glue needs floats
    assert not sw.on_edge("sgd", 0.0)


def test_sweep_curve_mean_and_standard_error_by_hand():
    sw = _fake_sweep(noise=0.1)
    mean, se = sw.curve("sgd", 4, 0.0)
    runs = sw.loss[0, 0, 0]
    assert mean[3] == pytest.approx(runs[3].mean())
    assert se[3] == pytest.approx(runs[3].std(ddof=1) / 2)


def test_predicted_slopes():
    assert [tr.predicted_slope("sgd", a) for a in (0, 0.5, 1)] == [-1, 0, 1]
    assert [tr.predicted_slope("adam", a) for a in (0, 0.5, 1)] == [-1, -0.5, 0]


# -- steps to a loss threshold ----------------------------------------------------
@pytest.mark.parametrize("d_model", [8, 12])
def test_race_grads_equal_the_one_run_gradients(d_model):
    tasks, runs = [], []
    for r, (a, d_k) in enumerate([(0.0, 4), (0.5, 4), (1.0, 4)]):
        tasks.append(tr.make_soft_task(5, d_model=d_model, rng=np.random.default_rng(r)))
        runs.append((a, tr.init_params(d_model, d_k, seed=r)))
    wq = np.stack([p["W_Q"] for _, p in runs])
    wk = np.stack([p["W_K"] for _, p in runs])
    c = np.array([4.0**-a for a, _ in runs])
    x, vals, y = (np.stack([getattr(t, n) for t in tasks]) for n in ("x", "values", "y"))
    loss, gq, gk = tr.race_grads(wq, wk, c, x, vals, y)
    for r, (task, (a, params)) in enumerate(zip(tasks, runs)):
        ref_loss, ref, _ = tr.loss_and_grads(params, task, a)
        assert loss[r] == pytest.approx(ref_loss, rel=1e-12)
        np.testing.assert_allclose(gq[r], ref["W_Q"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gk[r], ref["W_K"], rtol=1e-10, atol=1e-14)


def test_race_stops_at_the_threshold_and_is_seeded():
    kw = dict(alphas=(0.5,), lrs=(0.3, 3.0, 30.0), seeds=2, max_steps=400)
    steps, reached = tr.race(8, **kw)
    again, _ = tr.race(8, **kw)
    np.testing.assert_array_equal(steps, again)
    assert steps.shape == (1, 3, 2) and reached[0, 1].all()  # lr 3 reaches 0.01
    best = steps[0].min(axis=0)
    assert np.all(best >= 10) and np.all(best < 400)  # at least one window of 10 batches
    # a run that did not reach it counts as censored at twice its seed's best
    censored = ~reached[0]
    assert censored.any()
    np.testing.assert_array_equal(steps[0][censored], np.ceil(2 * best)[np.nonzero(censored)[1]])


def test_race_threshold_reads_the_training_loss():
    """A looser threshold is reached sooner; an unreachable one runs to max_steps."""
    kw = dict(alphas=(0.5,), lrs=(3.0,), seeds=1)
    loose, _ = tr.race(8, threshold=0.05, **kw)
    tight, _ = tr.race(8, threshold=0.01, **kw)
    assert loose[0, 0, 0] < tight[0, 0, 0]
    never, reached = tr.race(8, threshold=1e-9, max_steps=30, **kw)
    assert not reached.any() and never[0, 0, 0] == 30


def test_unscaled_layer_is_slower_but_trains():
    """The chapter's finding in small: at d_k = 32, alpha = 0 needs more steps at its best lr."""
    sw = tr.race_sweep(
        (32,), (0.0, 0.5), {"sgd": tuple(np.logspace(-1.5, 1.5, 7))}, seeds=2, max_steps=1500
    )
    assert sw.reached.any(axis=3).all()  # every seed and alpha reached the threshold
    slow, _ = sw.steps_summary("sgd", 32, 0.0)
    fast, _ = sw.steps_summary("sgd", 32, 0.5)
    assert slow > 2 * fast
    ratio, se = sw.ratio("sgd", 32, 0.0, 0.5)
    per_seed = sw.best_steps("sgd", 32, 0.0) / sw.best_steps("sgd", 32, 0.5)
    assert ratio == pytest.approx(per_seed.mean()) and se == pytest.approx(
        per_seed.std(ddof=1) / 2**0.5
    )
    assert 10 ** sw.best_log_lr("sgd", 32, 0.0).mean() < 10 ** sw.best_log_lr("sgd", 32, 0.5).mean()


def test_race_sweep_varies_the_input_width():
    sw = tr.race_sweep(
        (8, 16),
        (0.5,),
        {"adam": (0.003, 0.01, 0.03)},
        seeds=2,
        vary="d_model",
        fixed=16,
        max_steps=300,
    )
    assert sw.width == "d_model" and sw.loss.shape == (1, 2, 1, 3, 2)
    assert "d_model 16:" in tr.describe_optimum_map(sw, alpha=0.5)


def test_steps_figures_and_alt_text():
    sw = tr.race_sweep(
        (4, 8),
        (0.0, 0.5),
        {"sgd": (0.3, 1.0, 3.0), "adam": (0.01, 0.03, 0.1)},
        seeds=2,
        max_steps=300,
    )
    assert len(tr.race_figure(sw).axes) == 2
    for kw in ({}, {"alpha": 0.5}, {"d_k": 8}):
        assert len(tr.optimum_map(sw, **kw).axes) == 2
    alt = tr.describe_race_figure(sw)
    assert "SGD alpha 0:" in alt and "Adam alpha 0.5:" in alt and "d_k = 4, 8" in alt
    alt = tr.describe_optimum_map(sw, d_k=8)
    assert "SGD alpha 0: d_k 8:" in alt and "d_k 4" not in alt
    steps, se = sw.steps_summary("adam", 4, 0.5)
    assert f"{steps:.0f} steps at" in tr.describe_optimum_map(sw, alpha=0.5)
    mean, se = sw.curve("sgd", 8, 0.5)
    assert np.isnan(mean[~sw.reached[0, 1, 1].all(axis=-1)]).all()  # unfinished lrs are not drawn


def test_figures_and_alt_text():
    sw = _fake_sweep(0.5, noise=0.05)
    assert r"\alpha = 0.5" in tr.shift_table_latex(sw)
    steps = tr.logit_step((8, 16), seeds=2, batch=8)
    assert len(tr.logit_step_figure(steps, (8, 16)).axes) == 2
    alt = tr.describe_logit_step_figure(steps, (8, 16))
    assert "predicted 0)" in alt and "-0)" not in alt


def test_saturation_panel_shows_the_unscaled_gradient_collapse():
    small = tr.describe_saturation_panel(8, rows=300)
    large = tr.describe_saturation_panel(512, rows=300)
    assert "d_k = 512" in large and "300 examples" in large
    g0, g5 = tr._row_gradients(512, 300, 0)
    assert np.median(g0) < 0.01 * np.median(g5)  # saturated: most examples pass little gradient
    g0, g5 = tr._row_gradients(8, 300, 0)
    assert 0.3 < np.median(g0) / np.median(g5) < 3  # at d_k = 8 the two are alike
    assert small != large and len(tr.saturation_panel(32, rows=300).axes) == 2


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
        (lambda: tr.make_soft_task(4, beta=float("nan")), "beta", ValueError),
        (lambda: tr.make_soft_task(4, rng="x"), "rng", TypeError),
        (lambda: tr.teacher_matrix(0), "d_model", ValueError),
        (lambda: tr.logit_change(*_small(), optimizer="rmsprop"), "optimizer", ValueError),
        (lambda: tr.logit_change(_small()[0], "task"), "task", TypeError),
        (lambda: tr.logit_step(lr=0.0), "lr", ValueError),
        (lambda: tr.race(0, (0.5,), (1.0,)), "d_k", ValueError),
        (lambda: tr.race(4, (0.5,), (1.0,), d_model=4), "d_model", ValueError),
        (lambda: tr.race(4, (0.5,), (1.0,), threshold=0.0), "threshold", ValueError),
        (lambda: tr.race(4, (0.5,), (1.0,), patience=0.5), "patience", ValueError),
        (lambda: tr.race(4, (0.5,), (1.0,), optimizer="sgdm"), "optimizer", ValueError),
        (lambda: tr.race(4, (), (1.0,)), "alphas", ValueError),
        (lambda: tr.race_sweep(()), "widths", ValueError),
        (lambda: tr.race_sweep(vary="d_v"), "vary", ValueError),
        (lambda: tr.race_sweep(lrs={"sgd": (1.0,), "adam": (1.0, 2.0)}), "lrs", ValueError),
        (lambda: tr.race_figure(_fake_sweep()), "sweep", TypeError),
        (lambda: tr.optimum_map(None), "sweep", TypeError),
        (lambda: tr.saturation_panel(0), "d_k", ValueError),
        (lambda: _fake_sweep().best_steps("sgd", 4, 0.5), "sweep", ValueError),
        (lambda: tr.predicted_slope("sgdm", 0.5), "optimizer", ValueError),
        (lambda: tr.fit_power((1, 2), np.ones((3, 2))), "runs", ValueError),
        (lambda: tr.shift_table_latex(None), "sweep", TypeError),
        (lambda: tr.logit_step_figure({}, (1, 2)), "steps", TypeError),
        (lambda: ws.symbolic.logit_step_sgd(d_k=0), "d_k", ValueError),
    ],
)
def test_bad_input(call, name, exc):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


# -- the race's speed-ups give the numbers of the plain code ------------------------
@pytest.mark.parametrize("n", [3, 8, 16, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_sum_and_max_equal_numpy_bit_for_bit(n, dtype):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal((40, 7, n)) * np.exp(3 * rng.standard_normal((40, 7, n)))).astype(
        dtype
    )
    assert np.array_equal(tr._row_sum(a), a.sum(axis=-1))
    assert np.array_equal(tr._row_max(a), a.max(axis=-1))
    if n == 16:  # a different order of the additions would differ somewhere here
        r = a[..., 0].copy()
        for j in range(1, n):
            r += a[..., j]
        assert not np.array_equal(r, a.sum(axis=-1))


def _plain_race_grads(wq, wk, c, x, values, y):
    """race_grads as first written, with numpy's own reductions."""
    n_b = x.shape[1]
    x0, xk = x[:, :, 0], x[:, :, 1:]
    q = x0 @ np.swapaxes(wq, 1, 2)
    s = (xk @ (q @ wk)[..., None])[..., 0] * c[:, None, None]
    p = np.exp(np.maximum(s - s.max(axis=-1, keepdims=True), -60.0))
    p /= p.sum(axis=-1, keepdims=True)
    delta = (p[:, :, None] @ values)[:, :, 0] - y
    loss = 0.5 * np.mean(np.sum(delta**2, axis=-1), axis=1)
    u = (values @ delta[..., None])[..., 0]
    g = p * (u - np.sum(p * u, axis=-1, keepdims=True))
    b = (g[:, :, None] @ xk)[:, :, 0] * (c / n_b)[:, None, None]
    return loss, (wk @ np.swapaxes(b, 1, 2)) @ x0, np.swapaxes(q, 1, 2) @ b


def test_race_grads_equal_the_plain_code_bit_for_bit():
    rng = np.random.default_rng(0)
    r, d_k, d = 6, 16, 8
    wq, wk = (rng.standard_normal((r, d_k, d)).astype(np.float32) for _ in range(2))
    c = np.float32(d_k) ** -np.linspace(0, 1, r, dtype=np.float32)
    x = rng.standard_normal((r, 16, 9, d)).astype(np.float32)
    vals, y = rng.standard_normal((r, 16, 8, 8)).astype(np.float32), rng.standard_normal((r, 16, 8))
    for got, want in zip(
        tr.race_grads(wq, wk, c, x, vals, y.astype(np.float32)),
        _plain_race_grads(wq, wk, c, x, vals, y.astype(np.float32)),
    ):
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_race_sweep_equals_one_race_at_a_time():
    """The sweep shares batches between races and runs two at a time: same steps as race()."""
    lrs = {"sgd": (1.0, 10.0), "adam": (0.01, 0.1)}
    sw = tr.race_sweep((4, 8), (0.0, 0.5), lrs, seeds=2, max_steps=300)
    for o, opt in enumerate(lrs):
        for i, d_k in enumerate((4, 8)):
            steps, reached = tr.race(d_k, (0.0, 0.5), lrs[opt], opt, seeds=2, max_steps=300)
            np.testing.assert_array_equal(sw.loss[o, i], steps)
            np.testing.assert_array_equal(sw.reached[o, i], reached)


def test_race_grads_into_out_equal_the_returned_gradients():
    rng = np.random.default_rng(1)
    r, d_k, d = 5, 32, 8
    w = rng.standard_normal((r, 2, d_k, d)).astype(np.float32)
    c = np.float32(d_k) ** -np.linspace(0, 1, r, dtype=np.float32)
    x = rng.standard_normal((r, 16, 9, d)).astype(np.float32)
    vals, y = (rng.standard_normal(s).astype(np.float32) for s in ((r, 16, 8, 8), (r, 16, 8)))
    loss, gq, gk = tr.race_grads(w[:, 0], w[:, 1], c, x, vals, y)
    out = np.full_like(w, np.nan)
    assert np.array_equal(tr.race_grads(w[:, 0], w[:, 1], c, x, vals, y, out=out), loss)
    assert np.array_equal(out[:, 0], gq) and np.array_equal(out[:, 1], gk)


@pytest.mark.parametrize("t", [1, 7])
def test_adam_update_in_place_gives_the_same_numbers(t):
    rng = np.random.default_rng(t)
    g, m, s = (rng.standard_normal((4, 3, 5)).astype(np.float32) for _ in range(3))
    s = s**2
    lr = np.float32([1e-3, 1e-2, 0.1, 1.0])[:, None, None]
    want = tr.adam_update(g, m, s, t, lr)
    m2, s2 = m.copy(), s.copy()
    got = tr.adam_update(g, m2, s2, t, lr, inplace=True)
    assert got[1] is m2 and got[2] is s2  # written into the moments given
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def _plain_race(
    d_k, alphas, lrs, optimizer, seeds, d_model, threshold, window, patience, max_steps, batch, data
):
    """The race loop as first written: W_Q, W_K and their moments apart, every per-run
    array indexed by the active runs at each step."""
    n_a, n_l = len(alphas), len(lrs)
    grid = np.stack(np.meshgrid(np.arange(n_a), np.arange(n_l), np.arange(seeds), indexing="ij"))
    a_of, l_of, s_of = (g.ravel() for g in grid)
    cell = a_of * seeds + s_of
    init = [tr.init_params(d_model, d_k, seed=r) for r in range(seeds)]
    wq = np.stack([init[r]["W_Q"] for r in s_of])
    wk = np.stack([init[r]["W_K"] for r in s_of])
    c, lr = float(d_k) ** -alphas[a_of], lrs[l_of][:, None, None]
    wq, wk, c, lr = (a.astype(np.float32) for a in (wq, wk, c, lr))
    moments = [np.zeros_like(wq) for _ in range(4)]
    steps = np.full(len(a_of), np.nan)
    stop = np.full(n_a * seeds, float(max_steps))
    act, recent = np.arange(len(a_of)), np.zeros((window, len(a_of)))
    chunk = tr._RaceData.CHUNK
    for t in range(max_steps):
        if t % chunk == 0:
            batches = data.chunk(t // chunk)
        x, vals, y = (d[s_of[act], t % chunk] for d in batches)
        loss, gq, gk = _plain_race_grads(wq, wk, c[act], x, vals, y)
        recent[t % window, act] = loss
        if optimizer == "sgd":
            dq, dk = -lr * gq, -lr * gk
        else:
            dq, moments[0], moments[1] = tr.adam_update(gq, moments[0], moments[1], t + 1, lr)
            dk, moments[2], moments[3] = tr.adam_update(gk, moments[2], moments[3], t + 1, lr)
        wq, wk = wq + dq, wk + dk
        done = recent[:, act].mean(axis=0) < threshold if t + 1 >= window else loss < -1
        steps[act[done]] = t + 1
        first = cell[act[done]]
        stop[first] = np.minimum(stop[first], np.ceil(patience * (t + 1)))
        keep = ~done & np.isfinite(loss) & (loss < 10) & (t + 1 < stop[cell[act]])
        if not keep.all():
            act, wq, wk, lr = act[keep], wq[keep], wk[keep], lr[keep]
            moments = [m[keep] for m in moments]
        if not len(act):
            break
    reached = np.isfinite(steps)
    steps = np.where(reached, steps, stop[cell])
    return steps.reshape(n_a, n_l, seeds), reached.reshape(n_a, n_l, seeds)


@pytest.mark.parametrize("optimizer, lrs", [("sgd", (0.3, 3.0, 30.0)), ("adam", (3e-3, 3e-2, 0.3))])
def test_race_equals_the_plain_loop_bit_for_bit(optimizer, lrs):
    """The race's stacked weights, in-place updates and pruned arrays change no step."""
    args = tr._race_args(32, (0.0, 0.5, 1.0), lrs, optimizer, seeds=3, patience=2)
    got = tr._race(*args, data=tr._RaceData(3, 16, 8))
    want = _plain_race(*args, data=tr._RaceData(3, 16, 8))
    assert got[1].any() and not got[1].all()  # some runs reached the threshold, some stopped
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
