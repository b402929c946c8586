"""Pure figure functions: parameters in, a new ``matplotlib.figure.Figure`` out.

They use ``Figure()`` directly rather than ``pyplot``, so they hold no global
state, never display themselves and can be called from a slider thousands of
times. :mod:`whysqrt.interactive` turns any of them into a live ipywidgets
slider and into a static slider for the HTML site.

Used by: ``variance-proof`` (:func:`dot_product_histogram`, :func:`moments_vs_dk`).
They take ``lang`` ("en" or "zh"), the language of the words they draw and of their alt
text (Chinese: :mod:`whysqrt.i18n`); :func:`cjk_math_font` lets Chinese sit next to math.
"""

from __future__ import annotations

import re

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from . import _validate as v
from .experiments import MomentsTable, cached_dot_samples
from .i18n import check_lang, tr

__all__ = [
    "new_figure",
    "cjk_math_font",
    "dot_product_histogram",
    "describe_dot_product_histogram",
    "moments_vs_dk",
    "FIGSIZE",
    "COLORS",
]

#: Fonts with Chinese glyphs, in order of preference (Debian's fonts-noto-cjk first).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei")


def use_cjk_fallback() -> str | None:
    """Let matplotlib draw Chinese glyphs with an installed CJK font, and only them.

    The font family becomes matplotlib's default sans-serif followed by the first CJK font
    installed: matplotlib (>= 3.6) takes each glyph from the first font that has it, so
    Latin text and digits keep their usual look and only Chinese characters come from the
    CJK font. Nothing changes when no CJK font is installed (no warning in English
    figures). Returns the CJK font used, or None.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FONTS):
        # installed after matplotlib cached its font list (e.g. apt-get after pip install)
        for path in font_manager.findSystemFonts():
            if any(key in path for key in ("NotoSansCJK", "SourceHanSans", "wqy-zenhei")):
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = next((name for name in CJK_FONTS if name in installed), None)
    family = list(matplotlib.rcParams["font.family"])
    if cjk and cjk not in family:
        first = matplotlib.rcParams["font.sans-serif"][0] if family == ["sans-serif"] else None
        matplotlib.rcParams["font.family"] = [first or family[0], *family[1:], cjk]
    return cjk


CJK_FONT = use_cjk_fallback()
#: Chinese characters, CJK punctuation and full-width forms.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

#: One size for every figure in the book (inches); at 100 dpi, 640 x 360 pixels.
FIGSIZE = (6.4, 3.6)
#: Colour-blind-safe pair (Okabe-Ito): unscaled, scaled.
COLORS = {"unscaled": "#D55E00", "scaled": "#0072B2", "theory": "#000000"}


def new_figure(ncols: int = 1, nrows: int = 1, figsize=FIGSIZE) -> tuple[Figure, np.ndarray]:
    """A fresh constrained-layout Figure (no pyplot) and its flat array of axes; use in every plot function."""
    fig = Figure(figsize=figsize, layout="constrained")
    # Titles at the top of their axes (y = 1), placed once: matplotlib would otherwise
    # measure the axes' tick labels at every draw to lift a title over ticks on top,
    # which no figure here has (about a tenth of a frame's drawing time).
    with matplotlib.rc_context({"axes.titley": 1.0}):
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    return fig, axes


def note(ax, text: str, *, x: float = 0.02, ha: str = "left", fontsize: float = 9) -> None:
    """A monospace read-out in the upper corner of ``ax`` (the numbers a frame shows).

    Chinese words in it take their glyphs from the CJK font (an ideographic space, U+3000,
    is as wide as one character: use it to line up the values of two lines).
    """
    family = ["monospace", CJK_FONT] if CJK_FONT and _CJK.search(text) else "monospace"
    ax.text(
        x,
        0.95,
        text,
        transform=ax.transAxes,
        ha=ha,
        va="top",
        family=family,
        fontsize=fontsize,
    )


def cjk_math_font(fig: Figure) -> Figure:
    """Give every text of ``fig`` that mixes Chinese with ``$math$`` the CJK font; return ``fig``.

    In such a text matplotlib draws the words around the math with the text's first
    font alone (no fallback), so Chinese there would come out as missing glyphs. The CJK
    font has Latin letters and digits too; the math keeps its mathtext font. Figure
    functions call this on their Chinese drawing only (English figures do not change).
    """
    if CJK_FONT:
        for t in fig.findobj(Text):
            s = t.get_text()
            if "$" in s and _CJK.search(s):
                t.set_fontfamily(CJK_FONT)
    return fig


def _normal_pdf(x: np.ndarray, var: float) -> np.ndarray:
    return np.exp(-(x**2) / (2 * var)) / np.sqrt(2 * np.pi * var)


def dot_product_histogram(
    d_k: int = 64, scaled: bool = False, n: int = 4000, seed: int = 0, lang: str = "en"
) -> Figure:
    """Histogram of ``n`` seeded samples of q·k (or q·k/sqrt(d_k)) with the predicted normal density.

    q and k have i.i.d. standard normal components. The x-axis is fixed for each
    mode (so moving d_k shows the spread change): +-100 unscaled, +-5 scaled.
    The predicted density is N(0, d_k) unscaled and N(0, 1) scaled; the text box
    compares the sample variance with it. ``lang`` ("en" or "zh") is the language of
    its words.
    """
    check_lang(lang)
    d_k = v.positive_int("d_k", d_k)
    n = v.positive_int("n", n)
    if not isinstance(scaled, (bool, np.bool_)):
        raise TypeError(f"scaled must be True or False, got {scaled!r}")
    dots = cached_dot_samples(d_k, n, seed)
    x = dots / np.sqrt(d_k) if scaled else dots
    var_pred = 1.0 if scaled else float(d_k)
    lim = 5.0 if scaled else 100.0
    mode = "scaled" if scaled else "unscaled"

    fig, (ax,) = new_figure()
    bins = np.linspace(-lim, lim, 81)
    ax.hist(
        np.clip(x, -lim, lim),
        bins=bins,
        density=True,
        histtype="stepfilled",  # one polygon, not 80 bars: a much cheaper frame
        color=COLORS[mode],
        alpha=0.55,
        label=tr("{n:,} samples", lang).format(n=n),
    )
    grid = np.linspace(-lim, lim, 400)
    ax.plot(
        grid,
        _normal_pdf(grid, var_pred),
        color=COLORS["theory"],
        lw=1.5,
        label=f"N(0, {var_pred:g})",
    )
    ax.set_xlim(-lim, lim)
    ax.set_ylim(
        0, max(0.45, float(_normal_pdf(np.zeros(1), var_pred)[0]) * 1.25) if scaled else 0.45
    )
    what = r"$q\cdot k/\sqrt{d_k}$" if scaled else r"$q\cdot k$"
    ax.set_xlabel(what)
    ax.set_ylabel(tr("density", lang))
    title = (
        tr("{what} with $d_k$ = {d_k} (scaled)", lang)
        if scaled
        else tr("{what} with $d_k$ = {d_k} (unscaled)", lang)
    )
    ax.set_title(title.format(what=what, d_k=d_k))
    note(
        ax,
        tr("sample var = {var:.3g}\npredicted  = {pred:g}", lang).format(
            var=x.var(ddof=1), pred=var_pred
        ),
    )
    ax.legend(loc="upper right", fontsize=9, frameon=False)
    return fig if lang == "en" else cjk_math_font(fig)


def moments_vs_dk(table: MomentsTable, lang: str = "en") -> Figure:
    """Empirical variance of q·k and of q·k/sqrt(d_k) against d_k (log-log), with the predictions d_k and 1.

    ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    if not isinstance(table, MomentsTable):
        raise TypeError(f"table must be a MomentsTable, got {type(table).__name__}")
    fig, (ax_var, ax_mean) = new_figure(2)
    d = table.d_k
    ax_var.loglog(d, table.var, "o", color=COLORS["unscaled"], label=r"Var$[q\cdot k]$")
    ax_var.loglog(
        d, table.scaled_var, "s", color=COLORS["scaled"], label=r"Var$[q\cdot k/\sqrt{d_k}]$"
    )
    ax_var.loglog(d, d, "-", color=COLORS["theory"], lw=1, label=r"$d_k$")
    ax_var.loglog(d, np.ones_like(d, dtype=float), "--", color=COLORS["theory"], lw=1, label="1")
    ax_var.set_xlabel("$d_k$")
    ax_var.set_ylabel(tr("variance", lang))
    ax_var.legend(fontsize=8, frameon=False)
    ax_var.set_title(tr("variance", lang), fontsize=10)

    se = np.sqrt(table.var / table.n)
    ax_mean.errorbar(
        d,
        table.mean,
        yerr=2 * se,
        fmt="o",
        color=COLORS["unscaled"],
        ms=4,
        label=tr(r"mean $\pm$ 2 s.e.", lang),
    )
    ax_mean.axhline(0, color=COLORS["theory"], lw=1)
    ax_mean.set_xscale("log", base=2)
    ax_mean.set_xlabel("$d_k$")
    ax_mean.set_ylabel(tr(r"mean of $q\cdot k$", lang))
    ax_mean.legend(fontsize=8, frameon=False)
    ax_mean.set_title(tr("mean", lang), fontsize=10)
    ax_mean.set_xticks([1, 8, 64, 512], labels=["1", "8", "64", "512"])
    ax_var.set_xticks([1, 8, 64, 512], labels=["1", "8", "64", "512"])
    return fig if lang == "en" else cjk_math_font(fig)


def describe_dot_product_histogram(
    d_k: int = 64, scaled: bool = False, n: int = 4000, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`dot_product_histogram` at the same parameters, in ``lang``."""
    check_lang(lang)
    dots = cached_dot_samples(v.positive_int("d_k", d_k), v.positive_int("n", n), seed)
    x = dots / np.sqrt(d_k) if scaled else dots
    what = (
        tr("q·k divided by the square root of d_k", lang)
        if scaled
        else tr("the raw dot product q·k", lang)
    )
    pred = 1 if scaled else d_k
    return tr(
        "Histogram of {n:,} samples of {what} for d_k = {d_k}, over the predicted normal "
        "curve: sample variance {var:.3g} against the predicted {pred}.",
        lang,
    ).format(n=n, what=what, d_k=d_k, var=x.var(ddof=1), pred=pred)
