"""Execute every notebook into the build cache, two at a time, before the book build.

Jupyter Book 1 (MyST-NB in ``cache`` mode) runs outdated notebooks one after another
while it reads the sources. jupyter-cache, which it uses underneath, can instead run
them in parallel; doing that first into the same cache (``_build/.jupyter_cache``)
leaves the build nothing to execute. Notebooks whose code did not change are skipped.
A failing notebook fails this step with its traceback, as the build would.

The cache keys on a notebook's own code only, so a change to the helper package (or
to requirements.txt, or to the editions asked for in ``WHYSQRT_EDITIONS``) would leave
stale outputs on the pages. This step therefore
fingerprints the package's Python modules and ``requirements.txt`` and, when they changed
since the last build, clears the cache and the Sphinx environment so that everything is
redone. The site-only files (``sphinx_ext.py``, ``static/`` CSS and JavaScript) do not
change any notebook output and are left out of the fingerprint.

It sets ``WHYSQRT_STATIC_FRAMES=1`` for the kernels: the site's static sliders need
every frame, a learner's kernel does not (see :mod:`whysqrt.interactive`).
"""

import ast
import compileall
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# nbformat imports jsonschema, whose format checkers import rfc3987-syntax if they can:
# it compiles some 40 Lark grammars (1.7 s) for IRI formats no notebook schema uses.
# Without it jsonschema skips those two checkers (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)

from jupyter_cache import get_cache  # noqa: E402
from jupyter_cache.cache.main import JupyterCacheBase  # noqa: E402
from jupyter_cache.executors.base import ExecutorRunResult  # noqa: E402
from jupyter_cache.executors.basic import (  # noqa: E402
    ExecutionWorkerLocalMProc,
    ProcessData,
)
from jupyter_cache.executors.utils import single_nb_execution  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAMP = BUILD / ".inputs-fingerprint"
#: Package files that only the Sphinx build uses: no notebook output depends on them.
SITE_ONLY = ("sphinx_ext.py", "static")


def fingerprint() -> str:
    """Hash of everything besides the notebooks themselves that their outputs depend on."""
    h = hashlib.sha256()
    # the editions glued (English only for bench.py's English build, else both)
    h.update(os.environ.get("WHYSQRT_EDITIONS", "en,zh").encode())
    pkg = ROOT / "src" / "whysqrt"
    files = sorted(pkg.rglob("*")) + [ROOT / "requirements.txt"]
    for path in files:
        if path.is_relative_to(pkg) and path.relative_to(pkg).parts[0] in SITE_ONLY:
            continue
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def clear_if_inputs_changed() -> None:
    current = fingerprint()
    if STAMP.exists() and STAMP.read_text() == current:
        return
    if STAMP.exists() or (BUILD / ".jupyter_cache").exists():
        print("helper package or requirements changed: rebuilding everything")
    for name in (".jupyter_cache", ".doctrees", "html", "jupyter_execute", "zh"):
        shutil.rmtree(BUILD / name, ignore_errors=True)
    BUILD.mkdir(exist_ok=True)
    STAMP.write_text(current)


#: Kernels at once. A notebook spends part of its time starting and stopping its kernel
#: and passing messages, not computing: one more kernel than cores keeps both busy.
WORKERS = (os.cpu_count() or 1) + 1


#: Where the kernel fork server listens (set while it runs; see scripts/forkkernel.py).
FORK_SOCKET = "WHYSQRT_FORK_SOCKET"
FORKKERNEL = str(Path(__file__).resolve().parent / "forkkernel.py")


class ForkKernelManager(AsyncKernelManager):
    """A kernel manager whose Python kernels are forks of the warm server
    (``scripts/forkkernel.py``): the same ipykernel, without importing everything again."""

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd[1:3] != ["-m", "ipykernel_launcher"]:
            return cmd
        return [sys.executable, "-I", "-S", FORKKERNEL, "client", os.environ[FORK_SOCKET], *cmd[3:]]


def start_fork_server():
    """The kernel fork server, or None (``WHYSQRT_FORK_KERNELS=0``, or it did not start)."""
    if os.environ.get("WHYSQRT_FORK_KERNELS", "1") == "0":
        return None
    path = os.path.join(tempfile.mkdtemp(prefix="whysqrt-"), "kernels.sock")
    server = subprocess.Popen([sys.executable, FORKKERNEL, "serve", path])
    deadline = time.monotonic() + 60
    while not os.path.exists(path):  # it imports first, then listens
        if server.poll() is not None or time.monotonic() > deadline:
            print("kernel fork server did not start: ordinary kernels", file=sys.stderr)
            server.kill()
            return None
        time.sleep(0.05)
    os.environ[FORK_SOCKET] = path
    return server


class Cache(JupyterCacheBase):
    """jupyter-cache's cache, trimmed to its size limit once, after every worker is done.

    jupyter-cache trims after caching each notebook: it lists the newest records to keep,
    then, in a second query, every record not in that list. A record another worker adds
    between the two queries is in neither, so it is deleted before its worker has written
    the notebook file, and the removal fails (``KeyError: 'Notebook file does not exist
    for cache record PK: …'``), failing that notebook. Seen once in a cold build with three
    workers. The limit (1,000 notebooks) is far above this book's 16, so the workers skip
    the trim and :func:`main` runs it alone.
    """

    def truncate_caches(self) -> None:
        pass

    def trim(self) -> None:
        """jupyter-cache's own trim, run when no worker can be adding records."""
        super().truncate_caches()


class Worker(ExecutionWorkerLocalMProc):
    """jupyter-cache's parallel worker, with the kernel stopped at once when done.

    A graceful shutdown waits for the kernel to exit (0.3 s a notebook, sometimes 3 s);
    the outputs are complete by then either way.
    """

    @staticmethod
    def execute(project_nb, data):
        fork = {"kernel_manager_class": ForkKernelManager} if FORK_SOCKET in os.environ else {}
        return single_nb_execution(
            project_nb.nb,
            cwd=str(Path(project_nb.uri).parent),
            timeout=data.timeout,
            allow_errors=data.allow_errors,
            shutdown_kernel="immediate",
            **fork,
        )


def expected_cost(path: str) -> float:
    """A rough execution cost, to start the longest notebooks first: half a unit per code
    cell, four per frame its sliders draw for the site (most of a long notebook's time).
    A grid that is not a literal tuple or list counts as 8 values."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    cost = 0
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        cost += 0.5
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "interact":
                frames = 1
                for kw in node.keywords:
                    if kw.arg not in NOT_GRID:
                        value = kw.value
                        frames *= len(value.elts) if isinstance(value, (ast.Tuple, ast.List)) else 8
                cost += 4 * frames
    return cost


NOT_GRID = {"alt", "caption", "labels", "initial", "fixed", "look_for"}


def run(cache, timeout: int) -> ExecutorRunResult:
    """Execute every outdated notebook, WORKERS at a time, each as soon as one is free,
    the most expensive first (so that no long notebook starts last)."""
    records = sorted(cache.list_unexecuted(), key=lambda r: -expected_cost(r.uri))
    jobs = [ProcessData(r.pk, r.uri, cache, timeout, False) for r in records]
    with multiprocessing.Pool(WORKERS) as pool:
        results = list(pool.imap_unordered(Worker(), jobs, chunksize=1))
    return ExecutorRunResult(
        succeeded=[u for code, u in results if code == 0],
        excepted=[u for code, u in results if code == 1],
        errored=[u for code, u in results if code == 2],
    )


def main() -> int:
    os.environ["WHYSQRT_STATIC_FRAMES"] = "1"  # inherited by the kernels
    # both editions' outputs (whysqrt.interactive.editions); bench.py asks for English only
    os.environ.setdefault("WHYSQRT_EDITIONS", "en,zh")
    clear_if_inputs_changed()
    # Every kernel imports the package: compile it once here. Python writes no bytecode
    # cache where PYTHONDONTWRITEBYTECODE is set (as on this project's machines), and then
    # each of the 16 kernels would compile the package's 11,000 lines again (~0.1 s each).
    compileall.compile_dir(ROOT / "src" / "whysqrt", quiet=1)
    cache = get_cache(ROOT / "_build" / ".jupyter_cache", cache_cls=Cache)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cache.add_nb_to_project(str(nb))
    server = start_fork_server() if cache.list_unexecuted() else None
    try:
        result = run(cache, timeout=180)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    cache.trim()
    print(
        f"executed: {len(result.succeeded)} ok, {len(result.errored)} failed, "
        f"{len(result.excepted)} excepted"
    )
    for uri in result.errored + result.excepted:
        record = cache.get_project_record(uri)
        print(f"FAILED {uri}\n{record.traceback}", file=sys.stderr)
    return 1 if result.errored or result.excepted else 0


if __name__ == "__main__":
    sys.exit(main())
