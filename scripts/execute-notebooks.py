"""Execute every notebook into the build cache, two at a time, before the book build.

Jupyter Book 1 (MyST-NB in ``cache`` mode) runs outdated notebooks one after another
while it reads the sources. jupyter-cache, which it uses underneath, can instead run
them in parallel; doing that first into the same cache (``_build/.jupyter_cache``)
leaves the build nothing to execute. Notebooks whose code did not change are skipped.
A failing notebook fails this step with its traceback, as the build would.

The cache keys on a notebook's own code only, so a change to the helper package (or
to requirements.txt) would leave stale outputs on the pages. This step therefore
fingerprints the package's Python modules and ``requirements.txt`` and, when they changed
since the last build, clears the cache and the Sphinx environment so that everything is
redone. The site-only files (``sphinx_ext.py``, ``static/`` CSS and JavaScript) do not
change any notebook output and are left out of the fingerprint.

It sets ``WHYSQRT_STATIC_FRAMES=1`` for the kernels: the site's static sliders need
every frame, a learner's kernel does not (see :mod:`whysqrt.interactive`).
"""

import hashlib
import os
import shutil
import sys
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAMP = BUILD / ".inputs-fingerprint"
#: Package files that only the Sphinx build uses: no notebook output depends on them.
SITE_ONLY = ("sphinx_ext.py", "static")


def fingerprint() -> str:
    """Hash of everything besides the notebooks themselves that their outputs depend on."""
    h = hashlib.sha256()
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
    for name in (".jupyter_cache", ".doctrees", "html", "jupyter_execute"):
        shutil.rmtree(BUILD / name, ignore_errors=True)
    BUILD.mkdir(exist_ok=True)
    STAMP.write_text(current)


def main() -> int:
    os.environ["WHYSQRT_STATIC_FRAMES"] = "1"  # inherited by the kernels
    clear_if_inputs_changed()
    cache = get_cache(ROOT / "_build" / ".jupyter_cache")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cache.add_nb_to_project(str(nb))
    result = load_executor("local-parallel", cache).run_and_cache(timeout=180, allow_errors=False)
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
