"""Helpers for the appendix ``source-audit``: the audit table and the checks that need code.

The appendix audits every claim of the five source articles. Its notebook keeps the
claims as a list of dicts (made with :func:`claim`, so each one is validated) and
renders them with :func:`table_html`; :func:`verdict_counts` gives the summary and
:func:`missing_targets` proves that every table row links to an existing section.

The table exists in both editions from one renderer: ``table_html(claims, lang="zh")``
shows the Chinese quote alone (it is the original) and passes headers, verdicts and each
correction through :func:`whysqrt.i18n.tr` (the corrections are messages of the package
catalogue, ``part-auditzh.po``); a chapter link shows the chapter's Chinese title.

The checks' numerics come from the chapters' modules (source 001's lost experiment is
:func:`whysqrt.sharpness.source001`, redone once, in the softmax-sharpness chapter).

Used by: ``source-audit`` only.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _validate as v
from .i18n import Message, check_lang, tr
from .numerics import softmax

__all__ = [
    "VERDICTS",
    "SOURCES",
    "PAPER",
    "claim",
    "verdict_counts",
    "table_html",
    "missing_targets",
    "jacobian_rows",
    "HTML",
]

#: The verdicts, in the order the summary lists them.
VERDICTS = ("correct", "imprecise", "incorrect", "unverifiable", "body lost")
#: Source files audited (the three-digit prefixes of /work/shared/sources/).
SOURCES = ("000", "001", "002", "003", "004")
#: The wording of Vaswani et al. (2017), section 3.2.1 and footnote 4, for attribution checks.
PAPER = {
    "scaling": (
        "We suspect that for large values of d_k, the dot products grow large in "
        "magnitude, pushing the softmax function into regions where it has extremely "
        "small gradients. To counteract this effect, we scale the dot products by "
        "1/sqrt(d_k)."
    ),
    "footnote4": (
        "To illustrate why the dot products get large, assume that the components of "
        "q and k are independent random variables with mean 0 and variance 1. Then "
        "their dot product, q . k = sum_{i=1}^{d_k} q_i k_i, has mean 0 and variance "
        "d_k."
    ),
    "heads": (
        "In this work we employ h = 8 parallel attention layers, or heads. For each of "
        "these we use d_k = d_v = d_model/h = 64. Due to the reduced dimension of each "
        "head, the total computational cost is similar to that of single-head attention "
        "with full dimensionality."
    ),
}
_FIELDS = ("source", "quote", "translation", "verdict", "correction", "anchor", "chapter")


#: The book's main chapters. A claim's ``chapter`` names the one that treats its topic
#: correctly (the audit table links it), and a correction that names one (e.g. "see the
#: why-sqrt chapter") links to it. ``tests/test_audit.py`` checks each one exists.
CHAPTERS = (
    "variance-proof",
    "softmax-sharpness",
    "why-sqrt",
    "classifier-softmax",
    "dk-sizing",
    "multi-head",
    "mqa-gqa",
    "separate-qk",
    "dot-vs-additive",
    "softmax-overflow",
    "positional-encoding",
    "layernorm-vs-batchnorm",
    "modern-practice",
)
_CHAPTER_RE = re.compile(r"(?<![\w/-])(" + "|".join(map(re.escape, CHAPTERS)) + r")(?![\w-])")


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value.strip()


def claim(
    source: str,
    quote: str,
    translation: str,
    verdict: str,
    correction: str,
    anchor: str,
    chapter: str | None = None,
) -> dict:
    """One audited claim as a dict with the keys ``source, quote, translation, verdict,
    correction, anchor, chapter``; every field is checked.

    ``source`` is one of :data:`SOURCES`, ``verdict`` one of :data:`VERDICTS`, and
    ``anchor`` the MyST target of the notebook section that checks the claim: it must
    start with ``audit-`` and use only lowercase letters, digits and hyphens. Quotes
    must stay short (<= 80 characters): the appendix quotes, it does not copy.
    ``chapter`` is the main chapter (one of :data:`CHAPTERS`) that treats the topic
    correctly, ``""`` if the book does not treat it; ``None`` takes the first chapter the
    correction names (``""`` if it names none).
    """
    source = _text("source", source)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    quote = _text("quote", quote)
    if len(quote) > 80:
        raise ValueError(
            f"quote must be at most 80 characters (quote, do not copy), got {len(quote)}"
        )
    verdict = _text("verdict", verdict)
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    anchor = _text("anchor", anchor)
    if not anchor.startswith("audit-") or not all(
        c.islower() or c.isdigit() or c == "-" for c in anchor
    ):
        raise ValueError(
            f"anchor must look like 'audit-xyz' (lowercase, digits, hyphens), got {anchor!r}"
        )
    # a ws.text(...) correction keeps its template and values, so its translation can be made
    correction = correction if isinstance(correction, Message) else _text("correction", correction)
    if isinstance(correction, Message) and (
        not correction.strip() or correction != correction.strip()
    ):
        raise ValueError("correction must not be empty nor start or end with spaces")
    if chapter is None:
        named = _CHAPTER_RE.findall(correction)
        chapter = named[0] if named else ""
    if not isinstance(chapter, str):
        raise TypeError(f"chapter must be a string or None, got {type(chapter).__name__}")
    if chapter and chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {CHAPTERS} or '', got {chapter!r}")
    return {
        "source": source,
        "quote": quote,
        "translation": _text("translation", translation),
        "verdict": verdict,
        "correction": correction,
        "anchor": anchor,
        "chapter": chapter,
    }


def _check_claims(claims) -> list[dict]:
    if not isinstance(claims, (list, tuple)):
        raise TypeError(f"claims must be a list of claim dicts, got {type(claims).__name__}")
    if not claims:
        raise ValueError("claims must not be empty")
    out = []
    for c in claims:
        if not isinstance(c, dict) or set(c) != set(_FIELDS):
            raise ValueError(f"claims must hold dicts with exactly the keys {_FIELDS}")
        out.append(claim(**c))
    anchors = [c["anchor"] for c in out]
    dup = sorted({a for a in anchors if anchors.count(a) > 1})
    if dup:
        raise ValueError(f"claims must have unique anchors, repeated: {dup}")
    return out


def verdict_counts(claims) -> dict[str, int]:
    """Number of claims per verdict, for every verdict in :data:`VERDICTS` (zeros included)."""
    claims = _check_claims(claims)
    return {verdict: sum(c["verdict"] == verdict for c in claims) for verdict in VERDICTS}


@dataclass(frozen=True)
class HTML:
    """A block of HTML that displays (and glues) as ``text/html`` with a plain-text fallback.

    Made by :func:`table_html`, it also keeps the claims and the target it was made from,
    so ``translated("zh")`` renders the same table in Chinese (``ws.glue`` glues both).
    """

    html: str
    text: str
    claims: tuple = ()
    target: str = ""
    lang: str = "en"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.text}

    def translated(self, lang: str) -> HTML:
        """The same table in ``lang`` ("en" or "zh"); a block without claims is returned as is."""
        check_lang(lang)
        if lang == self.lang or not self.claims:
            return self
        return table_html(list(self.claims), self.target, lang=lang)


#: Where the Chinese titles of the chapters are (the first msgstr of each catalogue).
_BOOK_LOCALE = Path(__file__).resolve().parents[2] / "locales" / "zh_CN" / "LC_MESSAGES" / "book"
#: Inline math of the chapter titles, written in Unicode for a link text.
_TITLE_MATH = ((r"\sqrt{d_k}", "√dₖ"), ("d_k", "dₖ"), ("$", ""))


def chapter_title(slug: str, lang: str = "en") -> str:
    """The title a chapter link shows: the slug in English (as before), the chapter's
    Chinese title in the Chinese edition, its math written in Unicode (``为什么 q·k 的方差是 dₖ``)."""
    check_lang(lang)
    if slug not in CHAPTERS:
        raise ValueError(f"slug must be one of {CHAPTERS}, got {slug!r}")
    if lang == "en":
        return slug
    from babel.messages.pofile import read_po

    with open(_BOOK_LOCALE / f"{slug}.po", "rb") as f:
        title = next(str(m.string) for m in read_po(f) if m.id)
    if not title.strip():
        raise ValueError(f"the Chinese catalogue of {slug!r} has no title")
    title = re.sub(r"\s*\\cdot\s*", "·", title)
    for tex, uni in _TITLE_MATH:
        title = title.replace(tex, uni)
    return title


def _link_chapters(escaped: str, lang: str = "en") -> str:
    if lang == "en":
        return _CHAPTER_RE.sub(r'<a href="../book/\1.html">\1</a>', escaped)
    return _CHAPTER_RE.sub(
        lambda m: f'<a href="../book/{m[1]}.html">{html.escape(chapter_title(m[1], lang))}</a>',
        escaped,
    )


def _row(c: dict, target: str, lang: str = "en") -> str:
    e = {
        k: html.escape(tr(val, lang) if k in ("verdict", "correction") else val)
        for k, val in c.items()
    }
    css = "ws-verdict-" + c["verdict"].replace(" ", "-")
    claim_cell = f'<span lang="zh">{e["quote"]}</span>'
    if lang == "en":  # the Chinese edition shows the original alone
        claim_cell += f"<br><em>{e['translation']}</em>"
    chapter = _link_chapters(e["chapter"], lang) if c["chapter"] else tr("(outside the book)", lang)
    return (
        f'<tr class="{css}"><td>{e["source"]}</td><td>{claim_cell}</td>'
        f"<td><strong>{e['verdict']}</strong></td>"
        f"<td>{_link_chapters(e['correction'], lang)} "
        f'<a href="{html.escape(target)}#{e["anchor"]}">{tr("check", lang)}</a></td><td>{chapter}</td></tr>'
    )


def table_html(claims, target: str = "../notebooks/source-audit.html", lang: str = "en") -> HTML:
    """The audit table, one row per claim, sorted by source (a post's "body lost" headings
    after its claims); each row links to the notebook section with its check.

    Columns: post, claim (the Chinese quote with the English translation under it), verdict,
    what the computation shows (with a link to its check) and the main chapter that treats
    the topic. ``target`` is the page that holds the checks (rows link to ``target#anchor``).
    Everything is HTML-escaped. ``lang="zh"`` gives the Chinese edition's table: the claim
    cell holds the original quote alone, and every other word is looked up with ``tr``.
    """
    check_lang(lang)
    claims = _check_claims(claims)
    target = _text("target", target)
    rows = []
    for source in sorted({c["source"] for c in claims}):
        mine = [c for c in claims if c["source"] == source]
        rows += [_row(c, target, lang) for c in mine if c["verdict"] != "body lost"]
        rows += [_row(c, target, lang) for c in mine if c["verdict"] == "body lost"]
    titles = (
        tr("post", lang),
        "claim (quote, translation)" if lang == "en" else tr("claim (quote)", lang),
        tr("verdict", lang),
        tr("what the computation shows (check)", lang),
        tr("chapter", lang),
    )
    head = "<thead><tr>" + "".join(f'<th scope="col">{t}</th>' for t in titles) + "</tr></thead>"
    body = (
        '<div class="ws-audit-table" style="overflow-x:auto;font-size:0.9em">'
        '<table class="table">' + head + "<tbody>" + "".join(rows) + "</tbody></table></div>"
    )
    counts = verdict_counts(claims)
    text = (
        f"<audit table: {len(claims)} claims, "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + ">"
    )
    return HTML(body, text, tuple(claims), target, lang)


def missing_targets(claims, notebook) -> list[str]:
    """Anchors of ``claims`` that have no MyST target ``(anchor)=`` in a markdown cell of ``notebook``.

    An empty list means every table row links to an existing section.
    """
    claims = _check_claims(claims)
    path = Path(notebook)
    if not path.is_file():
        raise ValueError(f"notebook must be an existing .ipynb file, got {str(notebook)!r}")
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = "\n".join(
        "".join(c["source"]) for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
    )
    targets = {
        line.strip()[1:-2]
        for line in markdown.splitlines()
        if line.strip().startswith("(") and line.strip().endswith(")=")
    }
    return [c["anchor"] for c in claims if c["anchor"] not in targets]


def jacobian_rows(
    d_k: int, n_keys: int, n_rows: int = 2000, seed: int = 0, sd: float = 1.0, scaled: bool = True
) -> dict:
    """Spectral norm of the softmax Jacobian over independent attention rows.

    Every row draws its own query and its own ``n_keys`` keys, components N(0, sd^2), so
    the rows are independent and the standard errors below are honest. The scores are
    divided by sqrt(d_k) when ``scaled``. The norm is ||J||_2 = the largest eigenvalue of
    the symmetric positive semi-definite J = diag(p) - p p^T (the book's "norm of the
    Jacobian"). Returns the mean norm with its standard error, the median norm, and the
    mean largest weight with its standard error.
    """
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    n_rows = v.positive_int("n_rows", n_rows)
    sd = v.finite_float("sd", sd, positive=True)
    if n_rows < 2:
        raise ValueError("n_rows must be at least 2 to give a standard error")
    rng = np.random.default_rng(seed)
    q = sd * rng.standard_normal((n_rows, 1, d_k))
    k = sd * rng.standard_normal((n_rows, n_keys, d_k))
    s = np.einsum("rid,rjd->rj", q, k) / (np.sqrt(d_k) if scaled else 1.0)
    p = softmax(s, axis=-1)
    jac = p[:, :, None] * np.eye(n_keys) - p[:, :, None] * p[:, None, :]
    norms = np.clip(np.linalg.eigvalsh(jac)[:, -1], 0.0, None)
    top = p.max(axis=-1)
    root = np.sqrt(n_rows)
    return {
        "mean": float(norms.mean()),
        "se": float(norms.std(ddof=1) / root),
        "median": float(np.median(norms)),
        "top": float(top.mean()),
        "top-se": float(top.std(ddof=1) / root),
    }
