"""The book's math as MathML, made at build time: no typesetting script in the reader's browser.

Chromium, Firefox and Safari draw MathML Core natively, screen readers read it, it needs no
web font (the style sheet names locally installed math fonts), shifts no layout while a page
loads, and works offline and from ``file://``. The TeX is converted by ``latex2mathml``
(pure Python); :func:`tex_to_mathml` then rewrites what that converter emits outside
MathML Core (which browsers ignore) or where its output reads worse than TeX:

* ``gathered`` and ``aligned`` (which it turns into line-break hints browsers ignore) become
  tables; display math with ``\\\\`` outside any environment becomes ``split``, as Sphinx does
  for MathJax;
* operator names (``\\operatorname{softmax}``, ``\\log``, ``\\max``) become upright identifiers
  followed by an invisible function application with TeX's thin space, and ``\\max_j``-style
  limits go under the name in display math (``movablelimits``);
* table alignment, rules (``\\hline``, ``|``) and ``\\texttt`` become CSS;
* ``\\lVert``, ``|`` keep their size (only ``\\left``/``\\right`` stretch), ``/`` has no
  operator spacing, named spaces that MathML Core does not know are dropped, and ``\\_`` in
  ``\\text`` is an underscore.

:func:`tex_to_mathml` raises :class:`ValueError` on TeX the converter cannot read, so a
formula that would render wrongly fails the build instead.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

MATHML_NS = ' xmlns="http://www.w3.org/1998/Math/MathML"'
#: U+2061 FUNCTION APPLICATION, read by screen readers as "of"/"applied to".
APPLY = "\u2061"
THIN = "0.1667em"
#: Operator names whose sub/superscripts go under/over them in display math, as in TeX.
LIMIT_NAMES = {"max", "min", "lim", "sup", "inf", "argmax", "argmin", "det", "gcd", "Pr"}
OPEN_FENCES = set("([{\u27e8\u230a\u2308|\u2016")
#: Containers whose children form a row (an implied mrow in MathML Core).
ROW_LIKE = {"math", "mrow", "mstyle", "mtd", "msqrt", "mpadded", "mphantom"}
#: Marks a ``split`` table that stands for ``gathered`` (centred rows), removed again.
GATHERED = "@gathered@"
TEXT_ESCAPES = {"\\_": "_", "\\%": "%", "\\&": "&", "\\#": "#", "\\$": "$", "\\{": "{", "\\}": "}"}


def _convert(tex: str, display: bool) -> ET.Element:
    from latex2mathml.converter import convert

    try:
        out = convert(tex, display="block" if display else "inline")
        return ET.fromstring(out.replace(MATHML_NS, "", 1))
    except Exception as exc:  # the converter raises many kinds; name the formula
        raise ValueError(f"tex cannot be converted to MathML: {tex!r} ({exc})") from exc


def _split_rows(body: str) -> list[str]:
    """``body`` split at ``\\\\`` outside braces and nested environments."""
    rows, depth, start, i = [], 0, 0, 0
    while i < len(body):
        if body.startswith("\\begin{", i):
            depth += 1
        elif body.startswith("\\end{", i):
            depth -= 1
        elif body[i] == "{":
            depth += 1
        elif body[i] == "}":
            depth -= 1
        elif body.startswith("\\\\", i) and depth == 0:
            rows.append(body[start:i])
            start = i + 2
            i += 2
            continue
        elif body[i] == "\\":
            i += 2
            continue
        i += 1
    rows.append(body[start:])
    return rows


def prepare(tex: str, display: bool) -> str:
    """TeX rewritten into forms the converter turns into MathML Core."""
    tex = tex.strip()
    # \mathbb R (no braces) is TeX for \mathbb{R}; the converter drops the font otherwise
    tex = re.sub(r"\\(mathbb|mathcal|mathrm|mathbf|mathit)\s*([A-Za-z0-9])", r"\\\1{\2}", tex)
    tex = re.sub(r"\\(begin|end)\{aligned\}", r"\\\1{split}", tex)

    def gathered(m: re.Match) -> str:  # centred rows in display style; see _fix_tables
        return r"\begin{split}\text{" + GATHERED + "}" + m[1] + r"\end{split}"

    tex = re.sub(r"\\begin\{gathered\}(.*?)\\end\{gathered\}", gathered, tex, flags=re.S)
    if display:
        parts = [p for p in re.split(r"\n\s*\n", tex) if p.strip()]
        tex = r" \\ ".join(parts)
        if len(parts) > 1 or len(_split_rows(tex)) > 1:
            tex = r"\begin{split}" + tex + r"\end{split}"
    return tex


def _text(el: ET.Element) -> str:
    return "".join(el.itertext())


def _is_open_fence(el: ET.Element | None) -> bool:
    while el is not None and el.tag == "mrow" and len(el):
        el = el[0]
    return el is not None and el.tag == "mo" and (_text(el) in OPEN_FENCES)


def _fix_tables(root: ET.Element) -> None:
    for table in root.iter("mtable"):
        rowlines = (table.attrib.pop("rowlines", "") or "").split()
        collines = (table.attrib.pop("columnlines", "") or "").split()
        tight = table.get("columnspacing") == "0em"
        table.attrib.pop("rowspacing", None)
        rows = [r for r in table if r.tag == "mtr"]
        first = rows[0].find("mtd") if rows else None
        if first is not None and len(first) and _text(first[0]) == GATHERED:
            first.remove(first[0])
            tight = False
            table.attrib.pop("columnspacing", None)
            for cell in table.iter("mtd"):
                cell.attrib.pop("columnalign", None)
        for i, row in enumerate(rows):
            for j, cell in enumerate(c for c in row if c.tag == "mtd"):
                style = []
                # Firefox and Safari read columnalign; Chromium (MathML Core) only this
                align = cell.get("columnalign")
                if align in ("left", "right"):
                    style.append(f"text-align:-webkit-{align}")
                if tight:
                    style.append("padding-left:0;padding-right:0")
                if rowlines and i < len(rows) - 1 and rowlines[min(i, len(rowlines) - 1)] != "none":
                    style.append("border-bottom:1px solid")
                if collines and j < len(row) - 1 and collines[min(j, len(collines) - 1)] != "none":
                    style.append("border-right:1px solid")
                if style:
                    cell.set("style", ";".join(style))


def _fix_names(root: ET.Element, display: bool) -> None:
    """Operator names: upright, function application after, TeX's spacing around them."""
    parents = {child: parent for parent in root.iter() for child in parent}
    for el in list(root.iter()):
        if el.tag not in ("mi", "mo") or len(el) or not re.fullmatch(r"[A-Za-z]{2,}", _text(el)):
            continue
        name = _text(el)
        node, parent = el, parents.get(el)
        # \max_j: msub/munder with the name as base -> limits under it in display math
        if parent is not None and parent.tag in ("msub", "msubsup", "munder", "munderover"):
            if parent[0] is el and name in LIMIT_NAMES:
                parent.tag = {"msub": "munder", "msubsup": "munderover"}.get(parent.tag, parent.tag)
                el.tag = "mo"
                el.attrib.update(movablelimits="true", lspace="0", rspace="0")
            node, parent = parent, parents.get(parent)
        else:
            el.tag = "mi"
            el.attrib.pop("stretchy", None)
        if parent is None or parent.tag not in ROW_LIKE:
            continue
        siblings = list(parent)
        k = siblings.index(node)
        after = siblings[k + 1] if k + 1 < len(siblings) else None
        apply = ET.Element("mo", lspace="0", rspace="0" if _is_open_fence(after) else THIN)
        apply.text = APPLY
        if after is not None:
            parent.insert(k + 1, apply)
        before = siblings[k - 1] if k else None
        if before is not None and before.tag != "mo" and before.tag != "mspace":
            parent.insert(k, ET.Element("mspace", width=THIN))


def _fix_arrows(root: ET.Element) -> None:
    """``\\xrightarrow{x}``: the converter's mpadded offsets are not MathML Core; a plain
    ``mover`` with a stretchy arrow under the label reads the same."""
    for over in root.iter("mover"):
        if len(over) == 2 and over[1].tag == "mpadded":
            pad = over[1]
            label = ET.Element("mrow")
            label.extend(c for c in pad if c.tag != "mspace" or c.get("width"))
            over.remove(pad)
            over.append(label)
            for mo in over[0].iter("mo"):
                mo.set("stretchy", "true")


def _fix_misc(root: ET.Element) -> None:
    for el in root.iter():
        if el.tag == "mo" and _text(el) == "/" and "lspace" not in el.attrib:
            el.set("lspace", "0")  # TeX's / is an ordinary symbol: no operator spacing
            el.set("rspace", "0")
        # \lVert, \lvert, |: a fixed size, as in TeX (\left| ... \right| sets stretchy)
        if el.tag == "mo" and _text(el) in ("|", "\u2016") and "stretchy" not in el.attrib:
            if "minsize" not in el.attrib:
                el.set("stretchy", "false")
        if el.tag == "mspace" and not re.fullmatch(r"[\d.]+em", el.get("width", "0em")):
            el.set("width", "0em")  # e.g. "negativethinmathspace" (\!): not MathML Core
        if el.tag == "mtext" and el.text:
            for esc, ch in TEXT_ESCAPES.items():
                el.text = el.text.replace(esc, ch)
        variant = el.get("mathvariant")
        if variant == "monospace":
            del el.attrib["mathvariant"]
            el.set("style", "font-family:monospace")
        if el.tag == "mstyle" and not len(el) and el.get("displaystyle"):
            el.tag = "mrow"  # an empty \displaystyle marker
            el.attrib.clear()


def _unwrap_rows(root: ET.Element) -> None:
    """Drop ``<mrow>`` with one child (the converter wraps every group): fewer bytes."""
    for parent in root.iter():
        for i, child in enumerate(list(parent)):
            if child.tag == "mrow" and len(child) == 1 and not child.attrib and not child.text:
                grand = child[0]
                grand.tail = child.tail
                parent.remove(child)
                parent.insert(i, grand)


#: Children each MathML script/fraction element must have (the converter emits fewer on bad
#: TeX such as ``\\frac{a}`` instead of failing).
ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "munder": 2, "mover": 2, "mroot": 2, "msubsup": 3}
ARITY["munderover"] = 3


def _validate(root: ET.Element, tex: str) -> None:
    """Refuse what the converter lets through silently: unbalanced braces, unknown commands
    (it prints them as text), scripts and fractions missing a part."""
    depth = 0
    for m in re.finditer(r"\\.|[{}]", tex):
        depth += {"{": 1, "}": -1}.get(m[0], 0)
        if depth < 0:
            break
    if depth:
        raise ValueError(f"tex has unbalanced braces: {tex!r}")
    for el in root.iter():
        if el.tag not in ("mtext",) and re.search(r"\\[A-Za-z]", el.text or ""):
            raise ValueError(f"tex uses a command the converter does not know ({el.text}): {tex!r}")
        if el.tag in ARITY and len(el) != ARITY[el.tag]:
            raise ValueError(f"tex has an incomplete {el.tag}: {tex!r}")


def tex_to_mathml(tex: str, display: bool = False) -> str:
    """``<math>`` element (MathML Core) for the TeX formula ``tex`` (no delimiters)."""
    if not isinstance(tex, str) or not tex.strip():
        raise ValueError(f"tex must be a non-empty TeX string, got {tex!r}")
    root = _convert(prepare(tex, display), display)
    _validate(root, tex)
    for _ in range(3):  # nested single-child rows
        _unwrap_rows(root)
    _fix_tables(root)
    _fix_arrows(root)
    _fix_names(root, display)
    _fix_misc(root)
    root.attrib.clear()
    if display:
        root.set("display", "block")
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)
