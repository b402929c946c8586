"""Execute every notebook into the build cache, two at a time, before the book build.

Jupyter Book 1 (MyST-NB in ``cache`` mode) runs outdated notebooks one after another
while it reads the sources. jupyter-cache, which it uses underneath, can instead run
them in parallel; doing that first into the same cache (``_build/.jupyter_cache``)
leaves the build nothing to execute. Notebooks whose code did not change are skipped.
A failing notebook fails this step with its traceback, as the build would.
"""

import sys
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
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
