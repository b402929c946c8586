"""Long-context attention temperatures as deployed: the factor each scheme puts on the logits.

Used by the ``modern-practice`` chapter. Each function returns the number that multiplies
``q·k/√d_k`` (a factor above 1 sharpens the softmax) for a query that sees ``n`` keys (for
per-position schemes: the query at position ``n``, counting from 1), as the cited code
computes it:

* :func:`log_n_factor`: ``log n / log n_train`` (Su Jianlin's log n scaling; the book's
  ``log₅₁₂ n`` is ``n_train = 512``), applied in training and inference;
* :func:`yarn_factor`: YaRN's attention temperature ``√(1/t) = 0.1 ln s + 1`` with
  ``s = n / n_train``; YaRN multiplies both q and k (through the rotary cos and sin), so
  the logits get its square (Peng et al. 2023; DeepSeek-V3's ``softmax_scale``);
* :func:`qwen_logn_factor`: Qwen's LogN attention, ``max(1, log_{n_train} n)`` on the
  query, at inference only (``not self.training``);
* :func:`llama4_factor`: Llama 4's temperature tuning in its NoPE layers,
  ``1 + 0.1 · ln(1 + ⌊n / 8192⌋)`` on the query (HF transformers' ``Llama4TextAttention``);
* :func:`temperature_figure`: all of them against n, on one plot.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .plots import COLORS, new_figure

__all__ = [
    "log_n_factor",
    "yarn_mscale",
    "yarn_factor",
    "qwen_logn_factor",
    "llama4_factor",
    "SCHEMES",
    "temperature_figure",
    "describe_temperature_figure",
]

#: Llama 4's defaults (``Llama4TextConfig``: floor_scale=8192, attn_scale=0.1).
LLAMA4_FLOOR_SCALE, LLAMA4_ATTN_SCALE = 8192, 0.1


def _lengths(n) -> np.ndarray:
    n = v.finite_array("n", n, ndim_min=0)
    if np.any(n < 1):
        raise ValueError("n must be >= 1 (a number of keys)")
    return n


def _train_length(n_train) -> float:
    n_train = v.finite_float("n_train", n_train)
    if n_train <= 1:
        raise ValueError(f"n_train must be > 1 (the training length), got {n_train!r}")
    return n_train


def log_n_factor(n, n_train: float = 512) -> np.ndarray:
    """``log n / log n_train``: 1 at the training length, below it for shorter inputs."""
    return np.log(_lengths(n)) / np.log(_train_length(n_train))


def yarn_mscale(s, mscale: float = 1.0) -> np.ndarray:
    """YaRN's ``√(1/t)``: ``0.1 · mscale · ln s + 1`` for a scale ``s > 1``, else 1."""
    s = v.finite_array("s", s, ndim_min=0)
    if np.any(s <= 0):
        raise ValueError("s must be > 0 (a context-extension ratio)")
    mscale = v.finite_float("mscale", mscale, nonneg=True)
    return np.where(s > 1, 0.1 * mscale * np.log(np.maximum(s, 1)) + 1.0, 1.0)


def yarn_factor(n, n_train: float = 4096) -> np.ndarray:
    """The logit factor ``mscale(n / n_train)²`` of YaRN with the scale set to the length."""
    return yarn_mscale(_lengths(n) / _train_length(n_train)) ** 2


def qwen_logn_factor(n, n_train: float = 4096) -> np.ndarray:
    """Qwen's LogN attention: ``log_{n_train} n`` beyond the training length, else 1."""
    n, n_train = _lengths(n), _train_length(n_train)
    return np.where(n > n_train, np.log(n) / np.log(n_train), 1.0)


def llama4_factor(n) -> np.ndarray:
    """Llama 4's NoPE-layer query factor at position ``n`` (``cache_position + 1``)."""
    n = _lengths(n)
    return 1.0 + LLAMA4_ATTN_SCALE * np.log1p(np.floor(n / LLAMA4_FLOOR_SCALE))


#: name -> (function of n and n_train, when it applies, colour, line style)
SCHEMES = {
    "log n / log n_train": (
        lambda n, t: log_n_factor(n, t),
        "training and inference",
        COLORS["scaled"],
        "-",
    ),
    "YaRN, s = n / n_train (squared)": (
        lambda n, t: yarn_factor(n, t),
        "context extension (fine-tuning and inference)",
        "#009E73",
        "--",
    ),
    "Qwen LogN": (
        lambda n, t: qwen_logn_factor(n, t),
        "inference only",
        COLORS["unscaled"],
        "-.",
    ),
    "Llama 4 NoPE layers": (
        lambda n, t: llama4_factor(n),
        "released model code (every forward pass)",
        "#CC79A7",
        ":",
    ),
}


def temperature_figure(n_train: int = 4096, n_max: int = 2**20, lang: str = "en") -> Figure:
    """Every scheme's logit factor against n (log axis), from 64 keys to ``n_max``."""
    n_train = _train_length(n_train)
    n_max = v.positive_int("n_max", n_max)
    if n_max <= n_train:
        raise ValueError(f"n_max must exceed n_train ({n_train:g}), got {n_max}")
    check_lang(lang)
    n = np.unique(np.geomspace(64, n_max, 400).round())
    fig, (ax,) = new_figure(figsize=(6.4, 3.6))
    for name, (f, _, color, style) in SCHEMES.items():
        ax.plot(n, f(n, n_train), style, color=color, lw=2, label=tr(name, lang))
    ax.axvline(n_train, color="0.6", lw=1)
    ax.axhline(1, color="0.6", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(tr("number of keys n (query position)", lang))
    ax.set_ylabel(tr("factor on q·k/√d_k", lang))
    ax.set_title(
        tr("Length-dependent logit factors, training length {n:,.0f}", lang).format(n=n_train),
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def describe_temperature_figure(n_train: int = 4096, n_max: int = 2**20, lang: str = "en") -> str:
    """Alt text of :func:`temperature_figure`, with the factors it shows at ``n_max``."""
    check_lang(lang)
    at = {name: float(f(np.array(n_max), n_train)) for name, (f, *_) in SCHEMES.items()}
    parts = ("；" if lang == "zh" else "; ").join(
        tr("{name} {x:.2f}", lang).format(name=tr(name, lang), x=x) for name, x in at.items()
    )
    return tr(
        "Four curves of the factor on the scaled logits against the number of keys, from 64 "
        "to {n_max:,} on a log axis, with the training length {n_train:,} marked. At "
        "{n_max:,} keys: {parts}. Only log n / log n_train falls below 1 for short inputs.",
        lang,
    ).format(n_max=n_max, n_train=n_train, parts=parts)
