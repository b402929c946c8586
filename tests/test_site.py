"""The built site (_build/html) in real headless Chromium, served from localhost.

Run `make book` first (`make test` does). Chromium is Debian's /usr/bin/chromium:
Playwright cannot download its own browser on these machines.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from conftest import serve_directory

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
#: How long a slider may take to show a new frame: its frame file loads on first use, which on a
#: loaded 2-core machine has taken over a second (an immediate check was flaky there).
FRAME_WAIT_MS = 15_000
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
#: Pages without sliders: the audit appendix is tables and checks (its experiment lives in
#: softmax-sharpness, said once).
NO_SLIDERS = {"source-audit"}
#: The two editions: English at the site root, Chinese under zh/ with the same page paths.
EDITIONS = ["", "zh/"]

pytestmark = pytest.mark.site


def site_pages() -> list[str]:
    return sorted(
        str(p.relative_to(SITE))
        for p in SITE.rglob("*.html")
        # not Sphinx's own folders (_static, _sources, ...), at the root or under zh/
        if not any(part.startswith(("_", ".")) for part in p.relative_to(SITE).parts)
    )


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` first")
    with serve_directory(SITE) as url:
        yield url


class Visit:
    """One page load that records console errors and every request leaving localhost."""

    def __init__(self, browser, server, path):
        self.errors, self.external = [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        host = urlparse(server).netloc

        def route(r):
            url = urlparse(r.request.url)
            if url.scheme in ("http", "https") and url.netloc != host:
                self.external.append(r.request.url)
                return r.abort()
            return r.continue_()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.response = self.page.goto(f"{server}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def _open(path):
        v = Visit(browser, server, path)
        opened.append(v)
        return v

    yield _open
    for v in opened:
        v.close()


def test_site_has_every_chapter_and_notebook_page():
    pages = site_pages()
    for slug in CHAPTERS:
        assert f"book/{slug}.html" in pages
        assert f"notebooks/{slug}.html" in pages


@pytest.mark.parametrize("path", site_pages() or ["index.html"])
def test_page_loads_offline_without_errors(visit, path):
    v = visit(path)
    assert v.response is not None and v.response.ok, path
    assert v.external == [], f"{path} requested other hosts: {v.external}"
    assert v.errors == [], f"{path} console errors: {v.errors}"
    body = v.page.inner_text("body")
    for junk in (
        "VBox(",
        "HBox(",
        "Loading widget",
        "interactive figure",
        "application/vnd.jupyter",
    ):
        assert junk not in body, f"{path} shows widget repr text {junk!r}"


@pytest.mark.parametrize("slug", CHAPTERS)
@pytest.mark.parametrize("kind", ["book", "notebooks"])
@pytest.mark.parametrize("edition", EDITIONS)
def test_math_is_typeset(visit, slug, kind, edition):
    """Math arrives as MathML made at build time (whysqrt.mathml): every formula is a
    <math> element the browser draws, with no TeX left as text and no typesetting script."""
    v = visit(f"{edition}{kind}/{slug}.html")
    # a chapter is full of formulas; a companion notebook may hold only a few
    assert v.page.locator("article math").count() >= (5 if kind == "book" else 1)
    untypeset = v.page.evaluate(
        "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('math'))"
        ".map(e => e.textContent.slice(0, 60))"
    )
    assert untypeset == [], f"formulas left as TeX: {untypeset[:3]}"
    text = v.page.evaluate("""() => {
        const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, script, math').forEach(e => e.remove());
        return a.innerText; }""")
    for tex in ("\\frac", "\\operatorname", "\\sqrt", "\\(", "\\[", "$$"):
        assert tex not in text, f"raw TeX {tex!r} left on the page"
    # drawn as math: a fraction is taller than a line of text, and the math font is a math font
    frac = v.page.locator("article mfrac").first
    if frac.count():
        box = frac.bounding_box()
        assert box and box["height"] > 18, box
    family = v.page.evaluate("getComputedStyle(document.querySelector('article math')).fontFamily")
    assert "Math" in family
    assert v.page.evaluate("!window.MathJax"), "a typesetting script is still loaded"


def _requests(browser, server, path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{server}/{path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    return ctx, page, urls


@pytest.mark.parametrize("path", ["book/in-brief.html", "book/softmax-sharpness.html"])
def test_chapter_page_loads_no_icon_script_font_search_index_or_mathjax(browser, server, path):
    ctx, page, urls = _requests(browser, server, path)
    try:
        for heavy in ("fontawesome.js", ".woff", ".ttf", "searchindex.js", "mathjax", "tex-"):
            assert not [u for u in urls if heavy in u.lower()], f"{path} loads {heavy}"
        # the theme's icons are still drawn: a CSS mask on the ::before of each <i> icon
        icons = page.evaluate("""() => [...document.querySelectorAll(
              '.bd-header-article i.fa-solid, .bd-header-article i.fab, button i.fa-solid')]
            .filter(i => i.offsetParent !== null).map(i => {
              const s = getComputedStyle(i, '::before');
              return [i.className, s.maskImage || s.webkitMaskImage, parseFloat(s.width)]; })""")
        assert len(icons) >= 3, icons
        for name, mask, width in icons:
            assert mask.startswith("url(") and width > 5, (name, mask, width)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    "query", ["variance", "zh/注意力", "zh/方差", "zh/缩放点积注意力", "zh/softmax"]
)
def test_search_still_finds_pages(browser, server, query):
    """Search works offline in both editions; Chinese queries need the index segmented into
    words (jieba), not one token per run of characters."""
    edition, _, q = query.rpartition("/")
    prefix = f"{edition}/" if edition else ""
    ctx, page, urls = _requests(browser, server, f"{prefix}search.html?q={q}")
    try:
        assert any("searchindex.js" in u for u in urls)
        page.wait_for_selector("#search-results li", timeout=20_000)
        assert page.locator("#search-results li").count() >= 3
        hrefs = page.locator("#search-results li a").first.get_attribute("href")
        assert hrefs and ".html" in hrefs
    finally:
        ctx.close()


def _sliders(v):
    return v.page.locator("figure.ws-slider")


@pytest.mark.parametrize("slug", sorted(set(CHAPTERS) - NO_SLIDERS))
@pytest.mark.parametrize("kind", ["book", "notebooks"])
@pytest.mark.parametrize("edition", EDITIONS)
def test_static_sliders_change_the_figure(visit, slug, kind, edition):
    v = visit(f"{edition}{kind}/{slug}.html")
    figs = _sliders(v)
    assert figs.count() >= 1, "no static slider on the page"
    for i in range(figs.count()):
        fig = figs.nth(i)
        fig.scroll_into_view_if_needed()
        img = fig.locator("img.ws-frame")
        assert img.get_attribute("alt"), "frame without alt text"
        assert fig.locator("figcaption").inner_text().strip()
        for control in fig.locator("input[type=range]").all():
            out = fig.locator(f'output[for="{control.get_attribute("id")}"]')
            before_src, before_text = img.get_attribute("src"), out.inner_text()
            control.focus()
            control.press(
                "End" if control.input_value() != control.get_attribute("max") else "Home"
            )
            # The frames load asynchronously (near the viewport or on first touch): wait for them.
            expect(img, "moving the slider kept the figure").not_to_have_attribute(
                "src", before_src, timeout=FRAME_WAIT_MS
            )
            assert out.inner_text() != before_text, "the slider's value label did not change"
            assert control.get_attribute("aria-valuetext") == out.inner_text()
            label = fig.locator(f'label[for="{control.get_attribute("id")}"]')
            assert label.is_visible() and label.inner_text().strip()
        for box in fig.locator("input[type=checkbox]").all():
            before = img.get_attribute("src")
            box.focus()
            box.press("Space")
            expect(img, "the switch kept the figure").not_to_have_attribute(
                "src", before, timeout=FRAME_WAIT_MS
            )


@pytest.mark.parametrize("slug", CHAPTERS)
def test_notebook_page_launches_its_notebook_in_binder(visit, slug):
    v = visit(f"notebooks/{slug}.html")
    hrefs = [a.get_attribute("href") for a in v.page.locator("a[href*='mybinder.org']").all()]
    assert hrefs, "no Binder link"
    assert any(re.search(rf"urlpath=lab/tree/notebooks/{slug}\.ipynb", h) for h in hrefs), hrefs
    assert v.page.locator(".btn-launch-thebe").count() == 1, "no Live Code (Thebe) button"


def _repository() -> tuple[str, str]:
    import yaml

    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = os.environ.get("WHYSQRT_REPOSITORY_URL") or repo["url"]
    return url.rstrip("/"), os.environ.get("WHYSQRT_REPOSITORY_BRANCH") or repo["branch"]


@pytest.mark.parametrize("slug", CHAPTERS)
@pytest.mark.parametrize("edition", EDITIONS)
def test_chapter_page_launches_its_companion_notebook(visit, server, slug, edition):
    v = visit(f"{edition}book/{slug}.html")
    box = v.page.locator("article .ws-launch")
    assert box.count() == 1, "no launch box on the chapter page"
    # near the top: right after the chapter's title
    assert v.page.evaluate(
        "() => document.querySelector('article h1').nextElementSibling.classList.contains('ws-launch')"
    )
    url, branch = _repository()
    owner_repo = "/".join(url.split("/")[-2:])
    binder = box.locator("a.ws-launch-binder").get_attribute("href")
    assert binder == (
        f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/notebooks/{slug}.ipynb"
    )
    # the theme's own Binder button on the notebook page derives from the same setting
    nb = visit(f"{edition}notebooks/{slug}.html")
    assert binder in [
        a.get_attribute("href") for a in nb.page.locator("a[href*='mybinder.org']").all()
    ]
    download = box.locator("a.ws-launch-download")
    assert download.get_attribute("download") == f"{slug}.ipynb"
    response = v.page.request.get(f"{server}/{edition}book/" + download.get_attribute("href"))
    assert response.ok and response.json()["nbformat"] == 4, "the .ipynb does not download"
    box.locator("a.ws-launch-view").click()
    v.page.wait_for_load_state("load")
    assert v.page.url.endswith(f"/notebooks/{slug}.html")


def test_repository_links_follow_the_one_setting(visit):
    url, branch = _repository()
    v = visit("notebooks/variance-proof.html")
    header = v.page.locator(".bd-header-article a[href]").all()
    hrefs = [a.get_attribute("href") for a in header if "://" in a.get_attribute("href")]
    assert url in hrefs, hrefs  # repository button
    assert any(h.startswith(f"{url}/issues/new") for h in hrefs), hrefs  # issues button
    owner_repo = "/".join(url.split("/")[-2:])
    assert any(f"/v2/gh/{owner_repo}/{branch}?" in h for h in hrefs), hrefs  # Binder button
    stray = [h for h in hrefs if "github.com/" in h and not h.startswith(url)]
    assert not stray, f"header links to another repository: {stray}"
    thebe = v.page.locator('script[type="text/x-thebe-config"]').inner_text()
    assert f'repo: "{owner_repo}"' in thebe and f'ref: "{branch}"' in thebe, thebe


@pytest.mark.parametrize("edition", EDITIONS)
def test_landing_page_links_the_pdf_and_footer_shows_version(visit, edition):
    """Each edition's landing page links its own PDF (the Chinese one under zh/)."""
    from whysqrt import __version__

    v = visit(f"{edition}book/index.html")
    link = v.page.locator("article .ws-pdf-link a")
    assert link.count() == 1
    assert link.get_attribute("href").endswith("why-sqrt-dk.pdf")
    pdf = SITE / edition / "why-sqrt-dk.pdf"
    assert (SITE / edition / "book" / link.get_attribute("href")).resolve() == pdf
    assert pdf.exists(), "run `make pdf` (make test does)"
    footer = v.page.locator(".ws-edition").inner_text()
    if edition:
        assert f"版本 {__version__}" in footer and re.search(r"构建于 \d{4}-\d{2}-\d{2}", footer)
    else:
        assert f"Version {__version__}" in footer and re.search(r"built \d{4}-\d{2}-\d{2}", footer)


@pytest.mark.parametrize("slug", ["index", *CHAPTERS])
@pytest.mark.parametrize("edition", EDITIONS)
def test_language_switch_leads_to_the_same_page(visit, slug, edition):
    """The header's switch opens the same page in the other edition, each in its language."""
    v = visit(f"{edition}book/{slug}.html")
    lang = v.page.evaluate("document.documentElement.lang")
    assert lang == ("zh-CN" if edition else "en"), lang
    switch = v.page.locator(".bd-header-article a.ws-language")
    assert switch.count() == 1 and switch.is_visible()
    assert switch.inner_text() == ("English" if edition else "中文")
    switch.click()
    v.page.wait_for_load_state("load")
    other = "" if edition else "zh/"
    assert v.page.url.endswith(f"/{other}book/{slug}.html"), v.page.url
    assert v.page.evaluate("document.documentElement.lang") == ("en" if edition else "zh-CN")


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chinese_pages_are_chinese(visit, slug):
    """The Chinese edition's chapters read in Chinese: the title and most of the prose
    (numbers, formulas, code and names stay as they are), and the slider captions too."""
    v = visit(f"zh/book/{slug}.html")
    assert re.search(r"[\u4e00-\u9fff]", v.page.locator("article h1").inner_text())
    text = v.page.evaluate("""() => {
        const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, script, math, .bibtex-citation, .citation').forEach(e => e.remove());
        return a.innerText; }""")
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin_words = len(re.findall(r"\b[a-z]{4,}\b", text))
    assert han > 5 * latin_words, f"{han} Chinese characters against {latin_words} English words"
    for caption in v.page.locator("figure figcaption").all_inner_texts():
        assert re.search(r"[\u4e00-\u9fff]", caption), f"English caption: {caption[:80]}"


def test_chapter_numbers_come_from_the_notebook(visit):
    v = visit("book/variance-proof.html")
    pasted = v.page.locator("span.pasted-text").all_inner_texts()
    # the Monte Carlo's number of draws, pasted with a thousands separator by {num}`...:,`
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", t) for t in pasted), pasted
    assert len(pasted) >= 8
    assert v.page.locator("figure.ws-figure img[alt]").count() >= 1


@pytest.mark.parametrize("path", site_pages() or ["index.html"])
def test_accessibility_no_serious_or_critical_axe_violations(visit, path):
    from axe_playwright_python.sync_playwright import Axe

    v = visit(path)
    result = Axe().run(v.page)
    bad = [
        (x["id"], x["impact"], [n["target"] for n in x["nodes"][:3]])
        for x in result.response["violations"]
        if x["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{path}: {bad}"


@pytest.mark.parametrize("path", site_pages() or ["index.html"])
def test_every_content_image_has_meaningful_alt_text(visit, path):
    v = visit(path)
    for img in v.page.locator("article img").all():
        alt = (img.get_attribute("alt") or "").strip()
        src = img.get_attribute("src") or ""
        assert len(alt) >= 15, f"{path}: image {src[:60]} has alt {alt!r}"
        assert not alt.lower().endswith((".png", ".svg", ".jpg")), alt
