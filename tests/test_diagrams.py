"""The pictures of the mechanism (whysqrt.diagrams): figures, numbers, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws
from whysqrt.interactive import png_bytes

D = ws.diagrams


def _texts(fig: Figure) -> str:
    parts = []
    for ax in fig.axes:
        parts += [t.get_text() for t in ax.texts]
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            parts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(parts)


FIGURES = [
    (D.attention_dataflow, {}),
    (D.attention_dataflow, {"n": 4, "m": 6, "d_k": 64, "d_v": 32}),
    (D.geometry_figure, {"d_k": 16, "n": 300}),
    (D.failure_mode, {"alpha": 0.0, "d_k": 64}),
    (D.failure_mode, {"alpha": 1.0, "d_k": 64}),
]


@pytest.mark.parametrize("func, kw", FIGURES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_figure_functions_return_a_new_deterministic_figure(func, kw):
    a, b = func(**kw), func(**kw)
    assert isinstance(a, Figure) and a is not b
    assert png_bytes(a) == png_bytes(b)


def test_dataflow_labels_every_step_and_shape():
    text = _texts(D.attention_dataflow())
    for label in ("Q", "K", "V", "QK^\\top", "\\sqrt{d_k}", "mask", "softmax", "out"):
        assert label in text, label
    for shape in ("n×d_k", "n×d_v", "n×n"):
        assert shape in text, shape
    numeric = _texts(D.attention_dataflow(n=4, m=6, d_k=64, d_v=32))
    assert "4×64" in numeric and "6×32" in numeric and "4×6" in numeric and "4×32" in numeric
    assert "n×m" not in numeric


def test_dataflow_alt_text_names_the_shapes():
    alt = D.describe_attention_dataflow(n=3, m=5, d_k=8, d_v=2)
    assert "3×8" in alt and "5×2" in alt and "3×5" in alt and "square root" in alt


def test_geometry_labels_and_reference_lines():
    fig = D.geometry_figure(d_k=64, n=300)
    text = _texts(fig)
    assert "\\sqrt{d_k}" in text and "1/\\sqrt{d_k}" in text and "cos" in text
    assert "64" in fig.axes[0].get_title()


def test_geometry_follows_sqrt_dk():
    t = D.geometry_table(d_ks=(4, 64, 1024), n=4000, seed=1)
    d = t.d_k.astype(float)
    assert np.allclose(t.norm / np.sqrt(d), 1, atol=0.15)
    assert np.allclose(t.dot_sd / np.sqrt(d), 1, atol=0.06)
    assert np.allclose(t.cos_rms * np.sqrt(d), 1, atol=0.06)
    row = t.at(64)
    assert row["norm"] == pytest.approx(t.norm[1])
    with pytest.raises(ValueError, match="^d_k"):
        t.at(3)


def test_failure_modes_are_sharp_and_flat():
    sharp = D.failure_row(0.0, d_k=256)
    flat = D.failure_row(1.0, d_k=256)
    ref = D.failure_row(0.5, d_k=256)
    assert sharp.max() > 0.9 and flat.max() < 0.1
    assert ws.entropy(flat) > ws.entropy(ref) > ws.entropy(sharp)
    alt = D.describe_failure_mode(0.5)
    assert "0.5" not in alt and "square root" in alt
    assert "no scale" in _texts(D.failure_mode(0.0, d_k=64))


def test_largest_weights_spread_and_error_bars_over_sequences():
    sharp = D.largest_weights(0.0, d_k=256, n_seqs=100, n_queries=8, seed=0)
    assert sharp.largest.shape == (100, 8) and sharp.n_rows == 800 and sharp.n_seqs == 100
    mean, se = sharp.mean()
    assert 0.85 < mean < 0.97 and 0 < se < 0.01  # typical, not every row at 1.000
    below, below_se = sharp.share_below(0.9)
    assert 0.1 < below < 0.4 and below_se > 0
    assert sharp.quantile(0.5) > 0.98
    # the error bar is over sequences: equal to the spread of the per-sequence means
    per_seq = sharp.largest.mean(axis=1)
    assert se == pytest.approx(per_seq.std(ddof=1) / np.sqrt(100))
    ref = [D.largest_weights(0.5, d_k=d, n_seqs=100, seed=1).mean()[0] for d in (16, 256)]
    assert abs(ref[0] - ref[1]) < 0.02 and max(ref) < 0.4  # scaled: same at every d_k
    assert D.largest_weights(0.0, d_k=64, n_seqs=5, seed=2).largest.tolist() == (
        D.largest_weights(0.0, d_k=64, n_seqs=5, seed=2).largest.tolist()
    )


def test_the_in_brief_listing_shows_the_lines_that_compute_attention():
    """in-brief includes a few lines of scaled_dot_product_attention by number: keep them right."""
    import re
    from pathlib import Path

    from sphinx.config import Config
    from sphinx.directives.code import LiteralIncludeReader

    root = Path(__file__).resolve().parents[1]
    chapter = (root / "book" / "in-brief.md").read_text(encoding="utf-8")
    block = re.search(r"```\{literalinclude\} \.\./(\S+)\n((?::\w[\w-]*:.*\n)+)```", chapter)
    assert block, "in-brief has no literalinclude"
    options = dict(re.findall(r":([\w-]+): ?(.*)", block.group(2)))
    text, _ = LiteralIncludeReader(str(root / block.group(1)), options, Config()).read()
    lines = text.strip().splitlines()
    assert lines[0].startswith("def scaled_dot_product_attention(")
    assert "attention_scores(q, k, scale=scale)" in lines[1]
    assert "np.exp(scores - scores.max(" in text and "weights /= weights.sum(" in text
    assert lines[-1].strip() == "return weights @ v, weights"
    assert len(lines) <= 6


@settings(max_examples=25, deadline=None)
@given(alpha=st.floats(0, 2), d_k=st.integers(1, 512), seed=st.integers(0, 10))
def test_failure_row_is_a_probability_vector(alpha, d_k, seed):
    p = D.failure_row(alpha, d_k=d_k, n_keys=8, seed=seed)
    assert p.shape == (8,) and np.all(np.isfinite(p)) and np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "func, kw, name",
    [
        (D.attention_dataflow, {"n": 0}, "n"),
        (D.attention_dataflow, {"d_k": -3}, "d_k"),
        (D.describe_attention_dataflow, {"m": 0}, "m"),
        (D.geometry_figure, {"d_k": 3}, "d_k"),
        (D.geometry_figure, {"d_k": 0}, "d_k"),
        (D.geometry_table, {"n": 1}, "n"),
        (D.geometry_table, {"d_ks": [4, 0]}, "d_ks"),
        (D.failure_mode, {"alpha": -1.0}, "alpha"),
        (D.failure_mode, {"alpha": float("nan")}, "alpha"),
        (D.failure_mode, {"d_k": 0}, "d_k"),
        (D.failure_row, {"alpha": 0.5, "n_keys": 0}, "n_keys"),
        (D.largest_weights, {"n_seqs": 1}, "n_seqs"),
        (D.largest_weights, {"n_queries": 0}, "n_queries"),
        (D.largest_weights, {"alpha": -0.1}, "alpha"),
    ],
)
def test_bad_input_raises_valueerror_naming_the_parameter(func, kw, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        func(**kw)
