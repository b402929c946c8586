"""Sinusoidal positional encoding, its shift-by-rotation property, and rotary embeddings.

Used by the chapter ``positional-encoding`` (``book/positional-encoding.md`` and
``notebooks/positional-encoding.ipynb``).

Index convention (Vaswani et al. 2017, section 3.5), made explicit. The paper writes ``i``
and calls it "the dimension"; it numbers dimension *pairs*. The book keeps ``i`` for a
component index, so here the pair index is ``r``, ``0 <= r < d_model/2``, and

    PE[t, 2r]   = sin(t * omega_r),   PE[t, 2r+1] = cos(t * omega_r),
    omega_r = base ** (-2r / d_model),    base = 10000.

So column ``2r`` and column ``2r+1`` share one frequency, and the wavelengths
``2*pi/omega_r`` run from ``2*pi`` (``r = 0``) towards ``base * 2*pi``, which the formula
never reaches. The paper's released code (tensor2tensor's ``get_timing_signal_1d``) spaces
the frequencies differently and does reach it: see :func:`tensor2tensor_frequencies`.
"""

from __future__ import annotations

import numbers

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .plots import COLORS, new_figure

__all__ = [
    "frequencies",
    "wavelengths",
    "sinusoidal_encoding",
    "shift_matrix",
    "rope_rotate",
    "tensor2tensor_frequencies",
    "rope_mean_logit",
    "permutation_check",
    "rope_correlation_plot",
    "describe_rope_correlation_plot",
    "encoding_heatmap",
    "describe_encoding_heatmap",
    "shift_plot",
    "describe_shift_plot",
    "yarn_ramp",
    "extended_frequencies",
    "llama3_frequencies",
    "extension_plot",
    "describe_extension_plot",
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


def shift_matrix(delta: float, d_model: int, base: float = BASE) -> np.ndarray:
    """The matrix ``M_delta`` with ``PE(t + delta) = M_delta @ PE(t)`` for every position ``t``.

    Block diagonal; block ``r`` is the rotation ``[[cos(delta w_r), sin(delta w_r)],
    [-sin(delta w_r), cos(delta w_r)]]`` acting on the pair ``(sin, cos)``. It depends on the
    offset ``delta`` but not on ``t``.
    """
    delta = v.finite_float("delta", delta)
    w = frequencies(d_model, base)
    c, s = np.cos(delta * w), np.sin(delta * w)
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


def tensor2tensor_frequencies(
    d_model: int, min_timescale: float = 1.0, max_timescale: float = BASE
) -> np.ndarray:
    """The frequencies of tensor2tensor's ``get_timing_signal_1d`` (the paper's released code).

    A numpy transcription of ``inv_timescales = min_timescale * exp(-r * log(max/min) /
    (d_model/2 - 1))``, ``r = 0 .. d_model/2 - 1``: the first pair has frequency
    ``1/min_timescale`` and the last exactly ``1/max_timescale``. (The code also puts all sines
    in the first half of the channels and all cosines in the second, not interleaved.)
    """
    d = _d_model(d_model)
    if d < 4:
        raise ValueError(f"d_model must be at least 4 (two timescales), got {d!r}")
    lo = v.finite_float("min_timescale", min_timescale)
    hi = v.finite_float("max_timescale", max_timescale)
    if lo <= 0:
        raise ValueError(f"min_timescale must be > 0, got {lo!r}")
    if hi <= lo:
        raise ValueError(f"max_timescale must be > min_timescale, got {hi!r}")
    n = d // 2
    return np.exp(-np.arange(n) * np.log(hi / lo) / (n - 1)) / lo


def rope_mean_logit(offsets, d_k: int, rho: float, base: float = BASE) -> np.ndarray:
    """Expected scaled RoPE logit ``E[(R_t q)·(R_u k)] / sqrt(d_k)`` at offsets ``t - u``.

    For ``q`` with independent standard normal components and ``k = rho*q + sqrt(1-rho**2)*z``
    (``z`` independent of ``q``, the construction of the variance-proof chapter), each
    component pair has correlation ``rho``, and ``E[q^T R_(t-u) q] = trace R_(t-u)``, so the
    expectation is ``rho * 2 * sum_r cos((t-u) theta_r) / sqrt(d_k)``. At offset 0 it is
    ``rho * sqrt(d_k)``; RoPE makes it decay (non-monotonically) with the distance.
    """
    off = _positions("offsets", offsets)
    dk = _d_model(d_k, "d_k")
    r = v.in_range("rho", rho, -1.0, 1.0)
    theta = frequencies(dk, base)
    return r * 2.0 * np.cos(off[:, None] * theta[None, :]).sum(axis=1) / np.sqrt(dk)


def permutation_check(n: int = 6, d_k: int = 8, seed: int = 0) -> dict:
    """Attention without positions: invariance to permuting key/value pairs, equivariance to tokens.

    Self-attention on ``n`` random tokens (``Q = K = V = X``, scale ``1/sqrt(d_k)``) and one
    permutation ``P`` (seeded). Returns the largest absolute differences

    * ``"keys"``: output with keys and values permuted together minus the original output
      (zero up to rounding: each output is unchanged, *invariance*);
    * ``"tokens"``: output of the permuted tokens minus the permuted original output
      (zero up to rounding: the outputs are permuted the same way, *equivariance*);
    * ``"tokens-unpermuted"``: output of the permuted tokens minus the original output
      (not zero: after permuting whole tokens the outputs do move).
    """
    n = v.positive_int("n", n)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n!r}")
    dk = v.positive_int("d_k", d_k)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    x = rng.standard_normal((n, dk))
    perm = np.roll(np.arange(n), 1)  # a permutation that moves every token

    def attend(q, k, val):
        s = q @ k.T / np.sqrt(dk)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)) @ val

    out = attend(x, x, x)
    return {
        "keys": float(np.abs(attend(x, x[perm], x[perm]) - out).max()),
        "tokens": float(np.abs(attend(x[perm], x[perm], x[perm]) - out[perm]).max()),
        "tokens-unpermuted": float(np.abs(attend(x[perm], x[perm], x[perm]) - out).max()),
    }


# -- figures ------------------------------------------------------------------
def encoding_heatmap(d_model: int = 128, n_positions: int = 100, lang: str = "en") -> Figure:
    """Heatmap of ``PE[pos, j]`` for ``pos < n_positions`` and all ``d_model`` columns."""
    d = _d_model(d_model)
    n = v.positive_int("n_positions", n_positions)
    check_lang(lang)
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
    ax.set_xlabel(tr("column (pair r = column // 2; even: sin, odd: cos)", lang))
    ax.set_ylabel(tr("position t", lang))
    ax.set_title(tr("Sinusoidal encoding, d_model = {d}", lang).format(d=d), fontsize=10)
    fig.colorbar(im, ax=ax, label=tr("PE[t, column]", lang))
    return fig


def describe_encoding_heatmap(d_model: int = 128, n_positions: int = 100, lang: str = "en") -> str:
    """Alt text for :func:`encoding_heatmap`."""
    d = _d_model(d_model)
    n = v.positive_int("n_positions", n_positions)
    lam = wavelengths(d)
    return tr(
        "Heatmap of the sinusoidal encoding for positions 0 to {last} and {d} columns: the "
        "leftmost columns oscillate fast (wavelength {short:.2f} positions), the rightmost "
        "hardly change (wavelength {long:,.0f} positions), so the right half of the map "
        "is almost constant: sin near 0, cos near 1.",
        lang,
    ).format(last=n - 1, d=d, short=lam[0], long=lam[-1])


def _offset(delta) -> int:
    if isinstance(delta, bool) or not isinstance(delta, numbers.Integral):
        raise TypeError(f"delta must be a non-negative integer, got {delta!r}")
    if delta < 0:
        raise ValueError(f"delta must be a non-negative integer, got {delta!r}")
    return int(delta)


def _pair_for_plot(d: int) -> int:
    """The pair drawn on the unit circle in :func:`shift_plot`: omega = 10000**(-1/4) = 0.1."""
    return d // 8


def shift_plot(delta: int = 5, d_model: int = 64, lang: str = "en") -> Figure:
    """Left: ``PE(t)·PE(t+Δ)`` against the offset Δ for several t (the curves coincide).

    Right: one pair ``(sin, cos)`` on the unit circle; the shift by ``delta`` (marked on the
    left) moves every position by the same angle ``delta*omega_r``, a rotation, not a
    rescaling.
    """
    delta = _offset(delta)
    d = _d_model(d_model)
    check_lang(lang)
    fig, (ax, ax2) = new_figure(2)
    offsets = np.arange(0, 101)
    styles = [("-", 2.5), ("--", 1.8), (":", 1.8)]
    for p, (ls, lw) in zip(SHIFT_POSITIONS, styles):
        a = sinusoidal_encoding([p], d)[0]
        dots = sinusoidal_encoding(p + offsets, d) @ a
        ax.plot(offsets, dots, ls=ls, lw=lw, label=f"t = {p}")
    val = float(np.cos(delta * frequencies(d)).sum())
    ax.plot([delta], [val], "o", color=COLORS["theory"], ms=6)
    ax.axvline(delta, color=COLORS["theory"], lw=0.8)
    ax.set_xlabel(tr("offset Δ", lang))
    ax.set_ylabel("PE(t)·PE(t+Δ)")
    ax.set_title(
        tr("d_model = {d}: at Δ = {delta}, {val:.2f}", lang).format(d=d, delta=delta, val=val),
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False, loc="upper right")

    i = _pair_for_plot(d)
    w = frequencies(d)[i]
    t = np.linspace(0, 2 * np.pi, 200)
    ax2.plot(np.sin(t), np.cos(t), color="0.8", lw=1)
    for p, color in zip(SHIFT_POSITIONS, ("C0", "C1", "C2")):
        a, b = (
            np.array([np.sin(p * w), np.cos(p * w)]),
            np.array([np.sin((p + delta) * w), np.cos((p + delta) * w)]),
        )
        ax2.plot(*a, "o", color=color, ms=5)
        ax2.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", color=color, lw=1.5))
    ax2.set_aspect("equal")
    ax2.set_xlim(-1.25, 1.25)
    ax2.set_ylim(-1.25, 1.25)
    ax2.set_xlabel(f"PE[t, {2 * i}] = sin")
    ax2.set_ylabel(f"PE[t, {2 * i + 1}] = cos")
    ax2.set_title(
        tr("pair r = {r}: turn Δ·ω = {angle:.2f} rad", lang).format(r=i, angle=delta * w),
        fontsize=10,
    )
    return fig


def describe_shift_plot(delta: int = 5, d_model: int = 64, lang: str = "en") -> str:
    """Alt text for :func:`shift_plot`."""
    d = _d_model(d_model)
    delta = _offset(delta)
    check_lang(lang)
    val = float(np.cos(delta * frequencies(d)).sum())
    w = frequencies(d)[_pair_for_plot(d)]
    turn = (
        tr("with offset 0 every position stays where it is", lang)
        if delta == 0
        else tr("each position is rotated by the same angle {angle:.2f} radians", lang).format(
            angle=delta * w
        )
    )
    return tr(
        "Left: the dot product of the encodings of positions t and t + Δ against the offset Δ "
        "for d_model = {d}; the curves for t = 0, 17 and 100 lie on top of each other, and at "
        "Δ = {delta} the value is {val:.2f}. Right: on the unit circle of one sin/cos pair, "
        "{turn}.",
        lang,
    ).format(d=d, delta=delta, val=val, turn=turn)


#: Offsets Δ = t - u drawn by :func:`rope_correlation_plot`: 0, then log-spaced to 2**17.
ROPE_OFFSETS = np.unique(np.concatenate([[0], np.round(np.geomspace(1, 2**17, 500))]))
#: RoPE bases compared by :func:`rope_correlation_plot`: RoFormer / Llama 2, and Llama 3.
ROPE_BASES = (10_000.0, 500_000.0)


def _bases(bases) -> tuple[float, ...]:
    if isinstance(bases, numbers.Real):
        bases = (bases,)
    out = tuple(_base(b) for b in bases)
    if not out:
        raise ValueError("bases must name at least one base, got an empty sequence")
    return out


def rope_correlation_plot(
    rho: float = 0.5, d_k: int = 128, bases=ROPE_BASES, lang: str = "en"
) -> Figure:
    """Expected scaled RoPE logit against the offset ``Δ = t - u`` for a correlated pair.

    One curve per RoPE base (:func:`rope_mean_logit`); the dotted line at 0 is the independent
    case (``rho = 0``), where RoPE changes nothing on average.
    """
    dk = _d_model(d_k, "d_k")
    r = v.in_range("rho", rho, -1.0, 1.0)
    bs = _bases(bases)
    check_lang(lang)
    fig, (ax,) = new_figure()
    for b, color in zip(bs, (COLORS["scaled"], COLORS["unscaled"], "C2", "C4")):
        mean = rope_mean_logit(ROPE_OFFSETS, dk, r, base=b)
        ax.plot(
            ROPE_OFFSETS, mean, color=color, lw=1.6, label=tr("base {b:,.0f}", lang).format(b=b)
        )
    ax.axhline(0.0, color="0.5", ls=":", lw=1.2, label=tr("ρ = 0 (independent q, k)", lang))
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, ROPE_OFFSETS[-1])
    ax.set_xlabel(tr("offset Δ = t − u (positions)", lang))
    ax.set_ylabel(tr("mean of (R_t q)·(R_u k) / √d_k", lang))
    ax.set_title(
        tr("d_k = {dk}, ρ = {rho:g}: {start:.2f} at Δ = 0", lang).format(
            dk=dk, rho=r, start=r * np.sqrt(dk)
        ),
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def describe_rope_correlation_plot(
    rho: float = 0.5, d_k: int = 128, bases=ROPE_BASES, lang: str = "en"
) -> str:
    """Alt text for :func:`rope_correlation_plot`."""
    dk = _d_model(d_k, "d_k")
    r = v.in_range("rho", rho, -1.0, 1.0)
    check_lang(lang)
    parts = []
    for b in _bases(bases):
        m = rope_mean_logit([4096, ROPE_OFFSETS[-1]], dk, r, base=b)
        parts.append(
            tr("with base {b:,.0f} it is {near:.2f} at Δ = 4096 and {far:.2f} at Δ = {end:.0f}",
               lang).format(b=b, near=m[0], far=m[1], end=ROPE_OFFSETS[-1])
        )  # fmt: skip
    return tr(
        "The expected scaled logit of a query and key with correlation {rho:g} per component, "
        "d_k = {dk}, after RoPE, against the offset Δ between their positions (logarithmic axis "
        "from 0 to {end:.0f}). All curves start at {start:.2f} at Δ = 0 "
        "and fall with oscillations; {parts}. A dotted line at 0 marks "
        "independent q and k.",
        lang,
    ).format(
        rho=r,
        dk=dk,
        end=ROPE_OFFSETS[-1],
        start=r * np.sqrt(dk),
        parts=("；" if lang == "zh" else "; ").join(parts),
    )


# -- context extension ----------------------------------------------------------
EXTENSION_METHODS = ("pi", "ntk", "yarn")
EXTENSION_LABELS = {
    "pi": "position interpolation",
    "ntk": "NTK-aware (new base)",
    "yarn": "YaRN (by frequency)",
}


def yarn_ramp(d_k: int, n_train: int, base: float = BASE, beta_fast=32, beta_slow=1) -> np.ndarray:
    """YaRN's per-pair ramp: 0 = pair left alone, 1 = pair fully interpolated.

    A numpy transcription of DeepSeek-V3's ``precompute_freqs_cis`` (``find_correction_range``
    and ``linear_ramp_factor``): pairs that turn more than ``beta_fast`` times within the
    training length ``n_train`` are kept, pairs that turn fewer than ``beta_slow`` times are
    interpolated, and the ramp is linear in the pair index between them.
    """
    dk = _d_model(d_k, "d_k")
    n = v.positive_int("n_train", n_train)
    b = _base(base)
    fast = v.finite_float("beta_fast", beta_fast, positive=True)
    slow = v.finite_float("beta_slow", beta_slow, positive=True)
    if slow >= fast:
        raise ValueError(f"beta_slow must be below beta_fast, got {slow!r} >= {fast!r}")

    def pair(rotations):  # the (fractional) pair index that turns `rotations` times in n_train
        return dk * np.log(n / (rotations * 2 * np.pi)) / (2 * np.log(b))

    low = max(np.floor(pair(fast)), 0.0)
    high = min(np.ceil(pair(slow)), dk - 1.0)
    if high == low:
        high += 0.001
    return np.clip((np.arange(dk // 2) - low) / (high - low), 0.0, 1.0)


def extended_frequencies(
    d_k: int, method: str, factor: float, n_train: int = 4096, base: float = BASE
) -> np.ndarray:
    """RoPE frequencies after stretching the context by ``factor`` (YaRN paper, sections 2-3).

    ``"pi"``: position interpolation divides every frequency by ``factor`` (Chen et al. 2023).
    ``"ntk"``: "NTK-aware" scaling changes the base to ``base * factor**(d_k/(d_k-2))``, so
    the fastest pair is unchanged and the slowest is divided by exactly ``factor``.
    ``"yarn"``: interpolate by pair, with :func:`yarn_ramp` (beta_fast 32, beta_slow 1).
    """
    dk = _d_model(d_k, "d_k")
    if dk < 4:
        raise ValueError(f"d_k must be at least 4 (two pairs), got {dk!r}")
    if method not in EXTENSION_METHODS:
        raise ValueError(f"method must be one of {EXTENSION_METHODS}, got {method!r}")
    f = v.finite_float("factor", factor)
    if f < 1:
        raise ValueError(f"factor must be >= 1, got {f!r}")
    theta = frequencies(dk, base)
    if method == "pi":
        return theta / f
    if method == "ntk":
        return frequencies(dk, _base(base) * f ** (dk / (dk - 2)))
    ramp = yarn_ramp(dk, n_train, base)
    return theta / f * ramp + theta * (1 - ramp)


def llama3_frequencies(
    d_k: int,
    base: float = 500_000.0,
    factor: float = 8,
    low_freq_factor: float = 1,
    high_freq_factor: float = 4,
    n_train: int = 8192,
) -> np.ndarray:
    """RoPE frequencies under Llama 3.1's "llama3" scaling (defaults: Llama 3.1's values).

    A numpy transcription of ``apply_scaling`` in meta-llama/llama-models and of
    ``_compute_llama3_parameters`` in transformers: pairs whose wavelength is below
    ``n_train / high_freq_factor`` are kept, pairs whose wavelength is above
    ``n_train / low_freq_factor`` are divided by ``factor``, and in between the frequency is
    blended with weight ``(n_train / wavelength - low_freq_factor) / (high - low)``.
    """
    dk = _d_model(d_k, "d_k")
    n = v.positive_int("n_train", n_train)
    f = v.finite_float("factor", factor)
    if f < 1:
        raise ValueError(f"factor must be >= 1, got {f!r}")
    lo = v.finite_float("low_freq_factor", low_freq_factor, positive=True)
    hi = v.finite_float("high_freq_factor", high_freq_factor, positive=True)
    if lo >= hi:
        raise ValueError(f"low_freq_factor must be below high_freq_factor, got {lo!r} >= {hi!r}")
    theta = frequencies(dk, base)
    wl = 2 * np.pi / theta
    smooth = np.clip((n / wl - lo) / (hi - lo), 0.0, 1.0)  # 1 = kept, 0 = divided by factor
    return (1 - smooth) * theta / f + smooth * theta


def extension_plot(
    d_k: int = 64, factor: float = 40, n_train: int = 4096, lang: str = "en"
) -> Figure:
    """How much each RoPE pair's wavelength is stretched by PI, NTK-aware scaling and YaRN."""
    dk = _d_model(d_k, "d_k")
    check_lang(lang)
    wl = 2 * np.pi / frequencies(dk)
    fig, (ax,) = new_figure()
    styles = {"pi": ("s", ":"), "ntk": ("^", "--"), "yarn": ("o", "-")}
    for method in EXTENSION_METHODS:
        stretch = frequencies(dk) / extended_frequencies(dk, method, factor, n_train)
        marker, ls = styles[method]
        label = tr(EXTENSION_LABELS[method], lang)
        ax.plot(wl, stretch, marker=marker, ls=ls, ms=3.5, lw=1.2, label=label)
    for x, text in (
        (n_train / 32, tr("turns 32× \nin {n:,} ", lang)),
        (n_train, tr("turns once \nin {n:,} ", lang)),
    ):
        ax.axvline(x, color="0.6", lw=0.8)
        ax.text(x, 1.08, text.format(n=n_train), fontsize=7, va="bottom", ha="right", color="0.3")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.8, factor * 1.6)
    ax.set_xlabel(tr("wavelength of the pair before extension (positions)", lang))
    ax.set_ylabel(tr("wavelength stretch (new / old)", lang))
    ax.set_title(
        tr("d_k = {dk} rotary dimensions, context × {factor:g} from {n:,}", lang).format(
            dk=dk, factor=factor, n=n_train
        ),
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0.0, 0.88))
    return fig


def describe_extension_plot(
    d_k: int = 64, factor: float = 40, n_train: int = 4096, lang: str = "en"
) -> str:
    """Alt text for :func:`extension_plot`."""
    dk = _d_model(d_k, "d_k")
    check_lang(lang)
    ramp = yarn_ramp(dk, n_train)
    kept, interp = int((ramp == 0).sum()), int((ramp == 1).sum())
    return tr(
        "For {pairs} rotary pairs (d_k = {dk}, base 10,000) the stretch of each pair's "
        "wavelength when the context grows {factor:g}-fold from {n:,} positions, against "
        "the pair's original wavelength, both axes logarithmic. Position interpolation "
        "stretches every pair {factor:g}-fold; the NTK-aware base change stretches the fastest "
        "pair not at all and the slowest exactly {factor:g}-fold, rising smoothly between; "
        "YaRN leaves the {kept} fastest pairs alone, stretches the {interp} slowest "
        "{factor:g}-fold and ramps in between.",
        lang,
    ).format(pairs=dk // 2, dk=dk, factor=factor, n=n_train, kept=kept, interp=interp)
