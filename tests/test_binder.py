"""Binder can build this repository: the Python version repo2docker picks, and every pin.

repo2docker, the engine behind mybinder.org, picks the Python version from ``runtime.txt``
(``python-3.11``) and otherwise uses its own default (3.10 in 2026.4.0), which the pins in
``requirements.txt`` do not support. The version is determined here with repo2docker's own
buildpack detection (``conftest.repo2docker_buildpack``), then every pin is downloaded for
that Python with pip (wheels only, as a Binder build without compilers needs). The Binder
simulation in ``test_notebooks.py`` then runs on the same Python version.
"""

import re
import subprocess
import sys

import pytest

from conftest import ROOT, repo2docker_buildpack

pytestmark = pytest.mark.binder


def pins(path=ROOT / "requirements.txt") -> list[str]:
    """``name==version`` lines of a requirements file (options such as ``-e .`` left out)."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and line != ".":
            out.append(line)
    return out


def test_binder_uses_the_python_of_runtime_txt(binder_python):
    bp = repo2docker_buildpack()
    assert type(bp).__name__ == "PythonBuildPack", f"repo2docker would use {type(bp).__name__}"
    runtime = ROOT / "runtime.txt"
    assert runtime.exists(), (
        f"runtime.txt is missing: repo2docker falls back to its default Python {binder_python}"
    )
    assert bp.runtime[:2] == ("python", binder_python), runtime.read_text()
    assert re.fullmatch(r"3\.\d+", binder_python), binder_python


def _pure_python_sdist(pin: str, dest) -> bool:
    """True when ``pin``'s source distribution holds no compiled-language sources."""
    import tarfile
    import zipfile

    run = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        + ["--no-deps", "--no-binary=:all:", "--no-build-isolation", "--dest", str(dest), pin],
        capture_output=True,
        text=True,
    )
    archives = list(dest.glob(pin.split("==")[0] + "-*"))
    if run.returncode != 0 and not archives:
        return False
    compiled = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".f", ".f90", ".rs", ".go")
    for archive in archives:
        if archive.suffix == ".zip":
            names = zipfile.ZipFile(archive).namelist()
        else:
            names = tarfile.open(archive).getnames()
        if not any(n.endswith(".py") for n in names) or any(n.endswith(compiled) for n in names):
            return False
    return bool(archives)


def test_every_pin_has_a_wheel_for_binders_python(binder_python, tmp_path):
    wanted = pins()
    assert len(wanted) >= 10 and all("==" in p for p in wanted), wanted

    def download(*reqs):
        return subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
            + ["--no-deps", "--only-binary=:all:", "--python-version", binder_python]
            + ["--dest", str(tmp_path), *reqs],
            capture_output=True,
            text=True,
        )

    if download(*wanted).returncode == 0:
        return
    failing = [p for p in wanted if download(p).returncode != 0]
    # A pin without a wheel is fine when its source is pure Python (Binder installs it
    # without a compiler): jieba, the Chinese search's word splitter, ships only an sdist.
    failing = [p for p in failing if not _pure_python_sdist(p, tmp_path / "sdist")]
    if not failing:
        return
    pytest.fail(
        f"Binder builds with Python {binder_python} (repo2docker's choice for this repository: "
        f"runtime.txt, else its default), but these pins have no wheel for it: {failing}"
    )


def test_binder_installs_the_package_after_copying_the_repository():
    # `-e .` in requirements.txt needs the whole checkout: repo2docker then installs the
    # requirements in its assemble step (after the copy), never from the file alone.
    bp = repo2docker_buildpack()
    assert "-e ." in (ROOT / "requirements.txt").read_text()
    assert bp._should_preassemble_pip is False
    steps = " ".join(cmd for _, cmd in bp.get_assemble_scripts())
    assert 'install --no-cache-dir -r "requirements.txt"' in steps, steps
