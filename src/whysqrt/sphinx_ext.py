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
* gives bibliography entries the ARIA role ``listitem``: docutils marks them
  ``doc-biblioentry``, a role deprecated in WAI-ARIA 1.3, inside a ``role="list"``
  container, which axe-core reports as a critical violation (a list without items).
"""

from __future__ import annotations

import shutil
from pathlib import Path

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


def setup(app: Sphinx) -> dict:
    mathjax_source()  # fail early, at configuration time, if MathJax is missing
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _dedupe_scripts, priority=999)
    app.connect("html-page-context", _fix_citation_roles)
    app.add_js_file("whysqrt-slider.js", defer="defer")
    app.add_css_file("whysqrt.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
