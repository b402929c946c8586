"""Every internal link, anchor and asset reference in the built site resolves (offline)."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.refs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href") is not None:
            self.refs.append(("href", a["href"]))
        elif tag in ("img", "script") and a.get("src"):
            self.refs.append(("src", a["src"]))
        elif tag == "link" and a.get("href"):
            self.refs.append(("href", a["href"]))


def _parse(path: Path) -> _Collect:
    c = _Collect()
    c.feed(path.read_text(encoding="utf-8"))
    return c


def pages() -> list[Path]:
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)


def test_site_is_built():
    assert (SITE / "index.html").exists(), "run `make book` first"


def broken_links(page: Path, cache: dict) -> list[str]:
    """The internal references on ``page`` whose file or anchor does not exist."""
    bad = []
    for _kind, ref in cache.setdefault(page, _parse(page)).refs:
        url = urlparse(ref)
        if url.scheme or ref.startswith(("//", "mailto:", "javascript:", "data:")):
            continue  # external (checked by the browser tests never to load on its own)
        target = page if not url.path else (page.parent / unquote(url.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            bad.append(
                f"{ref} (no file {target.relative_to(SITE.resolve()) if target.is_relative_to(SITE.resolve()) else target})"
            )
            continue
        if url.fragment and target.suffix == ".html":
            ids = cache.setdefault(target, _parse(target)).ids
            if unquote(url.fragment) not in ids:
                bad.append(f"{ref} (no anchor #{url.fragment})")
    return bad


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(SITE)))
def test_internal_links_and_anchors_resolve(page):
    assert broken_links(page, {}) == []


def test_the_checker_finds_a_broken_anchor_and_file(tmp_path):
    (tmp_path / "a.html").write_text(
        '<p id="here"></p><a href="#here">ok</a>'
        '<a href="#gone">bad</a><a href="missing.html">bad</a>'
        '<a href="https://example.org/x">external</a>'
    )
    bad = broken_links(tmp_path / "a.html", {})
    assert len(bad) == 2 and "#gone" in bad[0] and "missing.html" in bad[1]
