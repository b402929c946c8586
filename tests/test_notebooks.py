"""Notebooks: each runs top to bottom in a fresh kernel; Binder's setup works; runs repeat exactly.

* ``test_notebook_executes_in_fresh_kernel``: nbclient, this environment, cwd notebooks/.
* ``test_notebook_runs_in_binder_like_environment``: a brand-new virtual environment built
  from ``requirements.txt`` alone (as Binder does), on the Python version Binder uses
  (``runtime.txt``, read by repo2docker's own code), then every notebook executed from the
  ``notebooks/`` folder with that environment's ``jupyter nbconvert``.
* ``test_notebook_text_outputs_are_deterministic``: the two executions above give identical
  text outputs (streams, text/plain, text/latex, text/html including the inline PNGs).
"""

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
#: Outputs that legitimately differ between runs (fresh widget model ids).
VOLATILE = "application/vnd.jupyter.widget-view+json"
#: Cell tag for the rare cell whose output is a wall-clock measurement (a benchmark);
#: the determinism check skips it. Everything seeded must not carry it.
TIMING_TAG = "nondeterministic"

pytestmark = pytest.mark.notebooks


def execute_here(path: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def text_outputs(nb) -> list:
    """Per code cell, its outputs without volatile widget ids; streams joined per name
    (a kernel may flush one print in several chunks); timing cells left out."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if TIMING_TAG in cell.get("metadata", {}).get("tags", []):
            cells.append("timing cell, not compared")
            continue
        outs, streams = [], {}
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                streams[o["name"]] = streams.get(o["name"], "") + o["text"]
            elif o.get("output_type") == "error":
                outs.append(("error", o["ename"], o["evalue"]))
            else:
                outs.append(
                    tuple(
                        sorted(
                            (k, str(v))
                            for k, v in o.get("data", {}).items()
                            if not k.endswith(VOLATILE)
                        )
                    )
                )
        cells.append([("stream", k, t) for k, t in sorted(streams.items())] + outs)
    return cells


@pytest.fixture(scope="session")
def here():
    """Notebooks executed once in this environment (lazily, cached for the session)."""
    cache = {}

    def get(path):
        if path not in cache:
            cache[path] = execute_here(path)
        return cache[path]

    return get


def interpreter_for(version: str) -> str:
    """A local Python interpreter of ``version`` ("3.11"): this one, or ``python3.11`` on PATH."""
    if "{}.{}".format(*sys.version_info[:2]) == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found:
        probe = subprocess.run(
            [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return found
    pytest.fail(
        f"Binder runs Python {version} (runtime.txt, as repo2docker reads it), but this "
        f"interpreter is Python {sys.version.split()[0]} and no working python{version} is on "
        f"PATH: install Python {version} (or change runtime.txt) to simulate Binder"
    )


@pytest.fixture(scope="session")
def binder(tmp_path_factory, binder_python):
    """Every notebook executed in a fresh venv built from requirements.txt alone, on Binder's Python."""
    tmp = tmp_path_factory.mktemp("binder")
    venv = tmp / "venv"
    subprocess.run([interpreter_for(binder_python), "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run(pip + ["-r", "requirements.txt"], cwd=ROOT, check=True)
    out = tmp / "executed"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}

    def run(path):
        proc = subprocess.run(
            [
                str(venv / "bin" / "jupyter"),
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                "--ExecutePreprocessor.timeout=300",
                "--output-dir",
                str(out),
                path.name,
            ],
            cwd=path.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        return path, proc

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(lambda p: run(p)[0:2], NOTEBOOKS))
    return {p: (proc, out / p.name) for p, proc in results.items()}


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes_in_fresh_kernel(here, path):
    nb = here(path)  # raises CellExecutionError on the first failing cell
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells), "a cell did not run"
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]


@pytest.mark.binder
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_binder_like_environment(binder, path):
    proc, executed = binder[path]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert executed.exists()


@pytest.mark.binder
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_text_outputs_are_deterministic(here, binder, path):
    proc, executed = binder[path]
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = text_outputs(here(path)), text_outputs(nbformat.read(executed, as_version=4))
    assert len(first) == len(second)
    for i, (a, b) in enumerate(zip(first, second)):
        assert a == b, f"code cell {i} differs between two executions"


def test_text_outputs_ignore_only_widget_ids():
    def nb(model_id, text):
        cell = nbformat.v4.new_code_cell("x")
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"text/plain": text, VOLATILE: {"model_id": model_id}}
            )
        ]
        return nbformat.v4.new_notebook(cells=[cell])

    assert text_outputs(nb("a", "1")) == text_outputs(nb("b", "1"))
    assert text_outputs(nb("a", "1")) != text_outputs(nb("a", "2"))


def test_text_outputs_join_stream_chunks_and_skip_only_tagged_timing_cells():
    one, two = nbformat.v4.new_code_cell("x"), nbformat.v4.new_code_cell("x")
    one.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n")]
    two.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a"),
        nbformat.v4.new_output("stream", name="stdout", text="\n"),
    ]
    assert text_outputs(nbformat.v4.new_notebook(cells=[one])) == text_outputs(
        nbformat.v4.new_notebook(cells=[two])
    )
    two.outputs[0]["text"] = "b"
    assert text_outputs(nbformat.v4.new_notebook(cells=[one])) != text_outputs(
        nbformat.v4.new_notebook(cells=[two])
    )
    two.metadata["tags"] = [TIMING_TAG]
    one.metadata["tags"] = [TIMING_TAG]
    assert text_outputs(nbformat.v4.new_notebook(cells=[one])) == text_outputs(
        nbformat.v4.new_notebook(cells=[two])
    )
