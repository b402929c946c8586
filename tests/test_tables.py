"""ws.table: accessible HTML, Markdown and text forms, number formatting, bad input."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import whysqrt as ws


def test_hand_values_and_accessible_html():
    t = ws.table(
        ["d_k", "largest weight", "note"],
        [[64, (0.7123, 0.0104), "a<b & c"], [1024, 0.98765, "x|y"]],
        caption="Two rows",
        fmt=["d", ".3f", ""],
    )
    assert t.cells == (("64", "0.712 ± 0.010", "a<b & c"), ("1024", "0.988", "x|y"))
    h = t.html()
    assert "<caption>Two rows</caption>" in h and "<thead>" in h
    assert h.count('<th scope="col">') == 3 and h.count('<th scope="row">') == 2
    assert "a&lt;b &amp; c" in h and "a<b" not in h  # escaped
    md = t.markdown()
    assert r"x\|y" in md and md.splitlines()[3] == "|---|---|---|"
    bundle = t._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert bundle["text/plain"].splitlines()[1].split() == ["d_k", "largest", "weight", "note"]


def test_one_format_for_all_columns_and_thousands():
    assert ws.table(["n"], [[20000]], fmt=",d").cells == (("20,000",),)
    assert ws.table(["a", "b"], [["x", 1 / 3]]).cells == (("x", "0.333"),)


@pytest.mark.parametrize(
    "kwargs, exc, start",
    [
        ({"header": "ab", "rows": [[1]]}, TypeError, "header"),
        ({"header": [], "rows": [[1]]}, ValueError, "header"),
        ({"header": ["a", "b"], "rows": []}, ValueError, "rows"),
        ({"header": ["a", "b"], "rows": [[1]]}, ValueError, "rows[0]"),
        ({"header": ["a"], "rows": [[float("nan")]]}, ValueError, "rows[0][0]"),
        ({"header": ["a"], "rows": [[True]]}, TypeError, "rows[0][0]"),
        ({"header": ["a"], "rows": [[(1.0, 2.0, 3.0)]]}, ValueError, "rows[0][0]"),
        ({"header": ["a"], "rows": [[1]], "fmt": [".2f", ".3f"]}, ValueError, "fmt"),
        ({"header": ["a"], "rows": [[1]], "fmt": "%q"}, ValueError, "fmt"),
        ({"header": ["a"], "rows": [[1]], "caption": " "}, ValueError, "caption"),
        ({"header": ["a"], "rows": 5}, TypeError, "rows"),
        ({"header": ["a"], "rows": [["two\nlines"]]}, ValueError, "rows[0][0]"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, start):
    with pytest.raises(exc, match="^" + re.escape(start)):
        ws.table(**kwargs)


cell = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp")), max_size=8),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-(10**6), 10**6),
)


@given(
    st.integers(1, 4).flatmap(
        lambda n: st.lists(st.lists(cell, min_size=n, max_size=n), min_size=1, max_size=5)
    )
)
def test_shape_is_kept_and_html_has_no_raw_markup(rows):
    header = [f"c<{i}>" for i in range(len(rows[0]))]
    t = ws.table(header, rows)
    assert len(t.cells) == len(rows) and all(len(r) == len(header) for r in t.cells)
    h = t.html()
    assert h.count("<tr>") == len(rows) + 1
    assert "<c" not in h  # header text escaped
    assert len(t.text().split("\n")) == len(rows) + 1
