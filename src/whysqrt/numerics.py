"""Numerical building blocks of scaled dot-product attention (numpy only).

Every function validates its input (a ``ValueError`` or ``TypeError`` that names
the parameter) and never returns NaN or inf for finite input, except
:func:`round_to_bfloat16` for values beyond the bfloat16 range (as hardware does).

Used by: ``variance-proof`` (scores, dot-product samples and moments), by every
later chapter that needs a stable softmax, and by ``softmax-overflow``
(:func:`round_to_bfloat16`, numpy having no bfloat16 type).
"""

from __future__ import annotations

import numpy as np

from . import _validate as check

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "entropy",
    "softmax_jacobian",
    "attention_scores",
    "scaled_dot_product_attention",
    "sample_qk",
    "dot_product_samples",
    "product_moments",
    "round_to_bfloat16",
]


def logsumexp(x, axis: int = -1) -> np.ndarray:
    """log(sum(exp(x))) along ``axis``, computed without overflow.

    The maximum is subtracted first, so ``logsumexp([1000, 1000]) == 1000 + log 2``.
    """
    x = check.finite_array("x", x)
    axis = check.axis_index("axis", axis, x.ndim)
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """log softmax(x) along ``axis``; finite for every finite input."""
    x = check.finite_array("x", x)
    axis = check.axis_index("axis", axis, x.ndim)
    return x - np.expand_dims(logsumexp(x, axis=axis), axis)


def softmax(x, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax of ``x / temperature`` along ``axis``.

    Subtracting the row maximum before ``exp`` leaves the result unchanged
    (softmax is shift invariant) and keeps every exponent <= 0, so nothing
    overflows. Used in every chapter.
    """
    x = check.finite_array("x", x)
    axis = check.axis_index("axis", axis, x.ndim)
    temperature = check.finite_float("temperature", temperature, positive=True)
    z = x / temperature
    if not np.all(np.isfinite(z)):
        raise ValueError("temperature is so small that x / temperature overflows")
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def entropy(p, axis: int = -1) -> np.ndarray:
    """Shannon entropy (natural log) of the probability vectors in ``p``.

    ``p`` must be non-negative and sum to 1 along ``axis`` (within 1e-6).
    Terms with p = 0 contribute 0, the limit of p log p.
    """
    p = check.finite_array("p", p)
    axis = check.axis_index("axis", axis, p.ndim)
    if np.any(p < 0):
        raise ValueError("p must be non-negative")
    if not np.allclose(np.sum(p, axis=axis), 1.0, atol=1e-6):
        raise ValueError("p must sum to 1 along axis")
    logp = np.log(np.where(p > 0, p, 1.0))
    return -np.sum(p * logp, axis=axis)


def softmax_jacobian(p) -> np.ndarray:
    """The Jacobian d softmax / d logits = diag(p) - p p^T for one probability vector."""
    p = check.finite_array("p", p)
    if p.ndim != 1:
        raise ValueError(f"p must be a 1-D probability vector, got shape {p.shape}")
    return np.diag(p) - np.outer(p, p)


def _scale_factor(d_k: int, scale) -> float:
    if scale is None:
        return 1.0 / np.sqrt(d_k)
    return check.finite_float("scale", scale, positive=True)


def attention_scores(q, k, scale=None) -> np.ndarray:
    """Attention logits ``q @ k^T * scale`` for batched queries and keys.

    ``q`` has shape (..., n_q, d_k) and ``k`` shape (..., n_k, d_k) with the same
    last axis; ``scale`` defaults to 1/sqrt(d_k), the Transformer's choice
    (pass ``scale=1.0`` for raw dot products). Returns shape (..., n_q, n_k).
    Used by ``variance-proof``.
    """
    q = check.finite_array("q", q, ndim_min=2)
    k = check.finite_array("k", k, ndim_min=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share their last axis d_k, got q {q.shape} and k {k.shape}")
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except ValueError as exc:
        raise ValueError(f"q and k batch axes do not broadcast: q {q.shape}, k {k.shape}") from exc
    s = _scale_factor(q.shape[-1], scale)
    return (q @ np.swapaxes(k, -1, -2)) * s


def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    """softmax(q k^T / sqrt(d_k)) v, returning ``(output, weights)``.

    ``mask`` (broadcastable to (..., n_q, n_k), ``True`` = may attend) removes keys; a
    row whose keys are all masked raises ``ValueError`` instead of silently giving NaN.
    """
    scores = attention_scores(q, k, scale=scale)  # q k^T / sqrt(d_k), shape (..., n_q, n_k)
    v = check.finite_array("v", v, ndim_min=2)
    if v.shape[-2] != np.shape(k)[-2]:
        raise ValueError(f"v must have one row per key: k has {np.shape(k)[-2]} keys, v {v.shape}")
    if mask is not None:
        mask = check.bool_mask("mask", mask, scores.shape)
        if not np.all(mask.any(axis=-1)):
            raise ValueError("mask leaves a query with no key to attend to")
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))  # every exponent <= 0
    weights /= weights.sum(axis=-1, keepdims=True)  # softmax over the keys
    return weights @ v, weights


def _qk_distribution(mu_q, mu_k, sigma_q, sigma_k, rho) -> tuple[float, ...]:
    """Validated (mu_q, mu_k, sigma_q, sigma_k, rho) of one coordinate pair (q_i, k_i)."""
    return (
        check.finite_float("mu_q", mu_q),
        check.finite_float("mu_k", mu_k),
        check.finite_float("sigma_q", sigma_q, positive=True),
        check.finite_float("sigma_k", sigma_k, positive=True),
        check.in_range("rho", rho, -1.0, 1.0),
    )


def sample_qk(
    d_k: int,
    n: int,
    seed: int = 0,
    *,
    mu_q: float = 0.0,
    mu_k: float = 0.0,
    sigma_q: float = 1.0,
    sigma_k: float = 1.0,
    rho: float = 0.0,
):
    """Draw ``n`` pairs of vectors (q, k), each of shape (n, d_k), from a seeded generator.

    Components are i.i.d. across the d_k coordinates; within a coordinate q_i and
    k_i are jointly normal with means ``mu_q``, ``mu_k``, standard deviations
    ``sigma_q``, ``sigma_k`` and correlation ``rho`` (``rho=1`` with equal
    parameters gives k = q). Used by ``variance-proof``.
    """
    d_k = check.positive_int("d_k", d_k)
    n = check.positive_int("n", n)
    mu_q, mu_k, sigma_q, sigma_k, rho = _qk_distribution(mu_q, mu_k, sigma_q, sigma_k, rho)
    rng = np.random.default_rng(seed)
    z1 = rng.standard_normal((n, d_k))
    z2 = rng.standard_normal((n, d_k))
    q = mu_q + sigma_q * z1
    k = mu_k + sigma_k * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)
    return q, k


def dot_product_samples(
    d_k: int, n: int, seed: int = 0, scaled: bool = False, **dist
) -> np.ndarray:
    """``n`` samples of q·k (divided by sqrt(d_k) if ``scaled``) for vectors from :func:`sample_qk`."""
    q, k = sample_qk(d_k, n, seed, **dist)
    dots = np.einsum("nd,nd->n", q, k)
    return dots / np.sqrt(d_k) if scaled else dots


def product_moments(
    d_k: int,
    *,
    mu_q: float = 0.0,
    mu_k: float = 0.0,
    sigma_q: float = 1.0,
    sigma_k: float = 1.0,
    rho: float = 0.0,
) -> tuple[float, float]:
    """Exact mean and variance of q·k for the distribution of :func:`sample_qk`.

    Per coordinate (jointly normal, Isserlis' theorem):
    E[q_i k_i] = mu_q mu_k + rho s_q s_k and
    Var[q_i k_i] = s_q^2 s_k^2 (1 + rho^2) + mu_q^2 s_k^2 + mu_k^2 s_q^2 + 2 rho mu_q mu_k s_q s_k;
    the d_k coordinates are independent, so both add up d_k times.
    The ``variance-proof`` notebook derives the same formula with SymPy.
    """
    d_k = check.positive_int("d_k", d_k)
    mu_q, mu_k, s_q, s_k, rho = _qk_distribution(mu_q, mu_k, sigma_q, sigma_k, rho)
    mean = mu_q * mu_k + rho * s_q * s_k
    var = (
        s_q**2 * s_k**2 * (1 + rho**2)
        + mu_q**2 * s_k**2
        + mu_k**2 * s_q**2
        + 2 * rho * mu_q * mu_k * s_q * s_k
    )
    return d_k * mean, d_k * var


def round_to_bfloat16(x) -> np.ndarray:
    """``x`` rounded to bfloat16, returned as float32 values.

    bfloat16 is the upper 16 bits of a float32: the same 8-bit exponent (so the same
    range) and 8 significant bits (7 stored). The value is first rounded to float32, then
    its lower 16 bits are rounded away to nearest, ties to even (the rule of IEEE 754 and
    of hardware conversions). Values beyond the bfloat16 range become +-inf.
    """
    x = check.finite_array("x", x, ndim_min=0, allow_empty=True)
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as in hardware
        bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    lsb = (bits >> np.uint64(16)) & np.uint64(1)  # the last bit kept: ties go to even
    rounded = (bits + np.uint64(0x7FFF) + lsb) & np.uint64(0xFFFF0000)
    return rounded.astype(np.uint32).view(np.float32)
