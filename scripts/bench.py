"""Benchmark the book: build times, JupyterLab as a learner feels it, page weight.

Run with ``make bench`` (not a test: it reports numbers against budgets and never
fails on a miss, so a slow CI machine cannot turn it red). Writes
``_build/bench/report.json`` and ``_build/bench/report.md`` and prints the table.

How each number is measured:

* ``cold_build_s``: ``_build`` removed, then the two steps of ``make book``
  (``scripts/execute-notebooks.py`` and ``jupyter-book build``), wall clock;
  ``rebuild_no_change_s`` the same again with nothing changed.
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

Budgets (2-core machine, issue 12): cold build <= 45 s, rebuild with no change <= 8 s,
live slider p50 <= 50 ms and p95 <= 120 ms, Run All <= 5 s for every notebook,
largest page <= 1.5 MB.
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
JB = [
    str(Path(sys.executable).parent / "jupyter-book"),
    "build",
    str(ROOT),
    "-n",
    "-W",
    "--keep-going",
    "-q",
]
EXECUTE = [sys.executable, str(ROOT / "scripts" / "execute-notebooks.py")]
BUDGETS = {
    "cold_build_s": 45,
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
    "rebuild_no_change_s": "the same two steps again, nothing changed",
    "lab_slider_p50_ms": "JupyterLab in headless Chromium: key press -> new image painted, "
    "median over every move of every live control (lab_bench.py)",
    "lab_slider_p95_ms": "the same moves, 95th percentile",
    "lab_slider_worst_control_p50_ms": "the largest per-control median",
    "lab_slider_worst_control_p95_ms": "the largest per-control 95th percentile",
    "lab_run_all_max_s": "JupyterLab Run All from a fresh kernel until every cell has run, "
    "slowest notebook",
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


def timed(*cmds) -> float:
    t = time.perf_counter()
    env = {**os.environ, "WHYSQRT_STATIC_FRAMES": "1"}  # as `make book`
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


def main() -> int:
    report: dict = {}
    shutil.rmtree(BUILD, ignore_errors=True)
    # the same two steps as `make book`: execute notebooks in parallel, then build
    report["cold_build_s"] = timed(EXECUTE, JB)
    report["rebuild_no_change_s"] = timed(EXECUTE, JB)
    (ROOT / "book" / "variance-proof.md").touch()
    report["rebuild_one_chapter_touched_s"] = timed(EXECUTE, JB)

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

    out = BUILD / "bench"
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| measure | value | budget | status | how |", "|---|---|---|---|---|"]
    for key, budget in BUDGETS.items():
        ok = "ok" if report[key] <= budget else "MISSED"
        lines.append(f"| {key} | {report[key]:.2f} | {budget} | {ok} | {HOW[key]} |")
    report["budgets_met"] = all(report[k] <= b for k, b in BUDGETS.items())
    (out / "report.json").write_text(json.dumps(report, indent=2))
    lines.append(
        f"| rebuild_one_chapter_touched_s | {report['rebuild_one_chapter_touched_s']:.2f} | | | |"
    )
    lines.append(f"| largest page | {biggest} | | | |")
    lines.append(f"| site_mb | {report['site_mb']:.1f} | | | |")
    lines += ["", "| notebook | execution s |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["notebook_s"].items()]
    lines += ["", "| notebook | Run All in JupyterLab, s |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["lab_run_all_s"].items()]
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
