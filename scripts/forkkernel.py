"""Start the build's notebook kernels by forking one process that has already imported
everything (the site build only; a learner's kernel starts the usual way).

Each of the book's 16 kernels spends about 1.3 s of CPU before its first cell runs:
starting Python, importing ipykernel, numpy, matplotlib, SymPy and ``whysqrt``. On the
build's two cores that is a fifth of the notebooks' time. Here a server imports those
once; every kernel is a ``fork()`` of it: a new process, with nothing of any notebook in
it, only the modules a kernel would import anyway.

How a kernel starts (``scripts/execute-notebooks.py`` passes :class:`ForkKernelManager`
to nbclient):

* jupyter_client runs ``python -I -S forkkernel.py client SOCKET -f CONNECTION_FILE``
  instead of ``python -m ipykernel_launcher -f CONNECTION_FILE``. That client needs only
  the standard library and starts in ~20 ms.
* It sends the server its working directory, environment and arguments; the server
  forks, and the child becomes an ordinary ``IPKernelApp`` on that connection file.
* The client stays the process jupyter_client manages: it passes SIGINT and SIGTERM on
  to the kernel and exits with the kernel's status; if it is killed (an "immediate"
  shutdown), the server kills the kernel.

``serve`` refuses to fork from a process with more than one thread (a fork copies only
the calling thread), and ``execute-notebooks.py`` falls back to ordinary kernels when the
server does not start (``WHYSQRT_FORK_KERNELS=0`` turns it off).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time

#: The modules a book kernel imports before its first cell, imported once by the server.
WARM = ("ipykernel.kernelapp", "numpy", "matplotlib", "sympy", "whysqrt")


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall((json.dumps(message) + "\n").encode())


def _recv(conn: socket.socket, buffer: bytearray) -> dict | None:
    """The next newline-terminated JSON message, or None when the peer closed."""
    while b"\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return json.loads(line)


# -- the client: what jupyter_client starts as "the kernel" ------------------------------
def client(path: str, argv: list[str]) -> int:
    conn = socket.socket(socket.AF_UNIX)
    deadline = time.monotonic() + 120  # the server may still be importing
    while True:
        try:
            conn.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    _send(conn, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)})
    buffer = bytearray()
    started = _recv(conn, buffer)
    if started is None or "pid" not in started:
        return 1
    kernel = started["pid"]
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: os.kill(kernel, signum))
    while True:
        reply = _recv(conn, buffer)  # a forwarded signal does not interrupt it (PEP 475)
        if reply is None:
            return 1
        if "exit" in reply:
            return int(reply["exit"])


# -- the server ---------------------------------------------------------------------------
def _become_kernel(request: dict) -> None:
    """In the forked child: turn into the kernel the client asked for; never returns."""
    code = 1
    try:
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()  # its own process group, as a Popen'ed kernel in a new session
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.path[0] = os.getcwd()  # as `python -m ipykernel_launcher` run there
        from ipykernel import kernelapp

        sys.argv = [kernelapp.__file__, *request["argv"]]
        kernelapp.launch_new_instance(argv=request["argv"])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, then leave without the server's state
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(path: str) -> int:
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import importlib
    import threading

    for name in WARM:
        importlib.import_module(name)
    if threading.active_count() != 1:
        print(f"forkkernel: {threading.active_count()} threads after imports", file=sys.stderr)
        return 1
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the clean-up below
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(64)
    kernels: dict[socket.socket, int] = {}  # client connection -> kernel pid
    buffers: dict[socket.socket, bytearray] = {}
    try:
        while os.getppid() == parent:
            ready, _, _ = select.select([listener, *kernels], [], [], 0.1)
            for conn in ready:
                if conn is listener:
                    new, _ = listener.accept()
                    buffers[new] = bytearray()
                    request = _recv(new, buffers[new])
                    if request is None:
                        new.close()
                        continue
                    pid = os.fork()
                    if pid == 0:
                        listener.close()
                        for other in kernels:
                            other.close()
                        new.close()
                        _become_kernel(request)
                    kernels[new] = pid
                    _send(new, {"pid": pid})
                    continue
                message = _recv(conn, buffers[conn])
                if message is None:  # the client is gone: so is its kernel
                    _kill(kernels.pop(conn), signal.SIGKILL)
                    del buffers[conn]
                    conn.close()
                elif "signal" in message:
                    _kill(kernels[conn], int(message["signal"]))
            _reap(kernels, buffers)
    finally:
        for pid in kernels.values():
            _kill(pid, signal.SIGKILL)
        listener.close()
        if os.path.exists(path):
            os.unlink(path)
    return 0


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(kernels: dict, buffers: dict) -> None:
    """Collect every kernel that ended and tell its client how."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        for conn, kernel in list(kernels.items()):  # none when its client had gone first
            if kernel == pid:
                try:
                    _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                conn.close()
                del kernels[conn], buffers[conn]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(sys.argv[2]))
    sys.exit(f"usage: {sys.argv[0]} serve SOCKET | client SOCKET KERNEL-ARGS...")
