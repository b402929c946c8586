"""Checks of the Chinese catalogues (locales/zh_CN/LC_MESSAGES): complete, and markup kept.

A translation may reword anything a reader reads, but not what the build reads: math,
MyST roles (citations, pasted numbers, cross-references), code, link targets and
substitutions must come through unchanged. Used by tests/test_translations.py and by
translators: ``python tests/translation_checks.py [FILE.po ...]``.
"""

import re
import sys
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"

#: Pieces that must appear the same number of times in the message and its translation.
KEPT = {
    "display math": re.compile(r"\$\$.+?\$\$", re.S),
    "role": re.compile(r"\{[a-z:]+\}`[^`]+`"),
    "inline math": re.compile(r"(?<![\\$])\$(?!\$)[^$]+?(?<!\\)\$"),
    "code": re.compile(r"(?<![}`])`[^`{}]+`(?!`)"),
    "link target": re.compile(r"\]\(([^)\s]+)\)"),
    "substitution": re.compile(r"\{\{[^}]+\}\}"),
}


def _normal(name: str, piece: str) -> str:
    """A role's shown text may be translated: ``{ref}`text <target>``` keeps role and target."""
    if name == "role":
        m = re.fullmatch(r"(\{[a-z:]+\})`(?:[^`<]*<([^>`]+)>|([^`]+))`", piece)
        if m and m.group(2):
            return f"{m.group(1)}<{m.group(2)}>"
    return piece


#: A translation that starts like this is read as a list, not as the heading or paragraph
#: it translates (the English "1. Moments" is a heading's text, parsed as such).
LIST_START = re.compile(r"^\d+[.)]\s")


def catalogues() -> list[Path]:
    return sorted(LOCALE.rglob("*.po"))


def kept(text: str) -> Counter:
    found = Counter()
    for name, pattern in KEPT.items():
        for m in pattern.finditer(text):
            found[(name, _normal(name, m.group(0)))] += 1
        text = pattern.sub(" ", text)  # counted once: later patterns do not see it
    return found


def problems(path: Path) -> list[str]:
    """Every incomplete, fuzzy or markup-changing entry of one catalogue."""
    with open(path, "rb") as f:
        catalog = read_po(f)
    out = []
    for msg in catalog:
        if not msg.id:
            continue
        first = str(msg.id).splitlines()[0][:60] if str(msg.id).strip() else repr(msg.id)
        if msg.fuzzy:
            out.append(f"{path.name}: fuzzy: {first!r}")
        elif not msg.string:
            out.append(f"{path.name}: untranslated: {first!r}")
        elif LIST_START.match(str(msg.string)):
            # "1. 矩" parses as a list item, and Sphinx then keeps the English silently
            out.append(f"{path.name}: starts like a numbered list, write '1\\.': {first!r}")
        else:
            a, b = kept(str(msg.id)), kept(str(msg.string))
            if a != b:
                lost = sorted((a - b).elements())
                added = sorted((b - a).elements())
                out.append(f"{path.name}: markup differs in {first!r}: lost {lost}, added {added}")
    return out


def fix_list_starts(path: Path) -> int:
    """Escape the full stop of translations that start like "1. ": how many were fixed."""
    from babel.messages.pofile import write_po

    with open(path, "rb") as f:
        catalog = read_po(f)
    fixed = 0
    for msg in catalog:
        if msg.id and msg.string and LIST_START.match(str(msg.string)):
            m = LIST_START.match(str(msg.string))
            head = m.group(0)
            msg.string = head[:-2] + "\\" + head[-2:] + str(msg.string)[len(head) :]
            fixed += 1
    if fixed:
        with open(path, "wb") as f:
            write_po(f, catalog, width=76)
    return fixed


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--fix"]:
        for path in [Path(p) for p in args[1:]] or catalogues():
            print(path.name, fix_list_starts(path))
        sys.exit(0)
    paths = [Path(p) for p in args] or catalogues()
    found = [p for path in paths for p in problems(path)]
    print("\n".join(found) or f"{len(paths)} catalogue(s) complete")
    sys.exit(1 if found else 0)
