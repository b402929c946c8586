"""Drive a real JupyterLab as a learner would: Run All, then move every live control.

Used by ``scripts/bench.py`` (``make bench``); runnable alone:
``.venv/bin/python scripts/lab_bench.py [notebook-stem ...]`` prints JSON.

* JupyterLab is the runtime venv's ``jupyter lab`` on 127.0.0.1, without
  ``WHYSQRT_STATIC_FRAMES`` (as in Binder); headless Chromium (Debian's) through Playwright.
* Run All: ``notebook:run-all-cells`` from a fresh kernel, timed until every code cell
  has finished and the kernel is idle; RUNS times per notebook, each in a new page and
  kernel, reported as the median (``lab_run_all_s``) and every run (``lab_run_all_runs_s``).
* Slider latency: for every live control (slider or checkbox) of every figure, a walk
  to the last value and back to the first (every value visited, first visits
  included), one key press (ArrowRight/ArrowLeft on the slider handle, or a click on
  the checkbox) at a time. Each move is timed in the page from the key event's time
  stamp to the first animation frame after the figure's ``<img>`` changed its ``src``
  (a MutationObserver), i.e. until the new image is painted.
* The learner: READ_MS after Run All has finished before the first move (scrolling
  to the first figure), THINK_MS between moves (looking at the new frame). The
  kernel may use those pauses to draw the frames one step away (the prefetch of
  :mod:`whysqrt.interactive`); a walk faster than that meets frames not yet drawn.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
THINK_MS = 300
READ_MS = 1000
#: Run All this many times per notebook, each from a fresh page and kernel; the
#: budget reads the median (one run on a shared 2-core machine varies by up to 30 %).
RUNS = 3
VIEWPORT = {"width": 1400, "height": 1000}

ARM = """(img) => {
  window.__wsDone = new Promise((resolve) => {
    const obs = new MutationObserver(() => {
      obs.disconnect();
      requestAnimationFrame(() => resolve(performance.now()));
    });
    obs.observe(img, {attributes: true, attributeFilter: ["src"]});
    setTimeout(() => { obs.disconnect(); resolve(null); }, 15000);
  });
  window.__wsT0 = null;
  const mark = (e) => { if (window.__wsT0 === null) window.__wsT0 = e.timeStamp; };
  document.addEventListener("keydown", mark, {capture: true, once: true});
  document.addEventListener("mousedown", mark, {capture: true, once: true});
}"""
WAIT = (
    "async () => { const t = await window.__wsDone; return t === null ? null : t - window.__wsT0; }"
)
RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.sessionContext.ready;
  const t0 = performance.now();
  await app.commands.execute("notebook:run-all-cells");
  const kernel = () => panel.sessionContext.session.kernel;
  const done = () => kernel().status === "idle" && panel.content.widgets.every(
    (c) => c.model.type !== "code" || (c.model.executionCount !== null && !c.hasClass("jp-mod-running")));
  while (!done()) await new Promise((r) => setTimeout(r, 10));
  return (performance.now() - t0) / 1000;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab():
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "WHYSQRT_STATIC_FRAMES"}
    proc = subprocess.Popen(
        [
            str(BIN / "jupyter"),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={ROOT}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
            return proc, url, token
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("jupyter lab did not start")


def _shutdown_kernels(url, token) -> None:
    """End every session (kernel) so the next notebook starts in a fresh one."""
    auth = {"Authorization": f"token {token}"}
    req = urllib.request.Request(f"{url}/api/sessions", headers=auth)
    for s in json.load(urllib.request.urlopen(req, timeout=10)):
        urllib.request.urlopen(
            urllib.request.Request(f"{url}/api/sessions/{s['id']}", headers=auth, method="DELETE"),
            timeout=30,
        )


def _controls(page):
    """(figure index, control kind, locator, label) for every live control on the page."""
    out = []
    boxes = page.locator(".jp-OutputArea-output .widget-vbox")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if box.locator("img").count() == 0:
            continue
        sliders = box.locator(".widget-slider")
        for j in range(sliders.count()):
            label = sliders.nth(j).locator(".widget-label").first.inner_text().strip()
            out.append((i, "slider", sliders.nth(j), label or f"slider {j + 1}"))
        checks = box.locator(".widget-checkbox")
        for j in range(checks.count()):
            label = checks.nth(j).inner_text().strip()
            out.append(
                (i, "checkbox", checks.nth(j).locator("input").first, label or f"box {j + 1}")
            )
    return out


def _move(page, img, kind, control, key) -> float | None:
    img.evaluate(ARM)
    if kind == "checkbox":
        control.click()
    else:
        control.locator(".noUi-handle").first.focus()  # a redraw may have taken the focus
        page.keyboard.press(key)
    return page.evaluate(WAIT)


def run_all(page, url, token, stem) -> float:
    """Open the notebook (a fresh kernel), wait until its kernel is idle, Run All: seconds."""
    page.goto(f"{url}/lab/tree/notebooks/{stem}.ipynb?token={token}&reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
        timeout=120_000,
    )
    return page.evaluate(RUN_ALL)


def bench_notebook(page, url, token, stem, earlier_runs=()) -> dict:
    """Run All (``earlier_runs``: the seconds of the runs before this one), then the walks."""
    runs = [*earlier_runs, run_all(page, url, token, stem)]
    result = {"run_all_s": statistics.median(runs), "run_all_runs_s": runs, "controls": {}}
    page.wait_for_timeout(READ_MS)
    for fig, kind, control, label in _controls(page):
        box = page.locator(".jp-OutputArea-output .widget-vbox").nth(fig)
        img = box.locator("img").first
        control.scroll_into_view_if_needed()
        times, missed = [], 0
        if kind == "checkbox":
            steps = [None, None]
        else:
            handle = control.locator(".noUi-handle").first
            handle.focus()
            n = int(float(handle.get_attribute("aria-valuemax") or 0)) - int(
                float(handle.get_attribute("aria-valuemin") or 0)
            )
            now = int(float(handle.get_attribute("aria-valuenow") or 0))
            # to the end, back to the start, then back to where it was
            steps = ["ArrowRight"] * (n - now) + ["ArrowLeft"] * n + ["ArrowRight"] * now
        for key in steps:
            ms = _move(page, img, kind, control, key)
            if ms is None:
                missed += 1  # no new image within 15 s: counted, reported
            else:
                times.append(ms)
            page.wait_for_timeout(THINK_MS)
        key = f"figure {fig + 1}: {label}"
        while key in result["controls"]:  # two controls with one label: keep both
            key += "'"
        result["controls"][key] = times
        result.setdefault("missed", {})[key] = missed
    return result


def run(stems=None) -> dict:
    from playwright.sync_api import sync_playwright

    stems = stems or [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    proc, url, token = start_lab()
    out = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            for stem in stems:
                earlier = []
                for _ in range(RUNS - 1):  # Run All alone, each in a new page and kernel
                    page = browser.new_page(viewport=VIEWPORT)
                    earlier.append(run_all(page, url, token, stem))
                    page.close(run_before_unload=False)
                    _shutdown_kernels(url, token)
                page = browser.new_page(viewport=VIEWPORT)
                out[stem] = bench_notebook(page, url, token, stem, earlier)
                page.close(run_before_unload=False)
                _shutdown_kernels(url, token)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def summary(lab: dict) -> dict:
    def pct(xs, q):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else 0.0

    per_control, every = {}, []
    for stem, r in lab.items():
        for name, times in r["controls"].items():
            every += times
            per_control[f"{stem}: {name}"] = {
                "moves": len(times),
                "no_new_image": r.get("missed", {}).get(name, 0),
                "p50_ms": statistics.median(times) if times else None,
                "p95_ms": pct(times, 0.95),
                "times_ms": [round(t, 1) for t in times],  # in walk order, for diagnosis
            }
    return {
        "lab_run_all_s": {stem: r["run_all_s"] for stem, r in lab.items()},
        "lab_run_all_runs_s": {stem: r["run_all_runs_s"] for stem, r in lab.items()},
        "lab_slider_controls": per_control,
        "lab_slider_p50_ms": statistics.median(every) if every else 0.0,
        "lab_slider_p95_ms": pct(every, 0.95),
        "lab_slider_moves": len(every),
    }


if __name__ == "__main__":
    res = run(sys.argv[1:] or None)
    print(json.dumps(summary(res), indent=1))
