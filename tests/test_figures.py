"""Plot functions (pure params -> Figure) and the interactive wrapper (static + live)."""

import base64
import json
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

import whysqrt as ws
from whysqrt.interactive import png_bytes


def test_histogram_is_a_new_figure_each_call():
    a = ws.plots.dot_product_histogram(d_k=16, scaled=False)
    b = ws.plots.dot_product_histogram(d_k=16, scaled=True)
    assert isinstance(a, Figure) and a is not b
    assert "16" in a.axes[0].get_title() and "unscaled" in a.axes[0].get_title()
    assert png_bytes(a) != png_bytes(b)


def test_histogram_is_deterministic():
    assert png_bytes(ws.plots.dot_product_histogram(8)) == png_bytes(
        ws.plots.dot_product_histogram(8)
    )


def test_histogram_alt_text_mentions_parameters():
    alt = ws.plots.describe_dot_product_histogram(d_k=256, scaled=True)
    assert "256" in alt and "square root" in alt


@pytest.mark.parametrize(
    "kw, exc",
    [
        ({"d_k": 0}, ValueError),
        ({"d_k": 1.5}, TypeError),
        ({"scaled": "yes"}, TypeError),
        ({"n": 0}, ValueError),
    ],
)
def test_histogram_bad_input(kw, exc):
    with pytest.raises(exc, match=r"^(d_k|n|scaled)\b"):
        ws.plots.dot_product_histogram(**kw)


def test_moments_figure_needs_a_table():
    with pytest.raises(TypeError, match="^table"):
        ws.plots.moments_vs_dk({"d_k": [1, 2]})
    t = ws.experiments.dot_product_moments_mc(d_ks=(1, 4, 16), n=200)
    assert len(ws.plots.moments_vs_dk(t).axes) == 2


def _small():
    return ws.interact(
        ws.plots.dot_product_histogram,
        d_k=(1, 4, 64),
        scaled=[False, True],
        alt=ws.plots.describe_dot_product_histogram,
        caption="A caption.",
        labels={"scaled": "divide by √d_k"},
        initial={"d_k": 4},
        fixed={"n": 500},
    )


def test_static_slider_holds_every_frame_with_alt_text():
    html = _small().static_html(all_frames=True)
    payload = json.loads(re.search(r'class="ws-frames">(.*?)</script>', html).group(1))
    assert payload["order"] == ["d_k", "scaled"]
    assert set(payload["frames"]) == {f"{i}|{j}" for i in range(3) for j in range(2)}
    srcs = {f["src"] for f in payload["frames"].values()}
    assert len(srcs) == 6  # every frame differs
    assert all(
        f["alt"] and f["src"].startswith("data:image/png;base64,")
        for f in payload["frames"].values()
    )
    assert 'type="range"' in html and 'type="checkbox"' in html
    assert '<label for="' in html and "<figcaption>A caption.</figcaption>" in html
    assert 'value="1"' in html  # initial d_k = 4 is index 1
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing to fetch


def test_static_slider_is_deterministic():
    assert _small().static_html(all_frames=True) == _small().static_html(all_frames=True)


def test_mimebundle_offers_static_html_and_live_widget_but_no_widget_repr():
    bundle = _small()._repr_mimebundle_()
    assert "text/html" in bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "VBox" not in bundle["text/plain"]


def test_live_widget_rerenders_on_change():
    box = _small().widget()
    slider, image = box.children[0].children[0], box.children[1]
    before = image.value
    slider.value = 64
    assert image.value != before
    assert "64" in image.description


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"grid": {}}, "grid"),
        ({"grid": {"d_k": ()}}, "grid"),
        ({"grid": {"d_k": (1, True)}}, "grid"),
        ({"initial": {"d_k": 3}}, "initial"),
        ({"initial": {"h": 3}}, "initial"),
        ({"caption": " "}, "caption"),
    ],
)
def test_interactive_bad_input(kw, msg):
    args = {
        "func": ws.plots.dot_product_histogram,
        "grid": {"d_k": (1, 4)},
        "alt": ws.plots.describe_dot_product_histogram,
        "caption": "c",
    } | kw
    with pytest.raises(ValueError, match=f"^{msg}"):
        ws.interactive.Interactive(**args)


def test_static_figure_and_math():
    fig = ws.figure(ws.plots.dot_product_histogram(4), alt="alt text", caption="cap")
    b = fig._repr_mimebundle_()
    assert 'alt="alt text"' in b["text/html"] and "image/png" in b
    with pytest.raises(ValueError, match="^alt"):
        ws.figure(ws.plots.dot_product_histogram(4), alt="", caption="cap")
    with pytest.raises(TypeError, match="^func"):
        ws.figure(np.zeros(3), alt="a", caption="c")
    m = ws.math("x = 1")._repr_mimebundle_()
    assert m["text/html"].startswith('<div class="math') and "x = 1" in m["text/latex"]


def test_live_widget_reuses_layout_and_keeps_drawn_frames():
    it = _small()
    box = it.widget()
    slider, image = box.children[0].children[0], box.children[1]
    first = image.value
    slider.value = 64
    assert image.value != first
    slider.value = 4  # back to the start: the frame drawn first comes back unchanged
    assert image.value == first
    # a frame drawn with the cached layout is the same picture size as a fresh one
    fresh = it.render(compress=False, d_k=64, scaled=True)
    reused = it.render(compress=False, reuse_layout=True, d_k=64, scaled=True)
    assert fresh[16:24] == reused[16:24]  # PNG width and height


def test_live_widget_starts_from_the_static_frame_when_it_exists():
    it = _small()
    it.static_html(all_frames=True)
    image = it.widget().children[1]
    assert image.value == it.png(**it.start())
    src = it.frames()[it._key(it.start())]["src"]
    assert base64.b64decode(src.split(",", 1)[1]) == image.value  # the very same bytes


def test_look_for_line_is_shown_under_static_and_live_slider():
    kw = dict(d_k=[1, 4], alt=lambda **p: f"d_k={p['d_k']}", caption="c")
    inter = ws.interact(ws.plots.dot_product_histogram, look_for="the width <grows>", **kw)
    assert "What to look for:</b> the width &lt;grows&gt;" in inter.static_html()
    live_text = inter.widget().children[-1].value
    assert "the width &lt;grows&gt;" in live_text
    assert "What to look for" not in ws.interact(ws.plots.dot_product_histogram, **kw).static_html()
    with pytest.raises(TypeError, match="^look_for"):
        ws.interact(ws.plots.dot_product_histogram, look_for=3, **kw)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ws.plots.dot_product_histogram(d_k=64, scaled=True),
        lambda: ws.overflow.saturation_figure(scale=4.0, correct=True),
    ],
)
def test_png_bytes_is_the_picture_savefig_draws(make):
    """png_bytes draws on Agg and quantises the buffer, skipping savefig's PNG round trip:
    the same bytes as quantising savefig's PNG, and the figure keeps its canvas and dpi."""
    import io

    reference = io.BytesIO()
    make().savefig(reference, format="png", dpi=ws.interactive.DPI, metadata={"Software": None})
    fig = make()
    canvas, dpi = fig.canvas, fig.dpi
    assert ws.interactive.png_bytes(fig) == ws.interactive.compress_png(reference.getvalue())
    assert fig.canvas is canvas and fig.dpi == dpi
