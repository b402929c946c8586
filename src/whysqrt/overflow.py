"""Floating-point limits of softmax, masking, online softmax, and the classifier's softmax.

Used by two chapters:

* ``softmax-overflow``: :func:`exp_limits` (where ``exp`` overflows and underflows in a
  dtype, found by bisection over the dtype's own values), :func:`float16_scores` and
  :func:`float16_overflow_threshold` (where the float16 product QK^T itself overflows),
  :func:`bf16_softmax_shift` (how far bfloat16-rounded logits move the softmax),
  :func:`masked_softmax` (safe handling of fully masked rows),
  :func:`online_softmax_trace`, :func:`online_softmax` and :func:`online_attention` (the
  blockwise softmax of FlashAttention), :func:`online_lse_exp2` (its exp2 form and the
  log-sum-exp it keeps for the backward pass), with the figure :func:`online_softmax_figure`;
* ``classifier-softmax``: :func:`cross_entropy_grad`, :func:`saturation_gradients`,
  :func:`output_logit_variance` and :data:`OUTPUT_INITS`, with the figure
  :func:`saturation_figure`.

Every numeric function validates its input (messages start with the parameter name) and
returns finite values for finite input; the one deliberate exception is
:func:`float16_scores`, which *reports* float16 overflow and so returns ``inf`` where
half precision produces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .audit import HTML
from .i18n import check_lang, text, tr
from .numerics import round_to_bfloat16, softmax, softmax_jacobian
from .plots import COLORS, new_figure
from .tables import table as _table

__all__ = [
    "FLOAT_DTYPES",
    "exp_limits",
    "FLOAT16_INF_AT",
    "float16_scores",
    "float16_overflow_threshold",
    "float16_threshold_table",
    "BF16_SIGMAS",
    "bf16_softmax_shift",
    "bf16_table",
    "masked_softmax",
    "OnlineTrace",
    "online_softmax_trace",
    "online_softmax",
    "online_attention",
    "LOG2E",
    "online_lse_exp2",
    "online_softmax_figure",
    "describe_online_softmax_figure",
    "cross_entropy_grad",
    "saturation_gradients",
    "OUTPUT_INITS",
    "output_logit_variance",
    "saturation_figure",
    "describe_saturation_figure",
]

#: The floating-point types the chapter compares, narrowest first.
FLOAT_DTYPES = ("float16", "float32", "float64")
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _float_dtype(name: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be a numpy floating dtype, got {dtype!r}") from exc
    if dt.name not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be one of {FLOAT_DTYPES}, got {dt.name}")
    return dt


# -- where exp overflows ---------------------------------------------------------
def _bisect_bits(dt: np.dtype, ok) -> float:
    """Largest non-negative value x of dtype ``dt`` with ``ok(x)`` true (``ok`` monotone)."""
    uint = _UINT[dt.itemsize]
    lo, hi = 0, int(np.array(np.finfo(dt).max, dtype=dt).view(uint))  # ok(lo) holds
    while hi - lo > 1:
        mid = (lo + hi) // 2
        x = np.array(mid, dtype=uint).view(dt)
        lo, hi = (mid, hi) if ok(x) else (lo, mid)
    return np.array(lo, dtype=uint).view(dt)


def exp_limits(dtype) -> dict:
    """Where ``np.exp`` stops being finite and non-zero *in* ``dtype``.

    Returns a dict of Python floats: ``overflow`` (the largest x of that dtype whose
    exp is finite), ``underflow`` (the most negative x whose exp is still > 0,
    subnormals included), ``normal`` (the most negative x whose exp is still a normal
    number, >= finfo.tiny), and ``max``/``tiny`` from ``np.finfo``. Found by bisection
    over the dtype's bit patterns, so every value is computed, not quoted.
    Used by ``softmax-overflow``.
    """
    dt = _float_dtype("dtype", dtype)
    tiny = np.finfo(dt).tiny
    with np.errstate(over="ignore", under="ignore"):
        over = _bisect_bits(dt, lambda x: bool(np.isfinite(np.exp(x))))
        under = _bisect_bits(dt, lambda x: bool(np.exp(-x) > 0))
        normal = _bisect_bits(dt, lambda x: bool(np.exp(-x) >= tiny))
    return {
        "overflow": float(over),
        "underflow": -float(under),
        "normal": -float(normal),
        "max": float(np.finfo(dt).max),
        "tiny": float(tiny),
    }


# -- where the float16 product QK^T overflows ---------------------------------------------
#: The smallest magnitude that rounds to inf in float16 (halfway between 65504 and 2**16).
FLOAT16_INF_AT = 65520.0
ACCUMULATORS = ("float32", "float16")


def _to_float16(name: str, x) -> np.ndarray:
    a = v.finite_array(name, x, ndim_min=2)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d_k), got shape {a.shape}")
    if np.abs(a).max() >= FLOAT16_INF_AT:
        raise ValueError(f"{name} must be representable in float16 (|{name}| < 65520)")
    return a.astype(np.float16)


def float16_scores(q, k, *, scale_first: bool = False, accumulate: str = "float32"):
    """The score matrix q k^T / sqrt(d_k) as a float16 pipeline computes it (may hold inf).

    ``q`` (n_q, d_k) and ``k`` (n_k, d_k) are rounded to float16. ``scale_first``
    multiplies q by 1/sqrt(d_k) before the product; otherwise the float16 product is
    scaled afterwards. ``accumulate="float32"`` forms every product and the running sum in
    float32 and rounds once at the end (what numpy's float16 matmul does, and a GEMM with
    a float32 accumulator and a float16 output); ``"float16"`` rounds every product and
    partial sum to float16. Used by ``softmax-overflow``.
    """
    q16, k16 = _to_float16("q", q), _to_float16("k", k)
    if q16.shape[1] != k16.shape[1]:
        raise ValueError(f"q and k must share d_k, got shapes {q16.shape} and {k16.shape}")
    if not isinstance(scale_first, (bool, np.bool_)):
        raise TypeError(f"scale_first must be True or False, got {scale_first!r}")
    if accumulate not in ACCUMULATORS:
        raise ValueError(f"accumulate must be one of {ACCUMULATORS}, got {accumulate!r}")
    s = np.float16(1.0 / np.sqrt(q16.shape[1]))
    with np.errstate(over="ignore", invalid="ignore"):
        if scale_first:
            q16 = q16 * s
        if accumulate == "float32":
            # einsum, not BLAS: small products, no thread start-up on a busy machine
            out = np.einsum("id,jd->ij", q16.astype(np.float32), k16.astype(np.float32))
            out = out.astype(np.float16)
        else:
            out = np.zeros((q16.shape[0], k16.shape[0]), dtype=np.float16)
            for j in range(q16.shape[1]):  # every product and partial sum rounded to float16
                out = out + np.multiply.outer(q16[:, j], k16[:, j])
        return out if scale_first else out * s


@lru_cache(maxsize=64)
def _unit_qk(d_k: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d_k)), rng.standard_normal((n, d_k))


def float16_overflow_threshold(
    d_k: int,
    *,
    scale_first: bool = False,
    accumulate: str = "float32",
    n: int = 32,
    seed: int = 0,
) -> float:
    """Smallest component size sigma at which :func:`float16_scores` first holds inf or NaN.

    q and k are n seeded queries and n keys with i.i.d. N(0, sigma^2) components (sigma is
    their root-mean-square; |q| is about sigma * sqrt(d_k)). Bisection on log sigma to a
    relative precision of 1e-3, started from the exact-arithmetic estimate. Used by
    ``softmax-overflow``.
    """
    d_k, n = v.positive_int("d_k", d_k), v.positive_int("n", n)
    zq, zk = _unit_qk(d_k, n, seed)
    largest = np.abs(np.einsum("id,jd->ij", zq, zk)).max()
    guess = np.sqrt(FLOAT16_INF_AT / largest * (np.sqrt(d_k) if scale_first else 1.0))
    ceiling = 0.999 * FLOAT16_INF_AT / max(np.abs(zq).max(), np.abs(zk).max())

    def overflows(sigma: float) -> bool:
        out = float16_scores(sigma * zq, sigma * zk, scale_first=scale_first, accumulate=accumulate)
        return not np.isfinite(out).all()

    lo, hi = guess / 1.05, min(guess * 1.05, ceiling)
    while overflows(lo):
        lo /= 1.05
    while not overflows(hi):
        if hi >= ceiling:
            raise ValueError(f"d_k = {d_k} gives no overflow inside float16's range")
        hi = min(hi * 1.05, ceiling)
    while hi / lo > 1 + 1e-3:
        mid = np.sqrt(lo * hi)
        lo, hi = (lo, mid) if overflows(mid) else (mid, hi)
    return float(hi)


_PIPELINES = {
    "unscaled, float32 sum": (False, "float32"),
    "unscaled, float16 sum": (False, "float16"),
    "q scaled first, float32 sum": (True, "float32"),
    "q scaled first, float16 sum": (True, "float16"),
}


def float16_threshold_table(d_ks=(64, 256), n: int = 32, seed: int = 0) -> tuple:
    """Thresholds of :func:`float16_overflow_threshold` for every pipeline and d_k.

    Returns ``(values, table)``: ``values[(label, d_k)]`` is sigma, and ``table`` an
    HTML table (rows: pipelines; columns: d_k) for the chapter to paste whole.
    """
    d_ks = tuple(v.positive_int("d_ks", d) for d in d_ks)
    values = {
        (label, d): float16_overflow_threshold(d, scale_first=sf, accumulate=acc, n=n, seed=seed)
        for label, (sf, acc) in _PIPELINES.items()
        for d in d_ks
    }
    head = "<tr><th>float16 scores</th>" + "".join(f"<th>d_k = {d}</th>" for d in d_ks) + "</tr>"
    rows = "".join(
        f"<tr><td>{label}</td>"
        + "".join(f"<td>{values[(label, d)]:.1f}</td>" for d in d_ks)
        + "</tr>"
        for label in _PIPELINES
    )
    table = HTML(
        f'<table class="table"><thead>{head}</thead><tbody>{rows}</tbody></table>',
        "<float16 overflow thresholds: "
        + "; ".join(f"{lab} {values[(lab, d)]:.1f} at d_k={d}" for lab, d in values)
        + ">",
    )
    return values, table


# -- bfloat16 ----------------------------------------------------------------------
#: Logit standard deviations of :func:`bf16_softmax_shift`: O(1), and the 10 to 50 of
#: unscaled or grown logits.
BF16_SIGMAS = (1.0, 10.0, 20.0, 50.0)


def bf16_softmax_shift(
    sigmas=BF16_SIGMAS, n_keys: int = 1024, n_rows: int = 250, n_seeds: int = 8, seed: int = 0
) -> dict[str, np.ndarray]:
    """How far rounding the logits to bfloat16 moves the softmax, per logit sd sigma.

    Each row holds ``n_keys`` float32 logits sigma·z (z standard normal); its softmax is
    compared with the softmax of the same logits rounded to bfloat16
    (:func:`whysqrt.numerics.round_to_bfloat16`), both computed in float64 so that only the
    rounding of the logits differs. ``n_seeds`` independent generators
    (``default_rng([seed, r])``) draw ``n_rows`` rows each. Returns arrays over ``sigmas``:
    ``tv`` (mean total variation ½Σ|p − p'| over rows) and ``tv_se`` (standard error over
    the seeds), ``tv_median``, ``tv_q99``, and ``logit_err`` (mean over rows of the largest
    |bf16(s) − s|).
    """
    sigmas = v.finite_array("sigmas", sigmas)
    if sigmas.ndim != 1 or np.any(sigmas <= 0):
        raise ValueError("sigmas must be a 1-D array of positive numbers")
    n_keys, n_rows = v.positive_int("n_keys", n_keys), v.positive_int("n_rows", n_rows)
    n_seeds = v.positive_int("n_seeds", n_seeds)
    if n_seeds < 2:
        raise ValueError("n_seeds must be at least 2 to estimate a standard error")
    tv = np.empty((sigmas.size, n_seeds, n_rows))
    err = np.empty_like(tv)
    for r in range(n_seeds):
        z = np.random.default_rng([int(seed), r]).standard_normal((n_rows, n_keys))
        for i, sigma in enumerate(sigmas):
            s32 = (sigma * z).astype(np.float32)
            s16 = round_to_bfloat16(s32)
            p, p16 = softmax(s32.astype(np.float64)), softmax(s16.astype(np.float64))
            tv[i, r] = 0.5 * np.abs(p - p16).sum(axis=1)
            err[i, r] = np.abs(s16.astype(np.float64) - s32).max(axis=1)
    flat = tv.reshape(sigmas.size, -1)
    return {
        "sigma": sigmas,
        "tv": flat.mean(axis=1),
        "tv_se": tv.mean(axis=2).std(axis=1, ddof=1) / np.sqrt(n_seeds),
        "tv_median": np.median(flat, axis=1),
        "tv_q99": np.quantile(flat, 0.99, axis=1),
        "logit_err": err.reshape(sigmas.size, -1).mean(axis=1),
    }


def bf16_table(result: dict, n_keys: int, n_rows: int, n_seeds: int):
    """:func:`bf16_softmax_shift`'s result as a glueable table."""
    if not isinstance(result, dict) or not {"sigma", "tv", "tv_se"} <= set(result):
        raise TypeError("result must be the dict bf16_softmax_shift returns")
    rows = [
        [
            sigma,
            result["logit_err"][i],
            (result["tv"][i], result["tv_se"][i]),
            result["tv_median"][i],
            result["tv_q99"][i],
        ]
        for i, sigma in enumerate(result["sigma"])
    ]
    return _table(
        ["logit sd σ", "largest |logit error|", "mean TV ± s.e.", "median TV", "99th pct TV"],
        rows,
        caption=text(
            "Softmax over {n_keys:,} keys, float32 logits against the same logits rounded to "
            "bfloat16: total variation (TV) ½Σ|p − p′|; {n_seeds} seeds × {n_rows} rows, "
            "standard error over the seeds.",
            n_keys=n_keys,
            n_seeds=n_seeds,
            n_rows=n_rows,
        ),
        fmt=["g", ".3f", ".2e", ".1e", ".3f"],
    )


# -- masking -----------------------------------------------------------------------
def masked_softmax(scores, mask, axis: int = -1):
    """Softmax over the allowed entries (``mask`` True) with fully masked rows set to 0.

    Returns ``(weights, empty)``: ``weights`` has the shape of ``scores``, is 0 at
    masked entries and sums to 1 over every row that has an allowed entry; rows with
    no allowed entry are all 0 and flagged in the boolean ``empty`` (shape of the row
    axis removed). This is the safe convention of blockwise kernels; the naive
    ``-inf`` fill returns NaN there instead, and ``ws.scaled_dot_product_attention``
    raises. Used by ``softmax-overflow``.
    """
    s = v.finite_array("scores", scores)
    axis = v.axis_index("axis", axis, s.ndim)
    m = v.bool_mask("mask", mask, s.shape)
    empty = ~m.any(axis=axis, keepdims=True)
    row_max = np.max(np.where(m, s, -np.inf), axis=axis, keepdims=True)
    row_max = np.where(empty, 0.0, row_max)
    e = np.where(m, np.exp(np.where(m, s, row_max) - row_max), 0.0)
    total = e.sum(axis=axis, keepdims=True)
    weights = e / np.where(empty, 1.0, total)
    return weights, np.squeeze(empty, axis=axis)


# -- online softmax ------------------------------------------------------------------
@dataclass(frozen=True)
class OnlineTrace:
    """State of the online softmax after each block: running max ``m`` and normaliser ``l``.

    ``l[b] = sum over blocks 0..b of exp(x_j - m[b])``; ``bounds[b]`` is the block's
    (start, stop). ``logsumexp`` is ``m[-1] + log(l[-1])``.
    """

    block_size: int
    bounds: tuple
    m: np.ndarray
    l: np.ndarray  # noqa: E741 - the paper's name

    @property
    def logsumexp(self) -> float:
        return float(self.m[-1] + np.log(self.l[-1]))


def _block_size(block_size, n: int) -> int:
    b = v.positive_int("block_size", block_size)
    return min(b, n)


def online_softmax_trace(x, block_size: int) -> OnlineTrace:
    """One pass over the 1-D logits ``x`` in blocks (Milakov & Gimelshein 2018)."""
    x = v.finite_array("x", x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    b = _block_size(block_size, x.size)
    m, l_ = -np.inf, 0.0  # running maximum and running sum of exp(x_j - m)
    ms, ls, bounds = [], [], []
    for start in range(0, x.size, b):
        block = x[start : start + b]
        m_new = max(m, float(block.max()))
        l_ = l_ * np.exp(m - m_new) + float(np.exp(block - m_new).sum())  # rescale, then add
        m = m_new
        ms.append(m)
        ls.append(l_)
        bounds.append((start, start + block.size))
    return OnlineTrace(b, tuple(bounds), np.array(ms), np.array(ls))


def online_softmax(x, block_size: int) -> np.ndarray:
    """softmax(x) for 1-D ``x`` from the online statistics: ``exp(x - m) / l``."""
    t = online_softmax_trace(x, block_size)
    return np.exp(np.asarray(x, dtype=float) - t.m[-1]) / t.l[-1]


#: log₂ e: FlashAttention folds it into the softmax scale and calls exp2.
LOG2E = 1.0 / np.log(2.0)


def online_lse_exp2(x, block_size: int, scale: float = 1.0) -> tuple[float, np.ndarray]:
    """One row's online softmax in FlashAttention's form: (lse, p recomputed from lse).

    ``x`` holds raw scores q·k_j (``-inf`` for masked keys); the running maximum m is taken
    over the raw scores and the scale is folded into the base-2 exponent:
    e^{scale(x − m)} = 2^{(scale·log₂e)·x − (scale·log₂e)·m}. After the last block the row
    keeps one number, lse = scale·m + log ℓ = log Σ e^{scale·x_j}; the backward pass
    recomputes p_j = 2^{(scale·log₂e)·x_j − lse·log₂e} from it instead of storing p. A row
    with every key masked (m = −inf) uses 0 in place of m, so ℓ = 0, lse = +inf and p = 0
    instead of NaN.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0 or np.any(np.isnan(x)) or np.any(x == np.inf):
        raise ValueError("x must be a non-empty 1-D array of finite scores or -inf")
    b = _block_size(block_size, x.size)
    scale = v.finite_float("scale", scale, positive=True)
    scale_log2 = scale * LOG2E
    m, ell = -np.inf, 0.0
    for start in range(0, x.size, b):
        block = x[start : start + b]
        m_new = max(m, float(block.max()))
        m_used = 0.0 if m_new == -np.inf else m_new  # the kernel's guard against -inf - -inf
        rescale = 0.0 if m == -np.inf else np.exp2((m - m_used) * scale_log2)
        ell = ell * rescale + float(np.exp2(block * scale_log2 - m_used * scale_log2).sum())
        m = m_new
    lse = np.inf if ell == 0.0 else scale * m + np.log(ell)
    return float(lse), np.exp2(x * scale_log2 - lse * LOG2E)


def online_attention(q, k, v_, block_size: int, scale=None) -> np.ndarray:
    """softmax(q k^T * scale) v computed over key blocks with a rescaled accumulator.

    ``q`` (n_q, d_k), ``k`` (n_k, d_k), ``v_`` (n_k, d_v). Per block the running max
    ``m``, normaliser ``l`` and unnormalised output ``acc`` are rescaled by
    ``exp(m_old - m_new)``, as in FlashAttention (Dao et al. 2022); the n_q x n_k
    score matrix is never held in memory at once. Used by ``softmax-overflow``.
    """
    q = v.finite_array("q", q, ndim_min=2)
    k = v.finite_array("k", k, ndim_min=2)
    val = v.finite_array("v", v_, ndim_min=2)
    if q.ndim != 2 or k.ndim != 2 or val.ndim != 2:
        raise ValueError(f"q, k and v must be 2-D, got {q.shape}, {k.shape}, {val.shape}")
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"q and k must share their last axis d_k, got {q.shape} and {k.shape}")
    if val.shape[0] != k.shape[0]:
        raise ValueError(f"v must have one row per key: k has {k.shape[0]}, v shape {val.shape}")
    s = (
        1.0 / np.sqrt(q.shape[1])
        if scale is None
        else v.finite_float("scale", scale, positive=True)
    )
    b = _block_size(block_size, k.shape[0])
    m = np.full((q.shape[0], 1), -np.inf)
    l_ = np.zeros((q.shape[0], 1))
    acc = np.zeros((q.shape[0], val.shape[1]))
    for start in range(0, k.shape[0], b):
        scores = (q @ k[start : start + b].T) * s
        m_new = np.maximum(m, scores.max(axis=1, keepdims=True))
        alpha, p = np.exp(m - m_new), np.exp(scores - m_new)
        l_ = l_ * alpha + p.sum(axis=1, keepdims=True)
        acc = acc * alpha + p @ val[start : start + b]
        m = m_new
    return acc / l_


def _demo_logits(n: int, seed: int) -> np.ndarray:
    """Logits whose maximum arrives late, so the running max changes several times."""
    rng = np.random.default_rng(seed)
    return np.linspace(-2.0, 4.0, n) + 1.5 * rng.standard_normal(n)


def _online_step(step, n: int, block_size: int, seed: int):
    x = _demo_logits(v.positive_int("n", n), seed)
    t = online_softmax_trace(x, block_size)
    step = v.positive_int("step", step)
    if step > len(t.bounds):
        raise ValueError(f"step must be at most the number of blocks, {len(t.bounds)}, got {step}")
    factors = np.exp(np.concatenate([[-np.inf], t.m[:-1]]) - t.m)  # e^(m_old - m_new)
    return x, t, step, factors


def _direct_seen(x: np.ndarray, done: int) -> tuple[float, float]:
    """Maximum and sum of exp(x_j - maximum) over the first ``done`` logits (two passes)."""
    seen = x[:done]
    return float(seen.max()), float(np.exp(seen - seen.max()).sum())


def online_softmax_figure(
    step: int = 1, n: int = 24, block_size: int = 4, seed: int = 0, lang: str = "en"
) -> Figure:
    """The online softmax after ``step`` blocks: logits and running max (left), the state table (right).

    The table lists, per block processed so far, the running max m, the factor
    e^(m_old - m_new) that rescales the old sum, and the running sum l; its last row
    is the direct computation over the logits seen so far (their maximum and the sum of
    exp(x_j - that maximum)), which l equals at every step. ``lang`` ("en" or "zh") is the
    language of its words. Used by ``softmax-overflow``.
    """
    check_lang(lang)
    # mathtext has no Chinese glyphs: the Chinese labels write the symbols in Unicode
    if lang == "en":
        sym = {"x_j": "$x_j$", "m": "$m$", "ell": "$\\ell$"}
    else:
        sym = {"x_j": "xⱼ", "m": "m", "ell": "ℓ"}
    x, t, step, factors = _online_step(step, n, block_size, seed)
    done = t.bounds[step - 1][1]
    fig, (ax, ax_t) = new_figure(2)
    colors = [COLORS["scaled"] if j < done else "0.85" for j in range(x.size)]
    ax.bar(np.arange(x.size), x, color=colors, width=0.8)
    for i, (a, b) in enumerate(t.bounds[:step]):
        ax.hlines(t.m[i], a - 0.5, b - 0.5, color=COLORS["unscaled"], lw=2.5)
    for a, _ in t.bounds[1:]:
        ax.axvline(a - 0.5, color="0.6", lw=0.7)
    ax.set_ylim(min(x.min(), 0) - 0.5, x.max() + 1.0)
    ax.set_xlabel(tr("position j (grey lines: block boundaries)", lang))
    ax.set_ylabel(tr("logit {x_j}; running max {m} (red)", lang).format(**sym))
    title = tr("after block {step} of {blocks}", lang).format(step=step, blocks=len(t.bounds))
    ax.set_title(title, fontsize=10)
    rows = [
        [str(i + 1), f"{t.m[i]:.3f}", "—" if i == 0 else f"{factors[i]:.3f}", f"{t.l[i]:.3f}"]
        for i in range(step)
    ]
    rows += [["", "", "", ""]] * (len(t.bounds) - step)
    m_seen, direct = _direct_seen(x, done)
    rows.append(
        [tr("direct, first {done}", lang).format(done=done), f"{m_seen:.3f}", "", f"{direct:.3f}"]
    )
    ax_t.axis("off")
    table = ax_t.table(
        cellText=rows,
        colLabels=[
            tr("block", lang),
            tr("max {m}", lang).format(**sym),
            "$e^{m_{old}-m_{new}}$",
            tr("sum {ell}", lang).format(**sym),
        ],
        colWidths=[0.34, 0.22, 0.24, 0.2],
        loc="center",
        cellLoc="center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.5)
    for i in range(1, step):
        if factors[i] < 1:  # the maximum grew: the old sum was rescaled
            table[i + 1, 2].set_facecolor("#fde0cf")
    title = tr("shaded: {m} grew, so the old {ell} was rescaled", lang).format(**sym)
    ax_t.set_title(title, fontsize=10)
    return fig


def describe_online_softmax_figure(
    step: int = 1, n: int = 24, block_size: int = 4, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`online_softmax_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    x, t, step, factors = _online_step(step, n, block_size, seed)
    i, nb = step - 1, len(t.bounds)
    if step == 1:
        change = tr("the first block sets the running maximum", lang)
    elif factors[i] < 1:
        change = tr("the maximum grew, so the old sum was multiplied by {factor:.3f}", lang)
    else:
        change = tr("the maximum did not change, so the rescale factor is 1", lang)
    done = t.bounds[i][1]
    _, direct = _direct_seen(x, done)
    if step == nb:
        end = tr(
            "; this was the last block, and ℓ equals the direct sum over all {n} logits, "
            "{direct:.3f}",
            lang,
        )
    else:
        end = tr(
            "; the direct sum over the {done} logits seen so far, relative to their maximum, "
            "is also {direct:.3f}",
            lang,
        )
    return tr(
        "Online softmax of {n} logits in blocks of {block_size}, after block {step} of "
        "{blocks}: {change}; running maximum m = {m:.3f}, running sum ℓ = {ell:.3f}{end}.",
        lang,
    ).format(
        n=x.size,
        block_size=t.block_size,
        step=step,
        blocks=nb,
        change=change.format(factor=factors[i]),
        m=t.m[i],
        ell=t.l[i],
        end=end.format(n=x.size, done=done, direct=direct),
    )


# -- the classifier's softmax ---------------------------------------------------------
def cross_entropy_grad(logits, target: int) -> np.ndarray:
    """Gradient of -log softmax(logits)[target] with respect to the 1-D ``logits``: p - y."""
    z = v.finite_array("logits", logits)
    if z.ndim != 1:
        raise ValueError(f"logits must be 1-D, got shape {z.shape}")
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be an integer class index, got {target!r}")
    if not 0 <= target < z.size:
        raise ValueError(f"target must lie in [0, {z.size - 1}], got {target}")
    g = softmax(z)
    g[target] -= 1.0
    return g


def _base_logits(n_classes: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).standard_normal(n_classes)
    return u / u.std()


def saturation_gradients(scale: float, n_classes: int = 10, seed: int = 0) -> dict:
    """Gradient sizes when the logits ``scale * u`` (u fixed, unit spread) saturate.

    Returns Python floats: ``p_max``; ``ce_wrong`` and ``ce_right``, the norm of the
    cross-entropy gradient p - y when the target is the smallest / the largest logit;
    ``jac``, the spectral norm of the softmax Jacobian diag(p) - p p^T (the factor by
    which an attention-style loss reaches the logits). Used by ``classifier-softmax``.
    """
    scale = v.finite_float("scale", scale, positive=True)
    n_classes = v.positive_int("n_classes", n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    z = scale * _base_logits(n_classes, seed)
    p = softmax(z)
    return {
        "p_max": float(p.max()),
        "ce_wrong": float(np.linalg.norm(cross_entropy_grad(z, int(np.argmin(z))))),
        "ce_right": float(np.linalg.norm(cross_entropy_grad(z, int(np.argmax(z))))),
        "jac": float(np.linalg.norm(softmax_jacobian(p), 2)),
    }


#: Initialisations of the output layer's weight rows w_c: name -> (label, weight variance as
#: a function of d_model and the number of classes).
OUTPUT_INITS = {
    "unit": ("N(0, 1)", lambda d, c: 1.0),
    "bert": ("N(0, 0.02²) (BERT, GPT-2)", lambda d, c: 0.02**2),
    "lecun": ("LeCun / tied embedding N(0, 1/d)", lambda d, c: 1.0 / d),
    "glorot": ("Glorot: 2/(d + C)", lambda d, c: 2.0 / (d + c)),
}


def output_logit_variance(
    d_model: int, n_classes: int, init: str, n: int = 2000, seed: int = 0
) -> dict:
    """Variance of the output logits h·w_c at initialisation, exact and by simulation.

    h has i.i.d. N(0, 1) components (a LayerNorm output), w_c i.i.d. N(0, s²) with s²
    from :data:`OUTPUT_INITS`; the exact variance is d_model * s². Returns floats
    ``exact``, ``sample`` and its standard error ``se``. Used by ``classifier-softmax``.
    """
    d = v.positive_int("d_model", d_model)
    c = v.positive_int("n_classes", n_classes)
    n = v.positive_int("n", n)
    if init not in OUTPUT_INITS:
        raise ValueError(f"init must be one of {sorted(OUTPUT_INITS)}, got {init!r}")
    var_w = OUTPUT_INITS[init][1](d, c)
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, d))
    w = rng.standard_normal((d, c)) * np.sqrt(var_w)
    logits = (h @ w).ravel()
    sample = float(logits.var(ddof=1))
    # Rows share W, so the n*c logits are not independent: use the per-column variances.
    col = (h @ w).var(axis=0, ddof=1)
    return {"exact": d * var_w, "sample": sample, "se": float(col.std(ddof=1) / np.sqrt(c))}


_SCALES = np.geomspace(0.1, 100.0, 121)


@lru_cache(maxsize=16)
def _saturation_curves(n_classes: int, seed: int) -> dict:
    """:func:`saturation_gradients` over ``_SCALES`` (cached: every slider frame reuses it)."""
    curves = [saturation_gradients(float(s), n_classes, seed) for s in _SCALES]
    return {key: np.array([c[key] for c in curves]) for key in curves[0]}


def saturation_figure(
    scale: float = 1.0, correct: bool = False, n_classes: int = 10, seed: int = 0, lang: str = "en"
) -> Figure:
    """Left: p for the logits ``scale * u``; right: gradient sizes against the scale.

    The right panel shows the cross-entropy gradient norm ||p - y|| (target wrong or
    right) and the spectral norm of the softmax Jacobian, with the current scale
    marked. ``lang`` ("en" or "zh") is the language of its words. Used by
    ``classifier-softmax``.
    """
    check_lang(lang)
    if not isinstance(correct, (bool, np.bool_)):
        raise TypeError(f"correct must be True or False, got {correct!r}")
    g = saturation_gradients(scale, n_classes, seed)
    z = scale * _base_logits(n_classes, seed)
    p = softmax(z)
    target = int(np.argmax(z) if correct else np.argmin(z))
    fig, (ax_p, ax_g) = new_figure(2)
    colors = [COLORS["unscaled"] if j == target else COLORS["scaled"] for j in range(n_classes)]
    ax_p.bar(np.arange(n_classes), p, color=colors)
    ax_p.set_ylim(0, 1.05)
    ax_p.set_xlabel(tr("class (red = target)", lang))
    ax_p.set_ylabel(tr("p = softmax(logits)", lang))
    title = tr("scale {scale:g}: max p = {p_max:.3f}", lang).format(scale=scale, p_max=g["p_max"])
    ax_p.set_title(title, fontsize=10)
    # mathtext has no Chinese glyphs: the Chinese legend writes the norms in Unicode
    if lang == "en":
        ce_norm, jac_norm = r"$\|p-y\|$", r"$\|J\|_2$"
    else:
        ce_norm, jac_norm = "‖p−y‖", "‖J‖₂"
    curves = _saturation_curves(n_classes, seed)
    key = "ce_right" if correct else "ce_wrong"
    ax_g.loglog(
        _SCALES,
        np.maximum(curves[key], 1e-30),
        color=COLORS["unscaled"],
        label=tr("cross-entropy {norm}", lang).format(norm=ce_norm),
    )
    ax_g.loglog(
        _SCALES,
        np.maximum(curves["jac"], 1e-30),
        color=COLORS["scaled"],
        label=tr("softmax Jacobian {norm}", lang).format(norm=jac_norm),
    )
    ax_g.plot([scale], [max(g[key], 1e-30)], "o", color=COLORS["unscaled"])
    ax_g.plot([scale], [max(g["jac"], 1e-30)], "o", color=COLORS["scaled"])
    ax_g.set_ylim(1e-12, 3)
    ax_g.set_xlabel(tr("logit scale", lang))
    target = tr("target = largest logit", lang) if correct else tr("target = smallest logit", lang)
    ax_g.set_title(target, fontsize=10)
    ax_g.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def describe_saturation_figure(
    scale: float = 1.0, correct: bool = False, n_classes: int = 10, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`saturation_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    g = saturation_gradients(scale, n_classes, seed)
    if correct:
        template = tr(
            "Softmax of {n} logits at scale {scale:g}: largest probability {p_max:.3f}. With the "
            "target at the largest logit (a correct prediction), the cross-entropy gradient norm "
            "is {ce:.3g}, while the softmax Jacobian's norm is {jac:.3g}.",
            lang,
        )
    else:
        template = tr(
            "Softmax of {n} logits at scale {scale:g}: largest probability {p_max:.3f}. With the "
            "target at the smallest logit (wrong), the cross-entropy gradient norm is {ce:.3g}, "
            "while the softmax Jacobian's norm is {jac:.3g}.",
            lang,
        )
    ce = g["ce_right"] if correct else g["ce_wrong"]
    return template.format(n=n_classes, scale=scale, p_max=g["p_max"], ce=ce, jac=g["jac"])
