"""Print the PDF edition: Jupyter Book's single-page HTML, printed by Chromium.

`make pdf` runs ``jupyter-book build . --builder singlehtml`` first, then this script:

1. serves ``_build/singlehtml`` on localhost and opens it in headless Chromium (the one the
   site tests use: ``$CHROMIUM``, default ``/usr/bin/chromium``);
2. leaves out the companion notebooks (their code and outputs are the web edition's; the
   chapters already paste every number and figure) and checks that every formula is MathML
   (the book's math renderer, whysqrt.mathml, writes it at build time: Chromium draws it
   with a local math font, no typesetting script to wait for) and that the math font is
   installed;
3. prints with the print style sheet of ``whysqrt/static/whysqrt.css`` (static sliders show
   their first frame and a note, figures and code blocks are kept whole, each chapter starts
   a page) and a PDF outline built from the headings (one bookmark per chapter);
4. writes ``_build/pdf/why-sqrt-dk.pdf``, the caption list the tests check it against
   (``_build/pdf/figures.json``), and a copy into ``_build/html`` for the site to ship.

``--lang zh`` prints the Chinese edition the same way: its single-page HTML
(``scripts/edition.py zh-singlehtml``, in ``_build/zh/singlehtml``) becomes
``_build/pdf/why-sqrt-dk-zh.pdf`` (captions in ``figures-zh.json``), copied to
``_build/html/zh/why-sqrt-dk.pdf`` where the Chinese landing page links it. Chinese text
prints with the system's CJK font (Debian: fonts-noto-cjk), which Chromium embeds.

No TeX installation is needed.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "pdf"
#: Per edition: the single-page HTML, the PDF's name, the site folder it is copied to.
EDITIONS = {
    "en": (ROOT / "_build" / "singlehtml", "why-sqrt-dk.pdf", ROOT / "_build" / "html"),
    "zh": (
        ROOT / "_build" / "zh" / "singlehtml",
        "why-sqrt-dk-zh.pdf",
        ROOT / "_build" / "html" / "zh",
    ),
}
SITE_NAME = "why-sqrt-dk.pdf"  # the name each site links (whysqrt.sphinx_ext.PDF_NAME)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def printable(html: str) -> tuple[str, int]:
    """The single-page book without the companion notebooks (their code and outputs are the
    web edition's; the chapters already paste every number and figure), and with links to
    other pages of the web edition pointing into the PDF. Returns (html, notebooks dropped)."""
    from bs4 import BeautifulSoup  # a dependency of pydata-sphinx-theme

    soup = BeautifulSoup(html, "html.parser")
    dropped = 0
    for mark in soup.select('span[id^="document-notebooks/"]'):
        for el in list(mark.find_next_siblings()):
            if (el.get("id") or "").startswith("document-"):
                break
            el.decompose()
        mark.decompose()
        dropped += 1
    ids = {el["id"] for el in soup.select("[id]")}
    for a in soup.select("a[href]"):
        m = re.match(r"^(?:\.\./)?((?:book|notebooks)/[^#]*)\.html(?:#(.*))?$", a["href"])
        if m and (m[2] or f"document-{m[1]}") in ids:
            a["href"] = "#" + (m[2] or f"document-{m[1]}")
    return str(soup), dropped


#: Plain text (math left out) of each figure caption, for the figure-page test.
CAPTIONS = """() => [...document.querySelectorAll('article figure figcaption')].map(c => {
  const x = c.cloneNode(true);
  x.querySelectorAll('math, .math, .ws-look').forEach(e => e.remove());
  return x.innerText.trim();
})"""

#: Formulas of the page that are not MathML (would print as raw TeX).
UNTYPESET = """() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('math'))
  .map(e => e.textContent.slice(0, 80))"""
#: OpenType math fonts, in the order of whysqrt.css's font stack; one must be installed for
#: fractions, roots and stretchy brackets to print well (Debian: fonts-dejavu-extra).
MATH_FONTS = ("STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre")

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555;">'
    '<span class="title"></span> · <span class="pageNumber"></span></div>'
)


def math_font() -> str | None:
    """The first installed font of :data:`MATH_FONTS` (None when fontconfig has none)."""
    import subprocess

    try:
        names = subprocess.run(
            ["fc-list", ":", "family"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return next((f for f in MATH_FONTS if f in names), None)


def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    from playwright.sync_api import sync_playwright

    lang = sys.argv[sys.argv.index("--lang") + 1] if "--lang" in sys.argv else "en"
    if lang not in EDITIONS:
        sys.exit(f"--lang must be one of {', '.join(EDITIONS)}, got {lang!r}")
    SINGLE, NAME, SITE = EDITIONS[lang]
    figures = "figures.json" if lang == "en" else f"figures-{lang}.json"

    page_file = SINGLE / "book" / "index.html"
    if not page_file.exists():
        sys.exit(f"{page_file} is missing: run `jupyter-book build . --builder singlehtml` first")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: run scripts/ensure-chromium (or set CHROMIUM)")
    font = math_font()
    if font is None:
        print(
            f"warning: none of the math fonts {', '.join(MATH_FONTS)} is installed; formulas "
            "will print with a fallback font (apt-get install fonts-dejavu-extra)",
            file=sys.stderr,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # Sphinx writes the page to book/index.html but links its assets as if it sat at the
    # root (_static/...): print a copy from the root.
    html, dropped = printable(page_file.read_text(encoding="utf-8"))
    (SINGLE / "print.html").write_text(html, encoding="utf-8")
    t_prep = time.perf_counter()
    httpd = serve(SINGLE)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/print.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.goto(url, wait_until="load", timeout=120_000)
        page.emulate_media(media="print")
        page.evaluate("() => document.fonts.ready")
        left = page.evaluate(UNTYPESET)
        if left:
            sys.exit(f"{len(left)} formulas of the single-page book are not MathML: {left[:3]}")
        captions = page.evaluate(CAPTIONS)
        t_math = time.perf_counter()
        page.pdf(
            path=str(OUT / NAME),
            format="A4",
            margin={"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
            print_background=True,
            display_header_footer=True,
            header_template="<span></span>",
            footer_template=FOOTER,
            outline=True,
            tagged=True,
        )
        t_pdf = time.perf_counter()
        browser.close()
    httpd.shutdown()
    (OUT / figures).write_text(json.dumps(captions, indent=1, ensure_ascii=False))
    if SITE.is_dir():
        shutil.copy2(OUT / NAME, SITE / SITE_NAME)
    size = (OUT / NAME).stat().st_size / 1e6
    print(
        f"Wrote {OUT / NAME} ({size:.1f} MB, {len(captions)} figures, "
        f"{dropped} companion notebooks left out) in {time.perf_counter() - start:.0f} s "
        f"(prepare {t_prep - start:.0f} s, load {t_math - t_prep:.0f} s, "
        f"print {t_pdf - t_math:.0f} s; math font: {font or 'fallback'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
