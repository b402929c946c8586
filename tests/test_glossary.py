"""The bilingual glossary of the Chinese edition (issue 19): one term, one rendering.

locales/glossary.csv follows d2l-zh (github.com/d2l-ai/d2l-zh, read at commit
e6b18ccea71451a55fcd861d7b96fddf2587b09a) wherever d2l-zh has the term; its `source`
column then names the d2l-zh file, otherwise it says `this book` and the note says why.
"""

import csv
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "locales" / "glossary.csv"
HEADER = ["english", "chinese", "source", "note"]
D2L_SOURCE = re.compile(r"d2l-zh:(?:[\w.-]+/)*[\w.-]+\.md")

# The four terms issue 19 names, with d2l-zh's exact words.
ISSUE_TERMS = {
    "scaled dot-product attention": "缩放点积注意力",
    "multi-head attention": "多头注意力",
    "layer normalization": "层规范化",
    "batch normalization": "批量规范化",
}
UI_PHRASES = [
    "In this chapter",
    "What the derivation assumes",
    "Exercises",
    "Solution",
    "What to look for",
    "Companion notebook",
    "Open in Binder",
    "Download .ipynb",
    "View executed notebook",
    "PDF edition",
    "Figure",
    "Table",
    "Notation",
    "References",
    "In brief",
]


def glossary_problems(text: str) -> list[str]:
    """Why a glossary CSV text is not usable (empty list = fine)."""
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows or rows[0] != HEADER:
        return [f"header is {rows[0] if rows else None}, expected {HEADER}"]
    problems = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(HEADER):
            problems.append(f"line {line}: {len(row)} cells, expected {len(HEADER)}")
            continue
        english, chinese, source, note = (cell.strip() for cell in row)
        if not english:
            problems.append(f"line {line}: empty english cell")
        key = english.casefold()
        if key in seen:
            problems.append(f"line {line}: {english!r} duplicates line {seen[key]}")
        seen.setdefault(key, line)
        if not chinese:
            problems.append(f"line {line}: {english!r} has an empty chinese cell")
        if source.startswith("d2l-zh"):
            if not D2L_SOURCE.fullmatch(source):
                problems.append(f"line {line}: {english!r}: source {source!r} names no d2l-zh path")
        elif source == "this book":
            if not note:
                problems.append(
                    f"line {line}: {english!r} is this book's choice without a note why"
                )
        else:
            problems.append(f"line {line}: {english!r}: unknown source {source!r}")
        if "归一化" in chinese:
            problems.append(
                f"line {line}: {english!r}: normalization is 规范化 (d2l-zh), not 归一化"
            )
    return problems


def load() -> dict[str, dict[str, str]]:
    with GLOSSARY.open(encoding="utf-8", newline="") as fh:
        return {row["english"]: row for row in csv.DictReader(fh)}


def test_glossary_is_clean():
    assert glossary_problems(GLOSSARY.read_text(encoding="utf-8")) == []


def test_glossary_is_utf8_without_bom():
    raw = GLOSSARY.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")


@pytest.mark.parametrize(("english", "chinese"), sorted(ISSUE_TERMS.items()))
def test_issue_terms_use_d2l_words(english, chinese):
    row = load()[english]
    assert row["chinese"] == chinese
    assert row["source"].startswith("d2l-zh:")


@pytest.mark.parametrize("phrase", UI_PHRASES)
def test_ui_phrases_present(phrase):
    assert load()[phrase]["chinese"].strip()


def test_glossary_is_substantial():
    assert len(load()) >= 120


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("english,chinese,source\nsoftmax,softmax,this book\n", "header"),
        (
            "english,chinese,source,note\nkey,键,d2l-zh:TERMINOLOGY.md,\nKey,关键,this book,x\n",
            "duplicates",
        ),
        ("english,chinese,source,note\nquery,,this book,x\n", "empty chinese"),
        ("english,chinese,source,note\nquery,查询,d2l-zh:,\n", "names no d2l-zh path"),
        ("english,chinese,source,note\nquery,查询,d2l-zh: somewhere,\n", "names no d2l-zh path"),
        ("english,chinese,source,note\nRoPE,旋转位置编码,this book,\n", "without a note"),
        ("english,chinese,source,note\nRMSNorm,均方根归一化,this book,x\n", "规范化"),
        ("english,chinese,source,note\nquery,查询,wikipedia,\n", "unknown source"),
    ],
)
def test_checker_catches(text, fragment):
    problems = glossary_problems(text)
    assert any(fragment in p for p in problems), problems
