"""A book that agrees with itself (issue 17, point 13).

* A glue key names one quantity in the whole book: a key glued by two notebooks must hold
  the same value in both (a page that wants another chapter's number pastes it with
  ``other-stem::key`` rather than computing it again).
* A figure's alt text and the page's prose state the same numbers: every decimal number
  in the alt text of a still figure (the reader of a screen reader hears it instead of
  seeing the figure) also appears in the text of its page. Slider frames are exempt: their
  alt text follows the controls, and the prose describes one frame at most.

Both read the build: the executed notebooks MyST-NB keeps in ``_build/jupyter_execute``
and the pages in ``_build/html``.
"""

import html
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = ROOT / "_build" / "jupyter_execute"
SITE = ROOT / "_build" / "html"
#: A number as a figure or prose states it: with a decimal point (integers are too often
#: counts, years or axis ticks to compare), optionally signed.
NUMBER = re.compile(r"(?<![\w.])[−-]?\d+\.\d+(?![\w.])")


def glued(nb: dict) -> dict[str, str]:
    """key -> the text/plain of every value a notebook glues."""
    out = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = o.get("data", {})
            text = data.get(meta.get("mime_prefix", "") + "text/plain")
            if isinstance(text, list):
                text = "".join(text)
            out[meta["name"]] = text
    return out


def test_a_glue_key_names_one_value_across_the_book():
    notebooks = sorted(EXECUTED.rglob("*.ipynb"))
    if not notebooks:
        pytest.fail("no executed notebooks in _build/jupyter_execute: run `make book` first")
    where = defaultdict(dict)
    for path in notebooks:
        for key, value in glued(json.loads(path.read_text())).items():
            where[key][path.stem] = value
    clashes = {k: v for k, v in where.items() if len(set(v.values())) > 1}
    assert not clashes, (
        "the same glue key holds different values in different notebooks "
        f"(paste one with other-stem::key instead): {clashes}"
    )


def test_the_glue_reader_sees_what_ws_glue_writes():
    """The check above must be able to fail: it reads the outputs ws.glue makes."""
    nb = {
        "cells": [
            {
                "outputs": [
                    {
                        "data": {"text/plain": "0.25"},
                        "metadata": {"scrapbook": {"name": "k", "mime_prefix": ""}},
                    },
                    {"data": {"text/plain": "not glued"}, "metadata": {}},
                ]
            }
        ]
    }
    assert glued(nb) == {"k": "0.25"}


def _numbers(text: str) -> set[str]:
    return {n.replace("−", "-") for n in NUMBER.findall(text)}


def unstated(alt: str, text: str) -> set[str]:
    """Numbers of ``alt`` that ``text`` does not state, to the precision ``alt`` gives
    (prose may give more digits: 0.2803 states the alt text's 0.280, 0.2812 does not)."""
    prose = [float(n) for n in _numbers(text)]
    missing = set()
    for n in _numbers(alt):
        places = len(n.split(".")[1])
        if not any(round(p, places) == round(float(n), places) for p in prose):
            missing.add(n)
    return missing


def page_text_and_alts(page: str) -> tuple[str, list[str]]:
    """The visible text of a page (tags dropped) and the alt texts of its still figures."""
    # slider figures carry per-frame alt texts: leave them out of both sides
    still = re.sub(r'<figure class="ws-slider".*?</figure>', " ", page, flags=re.S)
    alts = [html.unescape(a) for a in re.findall(r'<img\b[^>]*\salt="([^"]*)"', still)]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", still, flags=re.S)
    body = re.sub(r"<img\b[^>]*>", " ", body)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return text, alts


def test_page_reader_compares_alt_numbers_with_prose():
    page = (
        '<p>The logit grows from 4.3 to 31.0.</p><img alt="grows from 4.3 to 30.0" src="a.png">'
        '<figure class="ws-slider" id="ws-1"><img alt="frame 9.99"></figure>'
    )
    text, alts = page_text_and_alts(page)
    assert alts == ["grows from 4.3 to 30.0"]
    assert unstated(alts[0], text) == {"30.0"}
    assert unstated("ends at 0.280", "ends at 0.2803") == set()
    assert unstated("ends at 0.280", "ends at 0.2852") == {"0.280"}


#: Still figures whose alt text lists the plotted data point by point (a screen-reader user's
#: only access to it), more than the prose states. Keyed by page and the alt text's opening;
#: every other figure must state only numbers its page states.
DATA_ALT_TEXTS = {
    ("layernorm-vs-batchnorm.html", "Log-log plot against the LayerNorm gain"),  # axis range
    ("modern-practice.html", "Left: the factor log n / log 512 rises"),  # entropy per n and σ
    ("modern-practice.html", "Two panels against the sequence length"),  # extrapolation curves
    ("modern-practice.html", "Final loss and largest logit against the Adam"),  # the sweep
    ("why-sqrt.html", "Best learning rate against the steps to loss"),  # the width regime map
    ("positional-encoding.html", "The expected scaled logit of a query and key"),  # curve ends
}


def lists_data(page: str, alt: str) -> bool:
    return any(page == p and alt.startswith(opening) for p, opening in DATA_ALT_TEXTS)


def chapter_pages() -> list[Path]:
    return sorted((SITE / "book").glob("*.html"))


@pytest.mark.site
def test_alt_text_and_prose_state_the_same_numbers():
    pages = chapter_pages()
    if not pages:
        pytest.fail("_build/html is missing: run `make book` first")
    disagree = {}
    for path in pages:
        text, alts = page_text_and_alts(path.read_text())
        for alt in alts:
            if lists_data(path.name, alt):
                continue
            missing = unstated(alt, text)
            if missing:
                disagree.setdefault(path.name, []).append((sorted(missing), alt[:160]))
    assert not disagree, (
        "numbers in a figure's alt text that its page's prose does not state "
        f"(glue both from the same variable): {disagree}"
    )
