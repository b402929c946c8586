"""Build the Chinese edition, or refresh the translation catalogues (issue 19).

    python scripts/edition.py both      # both sites, side by side (make book, after the notebooks ran)
    python scripts/edition.py en        # the English site alone (jupyter-book build . -n -W --keep-going)
    python scripts/edition.py zh        # the Chinese site under _build/html/zh
    python scripts/edition.py zh-singlehtml   # what make pdf prints as the Chinese PDF
    python scripts/edition.py gettext   # message templates -> _build/gettext, then sphinx-intl update
    python scripts/edition.py catalogue # only the package's catalogue (captions, labels, ...)

Both run Jupyter Book 1's own Sphinx entry point with the settings of ``_config.yml`` plus a
language. The Chinese edition reads the notebooks from the cache that
``scripts/execute-notebooks.py`` filled for the English one, so nothing executes twice.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

# jupyter-book validates its configuration with jsonschema, whose format checkers import
# rfc3987-syntax if they can: it compiles some 40 Lark grammars (1.7 s a process) for IRI
# formats no schema here uses. Without it jsonschema skips those two checkers
# (python-jsonschema/jsonschema#1428); scripts/execute-notebooks.py does the same.
sys.modules.setdefault("rfc3987_syntax", None)

from jupyter_book.cli.main import main as jupyter_book  # noqa: E402
from jupyter_book.sphinx import build_sphinx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
LANGUAGE = "zh_CN"
#: The Chinese edition's folder inside the English site (same page paths below it).
SUBDIR = "zh"


def _build(builder: str, outdir: Path, doctrees: Path, strict: bool = True, **overrides) -> int:
    config = {
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "nitpicky": True,
        "latex_individualpages": False,
        # the cache of scripts/execute-notebooks.py (myst-nb would look next to outdir)
        "nb_execution_cache_path": str(BUILD / ".jupyter_cache"),
        **overrides,
    }
    os.environ.setdefault("WHYSQRT_STATIC_FRAMES", "1")
    os.environ.setdefault("WHYSQRT_EDITIONS", "en,zh")  # should a notebook run here
    result = build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=config,
        doctreedir=doctrees,
        builder=builder,
        warningiserror=strict,
        keep_going=strict,
    )
    return 1 if result else 0


def _copy_changed(src: str, dst: str) -> str:
    """shutil.copy2, skipped when ``dst`` already has the same size and modification time."""
    s, d = Path(src), Path(dst)
    if d.exists():
        a, b = s.stat(), d.stat()
        if a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime):
            return dst
    return shutil.copy2(src, dst)


def build_zh_singlehtml() -> int:
    """The Chinese single-page HTML that scripts/build-pdf.py --lang zh prints."""
    out = BUILD / "zh" / "singlehtml"
    return _build("singlehtml", out, BUILD / "zh" / ".doctrees-singlehtml", language=LANGUAGE)


def build_zh() -> int:
    """Chinese HTML into _build/zh/html, then copied to _build/html/zh."""
    out = BUILD / "zh" / "html"
    rc = _build("html", out, BUILD / "zh" / ".doctrees", language=LANGUAGE)
    if rc == 0:
        # only what changed: a rebuild with nothing new copies nothing (15 MB otherwise)
        shutil.copytree(
            out, BUILD / "html" / SUBDIR, dirs_exist_ok=True, copy_function=_copy_changed
        )
    return rc


def package_catalogue() -> None:
    """The package's catalogue (captions, labels, look-for lines, the site's words) brought up
    to date with what the notebooks and the package use now: new messages are added empty,
    changed ones marked fuzzy, unused ones dropped (babel's update, as sphinx-intl does)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    from whysqrt import i18n

    template = Catalog(locale=None, project="whysqrt")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for msg in i18n.notebook_messages(path):
            template.add(msg, locations=[(f"notebooks/{path.name}", 0)])
    for msg in i18n.package_messages():
        template.add(msg, locations=[("src/whysqrt", 0)])
    with open(i18n.CATALOGUE, "rb") as f:
        catalog = read_po(f)
    template.creation_date = catalog.creation_date  # no date-only change in git
    catalog.update(template, no_fuzzy_matching=False)
    # Messages formatted at run time (a static figure's alt text, a table's row label made
    # from numbers) are not in the sources: keep their translations, which are looked up
    # when the exact English recurs and otherwise leave the English (tables.Table.translated).
    for msg in list(catalog.obsolete.values()):
        if msg.string and not msg.fuzzy:
            catalog[msg.id] = msg
    catalog.obsolete.clear()
    with open(i18n.CATALOGUE, "wb") as f:
        write_po(f, catalog, width=76, no_location=True, omit_header=False)
    print(f"updated {i18n.CATALOGUE.relative_to(ROOT)}: {len(catalog)} messages")


def both() -> int:
    """The English site (``jupyter-book build``) and the Chinese one at the same time.

    Each is one single-threaded Sphinx process reading the same executed notebooks, so
    on two cores the second edition costs little wall time. Either one failing fails.
    """
    os.environ.setdefault("WHYSQRT_STATIC_FRAMES", "1")
    os.environ.setdefault("WHYSQRT_EDITIONS", "en,zh")
    english = subprocess.Popen([sys.executable, __file__, "en"])
    chinese = subprocess.Popen([sys.executable, __file__, "zh"])
    codes = (english.wait(), chinese.wait())
    if any(codes):
        print(f"build failed: English {codes[0]}, Chinese {codes[1]}", file=sys.stderr)
    return 1 if any(codes) else 0


#: The English build's flags (as in the Makefile before both editions existed).
ENGLISH_FLAGS = ["-n", "-W", "--keep-going"]


def build_en() -> int:
    """The English site: ``jupyter-book build . -n -W --keep-going``, in this process."""
    try:
        jupyter_book(["build", str(ROOT), *ENGLISH_FLAGS, *sys.argv[2:]])
    except SystemExit as done:  # click ends the command with sys.exit
        return done.code if isinstance(done.code, int) else 1
    return 0


def gettext() -> int:
    """Templates of every translatable message, then the catalogues brought up to date."""
    package_catalogue()
    # the words to translate are in the sources: no notebook needs to run for them (and
    # the numbers they would paste are not messages: their warnings do not matter here)
    rc = _build(
        "gettext",
        BUILD / "gettext",
        BUILD / ".doctrees-gettext",
        strict=False,
        nb_execution_mode="off",
    )
    if rc:
        return rc
    intl = shutil.which("sphinx-intl", path=str(Path(sys.executable).parent))
    if intl is None:
        print("sphinx-intl is not installed (requirements-dev.txt)", file=sys.stderr)
        return 1
    cmd = [
        intl,
        "update",
        "-p",
        str(BUILD / "gettext"),
        "-l",
        LANGUAGE,
        "-d",
        str(ROOT / "locales"),
    ]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    jobs = {
        "both": both,
        "en": build_en,
        "zh": build_zh,
        "zh-singlehtml": build_zh_singlehtml,
        "gettext": gettext,
        "catalogue": package_catalogue,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in jobs or (sys.argv[1] != "en" and len(sys.argv) > 2):
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(jobs)}}}")
    sys.exit(jobs[sys.argv[1]]())
