"""Chinese figures and alt texts of whysqrt.sharpness and whysqrt.training (issue 19).

Every figure and alt-text function takes ``lang``: in Chinese its words come from the
package catalogue (whysqrt.po) and every glyph is drawn (no mathtext among Chinese
words, no missing-glyph warning), nothing sticks out of the canvas, and the English is
what it was before ``lang`` existed (its words and alt texts are spelt out here).
"""

import logging
import re
import warnings

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import whysqrt as ws
from whysqrt.interactive import labels_outside

sh, tr = ws.sharpness, ws.training
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def data():
    """Small versions of every input the figures take."""
    return {
        "table": sh.sharpness_sweep(d_ks=(1, 4), n_keys=4, n_rows=20, n_seeds=2),
        "spread": dict(factors=(0.5, 5.0, 50.0), d_k=16, n_keys=8, n_rows=50, n_seeds=3),
        "race": tr.race_sweep(
            (4, 8),
            (0.0, 0.5),
            {"sgd": (0.3, 1.0, 3.0), "adam": (0.01, 0.03, 0.1)},
            seeds=2,
            max_steps=300,
        ),
        "steps": tr.logit_step((8, 16), seeds=2, batch=8),
    }


#: name -> (figure function, alt function), each taking (data, **kw).
FUNCS = {
    "sharpness_vs_dk": (
        lambda d, **kw: sh.sharpness_vs_dk(d["table"], **kw),
        lambda d, **kw: sh.describe_sharpness_vs_dk(d["table"], **kw),
    ),
    "temperature_panel": (
        lambda d, **kw: sh.temperature_panel(3.0, n_keys=8, **kw),
        lambda d, **kw: sh.describe_temperature_panel(3.0, n_keys=8, **kw),
    ),
    "gradient_spread": (
        lambda d, **kw: sh.gradient_spread(**d["spread"], **kw),
        lambda d, **kw: sh.describe_gradient_spread(**d["spread"], **kw),
    ),
    "logit_step_figure": (
        lambda d, **kw: tr.logit_step_figure(d["steps"], (8, 16), **kw),
        lambda d, **kw: tr.describe_logit_step_figure(d["steps"], (8, 16), **kw),
    ),
    "race_figure": (
        lambda d, **kw: tr.race_figure(d["race"], **kw),
        lambda d, **kw: tr.describe_race_figure(d["race"], **kw),
    ),
    "optimum_map": (
        lambda d, **kw: tr.optimum_map(d["race"], alpha=0.5, **kw),
        lambda d, **kw: tr.describe_optimum_map(d["race"], alpha=0.5, **kw),
    ),
    "saturation_panel": (
        lambda d, **kw: tr.saturation_panel(32, rows=300, **kw),
        lambda d, **kw: tr.describe_saturation_panel(32, rows=300, **kw),
    ),
}

#: The English words of each figure (titles, axis labels, legend, notes), as before ``lang``.
ENGLISH_TEXTS = {
    "sharpness_vs_dk": [
        "largest weight", "$d_k$", "", "unscaled", "scaled", "entropy (nats)", "$d_k$", "",
        "share of rows with max > 0.99", "$d_k$", "", "‖J‖₂ = ‖diag(p) − ppᵀ‖₂", "$d_k$", "",
    ],
    "temperature_panel": [
        "one query, factor c = 3", "key $j$", "weight $p_j$", "max 0.762\nH = 0.78 / 2.08",
        "over 500 queries, $d_k$ = 64", "factor c", "", "entropy / log n", "median ‖J‖₂",
        "median c‖J‖₂", "mean c‖J‖₂",
    ],
    "gradient_spread": [
        "over rows ($d_k$ = 16, 8 keys)", "factor c", "per-row c‖J‖₂", "median", "90th pct",
        "99th pct", "limit 1.49", "mean ± 2 s.e.", "rows carrying half the total", "factor c",
        "share of rows",
    ],
    "logit_step_figure": [
        "SGD: predicted $\\propto d_k^{1-2α}$", "$d_k$", "RMS logit change / lr", "α = 0",
        "α = 0.5", "α = 1", "Adam: predicted $\\propto d_k^{1-α}$", "$d_k$", "",
    ],
    "race_figure": [
        "SGD, each at its best learning rate", "$d_k$", "steps to loss < 0.01", "α = 0",
        "α = 0.5", "Adam, each at its best learning rate", "$d_k$", "",
    ],
    "optimum_map": [
        "SGD (labels: $d_k$)", "best learning rate", "steps to loss < 0.01 there", "α = 0",
        "α = 0.5", "4", "8", "4", "8", "Adam (labels: $d_k$)", "best learning rate", "",
        "4", "8", "4", "8",
    ],
    "saturation_panel": [
        "$d_k$ = 32, at initialisation", "|∂L/∂s| per example (clipped at 1e-8)", "examples",
        "α = 0", "α = 0.5", "", "$d_k$", "median |∂L/∂s|",
    ],
}  # fmt: skip


def texts(fig) -> list[str]:
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        out += [t.get_text() for t in legend.get_texts()] if legend else []
        out += [t.get_text() for t in ax.texts]
    return out


def draw_recorded(make):
    """Draw ``make()``'s figure; return it with the missing-glyph warnings and log lines."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append  # mathtext logs a missing glyph instead of warning
    logger = logging.getLogger("matplotlib")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = make()
            FigureCanvasAgg(fig).draw()
    finally:
        logger.removeHandler(handler)
    missing = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    missing += [r.getMessage() for r in records if "glyph" in r.getMessage().lower()]
    return fig, missing


@pytest.mark.parametrize("name", FUNCS)
def test_chinese_figure_has_chinese_words_every_glyph_and_nothing_clipped(data, name):
    fig, missing = draw_recorded(lambda: FUNCS[name][0](data, lang="zh"))
    words = texts(fig)
    assert any(CJK.search(t) for t in words), words
    assert not any("$" in t and CJK.search(t) for t in words)  # mathtext draws CJK as boxes
    assert missing == []
    assert labels_outside(fig) == []


@pytest.mark.parametrize("name", FUNCS)
def test_chinese_alt_text_is_chinese_with_the_same_numbers(data, name):
    en, zh = FUNCS[name][1](data), FUNCS[name][1](data, lang="zh")
    assert CJK.search(zh) and not re.search(r"\b(the|and|of|at|steps)\b", zh), zh
    numbers = lambda s: sorted(re.findall(r"\d+(?:\.\d+)?(?:e[+-]\d+)?", s))  # noqa: E731
    assert numbers(zh) == numbers(en)


@pytest.mark.parametrize("name", FUNCS)
def test_english_figure_words_are_unchanged(data, name):
    fig = FUNCS[name][0](data)
    assert texts(fig) == ENGLISH_TEXTS[name]
    assert texts(FUNCS[name][0](data, lang="en")) == ENGLISH_TEXTS[name]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("which", [0, 1])
def test_unknown_language_is_refused(data, name, which):
    with pytest.raises(ValueError, match=r"^lang must be one of .*'xx'"):
        FUNCS[name][which](data, lang="xx")


def test_draw_weights_in_chinese_keeps_its_readout_drawable():
    fig, missing = draw_recorded(lambda: sh.temperature_panel(0.3, lang="zh"))
    note = fig.axes[0].texts[-1]
    assert note.get_text().startswith("最大权重") and missing == []
    with pytest.raises(ValueError, match="^lang"):
        sh.draw_weights(fig.axes[0], [0.5, 0.5], "k", "t", lang="fr")


def test_english_alt_texts_are_unchanged(data):
    """The English alt texts, spelt out as the code wrote them before ``lang``."""
    t = data["table"]
    u, s = t.at(4, "unscaled", "max_weight")[0], t.at(4, "scaled", "max_weight")[0]
    assert sh.describe_sharpness_vs_dk(t) == (
        "Four panels against d_k from 1 to 4 (4 keys, 2 seeds of 20 rows per point): unscaled, "
        f"the largest weight climbs to {u:.3f}, the entropy and the mean spectral norm of the "
        "Jacobian fall towards 0 and most rows become one-hot; scaled, all four change a little "
        f"up to d_k = 16 and are flat beyond (largest weight {s:.3f} at d_k = 4)."
    )
    st = sh.temperature_curves([3.0], d_k=64, n_keys=8)
    assert sh.describe_temperature_panel(3.0, n_keys=8) == (
        f"Scaled logits multiplied by c = 3 over 8 keys: mean entropy {st['entropy'][0]:.2f} nats "
        f"of at most {np.log(8):.2f}, median spectral norm of the Jacobian "
        f"{st['jac_norm'][0]:.3f}, median c‖J‖₂ {st['grad_norm'][0]:.3f} and mean c‖J‖₂ "
        f"{st['grad_norm_mean'][0]:.3f}. Against c, the median Jacobian norm falls to 1/8 for "
        "small c and to 0 for large c, the median c‖J‖₂ vanishes at both ends, and the mean "
        "c‖J‖₂ rises and stays high for large c."
    )
    summary, limit = sh._spread((0.5, 5.0, 50.0), 16, 8, 50, 3, 0)
    assert sh.describe_gradient_spread(**data["spread"]) == (
        "Two log-scale panels against the factor c from 0.5 to 50 (d_k = 16, 8 keys, 3 seeds of "
        f"50 rows). Left: the median per-row gradient norm c‖J‖₂ rises to "
        f"{summary['q50'].max():.2f} and then falls to {summary['q50'][-1]:.1e} at c = 50, while "
        f"the 99th percentile keeps rising to {summary['q99'][-1]:.0f}; the mean, noisy at large "
        f"c because a few rows carry it, ends at {summary['mean'][-1]:.2f} against its limit "
        f"{limit:.2f}. Right: the share of rows that carries half the total falls from "
        f"{summary['half_share'][0]:.2f} to {summary['half_share'][-1]:.4f}."
    )
    sw = data["race"]
    steps = lambda o, a: ", ".join(f"{sw.steps_summary(o, w, a)[0]:.0f}" for w in (4, 8))  # noqa: E731
    assert tr.describe_race_figure(sw) == (
        "Steps to loss < 0.01 at the best learning rate against d_k = 4, 8 (mean over seeds): "
        + "; ".join(
            f"{n} alpha {a:g}: {steps(o, a)}"
            for o, n in (("sgd", "SGD"), ("adam", "Adam"))
            for a in (0.0, 0.5)
        )
        + "."
    )
    cell = lambda o, d: (  # noqa: E731
        f"d_k {d}: {tr._optimum(sw, o, d, 0.5)[2]:.0f} steps at {tr._optimum(sw, o, d, 0.5)[0]:.2g}"
    )
    assert tr.describe_optimum_map(sw, alpha=0.5) == (
        "Best learning rate against the steps to loss < 0.01 needed there; "
        f"SGD alpha 0.5: {cell('sgd', 4)}, {cell('sgd', 8)}; "
        f"Adam alpha 0.5: {cell('adam', 4)}, {cell('adam', 8)}."
    )
    g0, g5 = tr._row_gradients(32, 300, 0)
    assert tr.describe_saturation_panel(32, rows=300) == (
        "Gradient of the loss with respect to the logits, per example, at initialisation and "
        f"d_k = 32 (300 examples): median {np.median(g0):.2g} without the scale, "
        f"{np.median(g5):.2g} with 1/sqrt(d_k); a quarter of the examples below "
        f"{np.quantile(g0, 0.25):.2g} and {np.quantile(g5, 0.25):.2g}."
    )
    alt = tr.describe_logit_step_figure(data["steps"], (8, 16))
    assert alt.startswith(
        "Log-log plot of how far one training step moves the logits, per unit learning rate, "
        "against d_k from 8 to 16; power of d_k: SGD: alpha 0 measured "
    )
    assert alt.endswith("(predicted 0)."), alt


def test_chinese_alt_texts_read_as_chinese(data):
    """Chinese separators and terms, spot-checked."""
    zh = tr.describe_race_figure(data["race"], lang="zh")
    assert zh.startswith("在最佳学习率下使损失 < 0.01 所需的步数，d_k = 4、8") and zh.endswith("。")
    assert "SGD，α = 0：" in zh and "；Adam，α = 0.5：" in zh
    assert sh.describe_sharpness_vs_dk(data["table"], lang="zh").startswith("四幅子图")
    title = tr.logit_step_figure(data["steps"], (8, 16), lang="zh").axes[0].get_title()
    assert title == "SGD：预测 ∝ dₖ 的 1−2α 次方"
