"""Issue 12: sliders draw each frame once, and no frame clips a label.

* every frame of every slider figure, drawn as the live slider and the site draw it,
  keeps its axis labels, tick labels and titles inside the canvas;
* a frame is drawn once per Interactive, whichever views (static flipbook, first frame,
  several live widgets) ask for it;
* the full static flipbook is built only for the site (``WHYSQRT_STATIC_FRAMES``).
"""

import json
import re
import time

import pytest
from matplotlib.figure import Figure

import whysqrt as ws
from notebook_sliders import NOT_STANDALONE, not_standalone, notebook_sliders

# every slider the notebooks declare (read from their ws.interact calls)
SLIDERS = {sl.id: sl for sl in notebook_sliders()}


def test_only_the_known_sliders_are_left_out():
    """A new slider is checked unless it needs a notebook's experiment (then listed)."""
    assert len(SLIDERS) >= 13  # why-sqrt alpha and synthesis plane sliders removed (issue 21)
    assert sorted(s.split(":")[0] for s in not_standalone()) == sorted(NOT_STANDALONE)


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
        texts = [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title]
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
    sl = SLIDERS[name]
    wrapped, made = _recording(sl.func)
    it = ws.interact(wrapped, alt=sl.alt, caption="c", initial=sl.initial, **sl.grid)
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


def test_prefetch_takes_every_figure_one_step_before_any_figure_two():
    """Round robin by distance: after Run All, each slider's neighbours come first."""
    a, _ = _counting()
    b, _ = _counting()
    pf = ws.interactive._Prefetcher()
    pf._thread, pf._hooked = object(), True  # queue only: no thread draws
    a.png(**a.start()), b.png(**b.start())  # shown, as a widget's first frame is
    pf.want(a, a.start())
    pf.want(b, b.start())
    # (is a?, place in its figure's nearest-first list): the n-th frames of both figures
    # come before either figure's (n+1)-th, the newest request first between the two
    # (place -1: the frame one checkbox click away, ahead of the nearest-first list, where
    # it was place 3, after the first slider's steps up and down)
    order = [(inter is a, place) for place, _, inter, _ in sorted(pf._queue)]
    assert order == [(owner, n) for n in (-1, 1, 2, 4, 5) for owner in (False, True)]
    pf.want(a, {"d_k": 64, "scaled": False})  # a moved: its old requests are replaced
    assert sum(inter is a for *_, inter, _ in pf._queue) == 5


def test_a_shared_renderer_draws_the_same_picture_as_a_fresh_one():
    import io

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    def pixels(canvas_cls, **params):
        fig = ws.plots.dot_product_histogram(**params)
        fig.set_dpi(ws.interactive.DPI)
        canvas = canvas_cls(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()

    for params in ({"d_k": 4}, {"d_k": 64, "scaled": True}, {"d_k": 4}):
        shared = pixels(ws.interactive._SharedCanvas, **params)
        fresh = pixels(FigureCanvasAgg, **params)
        assert np.array_equal(shared, fresh), params
    png = ws.interactive._savefig(ws.plots.dot_product_histogram(d_k=8))
    assert Image.open(io.BytesIO(png)).mode == "P"  # one 128-colour encode


def test_a_slider_moving_on_has_its_next_frames_drawn_first():
    it, _ = _counting()
    assert it.ahead({"d_k": 4, "scaled": False}, "d_k", 1) == [{"d_k": 64, "scaled": False}]
    assert it.ahead({"d_k": 4, "scaled": False}, "d_k", 64) == [{"d_k": 1, "scaled": False}]
    assert it.ahead({"d_k": 64, "scaled": False}, "d_k", 4) == []  # at the end
    other, _ = _counting()
    pf = ws.interactive._Prefetcher()
    pf._thread, pf._hooked = object(), True
    other.png(**other.start()), it.png(**it.start())
    pf.want(other, other.start())
    pf.want(it, it.start(), lead=it.ahead(it.start(), "d_k", 1))
    first = min(pf._queue)
    assert first[2] is it and first[3] == {"d_k": 64, "scaled": False}


def test_the_frame_one_checkbox_click_away_is_drawn_first():
    """A click has no direction to predict: its frame comes before the other neighbours,
    after a moving slider's lead, and no frame is queued twice."""
    it, _ = _counting()
    assert it.toggles({"d_k": 4, "scaled": False}) == [{"d_k": 4, "scaled": True}]
    pf = ws.interactive._Prefetcher()
    pf._thread, pf._hooked = object(), True
    it.png(**it.start())
    pf.want(it, it.start())
    assert min(pf._queue)[3] == {"d_k": 4, "scaled": True}
    lead = it.ahead(it.start(), "d_k", 1)
    pf.want(it, it.start(), lead=lead)
    assert [q[3] for q in sorted(pf._queue)[:2]] == [*lead, {"d_k": 4, "scaled": True}]
    assert len(pf._queue) == 5  # six frames, the start drawn


def test_the_first_control_moving_up_is_drawn_first():
    """Prefetch order: the nearest frames, the first control's next value before the rest."""
    it = ws.interact(
        lambda a, b: _line_fig(), a=[1, 2, 3], b=[10, 20, 30], alt=lambda a, b: "x", caption="c"
    )
    near = it.neighbours({"a": 2, "b": 20})
    assert near[0] == {"a": 2, "b": 20}
    assert near[1:5] == [{"a": 3, "b": 20}, {"a": 1, "b": 20}, {"a": 2, "b": 30}, {"a": 2, "b": 10}]
    assert len(near) == 9


def _line_fig():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    return fig


@pytest.mark.parametrize(
    "make",
    [
        lambda: ws.positional.shift_plot(delta=5, d_model=128),  # rotated y labels, legend
        lambda: ws.positional.shift_plot(delta=5, d_model=128, lang="zh"),  # CJK fallback glyphs
        lambda: ws.plots.dot_product_histogram(d_k=64, scaled=True),  # mathtext labels
        lambda: ws.overflow.saturation_figure(scale=4.0, correct=True),
    ],
)
def test_the_glyph_cache_draws_the_same_pixels(make):
    """_GlyphCacheRenderer blends kept glyph bitmaps again on a repeated text: the first
    draw (misses) and a second one (hits) are the pixels of Agg's own renderer."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def pixels(canvas_cls):
        fig = make()
        fig.set_dpi(ws.interactive.DPI)
        canvas = canvas_cls(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy(), canvas

    fresh, _ = pixels(FigureCanvasAgg)
    ws.interactive._SharedCanvas._renderers.clear()
    first, canvas = pixels(ws.interactive._SharedCanvas)
    renderer = canvas.get_renderer()
    assert isinstance(renderer, ws.interactive._GlyphCacheRenderer)
    kept = dict(renderer._glyph_cache)
    assert kept  # the texts were kept
    again, _ = pixels(ws.interactive._SharedCanvas)
    assert renderer._glyph_cache.keys() == kept.keys()  # every text of the repeat was a hit
    assert np.array_equal(first, fresh) and np.array_equal(again, fresh)


def test_an_idle_kernel_tidies_its_garbage_once_after_cells_ran():
    """After cells ran, the prefetch thread collects garbage and freezes the survivors, so
    that a full collection (~80 ms after a notebook) does not land on a slider move; the
    next tidy unfreezes first, so an object frozen while alive is still collected."""
    import gc
    import threading
    import weakref

    class Node:
        pass

    pf = ws.interactive._Prefetcher()
    pf._hooked = True
    gc.unfreeze()
    try:
        cyclic = Node()
        cyclic.me = cyclic
        watch = weakref.ref(cyclic)
        pf._cell_start()
        pf._cell_end()
        pf._last_cell_end -= 1.0  # the cell ended a second ago: the kernel is idle
        threading.Thread(target=pf._run, daemon=True).start()
        deadline = time.monotonic() + 10
        while gc.get_freeze_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gc.get_freeze_count() > 0 and not pf._untidy
        del cyclic  # garbage now, but frozen: only a tidy that unfreezes collects it
        gc.collect()
        assert watch() is not None
        ws.interactive._Prefetcher.tidy()
        assert watch() is None
    finally:
        gc.unfreeze()
