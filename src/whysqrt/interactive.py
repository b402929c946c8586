"""One figure function, two sliders: live ipywidgets in a kernel, pre-rendered on the site.

:func:`interact` wraps a pure ``params -> Figure`` function (see :mod:`whysqrt.plots`)
and a grid of parameter values. Displaying the result gives a mimebundle with

* ``application/vnd.jupyter.widget-view+json``: a live ipywidgets slider that
  re-renders the figure on every change (JupyterLab, Binder, VS Code);
* ``text/html``: every grid point rendered once to PNG and embedded, with an
  ``<input type="range">`` per numeric parameter and a checkbox per boolean, wired
  by ``static/whysqrt-slider.js`` (added to the site by :mod:`whysqrt.sphinx_ext`).
  It needs no kernel and no network;
* ``text/plain``: a one-line description instead of a widget repr.

The book's ``_config.yml`` drops the widget view for the HTML builder, so the site
shows the static slider and Jupyter shows the live one. :func:`figure` and
:func:`math` give still figures and SymPy results the same HTML treatment, so the
chapter pages can paste them with ``{glue:any}``.

Speed (issue 12). Every frame is drawn at most once per kernel: :meth:`Interactive.png`
keeps each PNG, keyed by the parameters, and the static slider, the first frame and every
live widget of the same object share that store. The flipbook with every frame is built
only when the environment variable ``WHYSQRT_STATIC_FRAMES`` is set (the site build sets
it); a learner's kernel gets the first frame alone as its ``text/html`` fallback. Frames
take the axes layout of the first frame (constrained layout is most of a frame's cost)
unless a label would then stick out of the canvas (:func:`labels_outside`); that frame
is laid out afresh. All frames of one size share one Agg renderer (its text and mathtext
caches stay warm) and are encoded once, as a 128-colour PNG. In a Jupyter kernel a
background thread draws, while no cell runs, the next frames in the direction a slider
is moving, then every figure's nearest frames in turn.

Used by every chapter.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import heapq
import html
import inspect
import io
import itertools
import json
import math as _math
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.ft2font import RenderMode
from PIL import Image

from .i18n import check_lang, tr, tr_labels

__all__ = [
    "interact",
    "Interactive",
    "figure",
    "StaticFigure",
    "math",
    "Math",
    "png_bytes",
    "labels_outside",
    "STATIC_FRAMES_ENV",
    "glue",
]

DPI = 100
#: Set (to anything but "" or "0") by the site build: render every frame of every slider.
STATIC_FRAMES_ENV = "WHYSQRT_STATIC_FRAMES"
#: Matplotlib is not thread-safe (shared font objects): one figure is drawn at a time.
_DRAW_LOCK = threading.RLock()


#: The editions the notebooks glue outputs for: "en" in a learner's kernel (nothing extra to
#: draw), "en,zh" in the site build (scripts/execute-notebooks.py sets it).
EDITIONS_ENV = "WHYSQRT_EDITIONS"


def editions() -> tuple[str, ...]:
    """The languages ``ws.glue`` publishes: English always, Chinese when the build asks."""
    asked = [x.strip() for x in os.environ.get(EDITIONS_ENV, "en").split(",") if x.strip()]
    return ("en", *(check_lang(x) for x in asked if x != "en"))


def static_frames_wanted() -> bool:
    """True in the site build, where the static flipbook needs every frame."""
    return os.environ.get(STATIC_FRAMES_ENV, "") not in ("", "0")


def labels_outside(fig: Figure, renderer=None, tol: float = 0.5) -> list[str]:
    """Axis labels, tick labels and titles of ``fig`` that stick out of its canvas.

    Uses the positions of the last draw (call after ``savefig`` or
    ``draw_without_rendering``); an empty list means nothing is clipped.
    """
    renderer = renderer or fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    out = []
    for i, ax in enumerate(fig.axes):
        if not ax.axison or not ax.get_visible():
            continue
        texts = [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title]
        for axis in (ax.xaxis, ax.yaxis):  # the ticks drawn: those inside the view
            texts += [t for tick in axis._update_ticks() for t in (tick.label1, tick.label2)]
        for t in texts:
            if not t.get_visible() or not t.get_text().strip():
                continue
            b = t.get_window_extent(renderer)
            if b.x0 < -tol or b.y0 < -tol or b.x1 > width + tol or b.y1 > height + tol:
                out.append(f"axes {i}: {t.get_text()!r} at {b.bounds}")
    return out


def png_bytes(fig: Figure, *, compress: bool = True) -> bytes:
    """Render ``fig`` to PNG; with ``compress`` the palette is reduced to 128 colours."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    with _DRAW_LOCK:
        if compress:  # the picture savefig draws, without its PNG to decode again (~60 ms)
            canvas, dpi = fig.canvas, fig.dpi
            try:
                return _savefig(fig)
            finally:
                fig.set_canvas(canvas)
                fig.set_dpi(dpi)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def compress_png(png: bytes) -> bytes:
    """The same picture with its palette reduced to 128 colours (about 3x smaller)."""
    return _encode(Image.open(io.BytesIO(png)).convert("RGB"))


def _encode(img: Image.Image) -> bytes:
    """PNG with a 128-colour palette: a third of the bytes of RGB, drawn in 8 ms.

    (``optimize=True`` would save another 10 % of bytes for 20 ms more a frame.)
    """
    out = io.BytesIO()
    img.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(
        out, format="png", compress_level=6
    )
    return out.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_width(png: bytes) -> int:
    """Pixel width from a PNG's header."""
    return int.from_bytes(png[16:20], "big")


def _fmt(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass
class Interactive:
    """A figure function with a parameter grid; see :func:`interact`."""

    func: Callable[..., Figure]
    grid: dict[str, tuple]
    alt: Callable[..., str]
    caption: str
    labels: dict[str, str] = field(default_factory=dict)
    initial: dict[str, object] = field(default_factory=dict)
    fixed: dict[str, object] = field(default_factory=dict)
    look_for: str = ""
    #: The language of the captions, labels and alt text ("en" or "zh"): see :meth:`translated`.
    lang: str = "en"

    def __post_init__(self):
        check_lang(self.lang)
        if not isinstance(self.look_for, str):
            raise TypeError("look_for must be a string")
        if not callable(self.func):
            raise TypeError("func must be callable")
        if not isinstance(self.grid, dict) or not self.grid:
            raise ValueError("grid must be a non-empty dict of parameter -> values")
        for name, values in self.grid.items():
            values = tuple(values)
            if not values:
                raise ValueError(f"grid[{name!r}] must list at least one value")
            kinds = {isinstance(x, (bool, np.bool_)) for x in values}
            if len(kinds) > 1:
                raise ValueError(f"grid[{name!r}] mixes booleans and other values")
            self.grid[name] = values
        for name, value in self.initial.items():
            if name not in self.grid:
                raise ValueError(f"initial names {name!r}, which is not in grid")
            if value not in self.grid[name]:
                raise ValueError(f"initial[{name!r}]={value!r} is not one of grid[{name!r}]")
        if not isinstance(self.caption, str) or not self.caption.strip():
            raise ValueError("caption must be a non-empty string")

    # -- parameters ---------------------------------------------------------
    def start(self) -> dict:
        """The parameter values shown first."""
        return {
            n: self.initial.get(n, vals[len(vals) // 2] if not _is_bool(vals) else vals[0])
            for n, vals in self.grid.items()
        }

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    @property
    def _space(self) -> str:
        """Between two phrases: Chinese puts none after full-width punctuation."""
        return "" if self.lang == "zh" else " "

    def translated(self, lang: str) -> Interactive:
        """The same slider with its caption, labels and "what to look for" in ``lang``.

        A figure function that takes ``lang`` draws its own words in that language (its
        frames are drawn again); one that does not shares this slider's frames. An alt
        function that takes ``lang`` describes each frame in that language.
        """
        check_lang(lang)
        if lang == self.lang:
            return self
        fixed = dict(self.fixed)
        if _takes_lang(self.func):
            fixed["lang"] = lang
        other = replace(
            self,
            caption=tr(self.caption, lang),
            look_for=tr(self.look_for, lang),
            labels=tr_labels(self.labels, lang),
            fixed=fixed,
            lang=lang,
            alt=_alt_in(self.alt, lang),
        )
        if not _takes_lang(self.func):
            other._source = self  # draw nothing twice: the frames are the same pictures
        return other

    # -- drawing: every frame at most once ------------------------------------
    @cached_property
    def _store(self) -> dict:
        """key (values in grid order) -> (PNG, alt text); shared by every view."""
        return {}

    def _tuple(self, params: dict) -> tuple:
        return tuple(params[n] for n in self.grid)

    def png(self, **params) -> bytes:
        """PNG of the frame at ``params`` (128 colours), drawn on first request only."""
        return self._frame(params)[0]

    def _frame(self, params: dict) -> tuple[bytes, str]:
        key = self._tuple(params)
        hit = self._store.get(key)
        if hit is not None:
            return hit
        with _DRAW_LOCK:
            hit = self._store.get(key)  # another thread may have drawn it meanwhile
            if hit is None:
                hit = self._store[key] = (self._draw(params), self.describe(**params))
        return hit

    def _draw(self, params: dict) -> bytes:
        """Draw one frame with the first frame's layout; lay it out afresh if that clips.

        Deterministic whatever the order frames are asked for: the layout always
        comes from the start frame, which is drawn first.
        """
        source = self.__dict__.get("_source")
        if source is not None:
            return source.png(**params)
        start = self.start()
        if "_layout" not in self.__dict__ and params != start:
            self._frame(start)
        fig = self.func(**self.fixed, **params)
        if params == start:
            png = _savefig(fig)
            self._layout = (_layout_key(fig), [ax.get_position() for ax in fig.axes])
            return png
        key, positions = self._layout
        if _layout_key(fig) == key:
            fig.set_layout_engine("none")
            for ax, pos in zip(fig.axes, positions, strict=True):
                ax._set_position(pos)  # as constrained layout does (keeps the axes in layout)
            png = _savefig(fig)
            if not labels_outside(fig):
                return png
            fig.set_layout_engine("constrained")  # a label sticks out: lay out afresh
        return _savefig(fig)

    def render(self, compress: bool = True, reuse_layout: bool = True, **params) -> bytes:
        """PNG bytes of the figure at ``params`` (plus the fixed arguments).

        By default the frame comes from the shared store (drawn once, with the first
        frame's layout unless that clips; always 128 colours). ``reuse_layout=False``
        draws a fresh figure with its own constrained layout, bypassing the store, in
        full colour unless ``compress``.
        """
        if reuse_layout:
            return self.png(**params)
        return png_bytes(self.func(**self.fixed, **params), compress=compress)

    def describe(self, **params) -> str:
        key = self._tuple(params)
        hit = self._store.get(key)
        return hit[1] if hit is not None else self.alt(**params)

    def neighbours(self, params: dict) -> list[dict]:
        """Every grid point, nearest to ``params`` first (steps summed over controls).

        Among points equally near, those that move the first control come first, and a
        step up before a step down: a reader usually starts with the first slider and
        drags it onwards, so that frame is drawn first.
        """
        names = list(self.grid)
        at = [self.grid[n].index(params[n]) for n in names]
        points = list(np.ndindex(*(len(self.grid[n]) for n in names)))

        def order(idx):
            moved = [(k, i < j) for k, (i, j) in enumerate(zip(idx, at)) if i != j]
            return (sum(abs(i - j) for i, j in zip(idx, at)), moved, idx)

        points.sort(key=order)
        return [{n: self.grid[n][i] for n, i in zip(names, idx)} for idx in points]

    def toggles(self, params: dict) -> list[dict]:
        """The frames one checkbox click away from ``params``."""
        return [
            {**params, n: vals[1 - vals.index(params[n])]}
            for n, vals in self.grid.items()
            if _is_bool(vals) and len(vals) == 2
        ]

    def ahead(self, params: dict, name: str, came_from, n: int = 2) -> list[dict]:
        """The next ``n`` frames if control ``name`` keeps moving the way it just moved
        (from ``came_from`` to ``params[name]``): a slider is mostly dragged onwards."""
        values = self.grid[name]
        i, j = values.index(params[name]), values.index(came_from)
        step = (i > j) - (i < j)
        ks = [i + step * s for s in range(1, n + 1)]
        return [{**params, name: values[k]} for k in ks if step and 0 <= k < len(values)]

    # -- static slider -------------------------------------------------------
    def _uid(self) -> str:
        key = json.dumps(
            [
                getattr(self.func, "__qualname__", repr(self.func)),
                {k: [_fmt(x) for x in vals] for k, vals in self.grid.items()},
                {k: _fmt(x) for k, x in self.fixed.items()},
                self.caption,
            ]
        )
        return "ws-" + hashlib.sha1(key.encode()).hexdigest()[:10]

    def frames(self) -> dict[str, dict]:
        """Every grid point: key "i|j|..." (value indices) -> {src, alt}, compressed PNGs."""
        return self._frames

    def _key(self, params: dict) -> str:
        return "|".join(str(self.grid[n].index(params[n])) for n in self.grid)

    @cached_property
    def _frames(self) -> dict[str, dict]:
        names = list(self.grid)
        self._frame(self.start())
        out = {}
        for idx in np.ndindex(*(len(self.grid[n]) for n in names)):
            params = {n: self.grid[n][i] for n, i in zip(names, idx)}
            png, alt = self._frame(params)
            out["|".join(map(str, idx))] = {"src": _data_uri(png), "alt": alt}
        return out

    def static_html(self, all_frames: bool | None = None) -> str:
        """The self-contained static slider (HTML, inline PNG frames, no network).

        With every frame when ``all_frames`` is true, or when it is None and
        ``WHYSQRT_STATIC_FRAMES`` is set (the site build); otherwise the first frame
        alone, with a note (the fallback of a kernel whose frontend has no widgets).
        """
        if all_frames is None:
            all_frames = static_frames_wanted()
        return self._static_html if all_frames else self._preview_html

    @cached_property
    def _preview_html(self) -> str:
        start = self.start()
        png, alt = self._frame(start)
        values = ", ".join(f"{self.label(n)} = {_fmt(x)}" for n, x in start.items())
        return (
            f'<figure class="ws-slider ws-preview" id="{self._uid()}">'
            f'<img class="ws-frame" src="{_data_uri(png)}" alt="{html.escape(alt)}" '
            f'width="{png_width(png)}">'
            f"<figcaption>{html.escape(self.caption)}{self._space}"
            + html.escape(
                tr(
                    "(Shown at {values}; run the notebook with widgets for the live slider.)",
                    self.lang,
                ).format(values=values)
            )
            + f"{self._look_for_html()}</figcaption>"
            f"</figure>"
        )

    @cached_property
    def _static_html(self) -> str:
        uid = self._uid()
        start = self.start()
        names = list(self.grid)
        controls = []
        for n in names:
            vals = self.grid[n]
            cid = f"{uid}-{n}"
            lab = html.escape(self.label(n))
            i0 = vals.index(start[n])
            if _is_bool(vals):
                checked = " checked" if start[n] else ""
                # The frame keys hold grid indices, and a grid may list True first:
                # the checkbox says which index "ticked" and "unticked" stand for.
                controls.append(
                    f'<label class="ws-check" for="{cid}"><input type="checkbox" id="{cid}" '
                    f'data-param="{html.escape(n)}" data-on="{vals.index(True)}" '
                    f'data-off="{vals.index(False)}"{checked}> {lab}</label>'
                )
            else:
                labels = json.dumps([_fmt(x) for x in vals])
                controls.append(
                    f'<span class="ws-range"><label for="{cid}">{lab}</label> '
                    f'<input type="range" id="{cid}" data-param="{html.escape(n)}" min="0" '
                    f'max="{len(vals) - 1}" step="1" value="{i0}" '
                    f'aria-valuetext="{html.escape(_fmt(start[n]))}" '
                    f"data-labels='{html.escape(labels)}'> "
                    f'<output for="{cid}" id="{cid}-value">{html.escape(_fmt(start[n]))}</output></span>'
                )
        frames = self.frames()
        first = frames[self._key(start)]
        order = json.dumps(names)
        payload = json.dumps({"order": names, "frames": frames}, separators=(",", ":"))
        payload = payload.replace("</", "<\\/")
        return (
            f'<figure class="ws-slider" id="{uid}" data-order=\'{html.escape(order)}\'>'
            f'<div class="ws-controls" role="group" aria-label="{tr("figure controls", self.lang)}">'
            f"{''.join(controls)}</div>"
            f'<img class="ws-frame" src="{first["src"]}" alt="{html.escape(first["alt"])}" '
            f'width="{int(6.4 * DPI)}">'
            f"<figcaption>{html.escape(self.caption)}{self._look_for_html()}</figcaption>"
            f'<script type="application/json" class="ws-frames">{payload}</script>'
            f"</figure>"
        )

    def _look_for_html(self) -> str:
        if not self.look_for.strip():
            return ""
        return (
            f' <span class="ws-look"><b>{tr("What to look for:", self.lang)}</b>{self._space}'
            f"{html.escape(self.look_for)}</span>"
        )

    # -- live slider ---------------------------------------------------------
    def widget(self, prefetch: bool | None = None):
        """A live ipywidgets control panel and image that show the frame of the controls.

        A frame already drawn (by any view of this object) is shown at once; a new one
        is drawn once and kept. With ``prefetch`` (default: inside a Jupyter kernel)
        the frames nearest the shown one are drawn ahead, while the kernel is idle.
        """
        import ipywidgets as w

        start = self.start()
        style = {"description_width": "initial"}
        controls = {}
        for n, vals in self.grid.items():
            if _is_bool(vals):
                controls[n] = w.Checkbox(
                    value=bool(start[n]), description=self.label(n), indent=False, style=style
                )
            else:
                controls[n] = w.SelectionSlider(
                    options=[(_fmt(x), x) for x in vals],
                    value=start[n],
                    description=self.label(n),
                    continuous_update=True,
                    style=style,
                )
        first, alt = self._frame(start)
        # natural size: one image pixel per screen pixel, so text stays sharp
        image = w.Image(value=first, format="png")
        image.description = alt
        image.layout.width = f"{png_width(first)}px"
        image.layout.max_width = "100%"
        if prefetch is None:
            prefetch = _in_kernel()

        names = {id(c): n for n, c in controls.items()}

        def update(change=None):
            params = {n: c.value for n, c in controls.items()}
            png, text = self._frame(params)
            image.value, image.description = png, text
            if prefetch:
                lead = []
                if change is not None and not _is_bool(self.grid[names[id(change.owner)]]):
                    lead = self.ahead(params, names[id(change.owner)], change.old)
                _PREFETCH.want(self, params, lead)

        for c in controls.values():
            c.observe(update, names="value")
        if prefetch:
            _PREFETCH.want(self, start)
        box = w.VBox(
            [
                w.HBox(list(controls.values()), layout=w.Layout(flex_flow="row wrap")),
                image,
                w.HTML(html.escape(self.caption) + self._look_for_html()),
            ]
        )
        box.update = update  # used by the latency benchmark
        return box

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {
            "text/plain": f"<interactive figure {self.func.__name__}: {', '.join(self.grid)}>",
            "text/html": self.static_html(),
        }
        try:
            bundle.update(
                {k: v for k, v in self.widget()._repr_mimebundle_().items() if k != "text/plain"}
            )
        except Exception:  # no ipywidgets frontend: the static slider still works
            pass
        return bundle


def _takes_lang(func) -> bool:
    try:
        return "lang" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _alt_in(alt, lang: str):
    """An alt-text function for ``lang``: passes ``lang`` on when it takes it."""
    if _takes_lang(alt):

        def alt_lang(**params):
            return alt(**params, lang=lang)

        return alt_lang
    return alt


def _font_key(prop) -> tuple:
    return (
        tuple(prop.get_family()),
        prop.get_style(),
        prop.get_variant(),
        prop.get_weight(),
        prop.get_stretch(),
        prop.get_size_in_points(),
        prop.get_file(),
    )


class _GlyphCacheRenderer(RendererAgg):
    """Agg's renderer, keeping the glyph bitmaps of each plain text it draws.

    Consecutive frames of a slider redraw most of their words (tick labels, axis
    labels, legends) at the very same place. FreeType rasterises every glyph at its
    sub-pixel position each time, about a fifth of a frame's drawing. This renderer
    keeps the bitmaps of a text, keyed on everything that shapes them (the string,
    the font, the angle, the exact position, antialiasing, hinting), and blends the
    same bitmaps again on a repeat: the same pixels, as ``tests/test_interactive_speed.py``
    checks. Mathtext is drawn as before. The loop below is matplotlib 3.11's
    ``RendererAgg.draw_text`` (requirements.txt pins matplotlib).
    """

    MAX_TEXTS = 20_000  # a bound on the memory (a few kB a text)

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        antialiased = gc.get_antialiased()
        flags = get_hinting_flag()
        key = (
            s,
            _font_key(prop),
            angle,
            x,
            y,
            antialiased,
            flags,
            tuple(features) if features else features,
            language,
        )
        cache = self.__dict__.setdefault("_glyph_cache", {})
        glyphs = cache.get(key)
        if glyphs is None:
            glyphs = self._rasterise(s, prop, angle, x, y, features, language, antialiased)
            if len(cache) >= self.MAX_TEXTS:
                cache.clear()
            cache[key] = glyphs
        height = int(self.height)
        for buffer, left, top in glyphs:
            self._renderer.draw_text_image(buffer, left, height - top + buffer.shape[0], 0, gc)

    def _rasterise(self, s, prop, angle, x, y, features, language, antialiased) -> list:
        """(bitmap, left, top) of every glyph, as RendererAgg.draw_text renders them."""
        font = self._prepare_font(prop)
        items = font._layout(s, flags=get_hinting_flag(), features=features, language=language)
        size = prop.get_size_in_points()
        cos, sin = _math.cos(_math.radians(angle)), _math.sin(_math.radians(angle))
        turn = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        out = []
        for item in items:
            glyph_font, dx, dy = item.ft_object, item.x, item.y
            glyph_font.set_size(size, self.dpi)
            glyph_font._set_transform(
                turn,
                [
                    round(0x40 * (x + dx * cos - dy * sin)),
                    round(0x40 * (self.height - y + dx * sin + dy * cos)),
                ],
            )
            bitmap = glyph_font._render_glyph(item.glyph_index, get_hinting_flag(), mode)
            buffer = np.array(bitmap.buffer)
            if not antialiased:
                buffer *= 0xFF
            out.append((buffer, bitmap.left, bitmap.top))
        return out


class _SharedCanvas(FigureCanvasAgg):
    """An Agg canvas that draws every figure of one size with the same renderer.

    Matplotlib caches text extents and parsed mathtext per renderer, and a new canvas
    makes a new renderer, so every frame would measure and parse each tick label
    again. Sharing one renderer keeps those caches warm from frame to frame (about
    an eighth of a frame's time). Only used while ``_DRAW_LOCK`` is held.
    """

    _renderers: dict = {}

    def get_renderer(self):
        w, h = self.figure.bbox.size
        key = (w, h, self.figure.dpi)
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self._renderers[key] = _GlyphCacheRenderer(w, h, self.figure.dpi)
        return renderer


def _savefig(fig: Figure) -> bytes:
    """Draw ``fig`` once on an Agg canvas and encode it as a 128-colour PNG.

    Unlike ``savefig`` the canvas stays attached, so :func:`labels_outside` can read
    the positions of this very draw without drawing again.
    """
    fig.set_dpi(DPI)
    canvas = _SharedCanvas(fig)
    canvas.draw()
    rgba = canvas.buffer_rgba()
    height, width = np.asarray(rgba).shape[:2]
    # RGBA -> RGB in PIL: the same pixels as slicing the array, without its strided copy
    return _encode(
        Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1).convert("RGB")
    )


def _layout_key(fig: Figure) -> tuple:
    return (len(fig.axes), tuple(fig.get_size_inches()))


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class _Prefetcher:
    """One background thread that draws wanted frames while no cell is running.

    Each request replaces the previous one for the same Interactive: its frames,
    nearest first. Frames are drawn round robin over the figures: every figure's n-th
    nearest frame before any figure's (n+1)-th, the latest request first among equals. Drawing holds ``_DRAW_LOCK``, so it
    never overlaps a frame drawn by the kernel's main thread.
    """

    IDLE_S = 0.15  # a cell ended this long ago (and none runs): the kernel is idle

    def __init__(self):
        self._cond = threading.Condition()
        self._queue: list = []
        self._order = itertools.count()
        self._thread = None
        self._busy = False
        self._last_cell_end = 0.0
        self._hooked = False
        self._untidy = True  # cells ran since the last tidy()

    def _hook(self):
        if self._hooked:
            return
        self._hooked = True
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            ip.events.register("pre_run_cell", self._cell_start)
            ip.events.register("post_run_cell", self._cell_end)
            # The first request comes from a cell showing a figure: that cell is running
            # (its pre_run_cell fired before the hook existed), and the cells after it in a
            # Run All must not share the CPU with frames drawn ahead.
            self._busy = True

    def _cell_start(self, *_):
        self._busy = True

    def _cell_end(self, *_):
        self._busy = False
        self._last_cell_end = time.monotonic()
        with self._cond:
            self._untidy = True
            self._cond.notify()

    @staticmethod
    def tidy():
        """Collect garbage, then freeze what survives (``gc.freeze``), while the kernel idles.

        A notebook leaves ~10^5 long-lived objects; a full collection walks them all
        (70-80 ms after classifier-softmax's cells), and Python starts one whenever
        enough new objects survive, which drawing frames does. One landing on a slider
        move made it 100 ms slower than the rest. Frozen objects are not walked again;
        the next tidy unfreezes them first, so garbage among them is still collected.
        """
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def want(self, inter: Interactive, params: dict, lead: list[dict] = ()) -> None:
        """Queue the frames around ``params``; ``lead`` (the frames the learner is
        heading for) before every other figure's and this figure's other frames."""
        self._hook()
        rank = -next(self._order)  # newest request first
        with self._cond:
            self._queue = [q for q in self._queue if q[2] is not inter]
            heapq.heapify(self._queue)  # a filtered heap need not be one
            # the lead, then the frames one click away on a checkbox (a click is never
            # "on the way" of a slider, so no direction predicts it), then every frame
            # nearest first; each frame once, at its first place
            first = [*lead, *inter.toggles(params)]
            ordered = [(i - len(first), p) for i, p in enumerate(first)]
            ordered += list(enumerate(inter.neighbours(params)))
            queued = set()
            for place, p in ordered:
                key = inter._tuple(p)
                if key not in inter._store and key not in queued:
                    queued.add(key)
                    heapq.heappush(self._queue, (place, rank, inter, p))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="whysqrt-prefetch", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _idle_for(self) -> float:
        if self._busy:
            return 0.0
        return time.monotonic() - self._last_cell_end

    def _run(self):
        while True:
            with self._cond:
                while not self._queue and not self._untidy:
                    self._cond.wait()
                wait = self.IDLE_S - self._idle_for()
                if wait > 0:
                    self._cond.wait(timeout=max(wait, 0.02))
                    continue
                untidy, self._untidy = self._untidy, False
                job = heapq.heappop(self._queue) if self._queue else None
            if untidy:  # cells ran: tidy up once, before the learner moves anything
                self.tidy()
            if job is None:
                continue
            _, _, inter, params = job
            # While this thread draws, the kernel's thread waits for the GIL each time it
            # takes it back (after every socket read or write of a message). With 0.1 ms
            # switches (instead of 5) a slider move on a frame already drawn is as quick
            # as when nothing is drawn: 42 ms at worst instead of 94 with 1 ms, on
            # positional-encoding's 18 frames, most still being drawn at the first move.
            interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, 0.0001))
            try:
                inter._frame(params)
            except Exception:  # the kernel's own request will show the error
                pass
            finally:
                sys.setswitchinterval(interval)


_PREFETCH = _Prefetcher()


def _is_bool(values) -> bool:
    return all(isinstance(x, (bool, np.bool_)) for x in values)


def interact(
    func: Callable[..., Figure],
    *,
    alt: Callable[..., str],
    caption: str,
    labels: dict[str, str] | None = None,
    initial: dict | None = None,
    fixed: dict | None = None,
    look_for: str = "",
    **grid,
) -> Interactive:
    """Make ``func`` interactive over the parameter grid given as keyword lists.

    ``alt(**params)`` returns the alt text of one frame; ``caption`` is shown under
    the figure; ``look_for`` is one sentence, shown under it, saying what to watch
    as the controls move; ``labels`` maps parameter names to visible control labels.
    Example: ``ws.interact(ws.plots.dot_product_histogram, d_k=ws.DK_GRID,
    scaled=[False, True], alt=..., caption=...)``.
    """
    return Interactive(
        func,
        dict(grid),
        alt,
        caption,
        dict(labels or {}),
        dict(initial or {}),
        dict(fixed or {}),
        look_for,
    )


@dataclass
class StaticFigure:
    """A still figure with alt text and caption; displays as ``<figure>`` HTML and PNG.

    Made by :func:`figure`, it keeps the function that drew it (``func`` with ``args`` and
    ``kwargs``) so that :meth:`translated` draws the Chinese picture only when it is asked
    for, once.
    """

    fig: Figure
    alt: str
    caption: str
    lang: str = "en"
    #: The figure function and its arguments (``None``: a ready Figure, no other drawing).
    func: Callable[..., Figure] | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    #: The alt-text function, called with the same arguments (``None``: ``alt`` is a string).
    alt_func: Callable[..., str] | None = None

    def translated(self, lang: str) -> StaticFigure:
        """The same figure with its caption in ``lang``.

        A figure function that takes ``lang`` draws the picture again in that language,
        on the first call only (the result is kept); an alt function that takes ``lang``
        describes it in that language. Otherwise the picture is the same and the alt
        text is translated where the catalogue has it.
        """
        check_lang(lang)
        if lang == self.lang:
            return self
        if lang not in self._translations:
            self._translations[lang] = self._draw_in(lang)
        return self._translations[lang]

    def _draw_in(self, lang: str) -> StaticFigure:
        fig = self.fig
        if self.func is not None and _takes_lang(self.func):
            fig = _figure_of(self.func, self.args, {**self.kwargs, "lang": lang})
        if self.alt_func is not None and _takes_lang(self.alt_func):
            alt = _alt_of(self.alt_func, self.args, {**self.kwargs, "lang": lang})
        else:
            try:
                alt = tr(self.alt, lang)
            except ValueError:  # alt text made from numbers, not in the catalogue
                alt = self.alt
        return replace(self, fig=fig, alt=alt, caption=tr(self.caption, lang), lang=lang)

    def __post_init__(self):
        check_lang(self.lang)
        if not isinstance(self.fig, Figure):
            raise TypeError(f"fig must be a matplotlib Figure, got {type(self.fig).__name__}")
        for name in ("alt", "caption"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} must be a non-empty string")
        for name in ("func", "alt_func"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise TypeError(f"{name} must be a function or None")
        self._translations: dict[str, StaticFigure] = {}
        self._png = png_bytes(self.fig)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/html": (
                f'<figure class="ws-figure"><img src="{_data_uri(self._png)}" '
                f'alt="{html.escape(self.alt)}" width="{int(6.4 * DPI)}">'
                f"<figcaption>{html.escape(self.caption)}</figcaption></figure>"
            ),
            "image/png": base64.b64encode(self._png).decode("ascii"),
            "text/plain": f"<figure: {self.alt}>",
        }


def _figure_of(func: Callable, args: tuple, kwargs: dict) -> Figure:
    fig = func(*args, **kwargs)
    if not isinstance(fig, Figure):
        raise TypeError(
            f"func must return a matplotlib Figure, {getattr(func, '__name__', func)!s} "
            f"returned {type(fig).__name__}"
        )
    return fig


def _alt_of(alt: Callable, args: tuple, kwargs: dict) -> str:
    text = alt(*args, **kwargs)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"alt must return a non-empty string, {getattr(alt, '__name__', alt)!s} "
            f"returned {text!r:.40}"
        )
    return text


def figure(
    func: Callable[..., Figure] | Figure,
    /,
    *args,
    alt: str | Callable[..., str],
    caption: str,
    **kwargs,
) -> StaticFigure:
    """A still figure with its alt text and caption (see :class:`StaticFigure`).

    ``func(*args, **kwargs)`` draws it, like the function of :func:`interact`; ``alt`` is
    its alt text, or a function called with the same arguments that returns it. For the
    Chinese edition the figure is drawn with ``lang="zh"`` (and ``alt`` called with it)
    only when :meth:`StaticFigure.translated` asks for it, so a kernel that shows only
    English never draws it. The caption is looked up in the package's catalogue
    (:mod:`whysqrt.i18n`).

    ``func`` may also be a ready matplotlib Figure (then no ``args``/``kwargs``): its
    picture serves every language and its alt text is translated through the catalogue.
    """
    if "lang" in kwargs:
        raise ValueError("lang must not be passed: figure draws each language itself")
    if isinstance(func, Figure):
        if args or kwargs:
            raise ValueError("args and kwargs are for a figure function, not a ready Figure")
        fig, func = func, None
    elif not callable(func):
        raise TypeError(
            f"func must be a figure function or a matplotlib Figure, got {type(func).__name__}"
        )
    else:
        fig = _figure_of(func, args, kwargs)
    alt_func = alt if callable(alt) else None
    alt_text = _alt_of(alt, args, kwargs) if alt_func is not None else alt
    return StaticFigure(
        fig, alt_text, caption, func=func, args=args, kwargs=kwargs, alt_func=alt_func
    )


#: The words inside a formula: ``\\text{...}`` without nested braces.
_TEXT = re.compile(r"\\text\{([^{}]*)\}")


@dataclass
class Math:
    """Display math from SymPy, as ``text/latex`` and as MathJax-ready HTML."""

    latex: str

    def translated(self, lang: str) -> Math:
        """The same formula with the words of its ``\\text{...}`` in ``lang`` where the
        package's catalogue has them (names such as "Llama 2 70B" stay)."""
        check_lang(lang)

        def word(m: re.Match) -> str:
            try:
                return "\\text{" + tr(m.group(1), lang) + "}"
            except ValueError:
                return m.group(0)

        return Math(_TEXT.sub(word, self.latex))

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/html": f'<div class="math notranslate nohighlight">\\[{html.escape(self.latex)}\\]</div>',
            "text/latex": f"$\\displaystyle {self.latex}$",
            "text/plain": self.latex,
        }


def math(*exprs, lines: bool = False) -> Math:
    """Typeset SymPy expressions (or LaTeX strings): side by side, or one per line."""
    if not exprs:
        raise ValueError("exprs must name at least one expression")
    if all(isinstance(e, str) for e in exprs):
        parts = list(exprs)
    else:
        import sympy as sp  # here, not at the top: a notebook without SymPy need not load it

        parts = [e if isinstance(e, str) else sp.latex(e) for e in exprs]
    if lines:
        return Math(r"\begin{gathered}" + r" \\ ".join(parts) + r"\end{gathered}")
    return Math(r",\qquad ".join(parts))


#: The MIME prefix MyST-NB gives a value glued with ``display=False``.
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, value, display: bool = True) -> None:
    """Store ``value`` under ``name`` for the chapter: MyST-NB's ``glue``, same output.

    ``ws.glue`` publishes exactly what ``myst_nb.glue`` publishes (its mimebundle,
    with the ``scrapbook`` metadata the book's ``{num}``, ``{paste}`` and ``{glue}``
    read; ``tests/test_glue.py`` compares the two). It exists because the first call
    of ``myst_nb.glue`` imports nbformat, whose jsonschema import compiles some 40 Lark
    grammars of ``rfc3987-syntax``: 1.7 s of every kernel's Run All spent on URI
    validation no notebook uses (python-jsonschema/jsonschema#1428).
    """
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    _publish(name, value, display)
    if "zh" not in editions():
        return
    if isinstance(value, str):
        # pasted as {num}`NAME:s`: the zh edition pastes NAME.zh, a word translated
        _publish(name + ZH_SUFFIX, _zh_word(value), False)
    elif not isinstance(value, (int, float, np.number)):
        # the Chinese edition pastes NAME.zh ({paste} in whysqrt.sphinx_ext): the same
        # output with its words translated where it has any
        translated = getattr(value, "translated", None)
        _publish(name + ZH_SUFFIX, translated("zh") if translated else value, False)


def _zh_word(value: str) -> str:
    """A glued English word or phrase ("yes", "no", an error message) in Chinese; a value
    such as "nan", "-inf" or "[0.0, nan]" as it is."""
    if value in ("nan", "inf") or not re.fullmatch(r"[a-z][a-z ]*[a-z]", value):
        return value
    return tr(value, "zh")


#: What a glued output's Chinese copy adds to its name.
ZH_SUFFIX = ".zh"


def _publish(name: str, value, display: bool) -> None:
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
