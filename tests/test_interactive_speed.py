"""Issue 12: sliders draw each frame once, and no frame clips a label.

* every frame of every slider figure, drawn as the live slider and the site draw it,
  keeps its axis labels, tick labels and titles inside the canvas;
* a frame is drawn once per Interactive, whichever views (static flipbook, first frame,
  several live widgets) ask for it;
* the full static flipbook is built only for the site (``WHYSQRT_STATIC_FRAMES``).
"""

import json
import re

import pytest
from matplotlib.figure import Figure

import whysqrt as ws

# the sliders of the notebooks: figure function, grid (as in the notebook), alt text
SLIDERS = {
    "saturation": (
        ws.overflow.saturation_figure,
        {"scale": (0.25, 1.0, 4.0, 8.0, 16.0, 64.0), "correct": [False, True]},
        {"scale": 1.0},
        ws.overflow.describe_saturation_figure,
    ),
    "shape-flow": (
        ws.heads.shape_flow,
        {"d_model": (128, 256, 512, 1024), "h": (1, 2, 4, 8, 16)},
        {"d_model": 512, "h": 8},
        ws.heads.describe_shape_flow,
    ),
    "score-spread": (
        ws.scoring.score_spread_figure,
        {"d_k": ws.DK_GRID},
        {"d_k": 64},
        ws.scoring.describe_score_spread_figure,
    ),
    "batch-size": (
        ws.normalization.batch_size_plot,
        {"batch_size": (2, 4, 8, 16, 32, 64), "pad_fraction": (0.0, 0.5)},
        {"batch_size": 8, "pad_fraction": 0.5},
        ws.normalization.describe_batch_size_plot,
    ),
    "kv-cache": (
        ws.heads.kv_cache_figure,
        {"g": (1, 2, 4, 8, 16, 32), "layers": (12, 32, 80)},
        {"g": 8, "layers": 32},
        ws.heads.describe_kv_cache_figure,
    ),
    "head-maps": (ws.heads.head_maps, {"h": (1, 2, 4, 8)}, {"h": 2}, ws.heads.describe_head_maps),
    "shift": (
        ws.positional.shift_plot,
        {"k": (0, 1, 2, 5, 10, 30), "d_model": (16, 128, 512)},
        {"k": 5, "d_model": 128},
        ws.positional.describe_shift_plot,
    ),
    "self-attention": (
        ws.scoring.self_attention_figure,
        {"d_k": (1, 2, 4, 8, 16, 64, 256), "shared": [True, False]},
        {"d_k": 64},
        ws.scoring.describe_self_attention_figure,
    ),
    "online-softmax": (
        ws.overflow.online_softmax_figure,
        {"step": (1, 2, 3, 4, 5, 6)},
        {"step": 1},
        ws.overflow.describe_online_softmax_figure,
    ),
    "weights-bars": (
        ws.sharpness.weights_bars,
        {"d_k": (1, 8, 64, 512), "scaled": [False, True], "n_keys": (8, 64, 1024)},
        {"d_k": 64, "n_keys": 8},
        ws.sharpness.describe_weights_bars,
    ),
    "geometry": (
        ws.diagrams.geometry_figure,
        {"d_k": ws.DK_GRID},
        {"d_k": 64},
        ws.diagrams.describe_geometry_figure,
    ),
    "scale-roles": (
        ws.diagrams.scale_roles,
        {"alpha": (0.0, 0.5, 1.0), "d_k": (16, 256, 1024), "lr": (0.01, 0.1, 1.0)},
        {"alpha": 0.5, "d_k": 256, "lr": 0.1},
        ws.diagrams.describe_scale_roles,
    ),
    "histogram": (
        ws.plots.dot_product_histogram,
        {"d_k": ws.DK_GRID, "scaled": [False, True]},
        {"d_k": 64},
        ws.plots.describe_dot_product_histogram,
    ),
    "alpha-panel": (
        ws.training.alpha_panel,
        {"alpha": (0.0, 0.25, 0.5, 0.75, 1.0), "d_k": (4, 64, 1024)},
        {"alpha": 0.5, "d_k": 64},
        ws.training.describe_alpha_panel,
    ),
}


def _recording(func):
    """``func`` that also remembers every Figure it returned."""
    made = []

    def wrapped(**kw):
        made.append(func(**kw))
        return made[-1]

    wrapped.__name__ = wrapped.__qualname__ = func.__name__
    return wrapped, made


def _outside(fig: Figure) -> list[str]:
    """The test's own check: label and tick-label extents against the canvas."""
    fig.draw_without_rendering()  # keeps the positions the frame was drawn with
    r = fig._get_renderer()
    w, h = fig.bbox.width, fig.bbox.height
    bad = []
    for ax in fig.axes:
        if not ax.axison:
            continue
        texts = [ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):  # the ticks drawn: those inside the view
            texts += [t for tick in axis._update_ticks() for t in (tick.label1, tick.label2)]
        for t in texts:
            if t.get_visible() and t.get_text().strip():
                b = t.get_window_extent(r)
                if b.x0 < -1 or b.y0 < -1 or b.x1 > w + 1 or b.y1 > h + 1:
                    bad.append(t.get_text())
    return bad


@pytest.mark.parametrize("name", list(SLIDERS))
def test_no_frame_clips_a_label(name):
    func, grid, initial, alt = SLIDERS[name]
    wrapped, made = _recording(func)
    it = ws.interact(wrapped, alt=alt, caption="c", initial=initial, **grid)
    problems = {}
    for params in it.neighbours(it.start()):
        n = len(made)
        it.render(compress=False, reuse_layout=True, **params)  # the live slider's path
        if len(made) > n:
            bad = _outside(made[-1])
            if bad:
                problems[str(params)] = bad
    assert not problems, f"labels outside the canvas: {problems}"


def _counting():
    calls = []

    def fig(d_k=1, scaled=False, n=300):
        calls.append((d_k, scaled))
        return ws.plots.dot_product_histogram(d_k=d_k, scaled=scaled, n=n)

    it = ws.interact(
        fig,
        d_k=(1, 4, 64),
        scaled=[False, True],
        alt=ws.plots.describe_dot_product_histogram,
        caption="c",
        initial={"d_k": 4},
    )
    return it, calls


def test_every_frame_is_drawn_once_whatever_asks_for_it():
    it, calls = _counting()
    a = it.widget(prefetch=False)
    it.static_html(all_frames=True)  # the flipbook reuses the first frame
    b = it.widget(prefetch=False)  # a second view of the same figure
    slider_a, slider_b = a.children[0].children[0], b.children[0].children[0]
    slider_a.value = 64
    slider_b.value = 64  # already drawn by the other widget (and the flipbook)
    slider_a.value = 4
    assert sorted(calls) == sorted(set(calls)), f"frames drawn twice: {calls}"
    assert len(calls) == 6
    assert bytes(a.children[1].value) == it.png(d_k=4, scaled=False)
    assert bytes(b.children[1].value) == it.png(d_k=64, scaled=False)


def test_moves_draw_only_new_frames():
    it, calls = _counting()
    box = it.widget(prefetch=False)
    slider, check = box.children[0].children
    for v in (64, 1, 4, 64, 1):
        slider.value = v
    check.value = True
    check.value = False
    assert len(calls) == 4  # (4, off), (64, off), (1, off), (4, on)


def test_learner_kernel_gets_one_frame_and_the_site_every_frame(monkeypatch):
    it, calls = _counting()
    monkeypatch.delenv(ws.interactive.STATIC_FRAMES_ENV, raising=False)
    html = it._repr_mimebundle_()["text/html"]
    assert html.count("data:image/png") == 1 and "ws-frames" not in html
    assert len(calls) == 1
    monkeypatch.setenv(ws.interactive.STATIC_FRAMES_ENV, "1")
    html = it._repr_mimebundle_()["text/html"]
    payload = json.loads(re.search(r'class="ws-frames">(.*?)</script>', html).group(1))
    assert len(payload["frames"]) == 6 and len(calls) == 6


def test_live_image_is_shown_at_its_natural_size_and_labels_fit():
    it, _ = _counting()
    box = it.widget(prefetch=False)
    image = box.children[1]
    assert image.layout.width == f"{ws.interactive.png_width(image.value)}px"
    for control in box.children[0].children:
        assert control.style.description_width == "initial"


def test_frames_do_not_depend_on_the_order_they_are_drawn():
    it1, _ = _counting()
    it2, _ = _counting()
    grid = it1.neighbours(it1.start())
    a = [it1.png(**p) for p in grid]
    b = [it2.png(**p) for p in reversed(grid)][::-1]
    assert a == b
