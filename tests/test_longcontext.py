"""Long-context temperatures: each formula as its source code computes it, and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whysqrt import longcontext as lc


def test_yarn_temperature_is_the_papers_formula():
    # sqrt(1/t) = 0.1 ln s + 1 (Peng et al. 2023); DeepSeek-V3 applies it squared with s = 40
    assert lc.yarn_mscale(40.0) == pytest.approx(0.1 * math.log(40) + 1)
    assert lc.yarn_factor(40 * 4096, 4096) == pytest.approx((0.1 * math.log(40) + 1) ** 2)
    assert lc.yarn_mscale(0.5) == 1.0 and lc.yarn_mscale(1.0) == 1.0


def test_qwen_logn_is_one_inside_the_training_length():
    n = np.array([1, 100, 4096, 4097, 4096**2])
    f = lc.qwen_logn_factor(n, 4096)
    assert np.all(f[:3] == 1) and f[3] > 1 and f[4] == pytest.approx(2.0)


def test_llama4_factor_steps_every_8192_positions():
    f = lc.llama4_factor(np.array([1, 8191, 8192, 16384, 8192 * 3]))
    expected = [1, 1, 1 + 0.1 * math.log(2), 1 + 0.1 * math.log(3), 1 + 0.1 * math.log(4)]
    np.testing.assert_allclose(f, expected)


@given(st.floats(2, 1e7), st.floats(2, 1e6))
def test_every_scheme_is_one_at_the_training_length_or_above_it_beyond(n, n_train):
    for name, (f, *_) in lc.SCHEMES.items():
        value = float(f(np.array(n), n_train))
        assert np.isfinite(value) and value > 0, name
        if n >= n_train and name != "Llama 4 NoPE layers":
            assert value >= 1 - 1e-12, name
    assert float(lc.log_n_factor(n_train, n_train)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: lc.log_n_factor(0), "n"),
        (lambda: lc.log_n_factor(10, 1), "n_train"),
        (lambda: lc.yarn_mscale(-1.0), "s"),
        (lambda: lc.qwen_logn_factor([np.nan]), "n"),
        (lambda: lc.temperature_figure(n_train=4096, n_max=1000), "n_max"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_figure_draws_every_scheme_and_says_what_it_shows():
    fig = lc.temperature_figure(4096, 2**20)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == list(lc.SCHEMES)
    alt = lc.describe_temperature_figure(4096, 2**20)
    assert f"{float(lc.yarn_factor(2**20, 4096)):.2f}" in alt
