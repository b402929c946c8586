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

Used by every chapter.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp
from matplotlib.figure import Figure
from PIL import Image

__all__ = ["interact", "Interactive", "figure", "StaticFigure", "math", "Math", "png_bytes"]

DPI = 100


def png_bytes(fig: Figure, *, compress: bool = True) -> bytes:
    """Render ``fig`` to PNG; with ``compress`` the palette is reduced to 128 colours."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    if not compress:
        return buf.getvalue()
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(
        out, format="png", optimize=True
    )
    return out.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


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

    def __post_init__(self):
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

    def render(self, compress: bool = True, reuse_layout: bool = False, **params) -> bytes:
        """PNG bytes of the figure at ``params`` (plus the fixed arguments).

        Constrained layout is most of the cost of a frame (it measures every tick
        label). With ``reuse_layout`` the first figure of each axes arrangement is laid
        out as usual and later ones take its axes positions, as an interactive plot
        that updates its data keeps its layout; the live slider uses this.
        """
        fig = self.func(**self.fixed, **params)
        if reuse_layout:
            self._apply_cached_layout(fig)
        return png_bytes(fig, compress=compress)

    def _apply_cached_layout(self, fig: Figure) -> None:
        cache = self.__dict__.setdefault("_layouts", {})
        key = (len(fig.axes), tuple(fig.get_size_inches()))
        if key not in cache:
            fig.draw_without_rendering()  # runs the layout engine
            cache[key] = [ax.get_position() for ax in fig.axes]
            return
        fig.set_layout_engine("none")
        for ax, pos in zip(fig.axes, cache[key], strict=True):
            ax.set_position(pos)

    def describe(self, **params) -> str:
        return self.alt(**params)

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
        """Every grid point: key "i|j|..." (value indices) -> {src, alt}, rendered once."""
        return self._frames

    def _key(self, params: dict) -> str:
        return "|".join(str(self.grid[n].index(params[n])) for n in self.grid)

    @cached_property
    def _frames(self) -> dict[str, dict]:
        names = list(self.grid)
        out = {}
        for idx in np.ndindex(*(len(self.grid[n]) for n in names)):
            params = {n: self.grid[n][i] for n, i in zip(names, idx)}
            out["|".join(map(str, idx))] = {
                "src": _data_uri(self.render(**params)),
                "alt": self.describe(**params),
            }
        return out

    def static_html(self) -> str:
        """The self-contained static slider (HTML, inline PNG frames, no network)."""
        return self._static_html

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
                controls.append(
                    f'<label class="ws-check" for="{cid}"><input type="checkbox" id="{cid}" '
                    f'data-param="{html.escape(n)}"{checked}> {lab}</label>'
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
            f'<div class="ws-controls" role="group" aria-label="figure controls">{"".join(controls)}</div>'
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
            f' <span class="ws-look"><b>What to look for:</b> {html.escape(self.look_for)}</span>'
        )

    # -- live slider ---------------------------------------------------------
    def widget(self):
        """A live ipywidgets control panel and image that re-render on change."""
        import ipywidgets as w

        start = self.start()
        controls = {}
        for n, vals in self.grid.items():
            if _is_bool(vals):
                controls[n] = w.Checkbox(value=bool(start[n]), description=self.label(n))
            else:
                controls[n] = w.SelectionSlider(
                    options=[(_fmt(x), x) for x in vals],
                    value=start[n],
                    description=self.label(n),
                    continuous_update=True,
                )
        if "_frames" in self.__dict__:  # the static slider already drew the first frame
            src = self._frames[self._key(start)]["src"]
            first = base64.b64decode(src.split(",", 1)[1])
        else:
            first = self.render(compress=False, reuse_layout=True, **start)
        image = w.Image(value=first, format="png")
        image.layout.max_width = "100%"

        # frames already drawn in this widget: revisiting one is instant
        seen: dict = {tuple(start.items()): (first, self.describe(**start))}

        def update(_change=None):
            params = {n: c.value for n, c in controls.items()}
            key = tuple(params.items())
            if key not in seen:
                png = self.render(compress=False, reuse_layout=True, **params)
                seen[key] = png, self.describe(**params)
            image.value, image.description = seen[key]

        for c in controls.values():
            c.observe(update, names="value")
        box = w.VBox(
            [
                w.HBox(list(controls.values())),
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
    """A still figure with alt text and caption; displays as ``<figure>`` HTML and PNG."""

    fig: Figure
    alt: str
    caption: str

    def __post_init__(self):
        if not isinstance(self.fig, Figure):
            raise TypeError(f"fig must be a matplotlib Figure, got {type(self.fig).__name__}")
        for name in ("alt", "caption"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} must be a non-empty string")
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


def figure(fig: Figure, *, alt: str, caption: str) -> StaticFigure:
    """Wrap a still figure with its alt text and caption (see :class:`StaticFigure`)."""
    return StaticFigure(fig, alt, caption)


@dataclass
class Math:
    """Display math from SymPy, as ``text/latex`` and as MathJax-ready HTML."""

    latex: str

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
    parts = [e if isinstance(e, str) else sp.latex(e) for e in exprs]
    if lines:
        return Math(r"\begin{gathered}" + r" \\ ".join(parts) + r"\end{gathered}")
    return Math(r",\qquad ".join(parts))
