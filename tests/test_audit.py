"""Tests for whysqrt.audit (the source-audit appendix): claims, table, checks' numerics."""

import json

import numpy as np
import pytest

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
    assert set(c) == {
        "source",
        "quote",
        "translation",
        "verdict",
        "correction",
        "anchor",
        "chapter",
    }
    assert c["verdict"] == "incorrect" and c["anchor"] == "audit-002-softmax"
    assert c["chapter"] == ""  # the correction names no chapter


def test_claim_chapter_is_explicit_or_taken_from_the_correction():
    named = _claim(correction="See the dk-sizing chapter and the why-sqrt chapter.")
    assert named["chapter"] == "dk-sizing"
    assert _claim(chapter="why-sqrt")["chapter"] == "why-sqrt"
    assert _claim(chapter="", correction="See the why-sqrt chapter.")["chapter"] == ""


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
        ({"chapter": "why-sqrt-x"}, ValueError, "chapter"),
        ({"chapter": 3}, TypeError, "chapter"),
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


def test_every_claim_has_its_own_row_with_its_chapter_lost_headings_last():
    lost = [
        _claim(
            source="003",
            verdict="body lost",
            anchor=f"audit-l{i}",
            translation=f"topic {i}",
            correction="See the multi-head chapter." if i else "Outside scope.",
        )
        for i in range(3)
    ]
    t = A.table_html([*lost, _claim(source="003", anchor="audit-x", chapter="why-sqrt")])
    html = t.html
    assert html.count("<tr class=") == 4 and html.count("ws-verdict-body-lost") == 3
    assert all(f'#audit-l{i}">check</a>' in html for i in range(3))
    assert html.index("#audit-x") < html.index("#audit-l0"), "claims before lost headings"
    assert html.count('<td><a href="../book/multi-head.html">multi-head</a></td>') == 2
    assert '<td><a href="../book/why-sqrt.html">why-sqrt</a></td>' in html
    assert html.count("(outside the book)") == 1
    assert "4 claims" in t.text and "3 body lost" in t.text


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


# -- jacobian_rows: the spectral norm over independent rows ------------------------------------


def test_jacobian_rows_is_the_largest_eigenvalue_of_each_row():
    r = A.jacobian_rows(4, 3, n_rows=50, seed=0)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((50, 1, 4)), rng.standard_normal((50, 3, 4))
    p = ws.softmax(np.einsum("rid,rjd->rj", q, k) / 2.0)
    norms = [np.linalg.norm(ws.softmax_jacobian(row), 2) for row in p]
    assert r["mean"] == pytest.approx(np.mean(norms)) and r["median"] == pytest.approx(
        np.median(norms)
    )
    assert r["se"] == pytest.approx(np.std(norms, ddof=1) / np.sqrt(50))
    assert r["top"] == pytest.approx(p.max(-1).mean())


def test_jacobian_rows_collapses_when_unscaled_at_large_dk():
    small = A.jacobian_rows(512, 16, n_rows=300, seed=1, scaled=False)
    scaled = A.jacobian_rows(512, 16, n_rows=300, seed=1)
    assert small["median"] < 0.01 * scaled["median"] and 0.1 < scaled["mean"] <= 0.5


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"d_k": 0}, "d_k"),
        ({"n_keys": 0}, "n_keys"),
        ({"n_rows": 1}, "n_rows"),
        ({"sd": 0.0}, "sd"),
    ],
)
def test_jacobian_rows_bad_input_names_the_parameter(kw, name):
    args = {"d_k": 4, "n_keys": 3, "n_rows": 10, **kw}
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        A.jacobian_rows(**args)
