"""The build's kernels are forks of one warm server (scripts/forkkernel.py): they must behave
as ordinary kernels (the notebook's directory and environment, same outputs) and die with
the process jupyter_client manages."""

import importlib.util
import os
import signal
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _load_execute():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "scripts" / "execute-notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _load_execute()

CELLS = [
    "import os, sys\nprint(os.getcwd())\nprint(os.environ.get('WHYSQRT_FORK_TEST'))",
    "import numpy as np\nprint(np.random.default_rng(0).standard_normal(3))",
    "print(os.getppid())\nprint(os.getpid())",
]


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _run(cwd, **kwargs):
    nb = _notebook()
    NotebookClient(
        nb,
        timeout=60,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
        **kwargs,
    ).execute()
    return ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    old = {k: os.environ.get(k) for k in (ex.FORK_SOCKET, "WHYSQRT_FORK_KERNELS")}
    os.environ.pop("WHYSQRT_FORK_KERNELS", None)
    proc = ex.start_fork_server()
    assert proc is not None, "the fork server did not start"
    yield proc
    proc.terminate()
    proc.wait(timeout=10)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_forked_kernel_runs_like_an_ordinary_one(server, tmp_path, monkeypatch):
    monkeypatch.setenv("WHYSQRT_FORK_TEST", "passed on")
    forked = _run(tmp_path, kernel_manager_class=ex.ForkKernelManager)
    plain = _run(tmp_path)
    assert forked[0] == f"{tmp_path}\npassed on\n"  # the notebook's folder and environment
    assert forked[:2] == plain[:2]
    parent, _pid = map(int, forked[2].split())
    assert parent == server.pid  # a fork of the warm server, not a new interpreter
    assert int(plain[2].split()[0]) != server.pid


def test_kernel_dies_with_its_client(server):
    km = ex.ForkKernelManager(kernel_name="python3")
    import asyncio

    async def start_and_ask():
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        msg_id = kc.execute("import os; print(os.getpid())")
        pid = None
        while pid is None:
            msg = await kc.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                pid = int(msg["content"]["text"])
        kc.stop_channels()
        return pid

    kernel = asyncio.run(start_and_ask())
    client = km.provisioner.process
    assert client.pid != kernel
    os.kill(client.pid, signal.SIGKILL)  # what an "immediate" shutdown does
    client.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the kernel outlived the process jupyter_client manages")
    asyncio.run(km.cleanup_resources())


def test_off_switch(monkeypatch):
    monkeypatch.setenv("WHYSQRT_FORK_KERNELS", "0")
    assert ex.start_fork_server() is None


def _cached(cache, n):
    """Cache a one-cell notebook that prints ``n`` (a distinct notebook per ``n``)."""
    from jupyter_cache.cache.main import CacheBundleIn

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"print({n})", execution_count=1)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return cache.cache_notebook_bundle(CacheBundleIn(nb, f"/nb{n}.ipynb"), check_validity=False)


def test_the_build_cache_trims_once_after_the_workers(tmp_path, monkeypatch):
    """Workers cache without trimming (jupyter-cache's trim deletes a record another
    worker is adding); the one trim afterwards keeps the newest up to the limit."""
    from jupyter_cache.cache.db import NbCacheRecord

    cache = ex.get_cache(tmp_path / "cache", cache_cls=ex.Cache)
    cache.change_cache_limit(2)
    listed = []
    real = NbCacheRecord.records_to_delete
    monkeypatch.setattr(
        NbCacheRecord, "records_to_delete", lambda keep, db: listed.append(keep) or real(keep, db)
    )
    for n in range(3):
        _cached(cache, n)
    assert listed == [] and len(cache.list_cache_records()) == 3  # nothing trimmed yet
    cache.trim()
    assert listed == [2]
    assert sorted(r.uri for r in cache.list_cache_records()) == ["/nb1.ipynb", "/nb2.ipynb"]
