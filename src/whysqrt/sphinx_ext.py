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
  container, which axe-core reports as a critical violation (a list without items).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from myst_nb.ext.glue.directives import PasteAnyDirective
from myst_nb.ext.glue.roles import PasteTextRole
from sphinx.application import Sphinx

STATIC = Path(__file__).parent / "static"
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


def _config_inited(app: Sphinx, config) -> None:
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    config.html_static_path = [*config.html_static_path, str(STATIC)]


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
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    app.connect("html-page-context", _fix_citation_roles)
    app.add_role("num", CompanionNumber())
    app.add_directive("paste", CompanionPaste)
    app.add_js_file("whysqrt-slider.js", defer="defer")
    app.add_css_file("whysqrt.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
