"""Benchmark the book: build times, notebook times, live slider latency, page weight.

Run with ``make bench`` (not a test: it reports numbers against budgets and never
fails on a miss, so a slow CI machine cannot turn it red). Writes
``_build/bench/report.json`` and ``_build/bench/report.md`` and prints the table.

Budgets (2-core machine): cold build <= 60 s, rebuild with no change <= 8 s,
live slider update <= 50 ms median, largest page <= 1.5 MB.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

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
    "cold_build_s": 60,
    "rebuild_no_change_s": 8,
    "slider_median_ms": 50,
    "largest_page_mb": 1.5,
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
        _box = _obj.widget()
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
    for cmd in cmds:
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
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

    html = ROOT / "_build" / "html"
    pages = {str(p.relative_to(html)): p.stat().st_size for p in html.rglob("*.html")}
    biggest = max(pages, key=pages.get)
    report["largest_page"] = biggest
    report["largest_page_mb"] = pages[biggest] / 1e6
    report["site_mb"] = sum(p.stat().st_size for p in html.rglob("*") if p.is_file()) / 1e6

    out = BUILD / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    lines = ["| measure | value | budget | status |", "|---|---|---|---|"]
    for key, budget in BUDGETS.items():
        ok = "ok" if report[key] <= budget else "MISSED"
        lines.append(f"| {key} | {report[key]:.2f} | {budget} | {ok} |")
    lines.append(
        f"| rebuild_one_chapter_touched_s | {report['rebuild_one_chapter_touched_s']:.2f} | | |"
    )
    lines.append(f"| largest page | {biggest} | | |")
    lines.append(f"| site_mb | {report['site_mb']:.1f} | | |")
    lines += ["", "| notebook | execution s |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["notebook_s"].items()]
    lines += [
        "",
        "| live slider (notebook:variable) | median update ms | median first draw ms |",
        "|---|---|---|",
    ]
    lines += [
        f"| {k} | {v:.1f} | {report['slider_first_visit_ms'][k]:.1f} |"
        for k, v in report["slider_ms"].items()
    ]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    print(text)
    print("slider_median_ms above is the slowest figure's median update over 24 moves")
    print("(a widget keeps the frames it has drawn; 'first draw' times only new frames).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
