"""The book's Sphinx extension: short references to the companion notebook's glued values."""

import pytest

from whysqrt.sphinx_ext import companion_ref


def test_a_plain_key_names_the_companion_notebook():
    assert companion_ref("book/why-sqrt", "uniform-loss") == (
        "/notebooks/why-sqrt.ipynb",
        "uniform-loss",
    )


def test_a_stem_prefix_names_another_notebook():
    assert companion_ref("book/in-brief", "variance-proof::var-512") == (
        "/notebooks/variance-proof.ipynb",
        "var-512",
    )


@pytest.mark.parametrize("key", ["", "::x", "why-sqrt::", "  "])
def test_an_empty_key_is_refused(key):
    with pytest.raises(ValueError, match="^key"):
        companion_ref("book/why-sqrt", key)


# The repository setting: _config.yml's by default, the environment's on CI (forks).
from whysqrt.sphinx_ext import binder_url, build_date, repository_override  # noqa: E402

DEFAULT = {
    "repository_url": "https://github.com/why-sqrt-dk/why-sqrt-dk",
    "repository_branch": "main",
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
}


def test_without_override_the_config_file_decides():
    assert repository_override(DEFAULT, environ={}) == DEFAULT


def test_the_environment_overrides_url_and_branch_for_every_link():
    env = {
        "WHYSQRT_REPOSITORY_URL": "https://github.com/someone/fork/",
        "WHYSQRT_REPOSITORY_BRANCH": "draft",
    }
    opts = repository_override(DEFAULT, environ=env)
    assert opts["repository_url"] == "https://github.com/someone/fork"
    assert opts["repository_branch"] == "draft"
    assert DEFAULT["repository_url"].endswith("why-sqrt-dk")  # the input is not changed
    assert binder_url(opts, "why-sqrt") == (
        "https://mybinder.org/v2/gh/someone/fork/draft?urlpath=lab/tree/notebooks/why-sqrt.ipynb"
    )


@pytest.mark.parametrize("url", ["github.com/a/b", "https://github.com/onlyowner", "http://x/a/b"])
def test_a_malformed_repository_url_is_refused(url):
    with pytest.raises(ValueError, match="^WHYSQRT_REPOSITORY_URL"):
        repository_override(DEFAULT, environ={"WHYSQRT_REPOSITORY_URL": url})


def test_binder_url_matches_the_theme_launch_button_for_the_default():
    assert binder_url(DEFAULT, "variance-proof") == (
        "https://mybinder.org/v2/gh/why-sqrt-dk/why-sqrt-dk/main"
        "?urlpath=lab/tree/notebooks/variance-proof.ipynb"
    )


def test_build_date_honours_source_date_epoch():
    assert build_date({"SOURCE_DATE_EPOCH": "0"}) == "1970-01-01"
    assert len(build_date({})) == 10


def test_one_version_in_package_pyproject_and_citation():
    from pathlib import Path

    import tomllib
    import yaml

    import whysqrt

    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    assert whysqrt.__version__ == pyproject == str(cff["version"])
    assert cff["cff-version"] == "1.2.0" and cff["authors"] and cff["title"]
