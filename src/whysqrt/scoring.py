"""Scoring functions: dot product vs additive attention, shared vs separate W_Q and W_K.

Used by two chapters:

* ``dot-vs-additive``: :func:`additive_params`, :func:`additive_scores`,
  :func:`operation_counts` (SymPy), :func:`benchmark_scores`, :func:`score_spread` and
  the figure :func:`score_spread_figure`;
* ``separate-qk``: :func:`projections`, :func:`self_scores`, :func:`diagonal_stats` and
  the figure :func:`self_attention_figure`.

Inputs are validated (messages start with the parameter name); outputs are finite.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .numerics import attention_scores, softmax
from .plots import COLORS, new_figure

__all__ = [
    "additive_params",
    "additive_scores",
    "operation_counts",
    "benchmark_scores",
    "score_spread",
    "score_spread_figure",
    "describe_score_spread_figure",
    "projections",
    "self_scores",
    "diagonal_stats",
    "self_attention_figure",
    "describe_self_attention_figure",
]


# -- additive attention ------------------------------------------------------------
def additive_params(d_k: int, d_a: int, seed: int = 0):
    """Random (W_q, W_k, v_a) for additive attention, shapes (d_k, d_a), (d_k, d_a), (d_a,).

    W entries N(0, 1/d_k) (so W^T q has unit-variance components for unit-variance q),
    v_a entries N(0, 1/d_a). Used by ``dot-vs-additive``.
    """
    d_k = v.positive_int("d_k", d_k)
    d_a = v.positive_int("d_a", d_a)
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((d_k, d_a)) / np.sqrt(d_k)
    w_k = rng.standard_normal((d_k, d_a)) / np.sqrt(d_k)
    v_a = rng.standard_normal(d_a) / np.sqrt(d_a)
    return w_q, w_k, v_a


def additive_scores(q, k, w_q, w_k, v_a) -> np.ndarray:
    """Bahdanau scores e_ij = v_a · tanh(W_q^T q_i + W_k^T k_j), shape (n_q, n_k).

    ``q`` (n_q, d_k), ``k`` (n_k, d_k), ``w_q``/``w_k`` (d_k, d_a), ``v_a`` (d_a,).
    |e_ij| <= ||v_a||_1 whatever q and k are.
    """
    q = v.finite_array("q", q, ndim_min=2)
    k = v.finite_array("k", k, ndim_min=2)
    w_q = v.finite_array("w_q", w_q, ndim_min=2)
    w_k = v.finite_array("w_k", w_k, ndim_min=2)
    v_a = v.finite_array("v_a", v_a)
    if q.ndim != 2 or k.ndim != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"q and k must be 2-D with the same d_k, got {q.shape} and {k.shape}")
    if w_q.shape != (q.shape[1], v_a.size) or w_k.shape != w_q.shape or v_a.ndim != 1:
        raise ValueError(
            f"w_q must have shape (d_k, d_a) = ({q.shape[1]}, {v_a.size}) like w_k, "
            f"got {w_q.shape} and {w_k.shape}"
        )
    hidden = np.tanh((q @ w_q)[:, None, :] + (k @ w_k)[None, :, :])
    return hidden @ v_a


def operation_counts() -> dict:
    """SymPy counts for n queries x m keys (d_k inputs, d_a additive units).

    Returns expressions ``dot_madds`` (n m d_k + n m for the scaling), ``add_madds``
    ((n + m) d_k d_a for the projections + n m d_a for v_a), ``add_adds`` (n m d_a, the
    sum inside tanh), ``add_tanh`` (n m d_a),
    ``dot_memory`` (n m) and ``add_memory`` (n m d_a, the tanh tensor when vectorised).
    Used by ``dot-vs-additive``.
    """
    import sympy as sp  # here, not at the top: SymPy takes 0.25 s to import

    n, m, d_k, d_a = sp.symbols("n m d_k d_a", positive=True, integer=True)
    return {
        "symbols": (n, m, d_k, d_a),
        "dot_madds": n * m * d_k + n * m,
        "add_madds": (n + m) * d_k * d_a + n * m * d_a,
        "add_adds": n * m * d_a,
        "add_tanh": n * m * d_a,
        "dot_memory": n * m,
        "add_memory": n * m * d_a,
    }


def benchmark_scores(n: int, m: int, d_k: int, repeats: int = 7, seed: int = 0) -> dict:
    """Median wall-clock seconds of dot-product and additive scores (d_a = d_k), numpy.

    Each is run once to warm up, then timed ``repeats`` times with ``time.perf_counter``;
    the medians are machine dependent (BLAS library, threads, load). Keep n*m*d_k small
    (about 64 x 64 x 64) so that the BLAS library does not start threads for the dot
    product: on a busy machine their start-up, not the arithmetic, dominates.
    Returns floats ``dot``, ``additive`` and ``ratio``.
    """
    n, m, d_k = v.positive_int("n", n), v.positive_int("m", m), v.positive_int("d_k", d_k)
    repeats = v.positive_int("repeats", repeats)
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n, d_k)), rng.standard_normal((m, d_k))
    params = additive_params(d_k, d_k, seed)

    def median(f):
        f()  # warm-up: first-call allocations and library set-up are not what we measure
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    dot = median(lambda: attention_scores(q, k))
    add = median(lambda: additive_scores(q, k, *params))
    return {"dot": dot, "additive": add, "ratio": add / dot}


@lru_cache(maxsize=64)
def _spread_samples(d_k: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n, d_k)), rng.standard_normal((n, d_k))
    dot = np.einsum("nd,nd->n", q, k)
    w_q, w_k, v_a = additive_params(d_k, 64, seed + 1)
    pre = q @ w_q + k @ w_k  # pre-activations, variance 2 per unit whatever d_k is
    add = np.tanh(pre) @ v_a
    return dot, add, float(np.abs(v_a).sum()), pre, v_a


def score_spread(d_k: int, n: int = 4000, seed: int = 0) -> dict:
    """Standard deviations of n scores for standard normal q, k (paired, one score each).

    Returns floats ``dot`` (unscaled q·k, about sqrt(d_k)), ``scaled`` (q·k/sqrt(d_k),
    about 1), ``additive`` (d_a = 64, W entries N(0, 1/d_k)), ``bound`` = ||v_a||_1 (the
    additive score's hard bound) and ``l2`` = ||v_a||_2; ``additive_unit``, the additive
    score's sd with the same weights times sqrt(d_k) (entries N(0, 1)); ``saturated`` and
    ``saturated_unit``, the share of tanh units with |tanh| > 0.99 under each
    initialisation. Used by ``dot-vs-additive``.
    """
    d_k, n = v.positive_int("d_k", d_k), v.positive_int("n", n)
    dot, add, bound, pre, v_a = _spread_samples(d_k, n, seed)
    unit = pre * np.sqrt(d_k)  # N(0, 1) weights: the pre-activations grow like sqrt(d_k)
    return {
        "dot": float(dot.std(ddof=1)),
        "scaled": float(dot.std(ddof=1) / np.sqrt(d_k)),
        "additive": float(add.std(ddof=1)),
        "bound": bound,
        "l2": float(np.linalg.norm(v_a)),
        "additive_unit": float((np.tanh(unit) @ v_a).std(ddof=1)),
        "saturated": float(np.mean(np.abs(np.tanh(pre)) > 0.99)),
        "saturated_unit": float(np.mean(np.abs(np.tanh(unit)) > 0.99)),
    }


def score_spread_figure(d_k: int = 64, n: int = 4000, seed: int = 0, lang: str = "en") -> Figure:
    """Left: histograms of unscaled dot, scaled dot and additive scores on one fixed axis.
    Right: the additive attention's tanh unit outputs under its 1/d_k initialisation and
    under N(0, 1) weights, with the share of saturated units (|tanh| > 0.99). ``lang``
    ("en" or "zh") is the language of its words."""
    check_lang(lang)
    d_k, n = v.positive_int("d_k", d_k), v.positive_int("n", n)
    dot, add, bound, pre, _ = _spread_samples(d_k, n, seed)
    s = score_spread(d_k, n, seed)
    fig, (ax, ax2) = new_figure(ncols=2, figsize=(9.6, 3.6))
    bins = np.linspace(-40, 40, 161)
    style = {"bins": bins, "density": True, "histtype": "stepfilled"}
    ax.hist(
        np.clip(dot, -40, 40),
        alpha=0.5,
        color=COLORS["unscaled"],
        label=tr("q·k (sd {sd:.2f})", lang).format(sd=s["dot"]),
        **style,
    )
    ax.hist(
        dot / np.sqrt(d_k),
        alpha=0.5,
        color=COLORS["scaled"],
        label=tr("q·k/√d_k (sd {sd:.2f})", lang).format(sd=s["scaled"]),
        **style,
    )
    label = tr("additive (sd {sd:.2f})", lang).format(sd=s["additive"])
    ax.hist(add, alpha=0.6, color="#009E73", label=label, **style)
    label = tr("additive bound ±{bound:.1f}", lang).format(bound=bound)
    ax.axvspan(-bound, bound, color="#009E73", alpha=0.08, label=label)
    ax.set_xlim(-40, 40)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel(tr("score", lang))
    ax.set_ylabel(tr("density", lang))
    # mathtext has no Chinese glyphs: the Chinese labels write the symbols in Unicode
    sym = {"d_k": "$d_k$", "d_a": "$d_a$"} if lang == "en" else {"d_k": "dₖ", "d_a": "dₐ"}
    title = tr("scores for standard normal q, k with {d_k_} = {d_k}", lang)
    ax.set_title(title.format(d_k_=sym["d_k"], d_k=d_k), fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    units = np.linspace(-1, 1, 41)
    for values, color, ls, label in (
        (
            np.tanh(pre).ravel(),
            "#009E73",
            "-",
            tr("entries N(0, 1/d_k): {share:.0%} saturated", lang).format(share=s["saturated"]),
        ),
        (
            np.tanh(pre * np.sqrt(d_k)).ravel(),
            "0.3",
            "--",
            tr("entries N(0, 1): {share:.0%} saturated", lang).format(share=s["saturated_unit"]),
        ),
    ):
        ax2.hist(
            values, bins=units, density=True, histtype="step", lw=2, ls=ls, color=color, label=label
        )
    ax2.set_xlim(-1.05, 1.05)
    ax2.set_ylim(0, 12)
    xlabel = tr("tanh unit output (additive attention, {d_a_} = 64)", lang)
    ax2.set_xlabel(xlabel.format(d_a_=sym["d_a"]))
    ax2.set_title(tr("saturated units sit at ±1 and pass no gradient", lang), fontsize=10)
    ax2.legend(fontsize=8, frameon=False, loc="upper center")
    return fig


def describe_score_spread_figure(
    d_k: int = 64, n: int = 4000, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`score_spread_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    s = score_spread(d_k, n, seed)
    return tr(
        "Left, histograms of {n:,} scores at d_k = {d_k}: the unscaled dot product has standard "
        "deviation {dot:.2f}, the scaled one {scaled:.2f}, and the additive score "
        "{additive:.2f}, inside its bound of ±{bound:.1f}. Right, the additive "
        "attention's tanh outputs: {saturated:.0%} of units saturated with 1/d_k weights, "
        "{saturated_unit:.0%} with N(0, 1) weights.",
        lang,
    ).format(n=n, d_k=d_k, **s)


# -- shared vs separate projections --------------------------------------------------
def projections(d_model: int, d_k: int, shared: bool, seed=0):
    """(W_Q, W_K), each (d_model, d_k) with N(0, 1/d_model) entries; W_K is W_Q if ``shared``.

    For inputs with unit-variance components, q = x W_Q then has unit-variance
    components. ``seed`` is anything ``np.random.default_rng`` accepts. Used by ``separate-qk``.
    """
    d_model, d_k = v.positive_int("d_model", d_model), v.positive_int("d_k", d_k)
    if not isinstance(shared, (bool, np.bool_)):
        raise TypeError(f"shared must be True or False, got {shared!r}")
    rng = np.random.default_rng(seed)
    w_q = rng.standard_normal((d_model, d_k)) / np.sqrt(d_model)
    w_k = w_q if shared else rng.standard_normal((d_model, d_k)) / np.sqrt(d_model)
    return w_q, w_k


def self_scores(x, w_q, w_k, scale=None) -> np.ndarray:
    """Self-attention logits (x W_Q)(x W_K)^T * scale for tokens ``x`` (n, d_model)."""
    x = v.finite_array("x", x, ndim_min=2)
    w_q = v.finite_array("w_q", w_q, ndim_min=2)
    w_k = v.finite_array("w_k", w_k, ndim_min=2)
    if x.ndim != 2 or w_q.shape != w_k.shape or w_q.shape[0] != x.shape[1]:
        raise ValueError(
            f"x must be (n, d_model) and w_q, w_k (d_model, d_k), got {x.shape}, "
            f"{w_q.shape}, {w_k.shape}"
        )
    return attention_scores(x @ w_q, x @ w_k, scale=scale)


def diagonal_stats(
    n: int, d_model: int, d_k: int, shared: bool, trials: int = 20, seed: int = 0
) -> dict:
    """How strongly tokens prefer themselves: ``trials`` random sequences of n tokens.

    Tokens are i.i.d. N(0, I_{d_model}); a fresh (W_Q, W_K) per trial. Returns floats
    ``argmax_diag`` (share of rows whose largest logit is the diagonal), ``diag_mean``,
    ``off_mean`` and ``off_sd`` of the unscaled logits, ``diag_weight`` (mean softmax
    weight a token puts on itself, scaled by 1/sqrt(d_k)) and ``asymmetry`` (max
    |S - S^T| / max |S|). Used by ``separate-qk``.
    """
    n, trials = v.positive_int("n", n), v.positive_int("trials", trials)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    ws = [projections(d_model, d_k, shared, seed=[seed, t, 0]) for t in range(trials)]
    x = np.stack(
        [np.random.default_rng([seed, t, 1]).standard_normal((n, d_model)) for t in range(trials)]
    )  # independent streams for weights and tokens
    # einsum (not BLAS): many small products, no thread start-up cost on a busy machine
    q = np.einsum("tnd,tdk->tnk", x, np.stack([w[0] for w in ws]))
    k = q if shared else np.einsum("tnd,tdk->tnk", x, np.stack([w[1] for w in ws]))
    s = np.einsum("tik,tjk->tij", q, k)
    eye = np.eye(n, dtype=bool)
    diag, off = s[:, eye], s[:, ~eye]
    weights = softmax(s / np.sqrt(d_k), axis=-1)
    asym = np.abs(s - np.swapaxes(s, 1, 2)).max(axis=(1, 2)) / np.abs(s).max(axis=(1, 2))
    return {
        "argmax_diag": float(np.mean(np.argmax(s, axis=2) == np.arange(n))),
        "diag_mean": float(diag.mean()),
        "off_mean": float(off.mean()),
        "off_sd": float(off.std(ddof=1)),
        "diag_weight": float(weights[:, eye].mean()),
        "asymmetry": float(asym.max()),
    }


def self_attention_figure(
    d_k: int = 64,
    shared: bool = True,
    n: int = 12,
    d_model: int = 256,
    seed: int = 0,
    lang: str = "en",
) -> Figure:
    """Heatmap of softmax((xW_Q)(xW_K)^T / sqrt(d_k)) for n random tokens (rows = queries).

    ``lang`` ("en" or "zh") is the language of its words."""
    check_lang(lang)
    n = v.positive_int("n", n)
    w_q, w_k = projections(d_model, d_k, shared, seed=[seed, 0])
    x = np.random.default_rng([seed, 1]).standard_normal((n, d_model))
    s = self_scores(x, w_q, w_k)
    a = softmax(s)
    fig, (ax,) = new_figure(figsize=(6.4, 3.9))
    im = ax.imshow(a, vmin=0, vmax=1, cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.85, label=tr("attention weight", lang))
    hits = int(np.sum(np.argmax(s, axis=1) == np.arange(n)))
    ax.set_xlabel(tr("key j", lang))
    ax.set_ylabel(tr("query i", lang))
    mode = tr("shared W (q = k)", lang) if shared else tr("separate W_Q, W_K", lang)
    title = tr(
        "{mode}, {d_k_} = {d_k}: diagonal is the row max in {hits}/{n} rows\n"
        "mean self-weight {weight:.2f}",
        lang,
    )
    d_k_ = "$d_k$" if lang == "en" else "dₖ"  # mathtext has no Chinese glyphs
    title = title.format(mode=mode, d_k_=d_k_, d_k=d_k, hits=hits, n=n, weight=np.diag(a).mean())
    ax.set_title(title, fontsize=10)
    return fig


def describe_self_attention_figure(
    d_k: int = 64,
    shared: bool = True,
    n: int = 12,
    d_model: int = 256,
    seed: int = 0,
    lang: str = "en",
) -> str:
    """Alt text for :func:`self_attention_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    w_q, w_k = projections(d_model, d_k, shared, seed=[seed, 0])
    x = np.random.default_rng([seed, 1]).standard_normal((n, d_model))
    s = self_scores(x, w_q, w_k)
    a = softmax(s)
    hits = int(np.sum(np.argmax(s, axis=1) == np.arange(n)))
    if shared:
        template = tr(
            "{n} by {n} attention matrix with one shared projection at d_k = {d_k}: the diagonal "
            "is the largest entry in {hits} of {n} rows and the mean weight a token gives itself "
            "is {weight:.2f}.",
            lang,
        )
    else:
        template = tr(
            "{n} by {n} attention matrix with separate projections at d_k = {d_k}: the diagonal "
            "is the largest entry in {hits} of {n} rows and the mean weight a token gives itself "
            "is {weight:.2f}.",
            lang,
        )
    return template.format(n=n, d_k=d_k, hits=hits, weight=np.diag(a).mean())
