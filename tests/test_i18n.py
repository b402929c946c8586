"""whysqrt.i18n and the two-language outputs: the Chinese edition's text made in Python."""

import re
import warnings

import pytest
from matplotlib.figure import Figure

import whysqrt as ws
from whysqrt import i18n
from whysqrt.interactive import ZH_SUFFIX, _zh_word

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_english_is_the_source_and_chinese_comes_from_the_catalogue():
    assert i18n.tr("What to look for:", "en") == "What to look for:"
    assert HAN.search(i18n.tr("What to look for:", "zh"))
    assert i18n.tr("", "zh") == ""


@pytest.mark.parametrize("bad", ["fr", "", "ZH", None])
def test_unknown_language_names_the_parameter(bad):
    with pytest.raises(ValueError, match="lang"):
        i18n.tr("PDF edition", bad)


def test_a_missing_translation_is_an_error_not_english():
    with pytest.raises(i18n.MissingTranslation, match="not a message the book uses"):
        i18n.tr("not a message the book uses", "zh")
    with pytest.raises(TypeError, match="text"):
        i18n.tr(3, "zh")


def test_text_formats_the_same_values_in_both_languages():
    msg = ws.text("Version {version}, built {date}.", version="1.2", date="2026-12-06")
    assert msg == "Version 1.2, built 2026-12-06."  # a str: usable wherever English was
    zh = i18n.tr(msg, "zh")
    assert "1.2" in zh and "2026-12-06" in zh and HAN.search(zh)
    with pytest.raises(ValueError, match="template"):
        ws.text("  ")


def test_edition_of_a_sphinx_language():
    assert [i18n.edition(x) for x in ("zh_CN", "zh", "en", None)] == ["zh", "zh", "en", "en"]


def test_glued_words_are_translated_and_values_kept():
    assert _zh_word("yes") == i18n.tr("yes", "zh") != "yes"
    for value in ("nan", "-inf", "[nan, 0.0, 0.0]", "lse = inf, p = [0.0]"):
        assert _zh_word(value) == value


def _line(d_k=1):
    fig = Figure()
    fig.add_subplot().plot([0, d_k])
    return fig


def test_a_translated_slider_shares_frames_when_its_figure_has_no_words():
    slider = ws.interact(
        _line,
        d_k=[1, 2],
        alt=lambda d_k: f"a line to {d_k}",
        caption="PDF edition",
        labels={"d_k": "heads h"},
        look_for="PDF edition",
    )
    zh = slider.translated("zh")
    assert zh.caption == i18n.tr("PDF edition", "zh") and zh.labels["d_k"] == i18n.tr(
        "heads h", "zh"
    )
    assert zh.png(d_k=2) == slider.png(d_k=2)  # the same picture, drawn once
    assert i18n.tr("What to look for:", "zh") in zh.static_html(all_frames=True)
    assert "What to look for" in slider.static_html(all_frames=True)
    assert slider.translated("en") is slider


def test_a_figure_function_with_lang_draws_its_own_frames():
    seen = []

    def draw(d_k=1, lang="en"):
        seen.append(lang)
        return _line(d_k)

    slider = ws.interact(draw, d_k=[1, 2], alt=lambda d_k: "x", caption="PDF edition")
    slider.translated("zh").png(d_k=1)
    assert "zh" in seen


class _Counted:
    """A figure function (or alt function) that counts its calls per language."""

    def __init__(self, make):
        self.make, self.calls = make, []

    def __call__(self, d_k, *, scale=1, lang="en"):
        self.calls.append(lang)
        return self.make(d_k * scale, lang)


def _counted_figure(monkeypatch, editions):
    if editions is None:
        monkeypatch.delenv("WHYSQRT_EDITIONS", raising=False)
    else:
        monkeypatch.setenv("WHYSQRT_EDITIONS", editions)
    draw = _Counted(lambda d_k, lang: _line(d_k if lang == "en" else -d_k))
    alt = _Counted(lambda d_k, lang: "一条线" if lang == "zh" else f"a line to {d_k}")
    fig = ws.figure(draw, 2, scale=3, alt=alt, caption="PDF edition")
    return fig, draw, alt


def test_an_english_session_never_draws_the_chinese_figure(monkeypatch):
    published = []
    monkeypatch.setattr(ws.interactive, "_publish", lambda n, v, d: published.append(n))
    fig, draw, alt = _counted_figure(monkeypatch, None)
    ws.glue("line", fig, display=False)
    fig._repr_mimebundle_()
    assert published == ["line"] and draw.calls == ["en"] and alt.calls == ["en"]
    assert fig.alt == "a line to 6"  # func(*args, **kwargs), alt(*args, **kwargs)


def test_the_chinese_figure_is_drawn_once_when_asked_for(monkeypatch):
    published = []
    monkeypatch.setattr(ws.interactive, "_publish", lambda n, v, d: published.append((n, v)))
    fig, draw, alt = _counted_figure(monkeypatch, "en,zh")
    ws.glue("line", fig, display=False)
    zh = fig.translated("zh")
    assert [n for n, _ in published] == ["line", "line" + ZH_SUFFIX] and published[1][1] is zh
    assert draw.calls == ["en", "zh"] and alt.calls == ["en", "zh"]  # once, cached
    assert zh.fig.axes[0].lines[0].get_ydata()[1] == -6  # the lang="zh" picture, same args
    assert zh.alt == "一条线" and zh.caption == i18n.tr("PDF edition", "zh") and zh.lang == "zh"
    assert (
        zh._png != fig._png
        and zh._repr_mimebundle_()["image/png"] != (fig._repr_mimebundle_()["image/png"])
    )
    assert fig.translated("en") is fig and zh.translated("zh") is zh


def test_a_ready_figure_or_an_alt_string_keeps_one_picture_and_translates_alt():
    en = _line()
    fig = ws.figure(en, alt="PDF edition", caption="PDF edition")
    t = fig.translated("zh")
    assert t.fig is en and t.alt == i18n.tr("PDF edition", "zh") and t.lang == "zh"
    seen = []
    fig = ws.figure(
        lambda d_k: seen.append(d_k) or _line(d_k), 4, alt="x = 4", caption="PDF edition"
    )
    assert fig.translated("zh").fig is fig.fig and seen == [4]  # no lang: drawn once
    assert fig.translated("zh").alt == "x = 4"  # not in the catalogue: kept


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: ws.figure("not a function", alt="a", caption="b"), TypeError, "^func"),
        (lambda: ws.figure(lambda: "no figure", alt="a", caption="b"), TypeError, "^func"),
        (lambda: ws.figure(_line, alt="", caption="b"), ValueError, "^alt"),
        (lambda: ws.figure(_line, alt=lambda: " ", caption="b"), ValueError, "^alt"),
        (lambda: ws.figure(_line, alt="a", caption=""), ValueError, "^caption"),
        (lambda: ws.figure(_line, alt="a", caption="b", lang="zh"), ValueError, "^lang"),
        (lambda: ws.figure(_line(), 2, alt="a", caption="b"), ValueError, "^args"),
    ],
)
def test_bad_figure_input_names_the_parameter(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_chinese_drawing_that_is_not_a_figure_is_an_error(monkeypatch):
    fig = ws.figure(lambda lang="en": _line() if lang == "en" else None, alt="a", caption="b")
    with pytest.raises(TypeError, match="^func must return a matplotlib Figure"):
        fig.translated("zh")


def test_table_titles_and_caption_translate_numbers_stay():
    table = ws.table(["dₖ", "PDF edition"], [[64, 0.5]], caption="PDF edition", fmt=["d", ".2f"])
    zh = table.translated("zh")
    assert zh.header[0] == "dₖ" and zh.header[1] == i18n.tr("PDF edition", "zh")
    assert zh.cells == table.cells and HAN.search(zh.caption)


def test_glue_publishes_the_chinese_copy_beside_the_english(monkeypatch):
    monkeypatch.setenv("WHYSQRT_EDITIONS", "en,zh")  # as in the site build
    published = []
    monkeypatch.setattr(ws.interactive, "_publish", lambda n, v, d: published.append((n, v)))
    ws.glue("answer", "yes", display=False)
    ws.glue("number", 3.5, display=False)
    ws.glue("fig", ws.figure(_line(), alt="a", caption="PDF edition"), display=False)
    names = [n for n, _ in published]
    assert names == ["answer", "answer" + ZH_SUFFIX, "number", "fig", "fig" + ZH_SUFFIX]
    assert published[1][1] == i18n.tr("yes", "zh")


def test_chinese_text_in_a_figure_is_drawn_with_a_cjk_font():
    """Chinese glyphs come from the CJK font, not the missing-glyph box (Debian fonts-noto-cjk)."""
    if ws.plots.CJK_FONT is None:
        pytest.fail("no CJK font installed: apt-get install fonts-noto-cjk (make test does)")
    fig = Figure()
    fig.add_subplot().set_title("方差 variance")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws.interactive.png_bytes(fig)
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_a_learners_kernel_glues_english_only(monkeypatch):
    """Outside the site build nothing is translated or drawn twice (JupyterLab's Run All)."""
    monkeypatch.delenv("WHYSQRT_EDITIONS", raising=False)
    published = []
    monkeypatch.setattr(ws.interactive, "_publish", lambda n, v, d: published.append(n))
    ws.glue("fig", ws.figure(_line(), alt="a", caption="PDF edition"), display=False)
    assert published == ["fig"]
    monkeypatch.setenv("WHYSQRT_EDITIONS", "en,fr")
    with pytest.raises(ValueError, match="lang"):
        ws.interactive.editions()
