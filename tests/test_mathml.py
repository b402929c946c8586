"""The book's math as MathML made at build time (whysqrt.mathml): every formula converts, to
MathML Core that browsers draw, and the TeX features the book uses come out right."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from whysqrt.mathml import tex_to_mathml

ROOT = Path(__file__).resolve().parents[1]
#: MathML Core's elements (https://www.w3.org/TR/mathml-core/); anything else a browser ignores.
CORE = set(
    "math mrow mi mn mo mtext mspace ms mfrac msqrt mroot mstyle merror mpadded mphantom "
    "msub msup msubsup munder mover munderover mmultiscripts mprescripts none mtable mtr mtd "
    "semantics annotation annotation-xml".split()
)


def _parser():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.amsmath import amsmath_plugin
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # the extensions and dollarmath options MyST uses for this book (_config.yml)
    return (
        MarkdownIt("commonmark")
        .use(dollarmath_plugin, allow_labels=True, allow_space=True, allow_digits=True)
        .use(amsmath_plugin)
        .use(colon_fence_plugin)
        .enable("table")
    )


def _math_in(md, text: str):
    """(TeX, display) of every formula in MyST ``text``, directives' bodies included."""
    stack = list(md.parse(text))
    while stack:
        tok = stack.pop()
        if tok.type in ("math_inline", "math_inline_double"):
            yield tok.content, False
        elif tok.type in ("math_block", "math_block_label", "amsmath"):
            yield tok.content, True
        elif tok.type in ("fence", "colon_fence") and tok.info.strip().startswith("{"):
            if not tok.info.strip().startswith(("{code", "{code-cell")):
                body = "\n".join(
                    line for line in tok.content.splitlines() if not line.startswith(":")
                )
                stack.extend(md.parse(body))
        stack.extend(tok.children or [])


def book_formulas() -> list[tuple[str, bool]]:
    """Every formula of the chapters and of the notebooks' text cells."""
    import nbformat

    md = _parser()
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "book").glob("*.md"))]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts += [c.source for c in nb.cells if c.cell_type == "markdown"]
    found = {f for text in texts for f in _math_in(md, text)}
    return sorted(found)


FORMULAS = book_formulas()


def test_the_book_has_its_formulas():
    assert len(FORMULAS) > 500
    assert any(d for _, d in FORMULAS) and any(r"\begin{aligned}" in t for t, _ in FORMULAS)


def test_every_formula_of_the_book_converts_to_mathml_core():
    bad, outside = [], set()
    for tex, display in FORMULAS:
        try:
            out = tex_to_mathml(tex, display)
        except ValueError as exc:
            bad.append(str(exc))
            continue
        root = ET.fromstring(out)
        outside |= {el.tag for el in root.iter()} - CORE
        assert "linebreak" not in out and "\\" not in "".join(root.itertext()), tex
    assert bad == [], bad[:5]
    assert outside == set(), f"elements outside MathML Core: {outside}"


@pytest.mark.parametrize(
    "tex",
    [
        r"\begin{gathered}L = - z_{1} \\ \frac{\partial L}{\partial z_1} = p_1 - 1\end{gathered}",
        r"\left[\begin{matrix}p_{1} & 0\\0 & p_{2}\end{matrix}\right]",
        r"\begin{array}{lc}\text{a} & \operatorname{Var}[q_i]\\ \hline \texttt{nn.Linear} & 0.33\end{array}",
    ],
)
def test_sympy_outputs_convert(tex):
    """The shapes ``ws.math`` displays (SymPy's LaTeX: gathered lines, matrices, tables)."""
    root = ET.fromstring(tex_to_mathml(tex, True))
    assert root.find(".//mtable") is not None


def test_gathered_is_a_centred_table_in_display_style():
    out = tex_to_mathml(r"\begin{gathered}a = \sum_{i=1}^{n} x_i \\ b\end{gathered}", True)
    root = ET.fromstring(out)
    table = root.find(".//mtable")
    assert table.get("displaystyle") == "true"
    assert len(table.findall("mtr")) == 2 and "gathered" not in out
    assert table.find(".//munderover") is not None  # limits under the sum, as in TeX


def test_aligned_rows_align_at_the_ampersand():
    root = ET.fromstring(tex_to_mathml(r"\begin{aligned} a &= b \\ cc &= d \end{aligned}", True))
    cells = root.findall(".//mtr/mtd")
    assert [c.get("columnalign") for c in cells[:2]] == ["right", "left"]
    assert "-webkit-right" in cells[0].get("style")  # Chromium ignores columnalign


def test_operator_names_are_upright_and_apply_to_their_argument():
    root = ET.fromstring(tex_to_mathml(r"\operatorname{softmax}(x) + \log n"))
    names = [el.text for el in root.iter("mi")]
    assert "softmax" in names and "log" in names
    applies = [el for el in root.iter("mo") if el.text == "\u2061"]
    assert len(applies) == 2
    # before a parenthesis no space; before a letter TeX's thin space
    assert [a.get("rspace") for a in applies] == ["0", "0.1667em"]


def test_max_takes_its_limit_underneath_in_display():
    root = ET.fromstring(tex_to_mathml(r"\max_j s_j", True))
    under = root.find(".//munder")
    assert under is not None and under[0].get("movablelimits") == "true"


def test_text_escapes_fractions_roots_and_symbols():
    out = tex_to_mathml(
        r"\tfrac{1}{\sqrt{d_k}}\,\text{fan\_in}\;\mathbb{E}\lVert x\rVert \underbrace{a}_{n}"
    )
    root = ET.fromstring(out)
    assert "fan_in" in [el.text for el in root.iter("mtext")]
    assert root.find(".//mfrac") is not None and root.find(".//msqrt") is not None
    assert "\U0001d53c" in out  # double-struck E
    norms = [el for el in root.iter("mo") if el.text == "\u2016"]
    assert len(norms) == 2 and all(n.get("stretchy") == "false" for n in norms)


def test_font_commands_without_braces_take_one_letter():
    assert "\u211d" in tex_to_mathml(r"Q\in\mathbb R^{n\times d_k}")  # double-struck R
    assert tex_to_mathml(r"\mathbb R") == tex_to_mathml(r"\mathbb{R}")


def test_xrightarrow_carries_its_label_over_a_stretchy_arrow():
    root = ET.fromstring(tex_to_mathml(r"a \xrightarrow{\text{reshape}} b", True))
    over = root.find(".//mover")
    assert over.find(".//mpadded") is None
    assert over.find(".//mo").get("stretchy") == "true"
    assert "reshape" in "".join(over[1].itertext())


@pytest.mark.parametrize("tex", [r"\frac{a", r"\foo x", "}", r"\begin{align} a"])
def test_tex_the_converter_would_mangle_is_refused(tex):
    with pytest.raises(ValueError, match="^tex"):
        tex_to_mathml(tex)


@pytest.mark.parametrize("tex", ["", "   ", None])
def test_empty_tex_is_refused(tex):
    with pytest.raises(ValueError, match="^tex"):
        tex_to_mathml(tex)


def test_display_math_is_a_block_and_inline_math_is_not():
    assert tex_to_mathml("x", True).startswith('<math display="block">')
    assert tex_to_mathml("x").startswith("<math>")
    assert not re.search(r"xmlns|&#x", tex_to_mathml(r"\sum_i x_i"))  # HTML5: short and plain
