"""The sliders of the heads chapters: alt text at every grid point, look_for, labels, y-limits.

The grids are read from the notebooks' own ``ws.interact(...)`` calls, so the test
checks exactly the frames the book shows.
"""

import itertools
import re

import numpy as np
import pytest

import whysqrt as ws
from notebook_sliders import notebook_sliders

NOTEBOOKS = [
    "dk-sizing",
    "multi-head",
    "mqa-gqa",
    "separate-qk",
    "positional-encoding",
    "layernorm-vs-batchnorm",
]
MAX_LABEL = 12  # characters a live-widget description shows without truncation


def _sliders():
    return [
        pytest.param(
            sl.stem,
            sl.func,
            sl.alt,
            sl.grid,
            {"labels": sl.labels, "look_for": sl.look_for},
            id=f"{sl.stem}-{sl.func.__name__}",
        )
        for sl in notebook_sliders(NOTEBOOKS)
    ]


SLIDERS = _sliders()


def test_every_notebook_has_its_slider():
    assert sorted({p.values[0] for p in SLIDERS}) == sorted(NOTEBOOKS)


def _points(grid):
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        yield dict(zip(names, values))


BAD = [
    (
        re.compile(
            r"(?<![\d.,/])(?:1|one) (?:(?!of\b)[\w/-]+ ){0,2}(?:heads|maps|layers|blocks|times|rows|"
            r"features|tokens|keys|queries|positions|columns|batches|radians|sequences|groups)\b",
            re.IGNORECASE,
        ),
        "singular number with plural noun",
    ),
    (re.compile(r"\(s\)"), "'(s)' instead of the right number"),
    (re.compile(r"\b([A-Za-z]+) \1\b"), "repeated word"),
]


def _against_numbers(text):
    """(left, right) number lists around each 'against' comparison."""
    for m in re.finditer(r"\bagainst\b", text):
        left = re.split(r"[;:]", text[: m.start()])[-1]
        right = re.split(r";| \(|\.\s|\.$", text[m.end() :])[0]
        num = r"\d[\d,]*\.\d+"
        yield re.findall(num, left), re.findall(num, right)


@pytest.mark.parametrize("stem, func, alt, grid, literal", SLIDERS)
def test_alt_text_is_grammatical_and_true_at_every_grid_point(stem, func, alt, grid, literal):
    seen = set()
    for params in _points(grid):
        text = alt(**params)
        starts = text[:1].isupper() or text[:1].isdigit()
        assert starts and text.endswith("."), text
        for pattern, why in BAD:
            assert not pattern.search(text), f"{why}: {text!r} at {params}"
        for left, right in _against_numbers(text):
            assert not (right and right[0] in left), f"compares a value with itself: {text!r}"
        for value in params.values():
            if not isinstance(value, bool):
                assert f"{value:g}" in text if isinstance(value, float) else str(value) in text
        seen.add(text)
    assert len(seen) == len(list(_points(grid))), "two frames share one alt text"


def test_the_checks_catch_the_old_mistakes():
    old = [
        "scale 1/sqrt(512) = 0.0442 against the wrong 1/sqrt(512) = 0.0442.",
        "4.00 GiB with g = 32 against 4.00 GiB for multi-head attention (1 times smaller).",
        "A bar cut into 1 heads.",
        "with G = 1 key/value heads.",
        "1 causal attention map(s).",
    ]
    for text in old:
        bad = any(p.search(text) for p, _ in BAD) or any(
            r and r[0] in lft for lft, r in _against_numbers(text)
        )
        assert bad, text


@pytest.mark.parametrize("stem, func, alt, grid, literal", SLIDERS)
def test_look_for_and_labels(stem, func, alt, grid, literal):
    look = literal.get("look_for", "")
    assert look.strip().endswith(".") and look.count(". ") == 0, f"{stem}: one sentence: {look!r}"
    assert 30 <= len(look) <= 200
    for name in grid:
        label = literal.get("labels", {}).get(name, name)
        assert len(label) <= MAX_LABEL, f"{stem}: label {label!r} is too long for the widget"


def _lines_inside_ylim(fig):
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        for line in ax.get_lines():
            if line.get_transform() != ax.transData:  # axvline and the like: axes coordinates
                continue
            y = np.asarray(line.get_ydata(), dtype=float)
            if y.size:
                yield y.min() >= lo and y.max() <= hi, line.get_label()


@pytest.mark.parametrize("stem, func, alt, grid, literal", SLIDERS)
def test_every_line_lies_inside_the_y_limits(stem, func, alt, grid, literal):
    for params in _points(grid):
        for inside, label in _lines_inside_ylim(func(**params)):
            assert inside, f"{label} leaves the axes at {params}"


def test_kv_legend_names_each_line_once():
    for g in (1, 8, 64):
        fig = ws.heads.decode_read_figure(g=g, batch=8)
        labels = fig.axes[0].get_legend_handles_labels()[1]
        assert len(labels) == len({lab.split(" (")[0] for lab in labels})
        assert sum("selected" in lab for lab in labels) == 1
        assert all(lab.count("G = ") == 1 for lab in labels)
