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
