"""Chinese words in the figures of in-brief and variance-proof, and in their alt text (issue 19).

whysqrt.plots and whysqrt.diagrams draw their words in ``lang``: the Chinese drawing has
Chinese in it, no missing glyph and no clipped label; the English drawing and alt text do
not change; an unknown language is refused.
"""

import re

import pytest
from matplotlib.text import Text

import whysqrt as ws
from whysqrt.interactive import _savefig

P, D = ws.plots, ws.diagrams
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
HAN = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def table():
    return ws.experiments.dot_product_moments_mc(d_ks=(1, 8, 64, 512), n=500, seed=0)


# (figure function, its alt-text function or None, keyword arguments); table given later
FIGURES = [
    (P.dot_product_histogram, P.describe_dot_product_histogram, {"d_k": 64}),
    (P.dot_product_histogram, P.describe_dot_product_histogram, {"d_k": 1, "scaled": True}),
    (P.moments_vs_dk, None, {}),
    (D.attention_dataflow, D.describe_attention_dataflow, {}),
    (D.attention_dataflow, D.describe_attention_dataflow, {"n": 4, "m": 6, "d_k": 8, "d_v": 2}),
    (D.geometry_figure, D.describe_geometry_figure, {"d_k": 64}),
    (D.failure_mode, D.describe_failure_mode, {"alpha": 0.0}),
    (D.failure_mode, D.describe_failure_mode, {"alpha": 1.0}),
    (D.failure_mode, D.describe_failure_mode, {"alpha": 0.25}),
]
IDS = [f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(FIGURES)]


def _args(func, kw, table):
    return ((table,) if func is P.moments_vs_dk else ()), kw


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]


@pytest.mark.parametrize("func, describe, kw", FIGURES, ids=IDS)
def test_chinese_drawing_has_chinese_words_all_glyphs_and_no_clipped_label(
    func, describe, kw, table, draw_in_chinese
):
    args, kw = _args(func, kw, table)
    fig, _ = draw_in_chinese(lambda: func(*args, **kw, lang="zh"))
    # a text that mixes Chinese and $math$ needs the CJK font itself (mathtext has no fallback)
    for t in fig.findobj(Text):
        if "$" in t.get_text() and HAN.search(t.get_text()):
            assert t.get_fontfamily() == [P.CJK_FONT], t.get_text()


@pytest.mark.parametrize("func, describe, kw", FIGURES, ids=IDS)
def test_english_drawing_is_unchanged_by_the_translation(func, describe, kw, table):
    args, kw = _args(func, kw, table)
    default, english = func(*args, **kw), func(*args, **kw, lang="en")
    assert _savefig(default) == _savefig(english)
    assert not any(CJK.search(t) for t in _texts(english))
    if describe is not None:
        assert describe(**kw) == describe(**kw, lang="en")


@pytest.mark.parametrize("func, describe, kw", FIGURES, ids=IDS)
def test_an_unknown_language_is_refused_naming_lang(func, describe, kw, table):
    args, kw = _args(func, kw, table)
    with pytest.raises(ValueError, match="lang"):
        func(*args, **kw, lang="xx")
    if describe is not None:
        with pytest.raises(ValueError, match="lang"):
            describe(**kw, lang="xx")


NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+\.\d+")  # the measured values: decimals, thousands


@pytest.mark.parametrize("func, describe, kw", [f for f in FIGURES if f[1]], ids=str)
def test_chinese_alt_text_is_chinese_and_keeps_every_measured_value(func, describe, kw):
    en, zh = describe(**kw), describe(**kw, lang="zh")
    assert HAN.search(zh) and not HAN.search(en)
    assert zh.endswith("。") and "," not in NUMBER.sub("", zh)  # full-width punctuation
    assert sorted(NUMBER.findall(zh)) == sorted(NUMBER.findall(en))


def test_english_alt_text_is_as_before():
    assert P.describe_dot_product_histogram(64) == (
        "Histogram of 4,000 samples of the raw dot product q·k for d_k = 64, over the "
        "predicted normal curve: sample variance 65.4 against the predicted 64."
    )
    assert D.describe_failure_mode(1.0) == (
        "Bar chart of one query's softmax weights over 16 keys at d_k = 256 with 1/d_k: "
        "largest weight 0.072, entropy 2.77 nats (uniform 2.77); an outline shows the same "
        "query divided by the square root of d_k (largest weight 0.368)."
    )
    assert D.describe_geometry_figure(64).startswith(
        "Left, a histogram of the cosine between random query and key vectors with d_k = 64, "
        "concentrated within one over the square root of d_k of zero (root mean square 0.127)."
    )


def test_chinese_readout_lines_up_its_values():
    fig = P.dot_product_histogram(64, lang="zh")
    readout = next(t for t in fig.axes[0].texts if "样本方差" in t.get_text())
    first, second = readout.get_text().split("\n")
    # an ideographic space (as wide as a character) pads 预测值 to the width of 样本方差
    assert first.index("=") == second.index("=")


def test_sliders_draw_their_chinese_frames_with_chinese_alt_text():
    inter = ws.interact(
        D.geometry_figure,
        d_k=[16, 64],
        alt=D.describe_geometry_figure,
        caption="Left: the cosine between 2,000 seeded pairs of standard normal q and k, with "
        "dashed lines at ±1/√d_k. Right: mean ‖q‖, the standard deviation of q·k and the "
        "root-mean-square cosine against d_k (log-log), with the reference lines √d_k and 1/√d_k.",
    )
    zh = inter.translated("zh")
    assert zh.png(d_k=64) != inter.png(d_k=64)
    assert HAN.search(zh.describe(d_k=64)) and not HAN.search(inter.describe(d_k=64))
