"""The PDF edition (`make pdf`): it opens, has every chapter, no raw TeX, images on figure pages.

`make test` builds it first (the Makefile's ``test`` target depends on ``pdf``).
"""

import json
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "pdf" / "why-sqrt-dk.pdf"
FIGURES = ROOT / "_build" / "pdf" / "figures.json"

pytestmark = pytest.mark.pdf


def norm(text: str) -> str:
    """Letters and digits only, lower case, ligatures (fi) spelled out: PDF text breaks lines
    and words anywhere."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKC", text).lower())


def chapters() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [ROOT / f"{f}.md" for f in files if f.startswith("book/")]


def title_words(md: Path) -> list[str]:
    """The chapter title's plain-text pieces (math left out: it prints as MathML glyphs)."""
    title = next(line[2:] for line in md.read_text().splitlines() if line.startswith("# "))
    return [norm(p) for p in re.split(r"\$[^$]*\$", title) if len(norm(p)) >= 3]


@pytest.fixture(scope="module")
def reader():
    from pypdf import PdfReader

    if not PDF.exists():
        pytest.fail(f"{PDF.relative_to(ROOT)} is missing: run `make pdf` (make test does)")
    return PdfReader(PDF)


@pytest.fixture(scope="module")
def page_texts(reader):
    return [page.extract_text() or "" for page in reader.pages]


def test_pdf_opens_and_has_pages(reader):
    assert reader.pdf_header.startswith("%PDF-")
    assert len(reader.pages) >= 2 * len(chapters())


def test_every_chapter_title_is_in_the_text(page_texts):
    text = norm(" ".join(page_texts))
    assert len(chapters()) >= 10
    for md in chapters():
        words = title_words(md)
        assert words, md
        missing = [w for w in words if w not in text]
        assert not missing, f"{md.name}: title not in the PDF text ({missing})"


def test_every_chapter_has_a_bookmark(reader):
    titles = []

    def walk(items):
        for item in items:
            walk(item) if isinstance(item, list) else titles.append(norm(item.title))

    walk(reader.outline)
    for md in chapters():
        assert any(title_words(md)[0] in t for t in titles), f"no bookmark for {md.name}"


@pytest.mark.parametrize("tex", ["\\frac", "$$", "\\sqrt{", "\\(", "\\mathrm"])
def test_no_raw_tex(page_texts, tex):
    hits = [i + 1 for i, t in enumerate(page_texts) if tex in t]
    assert not hits, f"raw TeX {tex!r} on pages {hits}"


def test_every_figure_page_has_an_image(reader, page_texts):
    captions = json.loads(FIGURES.read_text())
    assert len(captions) >= 10, "the single-page book lost its figures"
    texts = [norm(t) for t in page_texts]
    for caption in captions:
        key = norm(caption)[:40]
        pages = [i for i, t in enumerate(texts) if key in t]
        assert pages, f"caption not found in the PDF: {caption[:60]!r}"
        for i in pages:
            assert reader.pages[i].images, (
                f"page {i + 1} has the caption {caption[:40]!r} but no image"
            )


def test_static_sliders_print_a_note(page_texts):
    text = " ".join(page_texts)
    assert "Interactive in the web edition" in text


PDF_ZH = ROOT / "_build" / "pdf" / "why-sqrt-dk-zh.pdf"


def test_chinese_pdf_has_every_chapter_title_in_chinese():
    """The Chinese PDF (make pdf, from the zh single-page build): it opens, prints every
    chapter's Chinese title as text (a CJK font embedded, not boxes), and ships with the
    Chinese site."""
    from babel.messages.pofile import read_po
    from pypdf import PdfReader

    if not PDF_ZH.exists():
        pytest.fail(f"{PDF_ZH.relative_to(ROOT)} is missing: run `make pdf` (make test does)")
    reader = PdfReader(PDF_ZH)
    assert len(reader.pages) >= 2 * len(chapters())
    # NFKC: the PDF's text layer may use Kangxi radicals (⼒ U+2F12) for the same glyphs (力)
    raw = "".join(page.extract_text() or "" for page in reader.pages)
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
    locale = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "book"
    for md in chapters():
        with open(locale / f"{md.stem}.po", "rb") as f:
            title = next(str(m.string) for m in read_po(f) if m.id)
        runs = re.findall(r"[\u4e00-\u9fff]{2,}", unicodedata.normalize("NFKC", title))
        missing = [run for run in runs if run not in text]
        assert runs and not missing, (
            f"{md.name}: Chinese title {title!r} not in the PDF ({missing})"
        )
    fonts = set()
    for page in reader.pages[:5]:
        for ref in (page.get("/Resources", {}).get("/Font", {}) or {}).values():
            fonts.add(str(ref.get_object().get("/BaseFont")))
    # the Chinese glyphs come from a font beside DejaVu (Chromium embeds the CJK font as a
    # Type 3 font, without a BaseFont name)
    assert any("DejaVu" not in f for f in fonts), fonts
    assert (ROOT / "_build" / "html" / "zh" / "why-sqrt-dk.pdf").exists()
