"""Sinusoidal positional encoding, its shift-by-rotation property, and rotary embeddings.

Used by the chapter ``positional-encoding`` (``book/positional-encoding.md`` and
``notebooks/positional-encoding.ipynb``).

Index convention (Vaswani et al. 2017, section 3.5), made explicit: ``i`` indexes
dimension *pairs*, ``0 <= i < d_model/2``, and

    PE[pos, 2i]   = sin(pos * omega_i),   PE[pos, 2i+1] = cos(pos * omega_i),
    omega_i = base ** (-2i / d_model),    base = 10000.

So column ``2i`` and column ``2i+1`` share one frequency, and the wavelengths
``2*pi/omega_i`` run from ``2*pi`` (``i = 0``) towards ``base * 2*pi``.
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .plots import COLORS, new_figure

__all__ = [
    "frequencies",
    "wavelengths",
    "sinusoidal_encoding",
    "shift_matrix",
    "rope_rotate",
    "encoding_heatmap",
    "describe_encoding_heatmap",
    "shift_plot",
    "describe_shift_plot",
]

BASE = 10000.0
#: Positions drawn as separate curves in :func:`shift_plot`.
SHIFT_POSITIONS = (0, 17, 100)


def _d_model(value, name: str = "d_model") -> int:
    d = v.positive_int(name, value)
    if d % 2:
        raise ValueError(f"{name} must be a positive even integer, got {d!r}")
    return d


def _base(base) -> float:
    base = v.finite_float("base", base)
    if base <= 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    return base


def _positions(name: str, positions) -> np.ndarray:
    if isinstance(positions, numbers.Real) and not isinstance(positions, bool):
        positions = [positions]
    arr = v.finite_array(name, positions)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr.astype(np.float64)


def frequencies(d_model: int, base: float = BASE) -> np.ndarray:
    """Angular frequencies ``omega_i = base**(-2i/d_model)`` for the pairs ``i = 0 .. d_model/2 - 1``."""
    d = _d_model(d_model)
    base = _base(base)
    return base ** (-2.0 * np.arange(d // 2) / d)


def wavelengths(d_model: int, base: float = BASE) -> np.ndarray:
    """Wavelengths ``2*pi/omega_i`` (in positions) of the pairs, shortest first."""
    return 2 * np.pi / frequencies(d_model, base)


def sinusoidal_encoding(positions, d_model: int, base: float = BASE) -> np.ndarray:
    """The encoding matrix, shape ``(len(positions), d_model)``: sin in even columns, cos in odd.

    ``positions`` is a 1-D array of (usually integer) positions, or a single number.
    """
    pos = _positions("positions", positions)
    w = frequencies(d_model, base)
    angles = pos[:, None] * w[None, :]
    pe = np.empty((pos.size, 2 * w.size))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def shift_matrix(k: float, d_model: int, base: float = BASE) -> np.ndarray:
    """The matrix ``M_k`` with ``PE(pos + k) = M_k @ PE(pos)`` for every ``pos``.

    Block diagonal; block ``i`` is the rotation ``[[cos(k w_i), sin(k w_i)], [-sin(k w_i), cos(k w_i)]]``
    acting on the pair ``(sin, cos)``. It depends on ``k`` but not on ``pos``.
    """
    k = v.finite_float("k", k)
    w = frequencies(d_model, base)
    c, s = np.cos(k * w), np.sin(k * w)
    m = np.zeros((2 * w.size, 2 * w.size))
    idx = np.arange(w.size)
    m[2 * idx, 2 * idx], m[2 * idx, 2 * idx + 1] = c, s
    m[2 * idx + 1, 2 * idx], m[2 * idx + 1, 2 * idx + 1] = -s, c
    return m


def rope_rotate(x, positions, base: float = BASE) -> np.ndarray:
    """Rotary position embedding (Su et al., RoFormer): rotate each pair of ``x`` by ``pos * theta_i``.

    ``x`` has shape ``(..., seq, d)`` with ``d`` even and ``positions`` has length ``seq``.
    The pair ``(x[2i], x[2i+1])`` at position ``m`` is multiplied by the rotation of angle
    ``m * theta_i``, ``theta_i = base**(-2i/d)`` (the same frequencies as the sinusoidal encoding).
    """
    x = v.finite_array("x", x, ndim_min=2)
    _d_model(x.shape[-1], "x's last axis")
    pos = _positions("positions", positions)
    if pos.size != x.shape[-2]:
        raise ValueError(
            f"positions must have one entry per row of x ({x.shape[-2]}), got {pos.size}"
        )
    ang = pos[:, None] * frequencies(x.shape[-1], base)[None, :]
    c, s = np.cos(ang), np.sin(ang)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * c - odd * s
    out[..., 1::2] = even * s + odd * c
    return out


# -- figures ------------------------------------------------------------------
def encoding_heatmap(d_model: int = 128, n_positions: int = 100) -> Figure:
    """Heatmap of ``PE[pos, j]`` for ``pos < n_positions`` and all ``d_model`` columns."""
    d = _d_model(d_model)
    n = v.positive_int("n_positions", n_positions)
    pe = sinusoidal_encoding(np.arange(n), d)
    fig, (ax,) = new_figure()
    im = ax.imshow(
        pe,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        interpolation="nearest",
        origin="lower",
        extent=(-0.5, d - 0.5, -0.5, n - 0.5),
    )
    ax.set_xlabel("column j (pair i = j // 2; even j: sin, odd j: cos)")
    ax.set_ylabel("position pos")
    ax.set_title(f"Sinusoidal encoding, d_model = {d}", fontsize=10)
    fig.colorbar(im, ax=ax, label="PE[pos, j]")
    return fig


def describe_encoding_heatmap(d_model: int = 128, n_positions: int = 100) -> str:
    """Alt text for :func:`encoding_heatmap`."""
    d = _d_model(d_model)
    n = v.positive_int("n_positions", n_positions)
    lam = wavelengths(d)
    return (
        f"Heatmap of the sinusoidal encoding for positions 0 to {n - 1} and {d} columns: the "
        f"leftmost columns oscillate fast (wavelength {lam[0]:.2f} positions), the rightmost "
        f"hardly change (wavelength {lam[-1]:,.0f} positions), so the right half of the map "
        f"is almost constant: sin near 0, cos near 1."
    )


def _offset(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be a non-negative integer, got {k!r}")
    if k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    return int(k)


def _pair_for_plot(d: int) -> int:
    """The pair drawn on the unit circle in :func:`shift_plot`: omega = 10000**(-1/4) = 0.1."""
    return d // 8


def shift_plot(k: int = 5, d_model: int = 64) -> Figure:
    """Left: ``PE(pos)·PE(pos+j)`` against the offset j for several pos (the curves coincide).

    Right: one pair ``(sin, cos)`` on the unit circle; ``M_k`` moves every position by the
    same angle ``k*omega_i``, a rotation, not a rescaling.
    """
    k = _offset(k)
    d = _d_model(d_model)
    fig, (ax, ax2) = new_figure(2)
    offsets = np.arange(0, 101)
    styles = [("-", 2.5), ("--", 1.8), (":", 1.8)]
    for p, (ls, lw) in zip(SHIFT_POSITIONS, styles):
        a = sinusoidal_encoding([p], d)[0]
        dots = sinusoidal_encoding(p + offsets, d) @ a
        ax.plot(offsets, dots, ls=ls, lw=lw, label=f"pos = {p}")
    val = float(np.cos(k * frequencies(d)).sum())
    ax.plot([k], [val], "o", color=COLORS["theory"], ms=6)
    ax.axvline(k, color=COLORS["theory"], lw=0.8)
    ax.set_xlabel("offset j")
    ax.set_ylabel("PE(pos)·PE(pos+j)")
    ax.set_title(f"d_model = {d}: at j = k = {k}, {val:.2f}", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper right")

    i = _pair_for_plot(d)
    w = frequencies(d)[i]
    t = np.linspace(0, 2 * np.pi, 200)
    ax2.plot(np.sin(t), np.cos(t), color="0.8", lw=1)
    for p, color in zip(SHIFT_POSITIONS, ("C0", "C1", "C2")):
        a, b = (
            np.array([np.sin(p * w), np.cos(p * w)]),
            np.array([np.sin((p + k) * w), np.cos((p + k) * w)]),
        )
        ax2.plot(*a, "o", color=color, ms=5)
        ax2.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
    ax2.set_aspect("equal")
    ax2.set_xlim(-1.25, 1.25)
    ax2.set_ylim(-1.25, 1.25)
    ax2.set_xlabel(f"PE[pos, {2 * i}] = sin")
    ax2.set_ylabel(f"PE[pos, {2 * i + 1}] = cos")
    ax2.set_title(f"pair i = {i}: all turn by k·ω = {k * w:.2f} rad", fontsize=10)
    return fig


def describe_shift_plot(k: int = 5, d_model: int = 64) -> str:
    """Alt text for :func:`shift_plot`."""
    d = _d_model(d_model)
    k = _offset(k)
    val = float(np.cos(k * frequencies(d)).sum())
    w = frequencies(d)[_pair_for_plot(d)]
    turn = (
        "with k = 0 every position stays where it is"
        if k == 0
        else f"each position is rotated by the same angle {k * w:.2f} radians"
    )
    return (
        f"Left: the dot product of the encodings of pos and pos + j against j for d_model = {d}; "
        f"the curves for pos = 0, 17 and 100 lie on top of each other, and at j = k = {k} the "
        f"value is {val:.2f}. Right: on the unit circle of one sin/cos pair, {turn}."
    )
