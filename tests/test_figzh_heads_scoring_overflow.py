"""Chinese words in the figures and alt texts of heads, scoring and overflow (issue 19).

Each figure function and its alt-text function take ``lang``: "zh" draws Chinese words
(no missing glyph, nothing clipped), "en" is the English of before, word for word, and
any other value is a ValueError naming ``lang``.
"""

import ast
import logging
import re
import string
import warnings
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

import whysqrt as ws
from whysqrt import i18n
from whysqrt.interactive import labels_outside

H, S, OV = ws.heads, ws.scoring, ws.overflow
CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = r"\d+(?:[,.]\d+)*%?"
PART = i18n.CATALOGUE  # the package catalogue (the part file was merged into it)
MODULES = [Path(m.__file__) for m in (H, S, OV)]

#: figure function, its alt-text function (None for the still figure), parameters drawn
FIGURES = {
    "cost": (H.cost_figure, H.describe_cost_figure, [dict(h=1, n=256), dict(h=12, n=4096)]),
    "maps": (H.head_maps, H.describe_head_maps, [dict(h=1), dict(h=8)]),
    "decode": (
        H.decode_read_figure,
        H.describe_decode_read_figure,
        [dict(g=1, batch=1), dict(g=8, batch=8), dict(g=64, batch=64)],
    ),
    "variance": (
        H.logit_variance_figure,
        None,
        [dict(d_model=64, configs=[(1, None), (4, 2)], draws=2)],
    ),
    "spread": (
        S.score_spread_figure,
        S.describe_score_spread_figure,
        [dict(d_k=1), dict(d_k=1024)],
    ),
    "self": (
        S.self_attention_figure,
        S.describe_self_attention_figure,
        [dict(d_k=64, shared=True), dict(d_k=1, shared=False)],
    ),
    "online": (
        OV.online_softmax_figure,
        OV.describe_online_softmax_figure,
        [dict(step=1), dict(step=5), dict(step=6)],
    ),
    "saturation": (
        OV.saturation_figure,
        OV.describe_saturation_figure,
        [dict(scale=0.25, correct=False), dict(scale=64.0, correct=True)],
    ),
}
CASES = [(name, i) for name, (_, _, ps) in FIGURES.items() for i in range(len(ps))]


def _words(fig) -> list[str]:
    """Every text of a drawn figure but tick labels: titles, labels, legend, table cells."""
    FigureCanvasAgg(fig).draw()
    ticks = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    out = [t.get_text() for t in fig.findobj(Text) if id(t) not in ticks]
    for ax in fig.axes:
        for table in ax.tables:
            out += [cell.get_text().get_text() for cell in table.get_celld().values()]
    return [t for t in out if re.search(r"[A-Za-z\u4e00-\u9fff]", t)]


@pytest.mark.parametrize("name,i", CASES)
def test_chinese_figure_has_chinese_words_all_drawn_and_inside(name, i, caplog):
    func, _, params = FIGURES[name]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        fig = func(**params[i], lang="zh")
        words = _words(fig)
    missing = [str(w.message) for w in caught if "glyph" in str(w.message).lower()]
    missing += [r.getMessage() for r in caplog.records if "glyph" in r.getMessage().lower()]
    assert not missing, missing  # mathtext ($...$) has no CJK glyphs: it logs, not warns
    assert any(CJK.search(w) for w in words), words
    assert labels_outside(fig) == []


@pytest.mark.parametrize("name,i", [c for c in CASES if FIGURES[c[0]][1] is not None])
def test_chinese_alt_text(name, i):
    _, alt, params = FIGURES[name]
    zh, en = alt(**params[i], lang="zh"), alt(**params[i])
    assert CJK.search(zh) and zh != en
    assert "{" not in zh and "  " not in zh
    assert not re.search(r" [，。：；（）]|[，。：；（）] ", zh), zh  # no space by full-width marks
    # every number of the English alt text is in the Chinese one (except billions, in 亿)
    if name != "cost":
        assert sorted(re.findall(NUMBER, en)) == sorted(re.findall(NUMBER, zh))


@pytest.mark.parametrize("name", FIGURES)
def test_unknown_language_is_refused(name):
    func, alt, params = FIGURES[name]
    for f in (func, alt) if alt else (func,):
        with pytest.raises(ValueError, match="lang"):
            f(**params[0], lang="xx")


#: English words of each figure at its defaults before ``lang`` existed (tick labels aside).
ENGLISH = {
    "cost": [
        "6.4e+09",
        "9.7e+09",
        "Q, K, V",
        "d_model = 768, h = 12 (d_k = 64), n = 1024, batch 4",
        "float32 memory per layer (MiB)",
        "multiply-adds per layer",
        "projections",
        "scores\n(dashed: h = 1)",
        "scores +\nweighted sum",
        "weights",
    ],
    "maps": ["head 1 (d_k = 16)", "head 2 (d_k = 16)", "key token", "query token"],
    "decode": [
        "GQA (G = 8), selected",
        "Llama 2 70B shape, batch 1: cache = weights at n = 420,992 for G = 8",
        "MHA (G = 64)",
        "MQA (G = 1)",
        "context length n (tokens)",
        "share of bytes read that is KV cache",
    ],
    "variance": [
        "$q\\cdot k/\\sqrt{d_k}$ (line: 1)",
        "h=1",
        "h=4\ng=2",
        "raw $q\\cdot k$ (line: $d_k$)",
        "variance of a head's logits",
    ],
    "spread": [
        "additive (sd 0.64)",
        "additive bound ±6.1",
        "density",
        "entries N(0, 1): 81% saturated",
        "entries N(0, 1/d_k): 6% saturated",
        "q·k (sd 8.09)",
        "q·k/√d_k (sd 1.01)",
        "saturated units sit at ±1 and pass no gradient",
        "score",
        "scores for standard normal q, k with $d_k$ = 64",
        "tanh unit output (additive attention, $d_a$ = 64)",
    ],
    "self": [
        "attention weight",
        "key j",
        "query i",
        "shared W (q = k), $d_k$ = 64: diagonal is the row max in 12/12 rows\n"
        "mean self-weight 0.98",
    ],
    "online": [
        "$e^{m_{old}-m_{new}}$",
        "after block 3 of 6",
        "block",
        "direct, first 12",
        "logit $x_j$; running max $m$ (red)",
        "max $m$",
        "position j (grey lines: block boundaries)",
        "shaded: $m$ grew, so the old $\\ell$ was rescaled",
        "sum $\\ell$",
    ],
    "saturation": [
        "class (red = target)",
        "cross-entropy $\\|p-y\\|$",
        "logit scale",
        "p = softmax(logits)",
        "scale 1: max p = 0.330",
        "softmax Jacobian $\\|J\\|_2$",
        "target = smallest logit",
    ],
}
DEFAULTS = {"variance": FIGURES["variance"][2][0], "online": dict(step=3)}


@pytest.mark.parametrize("name", FIGURES)
def test_english_words_unchanged(name):
    fig = FIGURES[name][0](**DEFAULTS.get(name, {}))
    words = [w for w in _words(fig) if not w.startswith("$\\mathdefault")]
    assert sorted(set(words)) == sorted(ENGLISH[name])


def test_english_alt_texts_unchanged():
    assert H.describe_cost_figure(h=1, n=256) == (
        "Two log-scale bar charts for one attention layer with d_model = 768, h = 1 (d_k = 768), "
        "n = 256 and batch 4: 2.8 billion multiply-adds, the same for every h; in float32, 9 MiB "
        "of weights, 9 MiB of queries, keys and values, and 1 MiB of scores, the size for a "
        "single head."
    )
    assert H.describe_cost_figure().endswith(
        "and 192 MiB of scores, 12 times the 16 MiB a single head would store."
    )
    assert H.describe_head_maps(h=1).startswith("One causal attention map over the sequence ")
    assert "; head 1 puts the most weight on the previous token, 0.90 on average." in (
        H.describe_head_maps(h=2)
    )
    assert H.describe_decode_read_figure(g=1) == (
        "Lines of the share of the bytes read per generated token that is key/value cache, "
        "against context length from 512 to 131,072 tokens, Llama 2 70B shape, batch 1: with "
        "G = 1, one key/value head (multi-query attention) the cache outweighs the weights beyond "
        "3,310,592 tokens (beyond the axis), 55.4 times later than the 59,792 tokens of "
        "multi-head attention."
    )
    assert H.describe_decode_read_figure(g=64, batch=64).endswith(
        "batch 64: with G = 64 key/value heads (multi-head attention) the cache outweighs the "
        "weights beyond 934 tokens."
    )
    assert S.describe_self_attention_figure(shared=False, d_k=1).startswith(
        "12 by 12 attention matrix with separate projections at d_k = 1: "
    )
    assert OV.describe_online_softmax_figure(step=6).endswith(
        "; this was the last block, and ℓ equals the direct sum over all 24 logits, 2.109."
    )
    assert "With the target at the smallest logit (wrong), the cross-entropy" in (
        OV.describe_saturation_figure()
    )


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def _tr_literals() -> list[str]:
    found = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr":
                if node.args and isinstance(node.args[0], ast.Constant):
                    found.append(node.args[0].value)
    return found


def test_every_message_translated_with_the_same_placeholders():
    with open(PART, "rb") as f:
        part = {m.id: m.string for m in read_po(f) if m.id}
    messages = i18n._messages()
    for msgid in _tr_literals():
        assert msgid in messages, f"no Chinese for {msgid!r}"
    for msgid, msgstr in part.items():
        extra = {"total_yi"} if "billion" in msgid else set()  # the count in 亿 (10^8)
        assert _fields(msgstr) <= _fields(msgid) | extra, msgid
        assert _fields(msgid) - {"total"} <= _fields(msgstr), msgid


def test_chinese_slider_draws_its_own_frames():
    slider = ws.interact(
        H.head_maps,
        h=(1, 2),
        alt=H.describe_head_maps,
        caption="Causal attention maps of each head on the planted 12-token sequence (rows: "
        "queries, columns: keys; darker = more weight). d_model = 32 is split into h heads; each "
        "pattern is worth the same scaled logit for every h.",
    )
    zh = slider.translated("zh")
    assert zh.fixed.get("lang") == "zh"
    assert zh.png(h=1) != slider.png(h=1)
    assert CJK.search(zh.describe(h=1))
