"""The audit table in both editions (issue 19): the English table is unchanged, byte for
byte, and the Chinese one (``table_html(..., lang="zh")``, glued as ``audit-table.zh``) shows
the original quote alone, with its headers, verdicts and corrections from the catalogue."""

import ast
import json
from pathlib import Path

import pytest

import whysqrt as ws

A = ws.audit
ROOT = Path(__file__).resolve().parents[1]

CLAIMS = [
    dict(
        source="002",
        quote="≈ [0.184, 0.643, 0.173]",
        translation="approximately <x> & y",
        verdict="incorrect",
        correction="Wrong: a < b & c; recomputed in the softmax-sharpness chapter.",
        anchor="audit-002-softmax",
        chapter=None,
    ),
    dict(
        source="000",
        quote="对于每一层",
        translation="for each layer",
        verdict="correct",
        correction="Correct. See the variance-proof and why-sqrt chapters.",
        anchor="audit-000-heads",
        chapter="multi-head",
    ),
    dict(
        source="002",
        quote="为什么",
        translation="why?",
        verdict="body lost",
        correction="Outside this book's scope.",
        anchor="audit-002-lost",
        chapter=None,
    ),
    dict(
        source="001",
        quote="稍微",
        translation="slightly",
        verdict="imprecise",
        correction="Gap 0.1 gives 0.109 (dk-sizing, not dk-sizing-x).",
        anchor="audit-001-x",
        chapter=None,
    ),
    dict(
        source="004",
        quote="无法",
        translation="cannot",
        verdict="unverifiable",
        correction="No computation settles it.",
        anchor="audit-004-y",
        chapter="classifier-softmax",
    ),
]

#: table_html(CLAIMS).html as the code before the Chinese edition rendered it (main, 6ac2672).
GOLDEN_HTML = (
    '<div class="ws-audit-table" style="overflow-x:auto;font-size:0.9em"><table class="table"><thead><tr><th scope="col">post</th><th scope="col">claim (quote, translation)</th><th scope="col">verdict</th><th scope="col">what the computation shows (check)</th><th scope="col">chapter</th></tr></thead>'
    "<tbody>"
    '<tr class="ws-verdict-correct"><td>000</td><td><span lang="zh">对于每一层</span><br><em>for each layer</em></td><td><strong>correct</strong></td><td>Correct. See the <a href="../book/variance-proof.html">variance-proof</a> and <a href="../book/why-sqrt.html">why-sqrt</a> chapters. <a href="../notebooks/source-audit.html#audit-000-heads">check</a></td><td><a href="../book/multi-head.html">multi-head</a></td></tr>'
    '<tr class="ws-verdict-imprecise"><td>001</td><td><span lang="zh">稍微</span><br><em>slightly</em></td><td><strong>imprecise</strong></td><td>Gap 0.1 gives 0.109 (<a href="../book/dk-sizing.html">dk-sizing</a>, not dk-sizing-x). <a href="../notebooks/source-audit.html#audit-001-x">check</a></td><td><a href="../book/dk-sizing.html">dk-sizing</a></td></tr>'
    '<tr class="ws-verdict-incorrect"><td>002</td><td><span lang="zh">≈ [0.184, 0.643, 0.173]</span><br><em>approximately &lt;x&gt; &amp; y</em></td><td><strong>incorrect</strong></td><td>Wrong: a &lt; b &amp; c; recomputed in the <a href="../book/softmax-sharpness.html">softmax-sharpness</a> chapter. <a href="../notebooks/source-audit.html#audit-002-softmax">check</a></td><td><a href="../book/softmax-sharpness.html">softmax-sharpness</a></td></tr>'
    '<tr class="ws-verdict-body-lost"><td>002</td><td><span lang="zh">为什么</span><br><em>why?</em></td><td><strong>body lost</strong></td><td>Outside this book&#x27;s scope. <a href="../notebooks/source-audit.html#audit-002-lost">check</a></td><td>(outside the book)</td></tr>'
    '<tr class="ws-verdict-unverifiable"><td>004</td><td><span lang="zh">无法</span><br><em>cannot</em></td><td><strong>unverifiable</strong></td><td>No computation settles it. <a href="../notebooks/source-audit.html#audit-004-y">check</a></td><td><a href="../book/classifier-softmax.html">classifier-softmax</a></td></tr>'
    "</tbody></table></div>"
)
GOLDEN_TEXT = (
    "<audit table: 5 claims, 1 correct, 1 imprecise, 1 incorrect, 1 unverifiable, 1 body lost>"
)


def _claims():
    return [A.claim(**c) for c in CLAIMS]


#: Corrections of the notebook (so the catalogue has them) for the Chinese table's tests.
ZH_CORRECTIONS = (
    "Wrong in the second decimal (the first and third weights); recomputed in the softmax-sharpness chapter.",
    "Correct under the assumptions (mean 0, variance 1, all components independent). See the variance-proof chapter.",
    "Figures lost; redone in the softmax-sharpness chapter.",
    "Correct.",
    "Correct.",
)


def _zh_claims():
    return [A.claim(**{**c, "correction": z}) for c, z in zip(CLAIMS, ZH_CORRECTIONS)]


def test_english_table_is_byte_identical_to_before():
    t = A.table_html(_claims())
    assert t.html == GOLDEN_HTML and t.text == GOLDEN_TEXT
    assert t.translated("en") is t
    assert A.table_html(_claims(), lang="en").html == GOLDEN_HTML


def test_english_table_of_a_text_correction_is_its_formatted_english():
    c = A.claim(
        **{
            **CLAIMS[3],
            "correction": ws.text(
                "Gap {g:.1f} gives {w:.3f} (dk-sizing, not dk-sizing-x).", g=0.1, w=0.109
            ),
        }
    )
    old = A.claim(**CLAIMS[3])
    assert A.table_html([c]).html == A.table_html([old]).html


def test_chinese_table_has_chinese_words_and_no_english_translation():
    zh = A.table_html(_zh_claims()).translated("zh")
    assert zh.html == A.table_html(_zh_claims(), lang="zh").html
    for word in (
        "文章",
        "论断（引文）",
        "结论",
        "计算所表明的结果（检查）",
        "章节",
        "（本书未涉及）",
    ):
        assert word in zh.html, word
    for verdict in ("正确", "不精确", "错误", "无法验证", "正文缺失"):
        assert f"<strong>{verdict}</strong>" in zh.html, verdict
    assert "<em>" not in zh.html and "for each layer" not in zh.html
    for english in (
        ">post<",
        ">verdict<",
        ">check<",
        ">correct<",
        "(outside the book)",
        "translation",
    ):
        assert english not in zh.html, english
    assert '<span lang="zh">对于每一层</span></td>' in zh.html
    assert zh.html.count("<tr class=") == 5 and zh.html.count("#audit-") == 5


def test_chinese_table_links_chapters_by_their_chinese_title():
    c = A.claim(
        source="000",
        quote="q",
        translation="t",
        verdict="correct",
        correction="Correct under the assumptions (mean 0, variance 1, all components independent). See the variance-proof chapter.",
        anchor="audit-x",
        chapter="dk-sizing",
    )
    zh = A.table_html([c], lang="zh").html
    assert '<a href="../book/variance-proof.html">为什么 q·k 的方差是 dₖ</a>' in zh
    assert '<td><a href="../book/dk-sizing.html">dₖ 该取多大？</a></td>' in zh
    assert "$" not in zh and "\\" not in zh
    assert A.chapter_title("why-sqrt", "zh") == "为什么是 √dₖ，而不是 dₖ 或 1"
    assert A.chapter_title("why-sqrt") == "why-sqrt"


def test_chinese_text_correction_keeps_its_numbers():
    template = "True of every function, so not a reason. What matters is that distinct positions get distinct vectors: one sinusoid nearly repeats, but over 1000 positions the 64-dimensional encodings stay at least {dist:.2f} apart."
    c = A.claim(**{**CLAIMS[0], "correction": ws.text(template, dist=0.6789)})
    assert "0.68" in A.table_html([c]).html
    zh = A.table_html([c], lang="zh").html
    assert "0.68" in zh and "任何函数都是如此" in zh


@pytest.mark.parametrize("lang", ["fr", "", "ZH", None])
def test_bad_lang_raises_naming_lang(lang):
    with pytest.raises(ValueError, match="lang"):
        A.table_html(_claims(), lang=lang)
    with pytest.raises(ValueError, match="lang"):
        A.table_html(_zh_claims()).translated(lang)
    with pytest.raises(ValueError, match="lang"):
        A.chapter_title("why-sqrt", lang)


def test_chapter_title_bad_slug():
    with pytest.raises(ValueError, match="slug"):
        A.chapter_title("no-such-chapter", "zh")


def test_untranslated_correction_is_an_error_not_english():
    c = A.claim(**{**CLAIMS[0], "correction": "A correction nobody translated."})
    with pytest.raises(ws.i18n.MissingTranslation):
        A.table_html([c], lang="zh")


def _notebook_corrections():
    """The correction of every ws.audit.claim(...) call of the notebook: a literal string or
    the template of a ws.text(...) call (an f-string would be found as None)."""
    nb = json.loads((ROOT / "notebooks" / "source-audit.ipynb").read_text(encoding="utf-8"))
    found = []
    made = None  # the last `correction = ws.text(...)` (a cell of its own when the claim is long)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Assign) and [ast.unparse(x) for x in node.targets] == [
                "correction"
            ]:
                made = node.value
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "claim":
                value = next(k.value for k in node.keywords if k.arg == "correction")
                if isinstance(value, ast.Name) and value.id == "correction":
                    value, made = made, None
                if isinstance(value, ast.Call) and getattr(value.func, "attr", None) == "text":
                    value = value.args[0]
                found.append(value.value if isinstance(value, ast.Constant) else None)
    return found


def test_every_claim_of_the_notebook_has_a_translated_correction():
    corrections = _notebook_corrections()
    assert len(corrections) > 40
    assert None not in corrections, "corrections must be literal strings or ws.text templates"
    assert set(corrections) <= set(
        ws.i18n.notebook_messages(ROOT / "notebooks" / "source-audit.ipynb")
    )
    for message in corrections:
        zh = ws.i18n.tr(message, "zh")
        assert zh != message and any("\u4e00" <= ch <= "\u9fff" for ch in zh), message


def test_the_table_words_are_translated():
    for word in (*A.VERDICTS, "post", "claim (quote)", "verdict", "chapter", "check"):
        assert ws.i18n.tr(word, "zh") != word
    assert ws.i18n.tr("(outside the book)", "zh") == "（本书未涉及）"
