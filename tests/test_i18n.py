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


def test_static_figure_takes_its_chinese_drawing_and_alt():
    en, zh = _line(), _line(2)
    fig = ws.figure(en, alt="a line", caption="PDF edition", zh=zh, alt_zh="一条线")
    t = fig.translated("zh")
    assert t.fig is zh and t.alt == "一条线" and t.caption == i18n.tr("PDF edition", "zh")
    with pytest.raises(TypeError, match="zh"):
        ws.figure(en, alt="a", caption="b", zh="not a figure")


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
