"""Text the package makes, in the book's two languages (issue 19).

Captions, slider labels, "what to look for" lines and the site's own words (launch box,
PDF link, language switch) are written once, in English, where they are used. The Chinese
edition looks each one up in the package's gettext catalogue,
``whysqrt/locale/zh_CN/LC_MESSAGES/whysqrt.po`` (read with Babel, which Sphinx already
needs), so no figure or page code exists twice::

    ws.i18n.tr("What to look for", "zh")        # -> "观察要点"

A message with no translation raises :class:`MissingTranslation` instead of showing
English on a Chinese page; ``tests/test_translations.py`` checks that every message the
notebooks and the package use is in the catalogue.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

#: The editions: English (the source) and Simplified Chinese.
LANGUAGES = ("en", "zh")
#: Sphinx's name for each edition's language.
SPHINX_LANGUAGE = {"en": "en", "zh": "zh_CN"}
CATALOGUE = Path(__file__).parent / "locale" / "zh_CN" / "LC_MESSAGES" / "whysqrt.po"
#: Words the notebooks glue as values and the chapters paste into sentences ({num}`key:s`):
#: SymPy's and numpy's verdicts, and the error message of an all-masked row. ws.glue glues
#: each one's Chinese beside it.
GLUED_WORDS = ("yes", "no", "zero", "mask leaves a query with no key to attend to")
#: Keyword arguments of ws.interact / ws.figure / ws.table (and ws.audit.claim's correction)
#: whose string values are translated.
TRANSLATED_KEYWORDS = ("caption", "look_for", "labels", "correction")


class MissingTranslation(ValueError):
    """A message the Chinese edition needs is not in the catalogue."""


def check_lang(lang: str) -> str:
    """``lang`` itself if it is one of :data:`LANGUAGES`; a ValueError naming it otherwise."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    return lang


def edition(sphinx_language: str | None) -> str:
    """The edition ("en" or "zh") of a Sphinx ``language`` setting such as ``zh_CN``."""
    return "zh" if (sphinx_language or "en").lower().startswith("zh") else "en"


@functools.lru_cache(maxsize=1)
def _messages() -> dict[str, str]:
    from babel.messages.pofile import read_po

    out: dict[str, str] = {}
    for path in sorted(CATALOGUE.parent.glob("*.po")):  # whysqrt.po, and any part-*.po
        with open(path, "rb") as f:
            catalog = read_po(f)
        out.update({str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy})
    return out


class Message(str):
    """English text made from a template and values: ``text(template, **values)``.

    It is the formatted English string; its translation formats the translated template
    with the same values, so a number appears once, from the code that computed it.
    """

    template: str
    values: dict

    def __new__(cls, template: str, **values):
        if not isinstance(template, str) or not template.strip():
            raise ValueError("template must be a non-empty string")
        self = super().__new__(cls, template.format(**values))
        self.template, self.values = template, values
        return self


def text(template: str, **values) -> Message:
    """A translatable caption or line with numbers in it (see :class:`Message`)::

    ws.text("Monte Carlo check ({n:,} draws per d_k)", n=table.n)
    """
    return Message(template, **values)


def tr(text: str, lang: str = "en") -> str:
    """``text`` (English) in language ``lang``."""
    check_lang(lang)
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if isinstance(text, Message):
        return tr(text.template, lang).format(**text.values) if lang != "en" else str(text)
    if lang == "en" or not text.strip():
        return text
    try:
        return _messages()[text]
    except KeyError:
        raise MissingTranslation(
            f"no Chinese translation of {text!r}: add it to {CATALOGUE.name} "
            "(README, 'Translating')"
        ) from None


def tr_labels(labels: dict[str, str], lang: str) -> dict[str, str]:
    return {name: tr(label, lang) for name, label in labels.items()}


def notebook_messages(path: Path) -> list[str]:
    """The literal captions, labels and look-for lines a notebook passes to ws.interact,
    ws.figure and ws.table, the column titles of its tables and the templates of its
    ``ws.text(...)`` calls: what its Chinese glue looks up."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    found: list[str] = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None)
            if name == "text" and node.args:
                found += [node.args[0].value] if isinstance(node.args[0], ast.Constant) else []
            if name == "table" and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
                found += [e.value for e in node.args[0].elts if isinstance(e, ast.Constant)]
            for kw in node.keywords:
                if kw.arg not in TRANSLATED_KEYWORDS:
                    continue
                values = kw.value.values if isinstance(kw.value, ast.Dict) else [kw.value]
                found += [v.value for v in values if isinstance(v, ast.Constant)]
    return [m for m in found if isinstance(m, str) and m.strip()]


def package_messages() -> list[str]:
    """Literal first arguments of ``tr(...)`` and ``text(...)`` calls in the package's own
    modules, and the literal column titles of the tables it makes."""
    found: list[str] = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            first = node.args[0]
            if name in ("tr", "text") and isinstance(first, ast.Constant):
                found.append(first.value)
            elif name == "table" and isinstance(first, (ast.List, ast.Tuple)):
                found += [e.value for e in first.elts if isinstance(e, ast.Constant)]
    return [m for m in found if isinstance(m, str)] + list(GLUED_WORDS)
