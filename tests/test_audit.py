"""Tests for whysqrt.audit (the source-audit appendix): claims, table, checks' numerics."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws

A = ws.audit


def _claim(**kw):
    base = dict(
        source="002",
        quote="≈ [0.184, 0.643, 0.173]",
        translation="approximately ...",
        verdict="incorrect",
        correction="It is [0.2106, 0.6454, 0.1440].",
        anchor="audit-002-softmax",
    )
    base.update(kw)
    return A.claim(**base)


# -- claims, counts, table --------------------------------------------------------------------


def test_claim_keeps_its_fields():
    c = _claim()
    assert set(c) == {"source", "quote", "translation", "verdict", "correction", "anchor"}
    assert c["verdict"] == "incorrect" and c["anchor"] == "audit-002-softmax"


def test_verdict_counts_counts_every_verdict_including_zeros():
    claims = [
        _claim(anchor="audit-a"),
        _claim(anchor="audit-b", verdict="correct"),
        _claim(anchor="audit-c", verdict="body lost"),
    ]
    counts = A.verdict_counts(claims)
    assert list(counts) == list(A.VERDICTS)
    assert counts == {
        "correct": 1,
        "imprecise": 0,
        "incorrect": 1,
        "unverifiable": 0,
        "body lost": 1,
    }


def test_table_has_one_linked_row_per_claim_and_escapes_html():
    claims = [
        _claim(anchor="audit-x", correction="a < b & c"),
        _claim(anchor="audit-y", source="000"),
    ]
    t = A.table_html(claims, target="../notebooks/source-audit.html")
    html = t._repr_mimebundle_()["text/html"]
    assert html.count("<tr class=") == 2
    assert 'href="../notebooks/source-audit.html#audit-x"' in html
    assert "a &lt; b &amp; c" in html and "a < b & c" not in html
    assert html.index(">000<") < html.index(">002<"), "rows are sorted by source"
    assert "2 claims" in t._repr_mimebundle_()["text/plain"]


def test_missing_targets_finds_unlabelled_anchors(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["(audit-x)=\n", "## X\n"]},
            {"cell_type": "code", "source": ["(audit-y)=\n"]},
        ]
    }
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    claims = [_claim(anchor="audit-x"), _claim(anchor="audit-y")]
    assert A.missing_targets(claims, path) == ["audit-y"]


@pytest.mark.parametrize(
    "kw, exc, name",
    [
        ({"source": "009"}, ValueError, "source"),
        ({"verdict": "wrong"}, ValueError, "verdict"),
        ({"anchor": "Audit-X"}, ValueError, "anchor"),
        ({"anchor": "xyz"}, ValueError, "anchor"),
        ({"quote": "字" * 81}, ValueError, "quote"),
        ({"quote": ""}, ValueError, "quote"),
        ({"correction": 3}, TypeError, "correction"),
        ({"translation": "  "}, ValueError, "translation"),
    ],
)
def test_claim_bad_input(kw, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b"):
        _claim(**kw)


def test_claim_lists_bad_input(tmp_path):
    with pytest.raises(ValueError, match="^claims"):
        A.verdict_counts([])
    with pytest.raises(TypeError, match="^claims"):
        A.table_html("not a list")
    with pytest.raises(ValueError, match="^claims"):
        A.verdict_counts([_claim(anchor="audit-a"), _claim(anchor="audit-a")])
    with pytest.raises(ValueError, match="^claims"):
        A.verdict_counts([{"source": "000"}])
    with pytest.raises(ValueError, match="^notebook"):
        A.missing_targets([_claim()], tmp_path / "none.ipynb")


# -- source 001's experiment ------------------------------------------------------------------


def test_experiment_weights_match_a_hand_computation():
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal(7), rng.standard_normal((4, 7))
    s = k @ q / np.sqrt(7)
    expected = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    assert np.allclose(A.softmax_experiment_weights(7, True, n_keys=4, seed=3), expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.booleans(), st.integers(1, 20), st.integers(0, 1000))
def test_experiment_weights_are_a_probability_vector(d_k, scaled, n_keys, seed):
    p = A.softmax_experiment_weights(d_k, scaled, n_keys, seed)
    assert p.shape == (n_keys,) and np.all(np.isfinite(p)) and np.all(p >= 0)
    assert abs(p.sum() - 1) < 1e-12


def test_scaling_flattens_the_experiment_on_average():
    def top(scaled):
        return np.mean([A.softmax_experiment_weights(100, scaled, 10, s).max() for s in range(200)])

    assert top(False) > 0.6 > 0.35 > top(True)


def test_experiment_figure_and_alt_text():
    fig = A.softmax_experiment(d_k=5, scaled=True)
    assert isinstance(fig, Figure) and "5" in fig.axes[0].get_title()
    alt = A.describe_softmax_experiment(d_k=5, scaled=True)
    p = A.softmax_experiment_weights(5, True)
    assert f"{p.max():.3f}" in alt and "square root" in alt


@pytest.mark.parametrize(
    "kw, exc, name",
    [
        ({"d_k": 0}, ValueError, "d_k"),
        ({"d_k": 2.5}, TypeError, "d_k"),
        ({"n_keys": 0}, ValueError, "n_keys"),
        ({"scaled": "no"}, TypeError, "scaled"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_experiment_bad_input(kw, exc, name):
    args = {"d_k": 10, "scaled": False, "n_keys": 5, "seed": 0, **kw}
    with pytest.raises(exc, match=rf"^{name}\b"):
        A.softmax_experiment_weights(**args)


def test_corrections_link_the_chapters_they_name():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for slug in A.CHAPTERS:
        assert (root / "book" / f"{slug}.md").exists(), slug
    c = A.claim(
        source="000",
        quote="q",
        translation="t",
        verdict="correct",
        correction="See the why-sqrt chapter, not why-sqrt-x.",
        anchor="audit-x",
    )
    html = A.table_html([c]).html
    assert '<a href="../book/why-sqrt.html">why-sqrt</a> chapter' in html
    assert "why-sqrt-x" in html and 'href="../book/why-sqrt-x' not in html
