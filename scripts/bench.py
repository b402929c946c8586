"""Benchmark the book: build times, JupyterLab as a learner feels it, page weight.

Run with ``make bench`` (not a test: it reports numbers against budgets and never
fails on a miss, so a slow CI machine cannot turn it red). Writes
``_build/bench/report.json`` and ``_build/bench/report.md`` and prints the table.

How each number is measured:

* ``cold_build_s``: ``_build`` removed, then the English edition's two steps
  (``scripts/execute-notebooks.py`` and ``jupyter-book build``, as ``edition.py en``
  runs it inside ``make book``), wall clock.
* ``cold_build_both_s``: ``_build`` removed, then ``make book``'s two steps, which build
  both editions (``execute-notebooks.py`` once, then ``edition.py both``: the English and
  the Chinese Sphinx builds side by side); ``cold_build_growth`` is its ratio to
  ``cold_build_s`` (issue 19: the notebooks run once, the second edition costs at most
  half again); ``rebuild_no_change_s`` the two steps again with nothing changed.
* ``lab_run_all_s`` (per notebook), ``lab_slider_p50_ms`` / ``lab_slider_p95_ms``
  (over every move of every live control), per control in ``lab_slider_controls``:
  a real JupyterLab driven by headless Chromium, see ``scripts/lab_bench.py``
  (Run All from a fresh kernel; key press -> new image painted over a walk that visits
  every value, first visits included).
* ``notebook_s`` / ``slider_ms``: the older in-kernel measure (nbclient; setting a
  control's value in the kernel), kept for comparison; it leaves out the browser.
* ``largest_page_mb``: the biggest HTML file of the built site.
* ``lab_slider_worst_control_p50_ms`` / ``..._p95_ms``: the worst single control (the
  budget holds for every control, not only overall).
* ``page_*`` (issue 20, the reader's first page on a slow link; the method of
  ``firstpage.py``): three chapter pages, each cold in headless Chromium with the network
  emulated at 1.6 Mbps down / 150 ms round trip, the site served with gzip as GitHub Pages
  serves it. Bytes over the wire and decoded (slider frames below the first screen left
  out), time from navigation start to the first screen painted with its formulas typeset,
  time until every formula of the page is typeset (a ``.math`` element holding MathML, or
  MathJax/KaTeX output), cumulative layout shift; the medians beside the numbers before
  issue 20, and a screenshot of the first page 2.5 s after navigation
  (``_build/bench/first-screen-2.5s.png``). ``scripts/bench.py --pages`` runs only this
  part, on the existing ``_build/html``.

Budgets (2-core machine, issue 12): cold build <= 45 s (English; both editions at most
1.5 times that, issue 19), rebuild with no change <= 8 s,
live slider p50 <= 50 ms and p95 <= 120 ms, Run All <= 5 s for every notebook (the median
of ``lab_bench.RUNS`` runs: single runs on a shared 2-core machine vary by up to 30 %),
largest page <= 1.5 MB. Issue 20 (cold chapter page at 1.6 Mbps / 150 ms): <= 500 KB over
the wire and <= 1.5 MB decoded, first screen with its math <= 2.5 s (median over pages),
every formula <= 4 s, cumulative layout shift <= 0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab_bench  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
# the English edition alone: `jupyter-book build . -n -W --keep-going -q`, run the way make
# book runs it (edition.py both starts `edition.py en` beside the Chinese build)
JB = [sys.executable, str(ROOT / "scripts" / "edition.py"), "en", "-q"]
EXECUTE = [sys.executable, str(ROOT / "scripts" / "execute-notebooks.py")]
BOTH = [sys.executable, str(ROOT / "scripts" / "edition.py"), "both"]
BUDGETS = {
    "cold_build_s": 45,
    "cold_build_growth": 1.5,
    "rebuild_no_change_s": 8,
    "lab_slider_p50_ms": 50,
    "lab_slider_p95_ms": 120,
    "lab_slider_worst_control_p50_ms": 50,
    "lab_slider_worst_control_p95_ms": 120,
    "lab_run_all_max_s": 5,
    "largest_page_mb": 1.5,
}
#: How each budgeted number is measured (printed in the report next to it).
HOW = {
    "cold_build_s": "_build removed, then make book's two steps (execute-notebooks.py, "
    "jupyter-book build), wall clock",
    "cold_build_growth": "both editions (make book: execute-notebooks.py, then edition.py both), "
    "cold, over the English-only cold build",
    "rebuild_no_change_s": "make book's two steps again, nothing changed",
    "lab_slider_p50_ms": "JupyterLab in headless Chromium: key press -> new image painted, "
    "median over every move of every live control (lab_bench.py)",
    "lab_slider_p95_ms": "the same moves, 95th percentile",
    "lab_slider_worst_control_p50_ms": "the largest per-control median",
    "lab_slider_worst_control_p95_ms": "the largest per-control 95th percentile",
    "lab_run_all_max_s": "JupyterLab Run All from a fresh kernel until every cell has run, "
    f"median of {lab_bench.RUNS} runs (each in a new page and kernel), slowest notebook",
    "largest_page_mb": "biggest HTML file of _build/html",
}

# Appended to each notebook after it has run: times every Interactive's live widget.
# Setting a control's value runs the same observer a slider drag runs (compute + redraw).
PROBE = """
import json as _json, statistics as _st, time as _time
_lat, _seen = {}, set()
for _name, _obj in list(globals().items()):
    if (isinstance(_obj, ws.interactive.Interactive) and not _name.startswith("_")
            and id(_obj) not in _seen):
        _seen.add(id(_obj))
        _box = _obj.widget(prefetch=False)
        _controls = list(_box.children[0].children)
        _visited = {tuple(c.value for c in _controls)}
        _all, _first = [], []
        for _i in range(24):
            _c = _controls[_i % len(_controls)]
            _opts = [True, False] if not hasattr(_c, "options") else [v for _, v in _c.options]
            _nxt = _opts[(_opts.index(_c.value) + 1) % len(_opts)]
            _t = _time.perf_counter(); _c.value = _nxt; _dt = _time.perf_counter() - _t
            _all.append(_dt)
            _key = tuple(c.value for c in _controls)
            if _key not in _visited:
                _visited.add(_key); _first.append(_dt)
        _lat[_name] = [1000 * _st.median(_all), 1000 * _st.median(_first or [0.0])]
print("BENCH" + _json.dumps(_lat))
"""


def timed(*cmds, env: dict | None = None) -> float:
    t = time.perf_counter()
    env = {**os.environ, "WHYSQRT_STATIC_FRAMES": "1", **(env or {})}  # as `make book`
    for cmd in cmds:
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def run_notebook(path: Path) -> tuple[float, dict]:
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    with client.setup_kernel():
        t = time.perf_counter()
        for i, cell in enumerate(nb.cells[:n_cells]):
            client.execute_cell(cell, i)
        elapsed = time.perf_counter() - t
        client.execute_cell(nb.cells[-1], n_cells)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    latency = json.loads(text.split("BENCH", 1)[1]) if "BENCH" in text else {}
    return elapsed, latency


# ---------------------------------------------------------------------------------------------
# The reader's first page on a slow link (issue 20), after /work/shared/tools/firstpage.py:
# the built site served with gzip (as GitHub Pages serves it), each chapter opened cold in
# headless Chromium with the network emulated at 1.6 Mbps down / 150 ms round trip.

PAGES = ["book/in-brief.html", "book/variance-proof.html", "book/softmax-sharpness.html"]
LINK = {"latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
#: The same pages on main before issue 20 (firstpage.py: transfer KB, math done s, CLS).
PAGE_BASELINE = {
    "book/in-brief.html": (1501, 7.96, 0.214),
    "book/variance-proof.html": (1553, 8.55, 0.294),
    "book/softmax-sharpness.html": (1724, 8.94, 0.22),
}
PAGE_BUDGETS = {
    "page_first_screen_p50_s": 2.5,
    "page_all_math_p50_s": 4,
    "page_transfer_max_kb": 500,
    "page_uncompressed_max_mb": 1.5,
    "page_cls_max": 0.1,
}
PAGE_HOW = {
    "page_first_screen_p50_s": "navigation start -> first paint done and every formula in the "
    "first screen (1280x900) typeset; median over the pages",
    "page_all_math_p50_s": "navigation start -> every .math element of the page typeset "
    "(firstpage.py's test: it holds mjx-container, .katex, svg or <math>); median",
    "page_transfer_max_kb": "bytes over the wire (gzip) until load + 1 s, largest page",
    "page_uncompressed_max_mb": "the same responses decoded, without slider frames below the "
    "first screen, largest page",
    "page_cls_max": "cumulative layout shift until load + 1 s, largest page",
}
#: Runs in the page from its first byte: one check per animation frame, times relative to
#: navigation start (the same "typeset" test and layout-shift sum as firstpage.py).
PAGE_PROBE = """
window.__cls = 0;
new PerformanceObserver(l => { for (const e of l.getEntries()) if (!e.hadRecentInput) window.__cls += e.value; })
  .observe({type: 'layout-shift', buffered: true});
window.__t = {};
(function tick() {
  const fcp = performance.getEntriesByName('first-contentful-paint').length > 0;
  const mj = window.MathJax;
  const busy = mj && mj.startup && mj.startup.document && mj.startup.document.state && mj.startup.document.state() < 200;
  const all = [...document.querySelectorAll('.math')];
  const raw = all.filter(e => !e.querySelector('mjx-container, .katex, svg, math'));
  const onScreen = raw.filter(e => { const r = e.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; });
  const parsed = document.readyState !== 'loading';
  const now = performance.now() / 1000;
  if (fcp && !busy && onScreen.length === 0 && document.querySelector('article h1') && !window.__t.first) window.__t.first = now;
  if (parsed && !busy && raw.length === 0 && !window.__t.all) window.__t.all = now;
  if (!(window.__t.first && window.__t.all)) requestAnimationFrame(tick);
})();
"""


def gzip_server(root: Path):
    """``root`` served on localhost, text compressed with gzip as GitHub Pages does."""
    import gzip
    import http.server
    import io
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

        def send_head(self):
            path = self.translate_path(self.path.split("?")[0])
            if os.path.isdir(path):
                path = os.path.join(path, "index.html")
            if not os.path.isfile(path):
                return super().send_head()
            ctype = self.guess_type(path)
            data = Path(path).read_bytes()
            textual = any(t in ctype for t in ("text", "javascript", "json", "svg", "xml", "css"))
            enc = textual and "gzip" in self.headers.get("Accept-Encoding", "")
            if enc:
                data = gzip.compress(data, 6)
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if enc:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            return io.BytesIO(data)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _open_cold(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, **LINK})
    return ctx, page, cdp


def page_speed(html: Path = BUILD / "html", pages=PAGES, screenshot: Path | None = None) -> dict:
    """Each page of ``pages`` cold at 1.6 Mbps / 150 ms: bytes, first screen, all math, CLS.
    With ``screenshot``, also a PNG of the first page's screen 2.5 s after navigation."""
    import statistics

    from playwright.sync_api import sync_playwright

    srv = gzip_server(html)
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    rows = []
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for path in pages:
            ctx, page, cdp = _open_cold(browser, base + path)
            got: dict = {}

            def entry(e, got=got) -> dict:
                return got.setdefault(e["requestId"], {"url": "", "raw": 0, "wire": 0})

            def on_response(e, entry=entry):
                entry(e)["url"] = e["response"]["url"]

            def on_data(e, entry=entry):
                entry(e)["raw"] += e["dataLength"]

            def on_finished(e, entry=entry):
                entry(e)["wire"] = e.get("encodedDataLength", 0)

            cdp.on("Network.responseReceived", on_response)
            cdp.on("Network.dataReceived", on_data)
            cdp.on("Network.loadingFinished", on_finished)
            page.add_init_script(PAGE_PROBE)
            page.goto(base + path, wait_until="load", timeout=120_000)
            page.wait_for_function("() => window.__t.first && window.__t.all", timeout=60_000)
            page.wait_for_timeout(1000)
            t = page.evaluate("window.__t")
            cls = page.evaluate("window.__cls")
            load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart")
            below = set(
                page.evaluate(
                    """() => [...document.querySelectorAll('figure.ws-slider img')]
                    .filter(i => i.getBoundingClientRect().top + scrollY > innerHeight)
                    .map(i => i.currentSrc)"""
                )
            )
            wire = sum(r["wire"] for r in got.values())
            raw = sum(r["raw"] for r in got.values() if r["url"] not in below)
            rows.append(
                {
                    "page": path,
                    "transfer_kb": round(wire / 1024),
                    "uncompressed_mb": round(raw / 1e6, 3),
                    "first_screen_s": round(t["first"], 2),
                    "all_math_s": round(t["all"], 2),
                    "load_s": round(load / 1000, 2),
                    "cls": round(cls, 3),
                }
            )
            ctx.close()
        if screenshot is not None:
            ctx, page, _ = _open_cold(browser, base + pages[0])
            page.goto(base + pages[0], wait_until="commit")
            start = page.evaluate("performance.timeOrigin")
            now = page.evaluate("Date.now()")
            page.wait_for_timeout(max(0, 2500 - (now - start)))
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), animations="allow", timeout=10_000)
            ctx.close()
        browser.close()
    srv.shutdown()
    med = statistics.median
    return {
        "page_rows": rows,
        "page_first_screen_p50_s": med(r["first_screen_s"] for r in rows),
        "page_all_math_p50_s": med(r["all_math_s"] for r in rows),
        "page_all_math_max_s": max(r["all_math_s"] for r in rows),
        "page_transfer_max_kb": max(r["transfer_kb"] for r in rows),
        "page_uncompressed_max_mb": max(r["uncompressed_mb"] for r in rows),
        "page_cls_max": max(r["cls"] for r in rows),
    }


def page_report(report: dict) -> list[str]:
    """Markdown lines: budgets, then each page beside its number before issue 20."""
    lines = ["| page measure | value | budget | status | how |", "|---|---|---|---|---|"]
    for key, budget in PAGE_BUDGETS.items():
        ok = "ok" if report[key] <= budget else "MISSED"
        lines.append(f"| {key} | {report[key]:.2f} | {budget} | {ok} | {PAGE_HOW[key]} |")
    lines += [
        "",
        "| page (cold, 1.6 Mbps / 150 ms, gzip) | transfer KB (before) | uncompressed MB "
        "| first screen s | all math s (before) | CLS (before) |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["page_rows"]:
        kb, math, cls = PAGE_BASELINE.get(r["page"], ("?", "?", "?"))
        lines.append(
            f"| {r['page']} | {r['transfer_kb']} ({kb}) | {r['uncompressed_mb']:.2f} "
            f"| {r['first_screen_s']:.2f} | {r['all_math_s']:.2f} ({math}) | {r['cls']:.3f} ({cls}) |"
        )
    return lines


def pages_only() -> int:
    """``scripts/bench.py --pages``: only the page-speed part, on the existing _build/html."""
    out = BUILD / "bench"
    shot = out / "first-screen-2.5s.png"
    report = page_speed(screenshot=shot)
    report["page_budgets_met"] = all(report[k] <= b for k, b in PAGE_BUDGETS.items())
    out.mkdir(parents=True, exist_ok=True)
    (out / "pages.json").write_text(json.dumps(report, indent=2))
    text = "\n".join(page_report(report)) + "\n"
    (out / "pages.md").write_text(text)
    print(text)
    print(f"Screenshot of {PAGES[0]} 2.5 s after navigation: {shot}")
    return 0


def main() -> int:
    if "--pages" in sys.argv[1:]:
        return pages_only()
    report: dict = {}
    shutil.rmtree(BUILD, ignore_errors=True)
    # the English edition alone (as before the Chinese one existed): the notebooks glue
    # English outputs only, then jupyter-book builds
    report["cold_build_s"] = timed(EXECUTE, JB, env={"WHYSQRT_EDITIONS": "en"})
    shutil.rmtree(BUILD, ignore_errors=True)
    # `make book`: the notebooks once, then both editions side by side
    report["cold_build_both_s"] = timed(EXECUTE, BOTH)
    report["cold_build_growth"] = report["cold_build_both_s"] / report["cold_build_s"]
    report["rebuild_no_change_s"] = timed(EXECUTE, BOTH)
    (ROOT / "book" / "variance-proof.md").touch()
    report["rebuild_one_chapter_touched_s"] = timed(EXECUTE, BOTH)

    report["notebook_s"], report["slider_ms"], report["slider_first_visit_ms"] = {}, {}, {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        elapsed, latency = run_notebook(path)
        report["notebook_s"][path.stem] = elapsed
        for name, (ms, first_ms) in latency.items():
            report["slider_ms"][f"{path.stem}:{name}"] = ms
            report["slider_first_visit_ms"][f"{path.stem}:{name}"] = first_ms
    report["slider_median_ms"] = max(report["slider_ms"].values(), default=0.0)

    report.update(lab_bench.summary(lab_bench.run()))
    report["lab_run_all_max_s"] = max(report["lab_run_all_s"].values(), default=0.0)
    controls = report["lab_slider_controls"].values()
    report["lab_slider_worst_control_p50_ms"] = max((c["p50_ms"] or 0 for c in controls), default=0)
    report["lab_slider_worst_control_p95_ms"] = max((c["p95_ms"] for c in controls), default=0)

    html = ROOT / "_build" / "html"
    pages = {str(p.relative_to(html)): p.stat().st_size for p in html.rglob("*.html")}
    biggest = max(pages, key=pages.get)
    report["largest_page"] = biggest
    report["largest_page_mb"] = pages[biggest] / 1e6
    report["site_mb"] = sum(p.stat().st_size for p in html.rglob("*") if p.is_file()) / 1e6
    report.update(page_speed(html, screenshot=BUILD / "bench" / "first-screen-2.5s.png"))

    out = BUILD / "bench"
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| measure | value | budget | status | how |", "|---|---|---|---|---|"]
    for key, budget in BUDGETS.items():
        ok = "ok" if report[key] <= budget else "MISSED"
        lines.append(f"| {key} | {report[key]:.2f} | {budget} | {ok} | {HOW[key]} |")
    report["budgets_met"] = all(report[k] <= b for k, b in {**BUDGETS, **PAGE_BUDGETS}.items())
    (out / "report.json").write_text(json.dumps(report, indent=2))
    lines.append(
        f"| rebuild_one_chapter_touched_s | {report['rebuild_one_chapter_touched_s']:.2f} | | | |"
    )
    lines.append(f"| largest page | {biggest} | | | |")
    lines.append(f"| site_mb | {report['site_mb']:.1f} | | | |")
    lines += ["", *page_report(report)]
    lines += ["", "| notebook | execution s |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["notebook_s"].items()]
    lines += ["", "| notebook | Run All in JupyterLab, median s | every run, s |", "|---|---|---|"]
    lines += [
        f"| {k} | {v:.2f} | {', '.join(f'{r:.2f}' for r in report['lab_run_all_runs_s'][k])} |"
        for k, v in report["lab_run_all_s"].items()
    ]
    lines += [
        "",
        "| live control in JupyterLab | moves | p50 ms | p95 ms | no new image |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {v['moves']} | {v['p50_ms'] or 0:.0f} | {v['p95_ms']:.0f} | {v['no_new_image']} |"
        for k, v in report["lab_slider_controls"].items()
    ]
    lines += [
        "",
        "| live slider, in kernel only (notebook:variable) | median update ms | median first draw ms |",
        "|---|---|---|",
    ]
    lines += [
        f"| {k} | {v:.1f} | {report['slider_first_visit_ms'][k]:.1f} |"
        for k, v in report["slider_ms"].items()
    ]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    print(text)
    print("lab_slider_*: key press -> new image painted in JupyterLab (headless Chromium),")
    print("every value of every live control visited, first visits included; the learner")
    print(f"starts {lab_bench.READ_MS} ms after Run All and pauses {lab_bench.THINK_MS} ms")
    print("between moves; see lab_bench.py.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
