"""whysqrt.tinytransformer: the two-layer model's gradients, the task, the sweep, bad input."""

import numpy as np
import pytest

import whysqrt.tinytransformer as tt

SMALL = {"vocab": 5, "n": 7, "d_model": 8, "heads": 2, "layers": 2, "d_ff": 6}


def _tokens(runs=2, batch=3):
    return tt.make_batches(range(runs), 1, batch, vocab=5, half=4)[:, 0]


@pytest.mark.parametrize("qk_norm", [False, True])
def test_gradients_match_finite_differences(qk_norm):
    params = tt.init_params(2, seed=1, qk_norm=qk_norm, **SMALL)
    if qk_norm:  # gains away from 1, so their gradient is not a special case
        for k in params:
            if k.startswith("g"):
                params[k] = params[k] * np.linspace(0.5, 1.5, params[k].shape[1])
    tokens = _tokens()
    _, grads, _ = tt.loss_and_grads(params, tokens)
    assert set(grads) == set(params)
    rng = np.random.default_rng(0)
    for key, w in params.items():
        for _ in range(3):  # three random entries of every parameter, run 1
            idx = (1, *(rng.integers(0, s) for s in w.shape[1:]))
            plus, minus = ({**params, key: w.copy()} for _ in range(2))
            plus[key][idx] += 1e-6
            minus[key][idx] -= 1e-6
            num = (tt.loss_and_grads(plus, tokens)[0] - tt.loss_and_grads(minus, tokens)[0]) / 2e-6
            assert num[0] == pytest.approx(0.0, abs=1e-7)  # run 0 does not depend on run 1
            assert grads[key][idx] == pytest.approx(num[1], rel=1e-4, abs=1e-8), key


def test_task_repeats_its_first_half_and_is_seeded():
    a = tt.make_batches([3, 3, 4], 2, 5)
    np.testing.assert_array_equal(a[..., :8], a[..., 8:])
    np.testing.assert_array_equal(a[0], a[1])
    assert not np.array_equal(a[0], a[2])


def test_qk_norm_bounds_the_logits_by_the_gains():
    params = tt.init_params(1, seed=0, qk_norm=True, **SMALL)
    for k in ("Q0", "K0", "Q1", "K1"):
        params[k] = params[k] * 100.0
    tokens = _tokens(runs=1)
    _, _, top = tt.loss_and_grads(params, tokens)
    assert top[0] <= np.sqrt(SMALL["d_model"] // SMALL["heads"]) + 1e-9
    plain = tt.init_params(1, seed=0, **SMALL)
    for k in ("Q0", "K0", "Q1", "K1"):
        plain[k] = plain[k] * 100.0
    assert tt.loss_and_grads(plain, tokens)[2][0] > 100  # without QK-norm the logits follow W


TINY = {"d_model": 16, "d_ff": 32, "batch": 8}


def test_sweep_learns_the_task_and_is_paired():
    r = tt.lr_sweep(lrs=(3e-2,), seeds=2, steps=150, last=10, **TINY)
    for variant in tt.VARIANTS:
        assert np.all(r.loss[variant] < 0.1 * np.log(16))  # far below uniform guessing
        assert not r.diverged[variant].any()
    again = tt.lr_sweep(lrs=(3e-2,), seeds=2, steps=150, last=10, variants=("plain",), **TINY)
    np.testing.assert_array_equal(r.loss["plain"], again.loss["plain"])
    mean, se = r.mean_se("loss", "plain")
    assert mean.shape == se.shape == (1,)


def test_a_high_learning_rate_grows_the_plain_logits_far_more():
    r = tt.lr_sweep(lrs=(3e-1,), seeds=2, steps=100, last=10, **TINY)
    assert np.all(r.max_logit["plain"] > 10 * r.max_logit["qk-norm"])
    assert np.all(r.loss["plain"] > r.loss["qk-norm"])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: tt.init_params(0), "runs"),
        (lambda: tt.init_params(1, d_model=10, heads=3), "d_model"),
        (lambda: tt.lr_sweep(lrs=(-1.0,)), "lrs"),
        (lambda: tt.lr_sweep(seeds=1), "seeds"),
        (lambda: tt.lr_sweep(steps=5, last=10), "last"),
        (lambda: tt.lr_sweep(variants=("layernorm",)), "variants"),
        (lambda: tt.make_batches([0], 0), "steps"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_the_chapter_exercise_call_runs():
    """modern-practice's exercise asks the reader to run this call: it must exist and work
    (shortened here to a few steps; the reader runs the default budget)."""
    import re
    from pathlib import Path

    import whysqrt as ws

    text = (Path(__file__).resolve().parents[1] / "book" / "modern-practice.md").read_text()
    call = re.search(r"`ws\.tinytransformer\.lr_sweep\(([^`]*)\)`", text)
    assert call, "modern-practice no longer shows the lr_sweep call"
    result = eval(f"ws.tinytransformer.lr_sweep({call.group(1)}, steps=6, last=3)", {"ws": ws})
    for field in re.findall(r'result\.mean_se\("(\w+)"', text):
        for variant in ws.tinytransformer.VARIANTS:
            mean, se = result.mean_se(field, variant)
            assert mean.shape == se.shape == (3,)
