"""Repository conventions: stripped notebooks, paired chapters, the toc as the only order."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def notebook_problems(path: Path) -> list[str]:
    """Why a notebook may not be committed as it is (empty list = fine)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count")
    if "widgets" in nb.get("metadata", {}):
        problems.append("notebook metadata holds widget state")
    return problems


def committed_notebooks() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / p for p in out]


def test_committed_notebooks_have_no_outputs():
    notebooks = committed_notebooks()
    assert notebooks, "git lists no notebooks"
    bad = {str(p.relative_to(ROOT)): notebook_problems(p) for p in notebooks}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"strip these notebooks before committing: {bad}"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_cell_has_a_unique_id(path):
    """nbformat 4.5 cell ids: missing or repeated ids become a hard error in future nbformat."""
    ids = [cell.get("id") for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    assert None not in ids and len(ids) == len(set(ids))


def test_the_check_catches_a_notebook_with_outputs(tmp_path):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "source": "1",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "data": {"text/plain": "1"},
                        "metadata": {},
                    }
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert notebook_problems(path) == ["cell 0 has outputs", "cell 0 has an execution count"]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def test_every_chapter_has_a_companion_notebook_and_both_are_in_the_toc():
    toc = set(_toc_files())
    chapters = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert chapters
    for slug in chapters:
        assert (ROOT / "book" / f"{slug}.md").exists(), f"book/{slug}.md is missing"
        assert f"book/{slug}" in toc and f"notebooks/{slug}" in toc, slug


def test_slugs_are_lowercase_without_number_prefixes():
    for p in list((ROOT / "book").glob("*.md")) + list((ROOT / "notebooks").glob("*.ipynb")):
        assert re.fullmatch(r"[a-z][a-z0-9-]*", p.stem), p.name


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_import_the_package_one_way(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "import whysqrt as ws" in code
    assert not re.search(r"from whysqrt(\.\w+)? import|import \*|sys\.path|os\.chdir", code)
    # ws.glue, not myst_nb's: its first call costs 1.7 s of imports (see whysqrt.interactive.glue)
    assert "myst_nb" not in code
    long_cells = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and len("".join(c["source"]).splitlines()) > 15
    ]
    assert not long_cells, f"cells longer than 15 lines: {long_cells}"


def test_requirements_pin_jupyter_book_1():
    req = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book==1\.", req, re.M)
    pins = [line for line in req.splitlines() if line and not line.startswith(("#", "-e"))]
    assert all("==" in line for line in pins), "every runtime requirement is pinned exactly"


def test_bibliography_entries_are_complete_and_unique():
    import pybtex.database

    text = (ROOT / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,]+),", text, re.M)
    assert len(keys) == len(set(keys)), "duplicate bibtex keys"
    bib = pybtex.database.parse_string(text, "bibtex")
    for key, entry in bib.entries.items():
        assert "title" in entry.fields and "year" in entry.fields, key
        assert entry.persons.get("author") or "howpublished" in entry.fields, key


def citation_clashes(text: str) -> list[list[str]]:
    """Groups of entries that an author-year citation would print alike ("Dao, 2026" twice)."""
    import collections

    import pybtex.database

    groups = collections.defaultdict(list)
    for key, entry in pybtex.database.parse_string(text, "bibtex").entries.items():
        people = entry.persons.get("author")
        who = people[0].last_names if people else [entry.fields.get("howpublished", key)]
        groups[(" ".join(who), entry.fields["year"])].append(key)
    return [sorted(keys) for keys in groups.values() if len(keys) > 1]


def bib_stray_lines(text: str) -> list[str]:
    """Lines outside every entry (a bad merge leaves a lone note or brace, which BibTeX skips)."""
    stray, depth = [], 0
    for line in text.splitlines():
        if depth == 0 and line.strip() and not line.startswith(("@", "%")):
            stray.append(line)
        depth += line.count("{") - line.count("}")
    return stray


def test_bibliography_has_nothing_between_entries():
    assert bib_stray_lines((ROOT / "references.bib").read_text(encoding="utf-8")) == []
    assert bib_stray_lines("@misc{a, title = {A}, year = {2020}}\n\n}\n") == ["}"]


def test_author_year_citations_are_unambiguous():
    """Two works by one author in one year carry 2026a, 2026b (their years are distinct)."""
    assert citation_clashes((ROOT / "references.bib").read_text(encoding="utf-8")) == []


def test_the_clash_check_catches_a_repeated_author_year():
    one = "@misc{%s, author = {Dao, Tri}, title = {%s}, year = {%s}}\n"
    assert citation_clashes(one % ("a", "A", "2026") + one % ("b", "B", "2026")) == [["a", "b"]]
    assert citation_clashes(one % ("a", "A", "2026a") + one % ("b", "B", "2026b")) == []


CONTROL = re.compile(r"[\x00-\x08\x09\x0b-\x1f\x7f]")
LONG_GLUE = re.compile(r"\{glue:[a-z]*\}`[^`]*\.ipynb::|:doc:\s*\.\./notebooks/")


def chapter_source_problems(text: str, max_line: int = 300) -> list[str]:
    """Lines of a chapter that do not read as prose: long-form glue paths, over-long lines."""
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        if LONG_GLUE.search(line):
            problems.append(f"line {n}: long-form glue reference; use {{num}} or {{paste}}")
        if len(line) > max_line:
            problems.append(f"line {n}: {len(line)} characters; glue a long table whole")
        if CONTROL.search(line):
            # e.g. a TAB where a script's unescaped "\\t" ate the start of "\\text"
            problems.append(f"line {n}: a control character (tab?) in prose or math")
    return problems


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.name)
def test_chapter_source_reads_as_prose(path):
    assert chapter_source_problems(path.read_text(encoding="utf-8")) == []


def test_the_prose_check_catches_long_glue_and_long_lines():
    long_ref = "{glue:text}`../notebooks/x.ipynb::key:.3f`"
    assert chapter_source_problems(long_ref)
    assert chapter_source_problems("```{glue:any} k\n:doc: ../notebooks/x.ipynb\n```")
    assert chapter_source_problems("a " * 200)
    assert chapter_source_problems("$d_{" + "\t" + "ext{model}}$")  # "\\text" lost to a tab
    assert chapter_source_problems("{num}`key:.3f` and\n```{paste} fig\n```") == []


#: The word budget of issue 18: the book took in today's practice (bf16, soft-capping, QK-norm
#: families, long-context temperatures, framework defaults) and pays for it by saying old things
#: once; ``wc -w book/*.md`` stays under this.
WORD_BUDGET = 23_000


def test_the_book_stays_within_its_word_budget():
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in (ROOT / "book").glob("*.md"))
    assert words <= WORD_BUDGET, f"{words} words in book/*.md"


def test_every_slider_says_what_to_look_for():
    """Each ``ws.interact(...)`` call in a notebook passes a ``look_for`` sentence."""
    missing = []
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            src = "".join(cell["source"])
            for call in re.split(r"(?=ws\.interact\()", src)[1:]:
                if not re.search(r"look_for\s*=\s*\S", call):
                    missing.append(nb_path.name)
    assert missing == []


def test_no_doc_role_to_a_chapter_whose_title_has_math():
    """``{doc}`` prints a title's TeX source as text; link such chapters with Markdown instead."""
    math_titles = [
        p.stem
        for p in (ROOT / "book").glob("*.md")
        if "$" in p.read_text(encoding="utf-8").splitlines()[0]
    ]
    assert math_titles, "expected chapters with math in their titles"
    alternatives = "|".join(map(re.escape, math_titles))
    pattern = re.compile(r"\{doc\}`(" + alternatives + ")`")
    bad = [p.name for p in (ROOT / "book").glob("*.md") if pattern.search(p.read_text("utf-8"))]
    assert bad == []


#: Main chapters may name the five blog posts only in these pages (issue 21): the audit
#: appendix, the landing page's credits and the bibliography.
MAY_NAME_SOURCES = {"source-audit.md", "index.md", "references.md"}
SOURCE_ID = re.compile(r"\bsources? 00\d", re.I)


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.name)
def test_main_chapters_speak_as_a_reference_not_an_audit(path):
    if path.name in MAY_NAME_SOURCES:
        pytest.skip("the audit, the credits and the bibliography name the posts")
    hits = [
        f"line {n}: {line.strip()[:80]}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SOURCE_ID.search(line)
    ]
    assert hits == [], "main chapter prose names a source post; link its audit row instead"


#: A paragraph a reader can hold in mind (issue 21 asks for about 120 words).
MAX_PARAGRAPH_WORDS = 130
_MATH_OR_ROLE = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|\{[a-z:]+\}`[^`]*`|\]\([^)]*\)", re.S)


def paragraphs(text: str) -> list[str]:
    """The prose paragraphs of a MyST page: no code, no tables, no directive options;
    each list item counts as its own paragraph; inline math and roles count as a word."""
    text = re.sub(r"^(`{3,}|:{3,}).*?^\1\s*$", "", text, flags=re.S | re.M)  # fences
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if not ln.lstrip().startswith(("|", ":", "#"))]
        items, cur = [], []
        for ln in lines:
            if re.match(r"\s*([-*+]|\d+\.)\s", ln) and cur:
                items.append(" ".join(cur))
                cur = []
            cur.append(ln)
        if cur:
            items.append(" ".join(cur))
        out += [_MATH_OR_ROLE.sub(" x ", it) for it in items if it.strip()]
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.name)
def test_paragraphs_stay_short(path):
    long = [
        f"{len(p.split())} words: {p.strip()[:70]}…"
        for p in paragraphs(path.read_text(encoding="utf-8"))
        if len(p.split()) > MAX_PARAGRAPH_WORDS
    ]
    assert long == [], "split these into steps or a short list"


def test_the_paragraph_check_counts_items_and_skips_code():
    text = "intro " * 5 + "\n\n- " + "a " * 140 + "\n- b\n\n```python\n" + "x " * 500 + "\n```\n"
    sizes = [len(p.split()) for p in paragraphs(text)]
    assert sizes == [5, 141, 2]
