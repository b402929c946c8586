"""Modern practice, with numbers: log n scaling, QK-norm, soft-capping, Gemma's scale.

Used by the ``modern-practice`` chapter.

* :func:`log_n_multiplier`, :func:`noise_entropy`, :func:`entropy_approx` and
  :func:`sigma_for_entropy`: the entropy of a softmax over n keys and Su Jianlin's
  ``log n / log 512`` factor (:func:`log_n_figure`);
* :func:`retrieval_scores`, :func:`length_extrapolation`: a scale tuned at one
  length and evaluated at longer ones, with and without the log n factor
  (:func:`extrapolation_figure`);
* :func:`qk_logits`, :func:`qk_loss_and_grads`, :func:`qk_train`: a tiny Adam run of
  one attention layer, with and without normalised queries and keys
  (:func:`qk_norm_figure`);
* :func:`softcap`, :func:`softcap_tv`: Gemma 2's logit soft-capping (:func:`softcap_figure`);
  :func:`query_scale_latex`: Gemma's ``query_pre_attn_scalar``;
* :func:`sink_weight`: the share of a row that gpt-oss's learned sink logit takes.

PyTorch's default initialisations and the logit variance they give live in
:mod:`whysqrt.initscale` (one formula for every page).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .plots import COLORS, new_figure, note
from .training import adam_update

__all__ = [
    "sink_weight",
    "log_n_multiplier",
    "noise_entropy",
    "entropy_approx",
    "sigma_for_entropy",
    "solve_sigma",
    "log_n_figure",
    "describe_log_n_figure",
    "retrieval_scores",
    "Extrapolation",
    "length_extrapolation",
    "extrapolation_figure",
    "extrapolation_row",
    "describe_extrapolation_row",
    "describe_extrapolation_figure",
    "qk_logits",
    "qk_loss_and_grads",
    "QKRun",
    "qk_train",
    "QK_VARIANTS",
    "qk_norm_figure",
    "qk_summary",
    "describe_qk_norm_figure",
    "qk_lr_figure",
    "describe_qk_lr_figure",
    "softcap",
    "softcap_slope",
    "softcap_tv",
    "softcap_figure",
    "describe_softcap_figure",
    "query_scale_latex",
]

METHOD_COLORS = {"fixed": COLORS["unscaled"], "log n": COLORS["scaled"]}


# --------------------------------------------------------------------------- log n


def log_n_multiplier(n, base: float = 512.0) -> np.ndarray:
    """Su Jianlin's length factor log n / log base (= 1 at n = base), multiplying q·k/sqrt(d_k)."""
    n = v.finite_array("n", n, ndim_min=0)
    if np.any(n < 1):
        raise ValueError("n must be >= 1 (a sequence length)")
    base = v.finite_float("base", base)
    if base <= 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    return np.log(n) / np.log(base)


def _log_softmax(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log p, p) of softmax(logits) along the last axis, with one exp per entry."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    return shifted - np.log(total), e / total


def _row_entropy(logits: np.ndarray) -> np.ndarray:
    """Entropy of softmax(logits) along the last axis, from log-probabilities (no log 0)."""
    logp, p = _log_softmax(logits)
    return -np.sum(p * logp, axis=-1)


def noise_entropy(ns, sigmas, rows: int = 200, seed: int = 0) -> np.ndarray:
    """Mean softmax entropy over ``rows`` rows of n i.i.d. N(0, sigma^2) logits.

    Returns an array (len(sigmas), len(ns)). The keys of a shorter row are the first
    n of the longest one (tokens are added, not redrawn), and every sigma uses the
    same standard normal draws.
    """
    ns = v.positive_int_list("ns", ns)
    sigmas = v.finite_array("sigmas", sigmas)
    if np.any(sigmas < 0):
        raise ValueError("sigmas must be >= 0")
    rows = v.positive_int("rows", rows)
    z = np.random.default_rng(seed).standard_normal((rows, int(ns.max())))
    return np.array([[_row_entropy(s * z[:, :n]).mean() for n in ns] for s in sigmas])


def entropy_approx(n, sigma) -> np.ndarray:
    """Large-n entropy of a softmax over n i.i.d. N(0, sigma^2) logits: log n - sigma^2 / 2.

    Derived in the chapter; accurate while sigma^2 is well below 2 log n.
    """
    n = v.finite_array("n", n, ndim_min=0)
    if np.any(n < 1):
        raise ValueError("n must be >= 1")
    sigma = v.finite_array("sigma", sigma, ndim_min=0)
    return np.log(n) - sigma**2 / 2


def sigma_for_entropy(n, h0: float) -> np.ndarray:
    """The logit standard deviation that keeps the entropy at ``h0``: sqrt(2 (log n - h0))."""
    n = v.finite_array("n", n, ndim_min=0)
    h0 = v.finite_float("h0", h0, nonneg=True)
    if np.any(np.log(n) <= h0):
        raise ValueError(f"n must satisfy log n > h0 = {h0:g}")
    return np.sqrt(2 * (np.log(n) - h0))


def solve_sigma(n: int, h0: float, rows: int = 200, seed: int = 0, iters: int = 30) -> float:
    """The sigma at which the simulated :func:`noise_entropy` over n keys equals ``h0`` (bisection).

    The same standard normal draws are used at every sigma, so the simulated
    entropy is a smooth decreasing function of sigma and the bisection is exact for it.
    """
    n = v.positive_int("n", n)
    h0 = v.finite_float("h0", h0, nonneg=True)
    if h0 >= math.log(n):
        raise ValueError(f"h0 must be < log n = {math.log(n):.3f}, got {h0!r}")
    z = np.random.default_rng(seed).standard_normal((v.positive_int("rows", rows), n))
    lo, hi = 0.0, 1.0
    while _row_entropy(hi * z).mean() > h0:
        lo, hi = hi, 2 * hi
    for _ in range(v.positive_int("iters", iters)):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _row_entropy(mid * z).mean() > h0 else (lo, mid)
    return (lo + hi) / 2


def log_n_figure(ns, sigmas, entropies, base: float = 512.0, lang: str = "en") -> Figure:
    """Left: the factor log n / log base. Right: simulated entropies (dots) and log n - sigma^2/2."""
    ns = v.positive_int_list("ns", ns)
    sigmas = v.finite_array("sigmas", sigmas)
    entropies = v.finite_array("entropies", entropies, ndim_min=2)
    if entropies.shape != (sigmas.size, ns.size):
        raise ValueError(
            f"entropies must have shape {(sigmas.size, ns.size)}, got {entropies.shape}"
        )
    check_lang(lang)
    fig, (left, right) = new_figure(2)
    grid = np.geomspace(ns.min(), ns.max(), 200)
    left.semilogx(
        grid, log_n_multiplier(grid, base), color=COLORS["scaled"], label=f"log n / log {base:g}"
    )
    left.semilogx(
        grid,
        np.sqrt(log_n_multiplier(grid, base)),
        "--",
        color="#009E73",
        label=tr("its square root", lang),
    )
    left.axhline(1.0, color="0.6", lw=0.8)
    left.set(
        xlabel=tr("sequence length n", lang),
        ylabel=tr("factor on q·k/√dₖ", lang),
        title=tr("Su's length factor", lang),
    )
    left.legend(fontsize=8)
    markers = "osD^v"
    for i, s in enumerate(sigmas):
        color = f"C{i}"
        right.semilogx(ns, entropies[i], markers[i % 5], color=color, ms=4, label=f"σ = {s:g}")
        right.semilogx(grid, entropy_approx(grid, s), color=color, lw=1)
    right.semilogx(
        grid, np.log(grid), ":", color=COLORS["theory"], label=tr("log n (uniform)", lang)
    )
    right.set(
        xlabel=tr("sequence length n", lang),
        ylabel=tr("entropy (nats)", lang),
        title=tr("entropy at fixed σ", lang),
    )
    right.legend(fontsize=8)
    return fig


def describe_log_n_figure(ns, sigmas, entropies, base: float = 512.0, lang: str = "en") -> str:
    """Alt text for :func:`log_n_figure`."""
    ns = v.positive_int_list("ns", ns)
    sigmas = v.finite_array("sigmas", sigmas)
    entropies = v.finite_array("entropies", entropies, ndim_min=2)
    check_lang(lang)
    lo, hi = log_n_multiplier([ns.min(), ns.max()], base)
    parts = ("；" if lang == "zh" else ", ").join(
        tr("σ = {sigma:g}: {first:.2f} to {last:.2f} nats", lang).format(
            sigma=s, first=entropies[i, 0], last=entropies[i, -1]
        )
        for i, s in enumerate(sigmas)
    )
    return tr(
        "Left: the factor log n / log {base:g} rises from {lo:.2f} at n = {n0} to {hi:.2f} at "
        "n = {n1}, equal to 1 at n = {base:g}. Right: the simulated softmax entropy of n Gaussian "
        "logits grows with log n at every fixed σ ({parts}) and lies on the curves log n − σ²/2, "
        "except at the largest σ and smallest n.",
        lang,
    ).format(base=base, lo=lo, hi=hi, n0=ns.min(), n1=ns.max(), parts=parts)


# ------------------------------------------------------------ length extrapolation


def retrieval_scores(
    d_k: int = 64, rho: float = 0.4, rows: int = 400, n_max: int = 4096, seed: int = 0
):
    """Scaled scores q·k_j/sqrt(d_k) of ``rows`` queries against ``n_max`` keys; column 0 is the target.

    q and the distractor keys have i.i.d. N(0, 1) components; the target key is
    rho q + sqrt(1 - rho^2) xi. Given q, the distractor scores are exactly
    N(0, |q|^2/d_k), so they are sampled directly (no key vectors are built).
    """
    d_k, rows, n_max = (
        v.positive_int("d_k", d_k),
        v.positive_int("rows", rows),
        v.positive_int("n_max", n_max),
    )
    rho = v.in_range("rho", rho, -1.0, 1.0)
    if n_max < 2:
        raise ValueError("n_max must be >= 2 (a target and a distractor)")
    rng = np.random.default_rng(seed)
    q_norm = np.sqrt(rng.chisquare(d_k, size=rows))
    scores = (q_norm / np.sqrt(d_k))[:, None] * rng.standard_normal((rows, n_max))
    scores[:, 0] = rho * q_norm**2 / np.sqrt(d_k) + np.sqrt(1 - rho**2) * scores[:, 0]
    return scores


def _target_stats(scores: np.ndarray, n: int, c: float):
    """(mean log p_target, mean p_target, mean entropy) of softmax(c * scores[:, :n])."""
    logp, p = _log_softmax(c * scores[:, :n])
    return logp[:, 0].mean(), p[:, 0].mean(), -np.sum(p * logp, axis=-1).mean()


@dataclass(frozen=True)
class Extrapolation:
    """Results of :func:`length_extrapolation`.

    ``entropy``, ``weight`` (mean softmax weight on the target) and ``loglik`` (mean
    log weight) have shape (2, n_seeds, len(ns)): method 0 keeps the tuned factor
    ``c_star`` fixed, method 1 multiplies it by log n / log n_train.
    """

    ns: np.ndarray
    n_train: int
    c_star: float
    entropy: np.ndarray
    weight: np.ndarray
    loglik: np.ndarray
    methods: tuple = ("fixed", "log n")

    def mean(self, field: str) -> np.ndarray:
        """Mean over seeds, shape (2, len(ns))."""
        return getattr(self, field).mean(axis=1)

    def se(self, field: str) -> np.ndarray:
        """Standard error over seeds, shape (2, len(ns))."""
        x = getattr(self, field)
        return x.std(axis=1, ddof=1) / np.sqrt(x.shape[1])

    def at(self, field: str, method: str, n: int) -> float:
        """Seed mean of ``field`` for ``method`` at length ``n``."""
        j = int(np.flatnonzero(self.ns == n)[0])
        return float(self.mean(field)[self.methods.index(method), j])


def length_extrapolation(
    ns=(64, 256, 1024, 4096),
    n_train: int = 64,
    seeds=(0, 1, 2, 3, 4),
    d_k: int = 64,
    rho: float = 0.4,
    rows: int = 200,
    c_grid=None,
) -> Extrapolation:
    """Tune the logit factor c at ``n_train`` (best mean log weight on the target), evaluate longer.

    The factor multiplies the usual q·k/sqrt(d_k). It is tuned once, on the pooled
    seeds at n = n_train, over ``c_grid``; then each seed is evaluated at every n
    with c fixed and with c * log n / log n_train.
    """
    ns = v.positive_int_list("ns", ns)
    n_train = v.positive_int("n_train", n_train)
    if n_train < 2 or n_train not in ns:
        raise ValueError(f"n_train must be >= 2 and one of ns, got {n_train}")
    if len(seeds) < 2:
        raise ValueError("seeds must hold at least two seeds (for error bars)")
    grid = np.linspace(0.2, 6.0, 30) if c_grid is None else v.finite_array("c_grid", c_grid)
    data = [retrieval_scores(d_k, rho, rows, int(ns.max()), seed=int(s)) for s in seeds]
    pooled = np.concatenate([d[:, :n_train] for d in data])
    fit = [_target_stats(pooled, n_train, c)[0] for c in grid]
    c_star = float(grid[int(np.argmax(fit))])
    out = np.empty((3, 2, len(seeds), ns.size))
    for i, d in enumerate(data):
        for j, n in enumerate(ns):
            for m, c in enumerate((c_star, c_star * math.log(n) / math.log(n_train))):
                out[:, m, i, j] = _target_stats(d, int(n), c)
    return Extrapolation(ns, n_train, c_star, out[2], out[1], out[0])


def extrapolation_figure(result: Extrapolation, lang: str = "en") -> Figure:
    """Entropy (left) and weight on the target (right) against n, tuned at n_train, ± 1 s.e. over seeds."""
    if not isinstance(result, Extrapolation):
        raise TypeError(f"result must be an Extrapolation, got {type(result).__name__}")
    check_lang(lang)
    fig, axes = new_figure(2)
    for ax, field, label in zip(
        axes, ("entropy", "weight"), (tr("entropy (nats)", lang), tr("weight on the target", lang))
    ):
        mean, se = result.mean(field), result.se(field)
        for m, method in enumerate(result.methods):
            ax.errorbar(
                result.ns, mean[m], yerr=se[m], marker="o", ms=4, capsize=3,
                color=METHOD_COLORS[method], label=tr("c fixed", lang) if method == "fixed" else f"c · log n / log {result.n_train}",
            )  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.axvline(result.n_train, color="0.6", lw=0.8)
        ax.set(xlabel=tr("sequence length n", lang), ylabel=label)
    axes[0].legend(fontsize=8)
    axes[0].set_title(tr("tuned at n = {n}", lang).format(n=result.n_train), fontsize=10)
    return fig


def describe_extrapolation_figure(result: Extrapolation, lang: str = "en") -> str:
    """Alt text for :func:`extrapolation_figure`."""
    check_lang(lang)
    n0, n1 = int(result.ns[0]), int(result.ns[-1])
    e, w = result.mean("entropy"), result.mean("weight")
    return tr(
        "Two panels against the sequence length from {n0} to {n1} (log scale). With the factor tuned at "
        "n = {n_train} kept fixed, the mean entropy rises from {e0:.2f} to {e1:.2f} nats "
        "and the weight on the target falls from {w0:.2f} to {w1:.2f}; multiplied by "
        "log n / log {n_train}, the entropy goes from {le0:.2f} to {le1:.2f} and the "
        "weight falls to {lw1:.2f}. Error bars (one standard error over seeds) are smaller than "
        "the gaps.",
        lang,
    ).format(
        n0=n0, n1=n1, n_train=result.n_train, e0=e[0, 0], e1=e[0, -1], w0=w[0, 0], w1=w[0, -1],
        le0=e[1, 0], le1=e[1, -1], lw1=w[1, -1],
    )  # fmt: skip


def extrapolation_row(
    n: int = 64,
    log_n: bool = False,
    c: float = 3.2,
    n_train: int = 64,
    seed: int = 0,
    lang: str = "en",
) -> Figure:
    """One retrieval row: the 20 largest softmax weights over n keys (target in colour).

    The keys of a shorter row are the first n of 4096 (seeded), the factor c
    multiplies q·k/sqrt(d_k), and with ``log_n`` it is also multiplied by
    log n / log n_train.
    """
    n, n_train = v.positive_int("n", n), v.positive_int("n_train", n_train)
    if not 2 <= n <= 4096:
        raise ValueError(f"n must lie in [2, 4096], got {n}")
    c = v.finite_float("c", c, positive=True)
    check_lang(lang)
    factor = c * (math.log(n) / math.log(n_train) if log_n else 1.0)
    _, p = _log_softmax(factor * retrieval_scores(rows=1, n_max=4096, seed=seed)[0, :n])
    order = np.argsort(p)[::-1][:20]
    fig, (ax,) = new_figure(1)
    colors = [COLORS["scaled"] if j == 0 else "0.7" for j in order]
    ax.bar(np.arange(order.size), p[order], color=colors)
    ax.set(
        ylim=(0, 1),
        xlabel=tr("keys, largest weight first (target in blue)", lang),
        ylabel=tr("softmax weight", lang),
    )
    note(
        ax,
        tr(
            "n = {n}, factor {factor:.2f}\ntarget weight {p:.3f}\nentropy {h:.2f} nats", lang
        ).format(n=n, factor=factor, p=p[0], h=-(p * np.log(np.maximum(p, 1e-300))).sum()),
        x=0.98,
        ha="right",
    )
    return fig


def describe_extrapolation_row(
    n: int = 64,
    log_n: bool = False,
    c: float = 3.2,
    n_train: int = 64,
    seed: int = 0,
    lang: str = "en",
) -> str:
    """Alt text for :func:`extrapolation_row`."""
    check_lang(lang)
    factor = c * (math.log(n) / math.log(n_train) if log_n else 1.0)
    _, p = _log_softmax(factor * retrieval_scores(rows=1, n_max=4096, seed=seed)[0, :n])
    how = (
        tr("multiplied by log n / log {n_train}", lang).format(n_train=n_train)
        if log_n
        else tr("kept fixed", lang)
    )
    return tr(
        "Bar chart of the 20 largest softmax weights of one query over {n} keys, with the factor {how} "
        "({factor:.2f}): the target key has weight {p:.3f} and is ranked {rank}; "
        "the entropy is {h:.2f} nats.",
        lang,
    ).format(
        n=n, how=how, factor=factor, p=p[0], rank=int((p > p[0]).sum()) + 1,
        h=-(p * np.log(np.maximum(p, 1e-300))).sum(),
    )  # fmt: skip


# ------------------------------------------------------------------------ QK-norm

QK_VARIANTS = ("plain", "norm", "norm+gain", "clip")
QK_LABELS = {
    "plain": "q·k/√dₖ",
    "norm": "QK-norm, no gain",
    "norm+gain": "QK-norm + learned γ",
    "clip": "q·k/√dₖ + QK-clip",
}
QK_COLORS = {
    "plain": COLORS["unscaled"],
    "norm": "0.55",
    "norm+gain": COLORS["scaled"],
    "clip": "#009E73",
}


def qk_logits(q, k, qk_norm: bool, gamma=1.0):
    """Attention logits for queries (..., d_k) and keys (..., n, d_k).

    Without QK-norm: q·k / sqrt(d_k). With it: q and k are RMS-normalised
    (q sqrt(d_k) / |q|) before the same product and multiplied by the learned gain
    gamma (a scalar, or an array broadcasting against the leading axes of q), so the
    logit is gamma sqrt(d_k) cos(q, k) and never exceeds |gamma| sqrt(d_k).
    """
    q = v.finite_array("q", q, ndim_min=1)
    k = v.finite_array("k", k, ndim_min=2)
    if k.ndim != q.ndim + 1 or k.shape[:-2] != q.shape[:-1] or k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"q and k must have shapes (..., d_k) and (..., n, d_k), got {q.shape} and {k.shape}"
        )
    d_k = q.shape[-1]
    if not qk_norm:
        return _dot(q, k) / np.sqrt(d_k)
    q = q * np.sqrt(d_k) / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k * np.sqrt(d_k) / np.linalg.norm(k, axis=-1, keepdims=True)
    gamma = v.finite_array("gamma", gamma, ndim_min=0)
    return np.asarray(gamma)[..., None] * _dot(q, k) / np.sqrt(d_k)


def _dot(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """q·k_j for q (..., d) and k (..., n, d): shape (..., n), by a batched matmul."""
    return np.matmul(k, q[..., None])[..., 0]


def _qk_batch(rng, batch: int, n_keys: int, d_model: int, noise: float, runs: int = 1):
    """A retrieval batch for ``runs`` independent runs: the query token is a noisy copy of key ``t``.

    Shapes: x0 (runs, batch, d_model), x (runs, batch, n_keys, d_model), t (runs, batch).
    """
    x = rng.standard_normal((runs, batch, n_keys, d_model))
    t = rng.integers(0, n_keys, (runs, batch))
    x0 = np.take_along_axis(x, t[..., None, None], axis=2)[:, :, 0]
    return x0 + noise * rng.standard_normal((runs, batch, d_model)), x, t


def qk_loss_and_grads(w_q, w_k, x0, x, t, variant: str = "plain", gamma=None):
    """Cross-entropy -log p_target of one attention layer, per run, and its hand-derived gradients.

    Every array has a leading run axis S: w_q, w_k (S, d_k, d_model), x0 (S, B, d_model),
    x (S, B, n, d_model), t (S, B), gamma (S,) (only for "norm+gain"; "norm" uses gamma = 1).
    Returns (loss (S,), grad W_Q, grad W_K, grad gamma (S,), logits (S, B, n)). With
    G = dL/ds = (p - onehot(t)) / B, the normalised case chains through u = q / |q|,
    which adds the projection (I - u u^T) / |q| (and the same for each key).
    """
    if variant not in QK_VARIANTS:
        raise ValueError(f"variant must be one of {QK_VARIANTS}, got {variant!r}")
    runs, batch = t.shape
    d_k = w_q.shape[1]
    gamma = np.ones(runs) if gamma is None or variant != "norm+gain" else np.asarray(gamma)
    runs, batch, n, d_model = x.shape
    q = np.matmul(x0, w_q.transpose(0, 2, 1))
    k = np.matmul(x.reshape(runs, batch * n, d_model), w_k.transpose(0, 2, 1)).reshape(
        runs, batch, n, d_k
    )
    if variant in ("plain", "clip"):
        s = _dot(q, k) / np.sqrt(d_k)
    else:  # qk_logits with QK-norm, keeping u = q/|q|, w = k/|k| and cos for the backward pass
        qn = np.sqrt(np.sum(q * q, axis=-1, keepdims=True))
        kn = np.sqrt(np.sum(k * k, axis=-1, keepdims=True))
        u, w = q / qn, k / kn
        cos = _dot(u, w)
        s = (np.sqrt(d_k) * gamma[:, None, None]) * cos
    logp, _ = _log_softmax(s)
    pick = (np.arange(runs)[:, None], np.arange(batch)[None, :], t)
    loss = -logp[pick].mean(axis=1)
    g = np.exp(logp)
    g[pick] -= 1.0
    g /= batch
    if variant in ("plain", "clip"):
        dq = np.matmul(g[:, :, None, :], k)[:, :, 0] / np.sqrt(d_k)
        dk = g[..., None] * q[:, :, None, :] / np.sqrt(d_k)
        d_gamma = np.zeros(runs)
    else:
        scale = np.sqrt(d_k) * gamma[:, None, None]
        du = scale * np.matmul(g[:, :, None, :], w)[:, :, 0]
        dw = scale[..., None] * g[..., None] * u[:, :, None, :]
        dq = (du - np.sum(du * u, axis=-1, keepdims=True) * u) / qn
        dk = (dw - np.sum(dw * w, axis=-1, keepdims=True) * w) / kn
        d_gamma = np.sqrt(d_k) * np.sum(g * cos, axis=(1, 2))
        if variant == "norm":
            d_gamma = np.zeros(runs)
    grad_q = np.matmul(dq.transpose(0, 2, 1), x0)
    grad_k = np.matmul(
        dk.reshape(runs, batch * n, d_k).transpose(0, 2, 1), x.reshape(runs, batch * n, d_model)
    )
    return loss, grad_q, grad_k, d_gamma, s


@dataclass(frozen=True)
class QKRun:
    """Per-step results of :func:`qk_train`, each of shape (len(lrs), n_runs, steps).

    ``loss`` is the batch loss, ``max_logit`` the largest |logit| in the batch and
    ``gamma`` the learned gain (1 throughout for "plain" and "norm"). A diverged run
    has non-finite entries from the step it overflowed.
    """

    variant: str
    lrs: np.ndarray
    loss: np.ndarray
    max_logit: np.ndarray
    gamma: np.ndarray

    @property
    def qk_norm(self) -> bool:
        return self.variant in ("norm", "norm+gain")

    def final(self, field: str = "loss", last: int = 50) -> np.ndarray:
        """Mean of ``field`` over the last ``last`` steps, shape (len(lrs), n_runs); inf if diverged."""
        x = getattr(self, field)[..., -last:]
        out = np.mean(x, axis=-1)
        return np.where(np.all(np.isfinite(x), axis=-1), out, np.inf)


def qk_train(
    variant: str = "plain",
    steps: int = 250,
    lrs=(0.02,),
    n_runs: int = 5,
    seed: int = 0,
    batch: int = 32,
    n_keys: int = 8,
    d_model: int = 16,
    d_k: int = 16,
    noise: float = 0.5,
    tau: float = 10.0,
) -> QKRun:
    """Adam on W_Q, W_K (entries N(0, 1/d_model)) and, for "norm+gain", a scalar gain γ (from 1).

    "clip" is the plain layer with QK-clip (Kimi K2's MuonClip, here after an Adam step):
    when a run's largest |logit| in the step's batch exceeds ``tau``, W_Q and W_K are both
    multiplied by sqrt(tau / largest), which brings that logit back to ``tau``.

    Vectorised: ``n_runs`` independent runs (initialisation and batches drawn from one
    generator seeded with ``seed``) at every learning rate in ``lrs``, all in one array.
    The same seed gives every variant and every learning rate the same initial
    weights and the same batches (paired comparisons).
    """
    if variant not in QK_VARIANTS:
        raise ValueError(f"variant must be one of {QK_VARIANTS}, got {variant!r}")
    steps, batch, n_runs = (
        v.positive_int("steps", steps),
        v.positive_int("batch", batch),
        v.positive_int("n_runs", n_runs),
    )
    n_keys, d_model, d_k = (
        v.positive_int(name, x)
        for name, x in (("n_keys", n_keys), ("d_model", d_model), ("d_k", d_k))
    )
    lrs = v.finite_array("lrs", lrs, ndim_min=0).ravel()
    if np.any(lrs <= 0):
        raise ValueError(f"lrs must be positive, got {lrs.tolist()}")
    noise = v.finite_float("noise", noise, nonneg=True)
    tau = v.finite_float("tau", tau, positive=True)
    n_lr, total = lrs.size, lrs.size * n_runs
    rng = np.random.default_rng(seed)
    params = [
        np.tile(rng.standard_normal((n_runs, d_k, d_model)) / np.sqrt(d_model), (n_lr, 1, 1))
        for _ in range(2)
    ] + [np.ones(total)]
    lr = [np.repeat(lrs, n_runs)[:, None, None]] * 2 + [np.repeat(lrs, n_runs)]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    loss, max_logit, gamma = (np.empty((total, steps)) for _ in range(3))
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            x0, x, t = (np.tile(a, (n_lr,) + (1,) * (a.ndim - 1)) for a in
                        _qk_batch(rng, batch, n_keys, d_model, noise, n_runs))  # fmt: skip
            out = qk_loss_and_grads(*params[:2], x0, x, t, variant, params[2])
            loss[:, step - 1], gamma[:, step - 1] = out[0], params[2]
            max_logit[:, step - 1] = np.abs(out[4]).max(axis=(1, 2))
            for i, grad in enumerate(out[1:4]):
                if i == 2 and variant != "norm+gain":
                    break
                update, m1[i], m2[i] = adam_update(grad, m1[i], m2[i], step, lr[i])
                params[i] += update
            if variant == "clip":
                shrink = np.sqrt(np.minimum(1.0, tau / max_logit[:, step - 1]))[:, None, None]
                params[0] *= shrink
                params[1] *= shrink
    shape = (n_lr, n_runs, steps)
    return QKRun(variant, lrs, loss.reshape(shape), max_logit.reshape(shape), gamma.reshape(shape))


def _qk_runs(runs) -> list:
    """``runs`` as a list, refused unless it is a non-empty sequence of :class:`QKRun`."""
    runs = list(runs)
    if not runs or not all(isinstance(r, QKRun) for r in runs):
        raise TypeError("runs must be a non-empty sequence of QKRun")
    return runs


def _mean_se(x: np.ndarray, axis: int = 0):
    """Mean and standard error along ``axis`` (over independent runs)."""
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(x.shape[axis])


def qk_norm_figure(runs, d_k: int = 16, lr_index: int = 0, lang: str = "en") -> Figure:
    """Largest |logit| (left) and loss (right) per step: mean over runs, band ± 1 standard error."""
    runs = _qk_runs(runs)
    check_lang(lang)
    fig, (left, right) = new_figure(2)
    colors = QK_COLORS
    for r in runs:
        steps = np.arange(1, r.loss.shape[-1] + 1)
        for ax, field in ((left, "max_logit"), (right, "loss")):
            mean, se = _mean_se(getattr(r, field)[lr_index])
            ax.plot(steps, mean, color=colors[r.variant], label=tr(QK_LABELS[r.variant], lang))
            ax.fill_between(steps, mean - se, mean + se, color=colors[r.variant], alpha=0.25, lw=0)
    left.axhline(
        np.sqrt(d_k), color=COLORS["theory"], ls=":", lw=1, label=tr("√dₖ (bound without γ)", lang)
    )
    left.set(xlabel=tr("Adam step", lang), ylabel=tr("largest |logit| in the batch", lang))
    right.set(xlabel=tr("Adam step", lang), ylabel=tr("loss −log p(target)", lang), yscale="log")
    left.legend(fontsize=8)
    return fig


def qk_summary(runs, lr_index: int = 0, last: int = 50) -> dict:
    """Per variant: mean and standard error over runs of the final loss, final largest logit, final γ.

    The start value of the largest logit is the mean over the first 10 steps. These
    are the numbers the chapter's prose and the figure's alt text both print.
    """
    out = {}
    for r in runs:
        loss, loss_se = _mean_se(r.final("loss", last)[lr_index])
        end, end_se = _mean_se(r.final("max_logit", last)[lr_index])
        out[r.variant] = {
            "loss": float(loss), "loss-se": float(loss_se),
            "loss-min": float(r.final("loss", last)[lr_index].min()),
            "loss-max": float(r.final("loss", last)[lr_index].max()),
            "logit-start": float(r.max_logit[lr_index, :, :10].mean()),
            "logit-end": float(end), "logit-end-se": float(end_se),
            "gamma": float(r.final("gamma", last)[lr_index].mean()),
        }  # fmt: skip
    return out


def describe_qk_norm_figure(runs, d_k: int = 16, lr_index: int = 0, lang: str = "en") -> str:
    """Alt text for :func:`qk_norm_figure`, built from :func:`qk_summary` (the prose's numbers)."""
    runs = list(runs)
    check_lang(lang)
    summary = qk_summary(runs, lr_index)
    parts = [
        tr(
            "{label}: the largest logit goes from {start:.1f} to "
            "{end:.1f} and the loss ends at {loss:.3f} ± {se:.3f}",
            lang,
        ).format(
            label=tr(QK_LABELS[name], lang),
            start=s["logit-start"],
            end=s["logit-end"],
            loss=s["loss"],
            se=s["loss-se"],
        )  # fmt: skip
        for name, s in summary.items()
    ]
    return tr(
        "Two panels against {steps} Adam steps, mean of {runs} "
        "runs with a band of ± one standard error: {parts}; √dₖ is {root:.0f}.",
        lang,
    ).format(
        steps=runs[0].loss.shape[-1],
        runs=runs[0].loss.shape[1],
        parts=("；" if lang == "zh" else "; ").join(parts),
        root=np.sqrt(d_k),
    )


def qk_lr_figure(runs, last: int = 50, lang: str = "en") -> Figure:
    """Final loss against the learning rate per variant: mean ± 1 s.e. over runs; diverged runs marked."""
    runs = _qk_runs(runs)
    check_lang(lang)
    fig, (left, right) = new_figure(2)
    colors = QK_COLORS
    for r in runs:
        for ax, field in ((left, "loss"), (right, "max_logit")):
            x = r.final(field, last)
            ok = np.all(np.isfinite(x), axis=1)
            mean, se = _mean_se(np.where(np.isfinite(x), x, np.nan), axis=1)
            ax.errorbar(r.lrs[ok], mean[ok], yerr=se[ok], marker="o", ms=4, capsize=3,
                        color=colors[r.variant], label=tr(QK_LABELS[r.variant], lang))  # fmt: skip
            bad = ~ok
            if bad.any():
                ax.plot(r.lrs[bad], np.full(bad.sum(), np.nanmax(np.where(ok[:, None], x, np.nan))),
                        "x", color=colors[r.variant], ms=8)  # fmt: skip
    left.set(
        xscale="log",
        yscale="log",
        xlabel=tr("Adam learning rate", lang),
        ylabel=tr("final loss", lang),
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel=tr("Adam learning rate", lang),
        ylabel=tr("final largest |logit|", lang),
    )
    left.legend(fontsize=8)
    return fig


def describe_qk_lr_figure(runs, last: int = 50, lang: str = "en") -> str:
    """Alt text for :func:`qk_lr_figure`: the run means at every learning rate."""
    runs = list(runs)
    check_lang(lang)
    zh = lang == "zh"
    parts = []
    for r in runs:
        loss, logit = r.final("loss", last).mean(axis=1), r.final("max_logit", last).mean(axis=1)
        pairs = ("，" if zh else ", ").join(
            tr("{loss:.3g} (largest logit {logit:.3g}) at {lr:g}", lang).format(
                loss=loss[i], logit=logit[i], lr=lr
            )
            for i, lr in enumerate(r.lrs)
        )
        parts.append(
            tr("{label}: final loss {pairs}", lang).format(
                label=tr(QK_LABELS[r.variant], lang), pairs=pairs
            )
        )
    return tr("Final loss and largest logit against the Adam learning rate. {parts}.", lang).format(
        parts=("；" if zh else "; ").join(parts)
    )


def softcap(s, cap: float) -> np.ndarray:
    """Gemma 2's logit soft-capping: cap · tanh(s / cap) (about s for |s| << cap, never past ±cap)."""
    s = v.finite_array("s", s, ndim_min=0)
    cap = v.finite_float("cap", cap, positive=True)
    return cap * np.tanh(s / cap)


def softcap_slope(s, cap: float) -> np.ndarray:
    """d softcap / ds = 1 - tanh²(s / cap): the factor the cap puts on the gradient reaching s."""
    s = v.finite_array("s", s, ndim_min=0)
    cap = v.finite_float("cap", cap, positive=True)
    return 1.0 - np.tanh(s / cap) ** 2


def softcap_tv(sigmas, cap: float, n: int = 1024, rows: int = 200, seed: int = 0) -> np.ndarray:
    """Mean total variation between softmax(s) and softmax(softcap(s)) over rows of n N(0, σ²) logits.

    Every σ uses the same standard normal draws. Returns an array of len(sigmas).
    """
    sigmas = v.finite_array("sigmas", sigmas)
    if np.any(sigmas < 0):
        raise ValueError("sigmas must be >= 0")
    cap = v.finite_float("cap", cap, positive=True)
    z = np.random.default_rng(seed).standard_normal(
        (v.positive_int("rows", rows), v.positive_int("n", n))
    )
    out = []
    for sigma in sigmas:
        p, q = _log_softmax(sigma * z)[1], _log_softmax(softcap(sigma * z, cap))[1]
        out.append(0.5 * np.abs(p - q).sum(axis=-1).mean())
    return np.array(out)


SOFTCAP_RANGE = 150.0


def softcap_figure(cap: float = 50.0, lang: str = "en") -> Figure:
    """Left: the capped logit against the raw one. Right: the gradient factor 1 - tanh²(s/cap)."""
    cap = v.finite_float("cap", cap, positive=True)
    check_lang(lang)
    s = np.linspace(-SOFTCAP_RANGE, SOFTCAP_RANGE, 601)
    fig, (left, right) = new_figure(2)
    left.plot(s, s, ":", color=COLORS["theory"], lw=1, label=tr("no cap", lang))
    left.plot(s, softcap(s, cap), color=COLORS["scaled"], label=f"{cap:g}·tanh(s/{cap:g})")
    left.axhline(cap, color="0.6", lw=0.8)
    left.axhline(-cap, color="0.6", lw=0.8)
    left.set(
        xlabel="logit s",  # the same in Chinese: "logit" stays English (glossary)
        ylabel=tr("logit after the cap", lang),
        ylim=(-SOFTCAP_RANGE, SOFTCAP_RANGE),
    )
    left.legend(fontsize=8, loc="upper left")
    right.plot(s, softcap_slope(s, cap), color=COLORS["unscaled"])
    right.set(xlabel="logit s", ylabel=tr("gradient factor 1 − tanh²(s/cap)", lang), ylim=(0, 1.05))
    note(
        right,
        tr(
            "cap {cap:g}\nat s = cap: value {value:.1f}, factor {slope:.2f}\n"
            "at s = 2·cap: factor {slope2:.3f}",
            lang,
        ).format(
            cap=cap,
            value=softcap(cap, cap),
            slope=softcap_slope(cap, cap),
            slope2=softcap_slope(2 * cap, cap),
        ),
        x=0.98,
        ha="right",
    )
    return fig


def describe_softcap_figure(cap: float = 50.0, lang: str = "en") -> str:
    """Alt text for :func:`softcap_figure`."""
    cap = v.finite_float("cap", cap, positive=True)
    check_lang(lang)
    return tr(
        "Left: the capped logit {cap:g}·tanh(s/{cap:g}) follows the raw logit near zero and bends "
        "towards ±{cap:g}; a raw logit of {cap:g} becomes {value:.1f} and one of "
        "{far:g} becomes {value_far:.1f}. Right: the gradient factor "
        "is 1 at s = 0, {slope:.2f} at s = {cap:g} and "
        "{slope2:.3f} at s = {cap2:g}.",
        lang,
    ).format(
        cap=cap, value=softcap(cap, cap), far=SOFTCAP_RANGE, value_far=softcap(SOFTCAP_RANGE, cap),
        slope=softcap_slope(cap, cap), slope2=softcap_slope(2 * cap, cap), cap2=2 * cap,
    )  # fmt: skip


def query_scale_latex(models: dict) -> str:
    """A LaTeX array of attention scales: model -> (d_model, h, head size, query_pre_attn_scalar).

    Columns: head size d_k, d_model/h, the scalar under the root (d_pre, the page's name for
    ``query_pre_attn_scalar``), the logit factor relative to
    1/sqrt(d_k) (sqrt(d_k / scalar)) and the logit variance at initialisation for
    unit-variance q and k components (d_k / scalar, 1 for 1/sqrt(d_k)).
    """
    rows = []
    for name, (d_model, heads, d_k, scalar) in models.items():
        d_model, heads, d_k, scalar = (
            v.positive_int(k, x)
            for k, x in zip(("d_model", "heads", "d_k", "scalar"), (d_model, heads, d_k, scalar))
        )
        rows.append(
            rf"\text{{{name}}} & {d_k} & {d_model // heads} & {scalar} & "
            rf"{math.sqrt(d_k / scalar):.3f} & {d_k / scalar:.3f}"
        )
    header = (
        r"\text{model} & d_k & d_{\text{model}}/h & d_{\text{pre}} \text{ in } 1/\sqrt{d_{\text{pre}}}"
        r" & \sqrt{d_k/d_{\text{pre}}} & \operatorname{Var}[s]"
    )
    return r"\begin{array}{lccccc}" + header + r"\\ \hline " + r" \\ ".join(rows) + r"\end{array}"


def sink_weight(logits, sink) -> np.ndarray:
    """Weight a per-row sink logit ``b`` takes: e^b / (e^b + sum_j e^{s_j}) over the last axis.

    gpt-oss appends one learned logit per head to every row of attention logits, takes the
    softmax and drops the sink's column, so the weights on real keys sum to 1 minus this.
    Computed stably as exp(b - logsumexp(s, b)).
    """
    logits = v.finite_array("logits", logits)
    sink = v.finite_array("sink", sink, ndim_min=0)
    m = np.maximum(logits.max(axis=-1), sink)
    total = np.exp(logits - m[..., None]).sum(axis=-1) + np.exp(sink - m)
    return np.exp(sink - m) / total
