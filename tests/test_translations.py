"""The Chinese edition's catalogues: complete, current, and in the glossary's words (issue 19).

``locales/zh_CN/LC_MESSAGES`` holds one catalogue per page (Sphinx's gettext, kept up to
date with ``make translations``); ``src/whysqrt/locale`` the package's own (captions,
labels, the site's words). An English edit that is not yet translated fails here.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import translation_checks as checks
from whysqrt import i18n

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


def _ids(path: Path) -> set[str]:
    with open(path, "rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


def test_every_page_has_its_catalogue():
    for page in PAGES:
        po = checks.LOCALE / page.parent.name / f"{page.stem}.po"
        assert po.exists(), f"{page.relative_to(ROOT)} has no catalogue: run `make translations`"


@pytest.mark.parametrize(
    "po", checks.catalogues() + [i18n.CATALOGUE], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_catalogue_is_complete_and_keeps_markup(po):
    problems = checks.problems(po)
    assert not problems, "\n".join(problems[:20])


def test_catalogues_match_the_english_text(tmp_path):
    """Every message the English pages hold now is in its catalogue: a page edited since its
    translation fails (``make translations`` marks the changed messages fuzzy)."""
    out = tmp_path / "gettext"
    code = (
        "import sys; sys.argv = ['edition.py']; sys.path.insert(0, 'scripts'); import edition; "
        f"sys.exit(edition._build('gettext', __import__('pathlib').Path({str(out)!r}), "
        f"__import__('pathlib').Path({str(tmp_path / 'doctrees')!r}), strict=False, "
        "nb_execution_mode='off'))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    missing = {}
    for pot in sorted(out.rglob("*.pot")):
        rel = pot.relative_to(out).with_suffix(".po")
        po = checks.LOCALE / rel
        assert po.exists(), f"no catalogue {rel}"
        new = _ids(pot) - _ids(po)
        if new:
            missing[str(rel)] = sorted(new)[:3]
    assert not missing, f"English not yet in the catalogues (run `make translations`): {missing}"


def test_package_catalogue_holds_every_message_the_notebooks_use():
    have = _ids(i18n.CATALOGUE) | {
        m for p in i18n.CATALOGUE.parent.glob("part-*.po") for m in _ids(p)
    }
    used = {
        m for nb in sorted((ROOT / "notebooks").glob("*.ipynb")) for m in i18n.notebook_messages(nb)
    }
    used |= set(i18n.package_messages())
    assert used, "found no messages: the extraction is broken"
    assert not used - have, f"not in {i18n.CATALOGUE.name}: {sorted(used - have)[:5]}"


def test_glossary_terms_are_the_ones_the_chapters_use():
    """The four terms the issue names (d2l-zh's words) appear in the Chinese chapters, and
    the words d2l-zh does not use for them do not."""
    rows = {
        r["english"].lower(): r["chinese"]
        for r in csv.DictReader(open(ROOT / "locales" / "glossary.csv", encoding="utf-8"))
    }
    text = "".join(
        m.string
        for po in [*checks.catalogues(), *i18n.CATALOGUE.parent.glob("*.po")]
        for m in read_po(open(po, "rb"))
        if m.id and m.string
    )
    for english in ("scaled dot-product attention", "multi-head attention", "layer normalization"):
        chinese = rows[english]
        assert chinese.split("（")[0] in text, (english, chinese)
    assert "归一化" not in text, "use 规范化 (d2l-zh) for normalization"
