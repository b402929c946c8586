"""Shared fixtures. Site fixtures live in test_site.py; notebook helpers in test_notebooks.py."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
