"""The book's Sphinx extension: short references to the companion notebook's glued values."""

import re
from pathlib import Path

import pytest

from whysqrt.sphinx_ext import companion_ref


def test_a_plain_key_names_the_companion_notebook():
    assert companion_ref("book/why-sqrt", "uniform-loss") == (
        "/notebooks/why-sqrt.ipynb",
        "uniform-loss",
    )


def test_a_stem_prefix_names_another_notebook():
    assert companion_ref("book/in-brief", "variance-proof::var-512") == (
        "/notebooks/variance-proof.ipynb",
        "var-512",
    )


@pytest.mark.parametrize("key", ["", "::x", "why-sqrt::", "  "])
def test_an_empty_key_is_refused(key):
    with pytest.raises(ValueError, match="^key"):
        companion_ref("book/why-sqrt", key)


# The repository setting: _config.yml's by default, the environment's on CI (forks).
from whysqrt.sphinx_ext import binder_url, build_date, repository_override  # noqa: E402

DEFAULT = {
    "repository_url": "https://github.com/why-sqrt-dk/why-sqrt-dk",
    "repository_branch": "main",
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
}


def test_without_override_the_config_file_decides():
    assert repository_override(DEFAULT, environ={}) == DEFAULT


def test_the_environment_overrides_url_and_branch_for_every_link():
    env = {
        "WHYSQRT_REPOSITORY_URL": "https://github.com/someone/fork/",
        "WHYSQRT_REPOSITORY_BRANCH": "draft",
    }
    opts = repository_override(DEFAULT, environ=env)
    assert opts["repository_url"] == "https://github.com/someone/fork"
    assert opts["repository_branch"] == "draft"
    assert DEFAULT["repository_url"].endswith("why-sqrt-dk")  # the input is not changed
    assert binder_url(opts, "why-sqrt") == (
        "https://mybinder.org/v2/gh/someone/fork/draft?urlpath=lab/tree/notebooks/why-sqrt.ipynb"
    )


@pytest.mark.parametrize("url", ["github.com/a/b", "https://github.com/onlyowner", "http://x/a/b"])
def test_a_malformed_repository_url_is_refused(url):
    with pytest.raises(ValueError, match="^WHYSQRT_REPOSITORY_URL"):
        repository_override(DEFAULT, environ={"WHYSQRT_REPOSITORY_URL": url})


def test_binder_url_matches_the_theme_launch_button_for_the_default():
    assert binder_url(DEFAULT, "variance-proof") == (
        "https://mybinder.org/v2/gh/why-sqrt-dk/why-sqrt-dk/main"
        "?urlpath=lab/tree/notebooks/variance-proof.ipynb"
    )


def test_build_date_honours_source_date_epoch():
    assert build_date({"SOURCE_DATE_EPOCH": "0"}) == "1970-01-01"
    assert len(build_date({})) == 10


def test_one_version_in_package_pyproject_and_citation():
    from pathlib import Path

    import tomllib
    import yaml

    import whysqrt

    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    assert whysqrt.__version__ == pyproject == str(cff["version"])
    assert cff["cff-version"] == "1.2.0" and cff["authors"] and cff["title"]


# Issue 20: a light page. Icons without fontawesome.js, deferred scripts, math nodes for the
# SymPy HTML of ws.math.
from whysqrt.sphinx_ext import (  # noqa: E402
    ICONS,
    defer_scripts,
    fontawesome_icons,
    icon_css,
    pseudo_icon_css,
    raw_math_to_nodes,
)


@pytest.fixture(scope="module")
def theme_icons():
    from pathlib import Path

    import pydata_sphinx_theme

    static = Path(pydata_sphinx_theme.__file__).parent / "theme/pydata_sphinx_theme/static"
    script = (static / "scripts/fontawesome.js").read_text(encoding="utf-8")
    css = (static / "styles/pydata-sphinx-theme.css").read_text(encoding="utf-8")
    return fontawesome_icons(script), css


def test_every_icon_the_theme_uses_is_drawn_by_css(theme_icons):
    icons, _ = theme_icons
    css = icon_css(icons)
    for pack, names in ICONS.items():
        for name in names:
            rule = rf"\.{pack}\.fa-{name}::before[^{{]*\{{--ws-icon:url\("
            assert re.search(rule, css), (pack, name)
    assert "Font Awesome" in css.split("*/")[0]  # the licence's attribution
    assert "@font-face" not in css and ".woff" not in css


def test_the_theme_pseudo_element_icons_are_masks_too(theme_icons):
    icons, theme_css = theme_icons
    css = pseudo_icon_css(theme_css, icons)
    for sel in (".admonition.note>.admonition-title:after", "a.reference.download:before"):
        rule = next(line for line in css.splitlines() if line.startswith(sel))
        assert "content:''!important" in rule and "--ws-icon:url(" in rule


def test_icon_data_is_refused_when_it_is_not_fontawesome():
    with pytest.raises(ValueError, match="^script"):
        fontawesome_icons("var p={a:1}")


def test_synchronous_scripts_are_deferred_but_documentation_options_is_not():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [
        _JavaScript("_static/documentation_options.js"),
        _JavaScript("_static/doctools.js"),
        _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
        _JavaScript(None, body="let x = 1;"),
    ]
    out = defer_scripts(scripts)
    assert "defer" not in out[0].attributes
    assert out[1].attributes.get("defer") == "defer"
    assert "defer" not in out[2].attributes and out[2].attributes["async"] == "async"
    assert out[3] is scripts[3]  # inline scripts run where they are
    assert "defer" not in scripts[1].attributes  # the builder's shared list is not changed


def test_sympy_html_of_ws_math_becomes_a_math_node():
    from docutils import nodes
    from docutils.utils import new_document

    import whysqrt as ws

    html_out = ws.interactive.math("x < y", r"\frac{a}{b}")._repr_mimebundle_()["text/html"]
    doc = new_document("test")
    doc += nodes.raw("", html_out, format="html")
    doc += nodes.raw("", "<p>not math</p>", format="html")
    assert raw_math_to_nodes(doc) == 1
    (block,) = list(doc.findall(nodes.math_block))
    assert block.astext() == r"x < y,\qquad \frac{a}{b}"  # HTML entities decoded
    assert len(list(doc.findall(nodes.raw))) == 1


# --- A chapter is re-read when a notebook it pastes from changes ---------------------

PASTE_REF = re.compile(r"\{num\}`([^`]+)`|```\{paste\}\s+(\S+)|:::\{paste\}\s+(\S+)")


def pasted_notebooks(text: str, docname: str) -> set[str]:
    """The notebooks a chapter's {num} roles and {paste} directives read from."""
    out = set()
    for m in PASTE_REF.finditer(text):
        key = next(g for g in m.groups() if g)
        if m.group(1):  # {num}`key:fmt` -> strip the format as the role does
            head, colon, _ = key.rpartition(":")
            key = head if colon and not head.endswith(":") else key
        out.add(companion_ref(docname, key)[0].lstrip("/"))
    return out


def test_every_chapter_depends_on_the_notebooks_it_pastes_from():
    """Sphinx must re-read book/<stem>.md when a notebook it pastes from changes; the
    environment of the last build records those dependencies (skipped before a build)."""
    import pickle

    root = Path(__file__).resolve().parents[1]
    pickled = root / "_build" / ".doctrees" / "environment.pickle"
    if not pickled.exists():
        pytest.fail("_build/.doctrees/environment.pickle is missing: run `make book` first")
    with pickled.open("rb") as f:
        env = pickle.load(f)
    checked = 0
    for md in sorted((root / "book").glob("*.md")):
        docname = f"book/{md.stem}"
        wanted = pasted_notebooks(md.read_text(encoding="utf-8"), md.stem)
        have = {str(d) for d in env.dependencies.get(docname, set())}
        assert wanted <= have, f"{docname} is not re-read when {sorted(wanted - have)} change"
        checked += bool(wanted)
    assert checked >= 10, "expected most chapters to paste from notebooks"


# --- Titles as text ---------------------------------------------------------------------

from whysqrt.sphinx_ext import tex_to_text  # noqa: E402


@pytest.mark.parametrize(
    "tex, text",
    [
        (r"\sqrt{d_k}", "√dₖ"),
        (r"q\cdot k", "q·k"),
        ("d_k", "dₖ"),
        ("W_Q", "W_Q"),
        (r"d_{\text{model}}", "d_model"),
        (r"\alpha", "α"),
    ],
)
def test_title_math_becomes_unicode_text(tex, text):
    assert tex_to_text(tex) == text


def test_page_titles_keep_the_root_and_subscripts():
    """<title>, the print header and prev/next links are text: "Why √dₖ, not dₖ or 1"."""
    root = Path(__file__).resolve().parents[1]
    page = root / "_build" / "html" / "book" / "why-sqrt.html"
    if not page.exists():
        pytest.fail("_build/html is missing: run `make book` first")
    html = page.read_text(encoding="utf-8")
    assert "<title>Why √dₖ, not dₖ or 1" in html
    assert "\\sqrt" not in html.split("<body")[1].split('id="print-main-content"')[0]
    prev = (root / "_build" / "html" / "book" / "synthesis.html").read_text(encoding="utf-8")
    assert 'title="Why √dₖ, not dₖ or 1"' in prev


def test_the_glossarys_chinese_terms_become_search_words(tmp_path):
    """The Chinese search index keeps the glossary's compounds whole (jieba user dictionary)."""
    from whysqrt.sphinx_ext import jieba_dictionary

    csv = tmp_path / "g.csv"
    csv.write_text(
        "english,chinese,source,note\n"
        "scaled dot-product attention,缩放点积注意力,d2l-zh:x,\n"
        "QK-norm,QK-norm（查询-键规范化）,this book,n\n"
        "head,头,d2l-zh:y,\n",
        encoding="utf-8",
    )
    words = [line.split()[0] for line in jieba_dictionary(csv).splitlines()]
    assert "缩放点积注意力" in words and "查询-键规范化" not in words
    assert "查询" in words and "键规范化" in words  # split at the hyphen, as a reader types
    assert "头" not in words  # one character: jieba already knows it
