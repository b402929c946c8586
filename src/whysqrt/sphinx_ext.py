"""Sphinx extension that makes the built book self-contained.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It

* serves MathJax 3 from the site: the files come from the ``django-static-mathjax``
  wheel (a plain copy of MathJax's ``es5`` build; Django itself is not needed) and
  are copied to ``_static/mathjax/``, and ``mathjax_path`` points there, so no page
  loads MathJax from a CDN;
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
  version, build date and PDF link in every page's footer.
"""

from __future__ import annotations

import datetime
import html
import os
import shutil
from pathlib import Path

from myst_nb.ext.glue.directives import PasteAnyDirective
from myst_nb.ext.glue.roles import PasteTextRole
from sphinx.application import Sphinx

from . import __version__

STATIC = Path(__file__).parent / "static"
#: The PDF edition's file name, at the root of the built site (written by scripts/build-pdf.py).
PDF_NAME = "why-sqrt-dk.pdf"
#: Environment variables that override ``repository:`` in _config.yml (set by CI for forks).
REPO_URL_ENV, REPO_BRANCH_ENV = "WHYSQRT_REPOSITORY_URL", "WHYSQRT_REPOSITORY_BRANCH"
MATHJAX_ENTRY = "tex-mml-chtml.js"
#: The parts of MathJax's es5 build that tex-mml-chtml.js loads (on demand).
MATHJAX_PARTS = (MATHJAX_ENTRY, "input", "output", "a11y", "ui", "adaptors", "sre")


def mathjax_source() -> Path:
    """Folder of the packaged MathJax es5 build."""
    import mathjax  # the django-static-mathjax distribution

    root = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (root / MATHJAX_ENTRY).exists():
        raise RuntimeError(f"MathJax not found at {root}; is django-static-mathjax installed?")
    return root


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
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.html_theme_options = repository_override(config.html_theme_options)
    thebe = getattr(config, "thebe_config", None)
    if isinstance(thebe, dict) and "repository_url" in thebe:
        thebe["repository_url"] = config.html_theme_options["repository_url"]


def _builder_inited(app: Sphinx) -> None:
    # Sphinx adds MathJax only to pages with math of their own; the single-page book's root
    # document has none, but the chapters inlined into it do.
    if app.builder.name == "singlehtml":
        app.set_html_assets_policy("always")


def _insert_after_title(body: str, snippet: str) -> str:
    end = body.find("</h1>")
    return body if end < 0 else body[: end + 5] + snippet + body[end + 5 :]


def _launch_box(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Companion-notebook launch box under a chapter's title; PDF link on the landing page."""
    if app.builder.name != "html" or "body" not in context:
        return
    pathto = context["pathto"]
    if pagename == app.config.root_doc:
        pdf = pathto(PDF_NAME, 1)
        context["body"] = _insert_after_title(
            context["body"],
            f'<p class="ws-pdf-link">Also as a <a href="{pdf}">PDF edition</a> '
            "(for print and offline reading).</p>",
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
    box = (
        '<aside class="ws-launch" aria-label="Companion notebook">'
        f'<span class="ws-launch-label">Companion notebook <code>{html.escape(nb)}</code>:</span> '
        f'<a class="ws-launch-binder" href="{html.escape(binder)}">Open in Binder</a>'
        f'<a class="ws-launch-download" href="{download}" download="{stem}.ipynb">Download .ipynb</a>'
        f'<a class="ws-launch-view" href="{view}">View executed notebook</a>'
        "</aside>"
    )
    context["body"] = _insert_after_title(context["body"], box)


def _footer(app: Sphinx, pagename, templatename, context, doctree) -> None:
    pdf = context["pathto"](PDF_NAME, 1) if "pathto" in context else PDF_NAME
    stamp = (
        f'<p class="ws-edition">Version {__version__}, built {app.config.whysqrt_build_date}. '
        f'<a href="{pdf}">PDF edition</a>.</p>'
    )
    context["theme_extra_footer"] = (context.get("theme_extra_footer") or "") + stamp


def _copy_mathjax(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source()
    dest = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s, d = src / part, dest / part
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


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


def _fix_citation_roles(app: Sphinx, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


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
        doc, name = companion_ref(self.document.settings.env.docname, key)
        self.text = f"{doc}::{name}" + (f":{fmt}" if fmt else "")
        return super().run()


class CompanionPaste(PasteAnyDirective):
    """``{paste} key`` pastes any output glued by the companion notebook (figure, slider, table)."""

    def run(self):
        doc, name = companion_ref(self.state.document.settings.env.docname, self.arguments[0])
        self.arguments[0] = name
        self.options.setdefault("doc", doc)
        return super().run()


def setup(app: Sphinx) -> dict:
    mathjax_source()  # fail early, at configuration time, if MathJax is missing
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    app.connect("html-page-context", _fix_citation_roles)
    app.connect("html-page-context", _launch_box)
    app.connect("html-page-context", _footer)
    app.add_config_value("whysqrt_build_date", build_date(), "html", types=[str])
    app.add_role("num", CompanionNumber())
    app.add_directive("paste", CompanionPaste)
    app.add_js_file("whysqrt-slider.js", defer="defer")
    app.add_css_file("whysqrt.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
