"""Sphinx extension that makes the built book self-contained.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It

* renders math to MathML at build time (``whysqrt.mathml``; ``html_math_renderer:
  mathml`` in ``_config.yml``), so no page loads a typesetting script: browsers draw
  MathML natively, with the locally installed math fonts that ``whysqrt.css`` names. The
  SymPy outputs that notebooks display as MathJax-ready HTML (``ws.math``) become math
  nodes too, so they are converted the same way;
* keeps the theme's look on a light page (``templates/layout.html``): no
  ``fontawesome.js`` (1.5 MB; its icons are drawn by ``_static/whysqrt-icons.css``,
  written here from the theme's own icon data as CSS masks, so neither the script nor the
  icon web fonts load), and Sphinx's search scripts and index only on the search page
  (the header's search button submits to it), and the theme's ``<link rel="preload">`` of
  its two deferred scripts left out, so they no longer compete with the style sheets;
* defers the pages' synchronous scripts (copy button, toggle buttons, tabs...): the
  parser reaches the text without waiting for them;
* adds the static-slider script and style sheet from ``whysqrt/static``;
* drops repeated ``<script>`` entries from each page. sphinx-thebe 0.3.1 registers
  its inline ``const THEBE_JS_URL = ...`` once per read phase, and under Jupyter
  Book that happens twice, so every page threw "Identifier 'THEBE_JS_URL' has
  already been declared";
* gives chapters a short way to paste a number or an output of their companion
  notebook (the notebook with the same stem in ``notebooks/``):
  ``{num}`key:.3f``` is ``{glue:text}`../notebooks/<stem>.ipynb::key:.3f```, and
  ``{paste} key`` is ``{glue:any} key`` with ``:doc: ../notebooks/<stem>.ipynb``.
  A key written ``other-stem::key`` takes it from another notebook instead;
* gives bibliography entries the ARIA role ``listitem``: docutils marks them
  ``doc-biblioentry``, a role deprecated in WAI-ARIA 1.3, inside a ``role="list"``
  container, which axe-core reports as a critical violation (a list without items);
* takes the repository from ``WHYSQRT_REPOSITORY_URL`` / ``WHYSQRT_REPOSITORY_BRANCH``
  when they are set (the publish workflow sets them to the repository it runs in), else
  from ``repository:`` in ``_config.yml``. The Binder, Live Code, repository and issues
  buttons and the chapter launch box all derive from that one setting;
* puts a launch box under each chapter's title (``book/<stem>`` with a
  ``notebooks/<stem>.ipynb``): open the notebook in Binder, download it, view it executed;
* links the PDF edition (``make pdf``) from the landing page, and puts the book's
  version, build date and PDF link in every page's footer;
* makes the Chinese edition (``language = zh_CN``, built by ``scripts/edition.py zh`` into
  ``zh/`` of the English site): every page gets a language switch in its header that
  links the same page in the other edition, and ``<link rel="alternate" hreflang>``;
  the site's own words (launch box, PDF link, footer, title) come from
  :mod:`whysqrt.i18n`; ``{paste}`` takes a notebook's Chinese glue (``key.zh``) when
  the notebook glued one.
"""

from __future__ import annotations

import copy
import datetime
import functools
import html
import json
import os
import re
from pathlib import Path

import pybtex.plugin
from docutils import nodes
from docutils.parsers.rst import Parser as RSTParser
from docutils.utils import new_document
from myst_nb.ext.glue.directives import PasteAnyDirective
from myst_nb.ext.glue.roles import PasteTextRole
from myst_parser.mdit_to_docutils import base as myst_base
from myst_parser.parsers import sphinx_ as myst_sphinx_parser
from pybtex.plugin import register_plugin
from pybtex.style.formatting.alpha import Style as AlphaStyle
from pybtex.style.labels.alpha import LabelStyle as AlphaLabels
from pybtex.style.template import field, sentence
from sphinx.application import Sphinx
from sphinx.locale import _ as _translate
from sphinx.search import languages as search_languages
from sphinx.search.zh import SearchChinese as _SearchChinese
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

from . import __version__
from .i18n import edition, tr
from .interactive import ZH_SUFFIX
from .mathml import tex_to_mathml

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: The PDF edition's file name, at the root of the built site (written by scripts/build-pdf.py).
PDF_NAME = "why-sqrt-dk.pdf"
#: The licence line of every footer (``html.extra_footer`` in _config.yml), translated.
LICENCE = "Code under the MIT licence; text under CC BY 4.0."
#: Where the Chinese edition lives inside the English site (scripts/edition.py).
ZH_DIR = "zh"
#: Environment variables that override ``repository:`` in _config.yml (set by CI for forks).
REPO_URL_ENV, REPO_BRANCH_ENV = "WHYSQRT_REPOSITORY_URL", "WHYSQRT_REPOSITORY_BRANCH"
TEMPLATES = Path(__file__).parent / "templates"
#: The name of the book's math renderer (``html_math_renderer`` in _config.yml).
MATH_RENDERER = "mathml"
#: The HTML that ``whysqrt.interactive.Math`` displays (SymPy output for MathJax).
RAW_MATH = re.compile(r'^\s*<div class="math notranslate nohighlight">\\\[(.*)\\\]</div>\s*$', re.S)
#: Icons the theme and its header buttons use (Font Awesome 6 names; aliases are resolved).
ICONS = {
    "fa-solid": (
        "bars list outdent rocket play lightbulb download file file-pdf expand "
        "magnifying-glass sun moon circle-half-stroke arrow-up angle-left angle-right "
        "pencil pencil-alt code file-lines house home xmark spinner chevron-down chevron-right "
        "angle-down"
    ).split(),
    "fa-brands": "github gitlab bitbucket".split(),
}
ICON_CLASSES = {"fa-solid": ("fa-solid", "fas"), "fa-brands": ("fa-brands", "fab")}


def repository_override(theme_options: dict, environ=os.environ) -> dict:
    """``theme_options`` with the repository URL and branch taken from the environment, if set.

    Jupyter Book copies ``repository.url``/``branch`` of _config.yml into these two theme
    options, and every repository-derived link (launch buttons, Thebe, repository and issues
    buttons, the chapter launch box) is computed from them later, so replacing them here, at
    config-inited, moves all links at once.
    """
    opts = dict(theme_options)
    url = environ.get(REPO_URL_ENV, "").strip().rstrip("/")
    if url:
        parts = url.split("/")
        if not url.startswith("https://") or len(parts) != 5 or not all(parts[3:]):
            raise ValueError(
                f"{REPO_URL_ENV} must look like https://github.com/OWNER/REPO, got {url!r}"
            )
        opts["repository_url"] = url
    branch = environ.get(REPO_BRANCH_ENV, "").strip()
    if branch:
        opts["repository_branch"] = branch
    return opts


def binder_url(theme_options: dict, stem: str) -> str:
    """Binder URL of ``notebooks/<stem>.ipynb`` derived from the repository setting, built the
    way sphinx-book-theme builds its own launch button."""
    repo = theme_options["repository_url"].rstrip("/")
    branch = theme_options.get("repository_branch") or "main"
    launch = theme_options.get("launch_buttons", {})
    hub = launch.get("binderhub_url", "https://mybinder.org").rstrip("/")
    ui = "lab/tree" if launch.get("notebook_interface", "jupyterlab") == "jupyterlab" else "tree"
    org, name = repo.split("/")[-2:]
    return f"{hub}/v2/gh/{org}/{name}/{branch}?urlpath={ui}/notebooks/{stem}.ipynb"


def build_date(environ=os.environ) -> str:
    """ISO date of the build: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today."""
    epoch = environ.get("SOURCE_DATE_EPOCH")
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return when.date().isoformat()


def _config_inited(app: Sphinx, config) -> None:
    config.templates_path = [*config.templates_path, str(TEMPLATES)]
    header_end = config.html_theme_options.get("article_header_end", ["article-header-buttons"])
    if isinstance(header_end, str):
        header_end = [header_end]
    if "ws-language.html" not in header_end:
        config.html_theme_options["article_header_end"] = ["ws-language.html", *header_end]
    if edition(config.language) == "zh":
        config.html_title = tr("Why √dₖ?", "zh")  # title: in _config.yml
        config.project = config.html_title
        words = Path(app.doctreedir) / "jieba-glossary.txt"
        words.parent.mkdir(parents=True, exist_ok=True)
        words.write_text(jieba_dictionary(Path(app.srcdir) / GLOSSARY), encoding="utf-8")
        config.html_search_options = {**(config.html_search_options or {}), "dict": str(words)}
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.html_theme_options = repository_override(config.html_theme_options)
    thebe = getattr(config, "thebe_config", None)
    if isinstance(thebe, dict) and "repository_url" in thebe:
        thebe["repository_url"] = config.html_theme_options["repository_url"]


#: The bilingual glossary (one Chinese word per English term).
GLOSSARY = Path("locales") / "glossary.csv"


def jieba_dictionary(glossary: Path) -> str:
    """The glossary's Chinese terms as a jieba user dictionary ("word frequency" lines).

    Sphinx's Chinese search index splits the text into words with jieba; a compound the
    book uses as one term (缩放点积注意力) is then indexed whole as well as in parts, so a
    reader who types it without spaces, as Chinese is typed, finds it.
    """
    import csv

    words = set()
    with open(glossary, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for part in re.split(r"[（）()/、，,；;\s\-－]+", row["chinese"]):
                if len(re.findall(r"[\u4e00-\u9fff]", part)) >= 2:
                    words.add(part)
    return "".join(f"{w} 1000\n" for w in sorted(words))


def _insert_after_title(body: str, snippet: str) -> str:
    end = body.find("</h1>")
    return body if end < 0 else body[: end + 5] + snippet + body[end + 5 :]


def _launch_box(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Companion-notebook launch box under a chapter's title; PDF link on the landing page."""
    if app.builder.name != "html" or "body" not in context:
        return
    pathto = context["pathto"]
    lang = edition(app.config.language)
    if pagename == app.config.root_doc:
        pdf = pathto(PDF_NAME, 1)
        text = tr("Also as a {pdf_link} (for print and offline reading).", lang)
        link = f'<a href="{pdf}">{tr("PDF edition", lang)}</a>'
        context["body"] = _insert_after_title(
            context["body"], f'<p class="ws-pdf-link">{text.format(pdf_link=link)}</p>'
        )
        return
    stem = Path(pagename).name
    if (
        not pagename.startswith("book/")
        or not (Path(app.srcdir) / "notebooks" / f"{stem}.ipynb").exists()
    ):
        return
    binder = binder_url(app.config.html_theme_options, stem)
    nb = f"notebooks/{stem}.ipynb"
    download = pathto(f"_sources/{nb}", 1)
    view = pathto(f"notebooks/{stem}")
    label = tr("Companion notebook", lang)
    box = (
        f'<aside class="ws-launch" aria-label="{label}">'
        f'<span class="ws-launch-label">{label} <code>{html.escape(nb)}</code>:</span> '
        f'<a class="ws-launch-binder" href="{html.escape(binder)}">{tr("Open in Binder", lang)}</a>'
        f'<a class="ws-launch-download" href="{download}" download="{stem}.ipynb">'
        f"{tr('Download .ipynb', lang)}</a>"
        f'<a class="ws-launch-view" href="{view}">{tr("View executed notebook", lang)}</a>'
        "</aside>"
    )
    context["body"] = _insert_after_title(context["body"], box)


def language_switch(pagename: str, lang: str) -> dict[str, str]:
    """The same page in the other edition: its relative URL, label and language tag.

    The Chinese edition is the English site's ``zh/`` folder with the same page paths.
    """
    up = "../" * pagename.count("/")
    if lang == "zh":
        return {"href": f"{up}../{pagename}.html", "label": "English", "hreflang": "en"}
    return {"href": f"{up}{ZH_DIR}/{pagename}.html", "label": "中文", "hreflang": "zh-CN"}


def _language(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """The header's language switch (templates/ws-language.html) and hreflang links."""
    if app.builder.name != "html":
        return
    lang = edition(app.config.language)
    switch = language_switch(pagename, lang)
    # in the language of the page it leads to
    switch["title"] = "Read this page in English" if lang == "zh" else "阅读本页中文版"
    context["ws_language_switch"] = switch
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{switch["hreflang"]}" href="{switch["href"]}">'
    )


def _translate_toc_captions(app: Sphinx, doctree) -> None:
    """The table of contents' part captions in the page's language.

    sphinx-external-toc inserts the toctrees (with ``_toc.yml``'s captions) after Sphinx
    has applied the translations, so the captions would stay English although the root
    page's catalogue translates them; this looks them up there.
    """
    if edition(app.config.language) == "en":
        return
    from sphinx import addnodes

    toctrees = [n for n in doctree.findall(addnodes.toctree) if n.get("caption")]
    if not toctrees:
        return
    messages = _page_messages(app, app.env.docname)
    for node in toctrees:
        node["caption"] = messages.get(node["caption"], node["caption"])


@functools.lru_cache(maxsize=8)
def _read_catalogue(path: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    with open(path, "rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id and m.string and not m.fuzzy}


def _page_messages(app: Sphinx, docname: str) -> dict[str, str]:
    for folder in app.config.locale_dirs:
        path = Path(app.srcdir, folder, app.config.language, "LC_MESSAGES", f"{docname}.po")
        if path.exists():
            return _read_catalogue(str(path))
    return {}


def _footer(app: Sphinx, pagename, templatename, context, doctree) -> None:
    pdf = context["pathto"](PDF_NAME, 1) if "pathto" in context else PDF_NAME
    lang = edition(app.config.language)
    built = tr("Version {version}, built {date}.", lang).format(
        version=__version__, date=app.config.whysqrt_build_date
    )
    stamp = f'<p class="ws-edition">{built} <a href="{pdf}">{tr("PDF edition", lang)}</a>.</p>'

    licence = context.get("theme_extra_footer") or ""
    if lang == "zh" and licence:
        if licence == LICENCE:
            licence = tr("Code under the MIT licence; text under CC BY 4.0.", "zh")
    context["theme_extra_footer"] = licence + stamp


@functools.cache
def _mathml(tex: str, display: bool) -> str:
    return tex_to_mathml(tex, display)


def _math_or_warning(self, node, display: bool) -> str:
    try:
        return _mathml(node.astext(), display)
    except ValueError as exc:
        logger.warning(str(exc), location=node)
        return f"<code>{html.escape(node.astext())}</code>"


def _visit_math(self, node) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(_math_or_warning(self, node, False) + "</span>")
    raise nodes.SkipNode


def _visit_displaymath(self, node) -> None:
    # focusable: a formula wider than the column scrolls, and keyboard users must reach it
    # (axe's scrollable-region-focusable; MathJax made every formula focusable too)
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight", tabindex="0"))
    if node.get("number"):
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _translate("Link to this equation"))
        self.body.append("</span>")
    self.body.append(_math_or_warning(self, node, True) + "</div>\n")
    raise nodes.SkipNode


def raw_math_to_nodes(doctree) -> int:
    """Replace the MathJax-ready HTML of ``ws.math`` outputs by math nodes (converted like
    the rest of the book's math). Returns how many were replaced."""
    count = 0
    for raw in list(doctree.findall(nodes.raw)):
        m = RAW_MATH.match(raw.astext()) if "html" in raw.get("format", "").split() else None
        if m:
            tex = html.unescape(m[1])
            raw.replace_self(nodes.math_block(tex, tex, nowrap=False, number=None))
            count += 1
    return count


def _doctree_resolved(app: Sphinx, doctree, docname) -> None:
    if app.builder.format == "html":
        raw_math_to_nodes(doctree)


_SUBSCRIPTS = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_TEX_WORDS = {r"\cdot": "·", r"\times": "×", r"\alpha": "α", r"\ell": "ℓ", r"\top": "ᵀ"}


def tex_to_text(tex: str) -> str:
    """Plain Unicode for the small TeX of a chapter title: ``\\sqrt{d_k}`` -> ``√dₖ``.

    Browser tabs, bookmarks, the print header and prev/next links show a page's title as text;
    without this they dropped the root and the subscripts ("Why dk, not dk or 1"). A subscript
    with no Unicode form stays as ``_X`` (``W_Q``).
    """
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", tex)
    for word, char in _TEX_WORDS.items():
        space = r"\s*" if char in "·×" else ""  # binary operators close up: q·k
        text = re.sub(r"\s*" * bool(space) + re.escape(word) + r"(?![a-zA-Z])" + space, char, text)

    def sub(m: re.Match) -> str:
        body = m.group(1) or m.group(2)
        if all(c in _SUBSCRIPTS for c in body):
            return "".join(_SUBSCRIPTS[c] for c in body)
        return "_" + body

    text = re.sub(r"_\{([^{}]*)\}|_(\w)", sub, text)
    text = re.sub(r"\\sqrt\{([^{}]*)\}", r"√\1", text)
    text = re.sub(r"\\[a-zA-Z]+", "", text).replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", text).strip()


def _plain_titles(app: Sphinx, doctree) -> None:
    """Title copies used as text (tab title, toctree, prev/next) carry their math as Unicode."""
    env = app.env
    for store in (env.titles, env.longtitles):
        title = store.get(env.docname)
        if title is None:
            continue
        for math in list(title.findall(nodes.math)):
            math.replace_self(nodes.Text(tex_to_text(math.astext())))


class YearSuffixLabels(AlphaLabels):
    """alpha labels that keep a year's letter: 2026a gives "Dao26a", not "Dao6a".

    Two works by one author in one year carry years 2026a and 2026b in references.bib, so the
    author-year citations in the text ("Dao, 2026a") and the list's labels both tell them apart.
    """

    def format_label(self, entry):
        label = super().format_label(entry)
        year = entry.fields.get("year", "")
        m = re.fullmatch(r"(\d{4})([a-z])", year)
        return label[:-2] + m[1][2:] + m[2] if m else label


class BibliographyStyle(AlphaStyle):
    """pybtex's alpha style with :class:`YearSuffixLabels`, printing titles as written.

    alpha puts titles in sentence case, which broke the names of code it cites
    ("config_671b.json", "llama4textattention", "qk-norm"); a code reference must match the file.
    """

    default_label_style = "whysqrt-year-suffix"

    def format_title(self, e, which_field, as_sentence=True):
        title = field(which_field)
        return sentence[title] if as_sentence else title


def fontawesome_icons(script: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """``{"fa-solid": {name: (width, height, svg path)}, "fa-brands": {...}}`` read from the
    theme's ``fontawesome.js`` (icon packs are ``var p={name:[w,h,[aliases],code,path],...}``;
    aliases are names too)."""
    entry = re.compile(r'"?([\w-]+)"?:\[(\d+),(\d+),\[([^\]]*)\],"([0-9a-f]+)","([^"]+)"\]')
    packs = []
    for chunk in script.split("var p={")[1:]:
        icons = {}
        for m in entry.finditer(chunk):
            name, w, h, aliases, code, path = m.groups()
            for alias in [name, f"U+{code}", *re.findall(r'"([\w-]+)"', aliases)]:
                icons.setdefault(alias, (int(w), int(h), path))
        if icons:
            packs.append(icons)
    brands = next((p for p in packs if "github" in p and "rocket" not in p), None)
    solid = max(packs, key=len, default=None)
    if brands is None or solid is None or "rocket" not in solid:
        raise ValueError("script does not look like Font Awesome 6's fontawesome.js")
    return {"fa-solid": solid, "fa-brands": brands}


def _svg_url(icon: tuple[int, int, str]) -> str:
    from urllib.parse import quote

    w, h, path = icon
    svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}'><path d='{path}'/></svg>"
    return 'url("data:image/svg+xml,' + quote(svg, safe=" /:=',") + '")'


def pseudo_icon_css(theme_css: str, icons: dict[str, dict[str, tuple[int, int, str]]]) -> str:
    """Rules for the theme's own pseudo-element icons (admonition titles, external links,
    the "on this page" arrow...): each rule of ``theme_css`` that sets a Font Awesome glyph
    as ``content`` gets the same glyph as a mask instead."""
    var = dict(re.findall(r"(--pst-icon-[\w-]+):([^;}]+)", theme_css))
    out = []
    for sel, body in re.findall(r"([^{}@]+)\{([^{}]*)\}", theme_css):
        if not any(k in body for k in ("fa-font", "Font Awesome", "content:var(--pst-icon-")):
            continue
        m = re.search(r"content:([^;}]+)", body)
        if not m or sel.strip().startswith((".fa", "/*")):
            continue
        value = m[1].strip()
        for _ in range(4):  # var(--pst-icon-a) -> var(--pst-icon-b) -> "\f05a"
            ref = re.fullmatch(r"var\((--pst-icon-[\w-]+)\)", value)
            value = var.get(ref[1], "").strip() if ref else value
        glyph = re.fullmatch(r'"\\([0-9a-f]{4})"|"(.)"', value)
        if not glyph:
            continue
        code = glyph[1] or f"{ord(glyph[2]):x}"
        icon = icons["fa-solid"].get(f"U+{code}") or icons["fa-brands"].get(f"U+{code}")
        if icon:
            out.append(
                f"{sel.strip()}{{content:''!important;font:inherit!important;"
                f"width:{icon[0] / icon[1]:.3f}em;height:1em;display:inline-block;"
                f"background-color:currentColor;--ws-icon:{_svg_url(icon)};"
                "-webkit-mask:var(--ws-icon) center/contain no-repeat;"
                "mask:var(--ws-icon) center/contain no-repeat}"
            )
    return "\n".join(out) + "\n"


def icon_css(icons: dict[str, dict[str, tuple[int, int, str]]]) -> str:
    """CSS drawing each icon of :data:`ICONS` as a mask (an inline SVG) in the text colour,
    in place of the Font Awesome font glyph, so the icon fonts are never downloaded."""

    all_classes = [c for pair in ICON_CLASSES.values() for c in pair]
    sel = ",".join(f".{c}" for c in all_classes)
    lines = [
        "/* The theme's Font Awesome icons (Font Awesome Free 6, CC BY 4.0, fontawesome.com),",
        "   drawn as CSS masks: no fontawesome.js and no icon web font. Written by",
        "   whysqrt.sphinx_ext from the theme's own icon data. */",
        f"{sel}{{font-family:inherit!important;font-weight:inherit!important}}",
        ",".join(f".{c}::before" for c in all_classes)
        + "{content:''!important;display:inline-block;height:1em;width:1em;"
        "vertical-align:-.125em;background-color:currentColor;"
        "-webkit-mask:var(--ws-icon) center/contain no-repeat;"
        "mask:var(--ws-icon) center/contain no-repeat}",
    ]
    for pack, names in ICONS.items():
        for name in names:
            if name not in icons[pack]:
                continue
            w, h, _path = icons[pack][name]
            url = _svg_url(icons[pack][name])
            scope = ",".join(f".{c}.fa-{name}::before" for c in ICON_CLASSES[pack])
            lines.append(f"{scope}{{--ws-icon:{url};width:{w / h:.3f}em}}")
    return "\n".join(lines) + "\n"


def _write_icon_css(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import pydata_sphinx_theme
    import sphinx_book_theme

    pst = Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme/static"
    sbt = Path(sphinx_book_theme.__file__).parent / "theme/sphinx_book_theme/static"
    icons = fontawesome_icons((pst / "scripts/fontawesome.js").read_text(encoding="utf-8"))
    css = icon_css(icons)
    for sheet in (pst / "styles/pydata-sphinx-theme.css", sbt / "styles/sphinx-book-theme.css"):
        css += pseudo_icon_css(sheet.read_text(encoding="utf-8"), icons)
    (Path(app.outdir) / "_static" / "whysqrt-icons.css").write_text(css, encoding="utf-8")


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    # runs last (priority 999), after every extension has added its scripts
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # inline scripts come as filename None or "" for the same body
        key = (
            str(getattr(js, "filename", js) or ""),
            repr(sorted(getattr(js, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


#: Scripts that inline scripts of the page use at once: they stay synchronous.
SYNC_SCRIPTS = ("documentation_options.js",)


def defer_scripts(scripts: list) -> list:
    """``scripts`` (Sphinx's ``script_files``) with every synchronous file script deferred:
    they no longer stop the parser before the text is shown (each runs its set-up on
    DOMContentLoaded, which waits for deferred scripts; their order is kept)."""
    from sphinx.builders.html._assets import _JavaScript

    out = []
    for js in scripts:
        name = str(getattr(js, "filename", "") or "")
        attrs = dict(getattr(js, "attributes", {}))
        if name and not ({"async", "defer"} & attrs.keys()) and not name.endswith(SYNC_SCRIPTS):
            js = _JavaScript(name, priority=js.priority, **{**attrs, "defer": "defer"})
        out.append(js)
    return out


def _defer_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    # after _dedupe_scripts; the search page keeps Sphinx's own order of search scripts
    if context.get("script_files") and pagename != "search":
        context["script_files"][:] = defer_scripts(context["script_files"])


def _fix_citation_roles(app: Sphinx, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _depend_on_notebook(env, notebook: str) -> None:
    """Re-read the page when the notebook it pastes from changes (Sphinx tracks the file's mtime).

    Without this, editing only a companion notebook left its chapter showing the old numbers
    until a clean build: Sphinx saw no change in the chapter's own source.
    """
    env.note_dependency(notebook.lstrip("/"))


def companion_ref(docname: str, key: str) -> tuple[str, str]:
    """(notebook path from the source root, glue key) for ``key`` written in ``docname``.

    ``key`` names a glued variable of the companion notebook (``notebooks/<stem>.ipynb``
    for the chapter ``book/<stem>``), or of another one as ``<stem>::key``.
    """
    stem, sep, name = key.partition("::")
    if not sep:
        stem, name = Path(docname).name, key
    if not stem or not name.strip():
        raise ValueError(f"key must be 'name' or 'stem::name', got {key!r}")
    return f"/notebooks/{stem}.ipynb", name.strip()


class CompanionNumber(PasteTextRole):
    """``{num}`key:fmt``` pastes the text of a variable glued by the companion notebook."""

    def run(self):
        key, colon, fmt = self.text.rpartition(":")
        if not colon or "::" in self.text and key.endswith(":"):
            key, fmt = self.text, ""
        env = self.document.settings.env
        doc, name = companion_ref(env.docname, key)
        _depend_on_notebook(env, doc)
        if fmt == "s" and edition(env.config.language) == "zh":
            name += ZH_SUFFIX  # a glued word ("yes"): ws.glue glued its Chinese beside it
        self.text = f"{doc}::{name}" + (f":{fmt}" if fmt else "")
        return super().run()


class CompanionPaste(PasteAnyDirective):
    """``{paste} key`` pastes any output glued by the companion notebook (figure, slider, table)."""

    def run(self):
        env = self.state.document.settings.env
        doc, name = companion_ref(env.docname, self.arguments[0])
        _depend_on_notebook(env, doc)
        if edition(env.config.language) == "zh":
            name += ZH_SUFFIX  # ws.glue glued the Chinese copy of every output beside it
        self.arguments[0] = name
        self.options.setdefault("doc", doc)
        return super().run()


class KeepGlossaryAsIs(SphinxTransform):
    """The notation page's glossary table (``:class: ws-glossary``) is already bilingual:
    no message to translate, the same table in both editions. Runs before Sphinx's
    translation (priority 20) and is seen by the gettext builder the same way."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            if "ws-glossary" in table.get("classes", []):
                for node in table.findall(nodes.TextElement):
                    node["translatable"] = False


class ChineseOutputs(SphinxTransform):
    """A companion notebook's page in the Chinese edition shows the Chinese copy of each
    output it displays (a slider, a figure, a table): the output that ``ws.glue`` also
    glued as NAME, replaced by NAME.zh. Outputs without a Chinese copy stay as they are."""

    default_priority = 880

    def apply(self, **kwargs) -> None:
        if edition(self.config.language) != "zh":
            return
        # myst-nb writes each notebook's glued outputs beside its executed copy while
        # parsing it (jupyter_execute/<docname>.glue.json)
        path = Path(self.app.outdir).parent / "jupyter_execute" / f"{self.env.docname}.glue.json"
        if not path.exists():
            return
        glued = json.loads(path.read_text(encoding="utf-8"))
        chinese = {}
        for name, entry in glued.items():
            zh = glued.get(name + ZH_SUFFIX)
            en_html, zh_html = entry["data"].get("text/html"), zh and zh["data"].get("text/html")
            if en_html and zh_html and en_html != zh_html:
                chinese[en_html] = zh_html
        for node in self.document.findall(nodes.raw):
            if node.get("format") == "html" and node.astext() in chinese:
                node.replace_self(nodes.raw("", chinese[node.astext()], format="html"))


class SearchChinese(_SearchChinese):
    """Sphinx's Chinese search language with its Latin-word list kept as a set.

    Sphinx 7.4 appends every Latin word of every page to a list and then tests each
    word's membership in it while stemming: quadratic, 5 s of the Chinese build. Same
    segmentation (jieba) and the same index.
    """

    def init(self, options: dict[str, str]) -> None:
        super().init(options)
        self.latin_terms = _TermSet()


class _TermSet(set):
    def extend(self, words) -> None:  # the list method SearchChinese.split calls
        self.update(words)


@functools.cache
def _default_settings(parser_cls):
    from docutils.frontend import get_default_settings

    return get_default_settings(parser_cls)


def _make_document(source_path="notset", parser_cls=RSTParser):
    """myst-parser's make_document with the default settings computed once.

    myst-parser makes a throwaway document with fresh default settings (about 5 ms)
    for every Markdown snippet it renders, even when Sphinx passes its own; the
    Chinese edition renders each of its ~1,500 translated messages as a snippet.
    """
    return new_document(source_path, settings=copy.copy(_default_settings(parser_cls)))


def _cache_pybtex_entry_points() -> None:
    """Look up each pybtex plugin in the installed packages' metadata once per build.

    pybtex 0.26 calls ``importlib.metadata.entry_points(group=..., name=...)`` for every
    citation it formats, and each call reads every installed distribution's metadata
    (about 8 ms here; some 180 citations a build, in each edition). The installed
    packages do not change during a build; plugins registered at run time
    (``register_plugin``) are looked up before the entry points and stay unaffected.
    """
    lookup = pybtex.plugin.entry_points
    if not hasattr(lookup, "cache_info"):
        pybtex.plugin.entry_points = functools.lru_cache(maxsize=None)(lookup)


def _cache_markdown_parsers() -> None:
    """Build myst-parser's markdown-it parser once per configuration, not once per text.

    myst-parser makes a new parser (its plugins, its rule chains and a renderer whose
    methods it finds with ``inspect``) for every text it parses, about 0.6 ms each. The
    Chinese edition parses each of its ~2,100 translated messages on its own (Sphinx's
    ``publish_msgstr``), so that was a tenth of its build. A parser holds nothing of the
    text it parsed: each ``render`` sets its document up afresh (builds are serial here).
    """
    make = myst_sphinx_parser.create_md_parser
    if getattr(make, "whysqrt_cached", False):
        return
    parsers: dict = {}

    def create_md_parser(config, renderer):
        key = (renderer, repr(config))
        if key not in parsers:
            parsers[key] = make(config, renderer)
        return parsers[key]

    create_md_parser.whysqrt_cached = True
    myst_sphinx_parser.create_md_parser = create_md_parser


def setup(app: Sphinx) -> dict:
    myst_base.make_document = _make_document
    app.add_transform(KeepGlossaryAsIs)
    app.add_transform(ChineseOutputs)
    search_languages["zh"] = SearchChinese
    _cache_pybtex_entry_points()
    _cache_markdown_parsers()
    register_plugin("pybtex.style.labels", "whysqrt-year-suffix", YearSuffixLabels)
    register_plugin("pybtex.style.formatting", "whysqrt", BibliographyStyle)
    app.add_html_math_renderer(MATH_RENDERER, (_visit_math, None), (_visit_displaymath, None))
    app.connect("config-inited", _config_inited)
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("doctree-read", _plain_titles, priority=900)  # after Sphinx's TitleCollector
    app.connect("doctree-read", _translate_toc_captions, priority=400)  # before TocTreeCollector
    app.connect("build-finished", _write_icon_css)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    app.connect("html-page-context", _defer_scripts, priority=1000)
    app.connect("html-page-context", _fix_citation_roles)
    app.connect("html-page-context", _launch_box)
    app.connect("html-page-context", _footer)
    app.connect("html-page-context", _language)
    app.add_config_value("whysqrt_build_date", build_date(), "html", types=[str])
    app.add_role("num", CompanionNumber())
    app.add_directive("paste", CompanionPaste)
    app.add_js_file("whysqrt-slider.js", defer="defer")
    app.add_css_file("whysqrt.css")
    app.add_css_file("whysqrt-icons.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
