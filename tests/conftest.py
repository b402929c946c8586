"""Shared fixtures. Site fixtures live in test_site.py; notebook helpers in test_notebooks.py."""

import contextlib
import functools
import http.server
import os
import threading
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# On CI (CI=true) property tests draw the same examples every run, so a red build
# always reproduces; locally they keep exploring new examples.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def repo2docker_buildpack(repo: Path = ROOT):
    """The buildpack repo2docker (Binder's engine) picks for ``repo``, chosen by repo2docker's
    own code (``Repo2Docker.buildpacks`` in order, else its default), as ``repo2docker`` does
    before it builds. Detection only reads files: it needs neither Docker nor a network."""
    from repo2docker.app import Repo2Docker

    r2d = Repo2Docker()
    cwd = os.getcwd()
    os.chdir(repo)  # repo2docker's detection reads paths relative to the checkout
    try:
        for buildpack in r2d.buildpacks:
            bp = buildpack(base_image=r2d.base_image)
            if bp.detect():
                break
        else:
            bp = r2d.default_buildpack(base_image=r2d.base_image)
        bp.python_version  # noqa: B018 - evaluated (and cached) while in the checkout
        bp.get_assemble_scripts()
        return bp
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def binder_python() -> str:
    """The Python version ("3.11") that Binder builds this repository with."""
    return repo2docker_buildpack().python_version


# One headless Chromium for every browser test of the session (two sync Playwrights clash).
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@contextlib.contextmanager
def serve_directory(directory):
    """A quiet HTTP server for ``directory`` on a free localhost port; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture
def draw_in_chinese(caplog):
    """Draw the figure ``make()`` returns as the site does, and check what every Chinese
    figure needs: no missing glyph (warned or logged when drawn), Chinese words, and no
    label outside the picture. Returns the figure and its non-empty texts."""
    import logging
    import re
    import warnings

    from matplotlib.text import Text

    from whysqrt.interactive import _savefig, labels_outside

    def draw(make):
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            fig = make()
            _savefig(fig)  # glyphs are looked up when the figure is drawn
        missing = [str(w.message) for w in caught if "glyph" in str(w.message).lower()]
        missing += [r.getMessage() for r in caplog.records if "glyph" in r.getMessage().lower()]
        assert not missing, missing
        texts = [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]
        assert any(re.search(r"[\u3400-\u9fff]", t) for t in texts), texts
        assert labels_outside(fig) == []
        return fig, texts

    return draw
