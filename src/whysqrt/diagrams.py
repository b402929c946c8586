"""Pictures of the mechanism: the data flow, the geometry of q·k, the two failure modes.

Used by the ``in-brief`` chapter (and its data-flow diagram by ``dk-sizing``) and by
``synthesis``:

* :func:`attention_dataflow` - Q, K, V -> QK^T -> / sqrt(d_k) -> mask -> softmax -> ·V,
  with the shape of every intermediate;
* :func:`geometry_table` and :func:`geometry_figure` - q·k = |q| |k| cos(theta): the
  norms grow like sqrt(d_k), cos(theta) of random vectors shrinks like 1/sqrt(d_k);
* :func:`failure_mode` - one query's softmax weights with the logits divided by
  d_k**alpha (alpha = 0: too sharp, alpha = 1: too flat) against the sqrt(d_k) scale;
* :func:`largest_weights` - how typical that one query is: the largest weight of every
  row over many independent sequences, with error bars over sequences;

Every figure function is pure (parameters in, a new Figure out) and has a
``describe_*`` companion that returns its alt text.
Both take ``lang`` ("en" or "zh"): the Chinese edition draws the words in the figure
and writes the alt text in Chinese (:mod:`whysqrt.i18n`, catalogue ``part-figzh-a.po``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from . import _validate as v
from . import initscale  # noqa: F401  (the init × width table of in-brief: ws.initscale)
from .experiments import DK_GRID
from .i18n import check_lang, tr
from .numerics import entropy, softmax
from .plots import COLORS, cjk_math_font, new_figure, note
from .sharpness import draw_weights

__all__ = [
    "attention_dataflow",
    "describe_attention_dataflow",
    "GeometryTable",
    "geometry_table",
    "geometry_figure",
    "describe_geometry_figure",
    "failure_row",
    "LargestWeights",
    "largest_weights",
    "failure_mode",
    "describe_failure_mode",
]


# -- the data flow ------------------------------------------------------------
def _dim(name: str, value, symbol: str) -> str:
    return symbol if value is None else str(v.positive_int(name, value))


def _dataflow_shapes(n, m, d_k, d_v) -> dict[str, str]:
    n_, m_ = _dim("n", n, "n"), _dim("m", m, "n")
    dk_, dv_ = _dim("d_k", d_k, "d_k"), _dim("d_v", d_v, "d_v")
    nm = f"{n_}×{m_}"
    return {
        "Q": f"{n_}×{dk_}",
        "K": f"{m_}×{dk_}",
        "V": f"{m_}×{dv_}",
        "QK^T": nm,
        "scale": nm,
        "mask": nm,
        "softmax": nm,
        "out": f"{n_}×{dv_}",
    }


def _box(ax, x, y, text, shape, color, w=0.112, h=0.2):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.01",
            facecolor=color,
            edgecolor="black",
            lw=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)
    ax.text(x, y - h / 2 - 0.05, shape, ha="center", va="top", fontsize=8, family="monospace")


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "lw": 1.0})


def attention_dataflow(n=None, m=None, d_k=None, d_v=None, lang: str = "en") -> Figure:
    """Data-flow diagram of scaled dot-product attention with the shape of every step.

    ``n`` queries and ``m`` keys (both labelled n when symbolic: self-attention, the notation page's n); leave a size ``None`` to label it symbolically
    (``n``, ``m``, ``d_k``, ``d_v``) or pass a positive integer to print numbers.
    ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    s = _dataflow_shapes(n, m, d_k, d_v)
    fig = Figure(figsize=(6.4, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    inputs, ops = "#E8F1FA", "#FFF4E0"
    y_top, y_bot = 0.68, 0.22
    _box(ax, 0.065, 0.86, "Q", s["Q"], inputs, w=0.09, h=0.16)
    _box(ax, 0.065, 0.5, "K", s["K"], inputs, w=0.09, h=0.16)
    _box(ax, 0.065, y_bot, "V", s["V"], inputs, w=0.09, h=0.16)
    steps = [
        (0.22, "$QK^\\top$", s["QK^T"]),
        (0.37, "$\\div\\sqrt{d_k}$", s["scale"]),
        (0.52, tr("mask\n(optional)", lang), s["mask"]),
        (0.67, tr("softmax\nover keys", lang), s["softmax"]),
        (0.82, "$\\cdot\\, V$", ""),
    ]
    for x, text, shape in steps:
        _box(ax, x, y_top, text, shape, ops)
    _arrow(ax, (0.112, 0.84), (0.163, y_top + 0.04))
    _arrow(ax, (0.112, 0.52), (0.163, y_top - 0.04))
    for (x0, *_), (x1, *_) in zip(steps, steps[1:]):
        _arrow(ax, (x0 + 0.058, y_top), (x1 - 0.058, y_top))
    ax.plot([0.112, 0.82], [y_bot, y_bot], color="black", lw=1.0)
    _arrow(ax, (0.82, y_bot), (0.82, y_top - 0.1))
    _arrow(ax, (0.878, y_top), (0.93, y_top))
    ax.text(0.935, y_top, tr("out", lang), ha="left", va="center", fontsize=9)
    ax.text(0.935, y_top - 0.15, s["out"], ha="left", va="top", fontsize=8, family="monospace")
    ax.text(
        0.5,
        0.98,
        tr("one head: each of $n$ queries attends to $n$ keys", lang),
        ha="center",
        va="top",
        fontsize=9,
    )
    return fig if lang == "en" else cjk_math_font(fig)


def describe_attention_dataflow(n=None, m=None, d_k=None, d_v=None, lang: str = "en") -> str:
    """Alt text for :func:`attention_dataflow` with the same sizes, in ``lang``."""
    check_lang(lang)
    s = _dataflow_shapes(n, m, d_k, d_v)
    return tr(
        "Data-flow diagram of scaled dot-product attention: queries Q ({Q}) and keys K "
        "({K}) are multiplied into scores QK transposed ({QK}), divided by the square "
        "root of d_k, optionally masked, and passed through a softmax over the keys, row by row "
        "({softmax}); the weights multiply the values V ({V}) into the output ({out}).",
        lang,
    ).format(Q=s["Q"], K=s["K"], QK=s["QK^T"], softmax=s["softmax"], V=s["V"], out=s["out"])


# -- the geometry of q·k --------------------------------------------------------
@dataclass(frozen=True)
class GeometryTable:
    """Per d_k: mean norm |q|, root-mean-square cos(theta) and standard deviation of q·k."""

    d_k: np.ndarray
    norm: np.ndarray
    cos_rms: np.ndarray
    dot_sd: np.ndarray
    n: int

    def at(self, d_k: int) -> dict[str, float]:
        """The three statistics at one ``d_k`` of the table."""
        i = np.flatnonzero(self.d_k == d_k)
        if i.size == 0:
            raise ValueError(f"d_k must be one of {self.d_k.tolist()}, got {d_k!r}")
        i = int(i[0])
        return {
            "norm": float(self.norm[i]),
            "cos_rms": float(self.cos_rms[i]),
            "dot_sd": float(self.dot_sd[i]),
        }


@lru_cache(maxsize=64)
def _cosines(d_k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, d_k])
    q, k = rng.standard_normal((2, n, d_k))
    nq, nk = np.linalg.norm(q, axis=1), np.linalg.norm(k, axis=1)
    dots = np.einsum("ij,ij->i", q, k)
    out = (nq, dots / (nq * nk), dots)
    for a in out:
        a.setflags(write=False)
    return out


def geometry_table(d_ks=DK_GRID, n: int = 2000, seed: int = 0) -> GeometryTable:
    """Seeded samples of q·k = |q| |k| cos(theta) for standard normal q, k at every ``d_ks``."""
    d_ks = v.positive_int_list("d_ks", d_ks)
    n = v.positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be at least 2 to estimate a spread, got {n}")
    rows = [_cosines(int(d), n, seed) for d in d_ks]
    return GeometryTable(
        d_k=np.asarray(d_ks, dtype=int),
        norm=np.array([r[0].mean() for r in rows]),
        cos_rms=np.array([np.sqrt(np.mean(r[1] ** 2)) for r in rows]),
        dot_sd=np.array([r[2].std(ddof=1) for r in rows]),
        n=n,
    )


def geometry_figure(d_k: int = 64, n: int = 2000, seed: int = 0, lang: str = "en") -> Figure:
    """Left: histogram of cos(theta) at ``d_k``. Right: |q|, rms cos(theta), sd(q·k) against d_k.

    The right panel has the reference lines sqrt(d_k) and 1/sqrt(d_k) and marks ``d_k``,
    which must be one of ``DK_GRID``. ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    d_k = v.positive_int("d_k", d_k)
    if d_k not in DK_GRID:
        raise ValueError(f"d_k must be one of {list(DK_GRID)}, got {d_k}")
    table = geometry_table(DK_GRID, n, seed)
    cos = _cosines(d_k, table.n, seed)[1]
    fig, (ax_h, ax_s) = new_figure(2)
    dens, edges = np.histogram(cos, bins=np.linspace(-1, 1, 161), density=True)
    ax_h.stairs(dens, edges, fill=True, color=COLORS["scaled"], alpha=0.6)  # one artist, fast
    for sign in (-1, 1):
        ax_h.axvline(sign / np.sqrt(d_k), color=COLORS["theory"], lw=1, ls="--")
    ax_h.set_xlim(-1, 1)
    ax_h.set_ylim(0, 14)
    ax_h.set_xlabel(tr(r"$\cos\theta$ between random $q$ and $k$", lang))
    ax_h.set_ylabel(tr("density", lang))
    title = tr("$d_k$ = {d_k}: dashed lines at $\\pm 1/\\sqrt{{d_k}}$", lang)
    ax_h.set_title(title.format(d_k=d_k), fontsize=10)
    d = table.d_k
    ax_s.loglog(d, np.sqrt(d), color=COLORS["theory"], lw=0.8, ls="--", label=r"$\sqrt{d_k}$")
    ax_s.loglog(d, 1 / np.sqrt(d), color=COLORS["theory"], lw=0.8, ls=":", label=r"$1/\sqrt{d_k}$")
    ax_s.loglog(d, table.norm, "o", color=COLORS["unscaled"], ms=4, label=tr(r"mean $\|q\|$", lang))
    ax_s.loglog(
        d, table.dot_sd, "s", color="#009E73", ms=4, mfc="none", label=tr(r"sd of $q\cdot k$", lang)
    )
    ax_s.loglog(
        d, table.cos_rms, "^", color=COLORS["scaled"], ms=4, label=tr(r"rms $\cos\theta$", lang)
    )
    ax_s.axvline(d_k, color="grey", lw=3, alpha=0.3)
    ax_s.minorticks_off()
    ax_s.set_xticks([1, 4, 16, 64, 256, 1024], labels=["1", "4", "16", "64", "256", "1024"])
    ax_s.set_xlabel("$d_k$")
    ax_s.set_title(r"$q\cdot k = \|q\|\,\|k\|\cos\theta$", fontsize=10)
    ax_s.legend(fontsize=7, frameon=False, loc="upper left")
    return fig if lang == "en" else cjk_math_font(fig)


def describe_geometry_figure(d_k: int = 64, n: int = 2000, seed: int = 0, lang: str = "en") -> str:
    """Alt text for :func:`geometry_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    d_k = v.positive_int("d_k", d_k)
    row = geometry_table(DK_GRID, n, seed).at(d_k)
    return tr(
        "Left, a histogram of the cosine between random query and key vectors with d_k = {d_k}, "
        "concentrated within one over the square root of d_k of zero (root mean square "
        "{cos_rms:.3f}). Right, on log-log axes against d_k from 1 to 1024: the mean norm "
        "of q and the spread of q·k follow the square root of d_k (here {norm:.2f} and "
        "{dot_sd:.2f}), and the typical cosine follows one over it.",
        lang,
    ).format(d_k=d_k, **row)


# -- the two failure modes -----------------------------------------------------
def failure_row(alpha: float, d_k: int = 256, n_keys: int = 16, seed: int = 0) -> np.ndarray:
    """Softmax weights of one seeded query against ``n_keys`` keys, logits q·k / d_k**alpha."""
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    rng = np.random.default_rng([seed, d_k])
    q, k = rng.standard_normal(d_k), rng.standard_normal((n_keys, d_k))
    return softmax((k @ q) * d_k**-alpha)


@dataclass(frozen=True)
class LargestWeights:
    """The largest softmax weight of every row, shape (n_seqs, n_queries).

    Rows of one sequence share its keys and are not independent; every error bar is
    a standard error over the independent sequences.
    """

    largest: np.ndarray
    alpha: float
    d_k: int
    n_keys: int

    @property
    def n_rows(self) -> int:
        return int(self.largest.size)

    @property
    def n_seqs(self) -> int:
        return int(self.largest.shape[0])

    def _over_seqs(self, per_row: np.ndarray) -> tuple[float, float]:
        per_seq = per_row.mean(axis=1)
        return float(per_seq.mean()), float(per_seq.std(ddof=1) / np.sqrt(per_seq.size))

    def mean(self) -> tuple[float, float]:
        """Mean largest weight and its standard error over sequences."""
        return self._over_seqs(self.largest)

    def share_below(self, threshold: float) -> tuple[float, float]:
        """Share of rows whose largest weight is below ``threshold``, ± standard error."""
        threshold = v.in_range("threshold", threshold, 0.0, 1.0)
        return self._over_seqs((self.largest < threshold).astype(float))

    def quantile(self, q: float) -> float:
        """A quantile of the largest weight over all rows (no error bar)."""
        return float(np.quantile(self.largest, v.in_range("q", q, 0.0, 1.0)))


def largest_weights(
    alpha: float = 0.0,
    d_k: int = 256,
    n_keys: int = 16,
    n_seqs: int = 200,
    n_queries: int = 16,
    seed: int = 0,
) -> LargestWeights:
    """Largest weight of each row over ``n_seqs`` independent seeded sequences.

    Each sequence has ``n_queries`` standard normal queries and ``n_keys`` keys, logits
    q·k / d_k**alpha, as in :func:`failure_row`.
    """
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    n_seqs, n_queries = v.positive_int("n_seqs", n_seqs), v.positive_int("n_queries", n_queries)
    if n_seqs < 2:
        raise ValueError(f"n_seqs must be at least 2 for a standard error, got {n_seqs}")
    rng = np.random.default_rng([seed, d_k, n_keys])
    q = rng.standard_normal((n_seqs, n_queries, d_k))
    k = rng.standard_normal((n_seqs, n_keys, d_k))
    p = softmax(np.einsum("sqd,skd->sqk", q, k) * d_k**-alpha, axis=-1)
    return LargestWeights(p.max(axis=-1), alpha, d_k, n_keys)


def _alpha_name(alpha: float, lang: str = "en") -> str:
    """The factor of the logits, for a title."""
    if alpha == 0.0:
        return tr("no scale", lang)
    if lang == "en":
        return {0.5: "1/√d_k", 1.0: "1/d_k"}.get(alpha, f"1/d_k^{alpha:g}")
    return {0.5: r"$1/\sqrt{d_k}$", 1.0: "$1/d_k$"}.get(alpha, f"$1/d_k^{{{alpha:g}}}$")


def _alpha_words(alpha: float, lang: str = "en") -> str:
    """The factor of the logits, in words, for alt text."""
    if alpha == 0.0:
        return tr("with no scale", lang)
    if alpha == 0.5:
        return tr("with 1/square root of d_k", lang)
    if alpha == 1.0:
        return tr("with 1/d_k", lang)
    return tr("with 1/d_k^{alpha:g}", lang).format(alpha=alpha)


def failure_mode(
    alpha: float = 0.0, d_k: int = 256, n_keys: int = 16, seed: int = 0, lang: str = "en"
) -> Figure:
    """One query's weights with logits q·k / d_k**alpha (bars) and with / sqrt(d_k) (outline).

    ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    p = failure_row(alpha, d_k, n_keys, seed)
    ref = failure_row(0.5, d_k, n_keys, seed)
    fig, (ax,) = new_figure(figsize=(6.4, 2.4))
    color = COLORS["unscaled"] if alpha < 0.5 else "#CC79A7"
    title = tr("logits $q\\cdot k$ × {scale}, $d_k$ = {d_k}", lang)
    draw_weights(ax, p, color, title.format(scale=_alpha_name(alpha, lang), d_k=d_k))
    if lang != "en":  # sharpness.draw_weights writes its labels and read-out in English
        ax.set_xlabel(tr("key $j$", lang))
        ax.set_ylabel(tr("weight $p_j$", lang))
        for t in [t for t in ax.texts if t.get_text().startswith("max ")]:
            t.remove()
        readout = tr("max {pmax:.3f}\nH = {h:.2f} / {h_max:.2f}", lang)
        note(
            ax,
            readout.format(pmax=p.max(), h=entropy(p), h_max=np.log(len(p))),
            x=0.98,
            ha="right",
            fontsize=8,
        )
    ax.step(np.arange(1, len(ref) + 1), ref, where="mid", color=COLORS["scaled"], lw=1.2)
    ax.plot([], [], color=COLORS["scaled"], label=tr(r"same query, $\div\sqrt{d_k}$", lang))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig if lang == "en" else cjk_math_font(fig)


def describe_failure_mode(
    alpha: float = 0.0, d_k: int = 256, n_keys: int = 16, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`failure_mode` at the same parameters, in ``lang``."""
    check_lang(lang)
    p = failure_row(alpha, d_k, n_keys, seed)
    ref = failure_row(0.5, d_k, n_keys, seed)
    return tr(
        "Bar chart of one query's softmax weights over {n_keys} keys at d_k = {d_k} {scale}: "
        "largest weight {pmax:.3f}, entropy {h:.2f} nats (uniform {h_max:.2f}); an outline "
        "shows the same query divided by the square root of d_k (largest weight {ref_max:.3f}).",
        lang,
    ).format(
        n_keys=n_keys,
        d_k=d_k,
        scale=_alpha_words(alpha, lang),
        pmax=p.max(),
        h=entropy(p),
        h_max=np.log(n_keys),
        ref_max=ref.max(),
    )
