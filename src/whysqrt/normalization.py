"""LayerNorm and BatchNorm in numpy, and the experiments that compare them.

Used by the chapter ``layernorm-vs-batchnorm`` (``book/layernorm-vs-batchnorm.md`` and
``notebooks/layernorm-vs-batchnorm.ipynb``).

Which axes are normalised (the choice, documented once):

* **LayerNorm** (Ba et al. 2016) normalises each sample over its *last* ``normalized_ndim``
  axes, as PyTorch's ``normalized_shape`` does. For a sequence batch ``(batch, seq, d_model)``
  the default ``normalized_ndim=1`` normalises every token over its ``d_model`` features
  (what Transformers do); for an image batch ``(N, C, H, W)``, ``normalized_ndim=3``
  normalises every image over ``C, H, W`` (the layout of Ba et al.'s convolutional variant).
* **BatchNorm** (Ioffe & Szegedy 2015) normalises each *feature* over everything else:
  ``(N, C)`` over ``N``; ``(batch, seq, d_model)`` over ``batch`` and ``seq`` (features last,
  the Transformer layout; PyTorch's ``BatchNorm1d`` wants ``(N, C, L)`` instead); and
  ``(N, C, H, W)`` over ``N, H, W`` per channel ``C`` (``BatchNorm2d``). For sequences a
  boolean ``mask`` of shape ``(batch, seq)`` (True = real token) keeps padding out of the
  statistics.

Both use the biased variance inside the normalisation. BatchNorm's running variance uses
the unbiased estimate and ``running = (1 - momentum) * running + momentum * batch``, as in
PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .plots import COLORS, new_figure

__all__ = [
    "layer_norm",
    "rms_norm",
    "residual_stream_rms",
    "batch_stats",
    "BatchNorm",
    "token_batch",
    "ProbeResult",
    "probe_outputs",
    "inference_output",
    "expected_pad_share",
    "GainTable",
    "qk_variance_after_layernorm",
    "batch_size_plot",
    "describe_batch_size_plot",
    "gain_plot",
    "residual_plot",
]


def _eps(eps) -> float:
    return v.finite_float("eps", eps, positive=True)


def _param(name: str, value, shape: tuple, default: float) -> np.ndarray:
    if value is None:
        return np.full(shape, default)
    arr = v.finite_array(name, value, ndim_min=0)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def layer_norm(
    x, gamma=None, beta=None, *, eps: float = 1e-5, normalized_ndim: int = 1
) -> np.ndarray:
    """Normalise every sample over its last ``normalized_ndim`` axes, then ``* gamma + beta``.

    ``gamma`` and ``beta`` have shape ``x.shape[-normalized_ndim:]`` (default 1 and 0).
    The same function serves training and inference: it has no state.
    """
    x = v.finite_array("x", x)
    nd = v.positive_int("normalized_ndim", normalized_ndim)
    if nd > x.ndim:
        raise ValueError(f"normalized_ndim must be <= x.ndim = {x.ndim}, got {nd}")
    eps = _eps(eps)
    shape = x.shape[x.ndim - nd :]
    gamma, beta = _param("gamma", gamma, shape, 1.0), _param("beta", beta, shape, 0.0)
    axes = tuple(range(x.ndim - nd, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def rms_norm(x, gamma=None, *, eps: float = 1e-6) -> np.ndarray:
    """RMSNorm (Zhang & Sennrich 2019): ``x / sqrt(mean(x**2) + eps) * gamma`` over the last axis.

    No mean is subtracted and there is no bias; ``gamma`` has shape ``x.shape[-1:]`` (default 1).
    """
    x = v.finite_array("x", x)
    eps = _eps(eps)
    gamma = _param("gamma", gamma, x.shape[-1:], 1.0)
    return x / np.sqrt((x**2).mean(axis=-1, keepdims=True) + eps) * gamma


def residual_stream_rms(
    depth: int = 24,
    placement: str = "pre",
    *,
    d_model: int = 128,
    n_tokens: int = 64,
    n_seeds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Root mean square of the residual stream after each of ``depth`` blocks, at initialisation.

    Every block's branch is a ReLU MLP ``F(u) = relu(u W1) W2`` (width ``4 d_model``, W1 entries
    N(0, 2/d_model), W2 entries N(0, 1/(4 d_model))), which maps a unit-RMS input to an output of
    variance about 1. ``placement="pre"``: ``x <- x + F(LN(x))`` (GPT-2 and later);
    ``"post"``: ``x <- LN(x + F(x))`` (the 2017 Transformer). The input tokens are N(0, 1).
    Attention is left out: it is another branch of the same kind. Returns shape
    ``(n_seeds, depth + 1)``: column 0 is the input, one row per independent seed (new
    weights and tokens).
    """
    depth = v.positive_int("depth", depth)
    if placement not in ("pre", "post"):
        raise ValueError(f"placement must be 'pre' or 'post', got {placement!r}")
    d, nt = v.positive_int("d_model", d_model), v.positive_int("n_tokens", n_tokens)
    ns = v.positive_int("n_seeds", n_seeds)
    out = np.empty((ns, depth + 1))
    for r in range(ns):
        rng = np.random.default_rng([seed, r])
        x = rng.standard_normal((nt, d))
        out[r, 0] = np.sqrt((x**2).mean())
        for layer in range(depth):
            w1 = rng.standard_normal((d, 4 * d)) * np.sqrt(2.0 / d)
            w2 = rng.standard_normal((4 * d, d)) * np.sqrt(1.0 / (4 * d))
            if placement == "pre":
                x = x + np.maximum(layer_norm(x) @ w1, 0.0) @ w2
            else:
                x = layer_norm(x + np.maximum(x @ w1, 0.0) @ w2)
            out[r, layer + 1] = np.sqrt((x**2).mean())
    return out


def _feature_axis(ndim: int) -> int:
    if ndim not in (2, 3, 4):
        raise ValueError(
            f"x must have 2 (N, C), 3 (batch, seq, d_model) or 4 (N, C, H, W) axes, got {ndim}"
        )
    return 1 if ndim == 4 else ndim - 1


def _mask(mask, x: np.ndarray) -> np.ndarray | None:
    if mask is None:
        return None
    if x.ndim != 3:
        raise ValueError(f"mask is only for (batch, seq, d_model) input, got x with {x.ndim} axes")
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = real token), got dtype {m.dtype}")
    if m.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape {x.shape[:2]}, got {m.shape}")
    if not m.any():
        raise ValueError("mask must mark at least one real token")
    return m


def batch_stats(x, mask=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-feature mean, biased variance and count over all non-feature axes (see module doc)."""
    x = v.finite_array("x", x, ndim_min=2)
    fa = _feature_axis(x.ndim)
    m = _mask(mask, x)
    if m is not None:
        rows = x[m]  # (n_real, d_model)
        return rows.mean(axis=0), rows.var(axis=0), int(rows.shape[0])
    axes = tuple(a for a in range(x.ndim) if a != fa)
    return x.mean(axis=axes), x.var(axis=axes), int(x.size // x.shape[fa])


class BatchNorm:
    """BatchNorm with affine parameters and running statistics (training vs inference mode).

    ``bn(x, training=True, mask=None)``: in training mode the batch's own statistics
    normalise it and update ``running_mean``/``running_var`` with ``momentum``; in
    inference mode (``training=False``) the running statistics are used and nothing
    changes. Padded tokens (``mask`` False) are excluded from the statistics and are
    returned as 0.
    """

    def __init__(
        self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1, gamma=None, beta=None
    ):
        self.num_features = v.positive_int("num_features", num_features)
        self.eps = _eps(eps)
        self.momentum = v.in_range("momentum", momentum, 0.0, 1.0)
        self.gamma = _param("gamma", gamma, (self.num_features,), 1.0)
        self.beta = _param("beta", beta, (self.num_features,), 0.0)
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)
        self.num_batches_tracked = 0

    def __call__(self, x, *, training: bool = True, mask=None) -> np.ndarray:
        x = v.finite_array("x", x, ndim_min=2)
        fa = _feature_axis(x.ndim)
        if x.shape[fa] != self.num_features:
            raise ValueError(
                f"x must have {self.num_features} features on axis {fa}, got shape {x.shape}"
            )
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"training must be True or False, got {training!r}")
        m = _mask(mask, x)
        if training:
            mean, var, n = batch_stats(x, m)
            unbiased = var * n / (n - 1) if n > 1 else var
            mo = self.momentum
            self.running_mean = (1 - mo) * self.running_mean + mo * mean
            self.running_var = (1 - mo) * self.running_var + mo * unbiased
            self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        shape = (1, -1, 1, 1) if x.ndim == 4 else (-1,)
        out = (x - mean.reshape(shape)) / np.sqrt(
            var.reshape(shape) + self.eps
        ) * self.gamma.reshape(shape) + self.beta.reshape(shape)
        if m is not None:
            out = np.where(m[..., None], out, 0.0)
        return out


# -- experiments ----------------------------------------------------------------
#: Real tokens in the experiments have i.i.d. N(TOKEN_MEAN, 1) features; padding is 0.
TOKEN_MEAN = 1.5


def token_batch(
    rng: np.random.Generator, batch_size: int, seq_len: int, d_model: int, pad_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """A variable-length batch: features N(TOKEN_MEAN, 1); each sequence after the first
    loses Binomial(seq_len - 1, pad_fraction) trailing tokens to zero padding. Returns (x, mask)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    b, t, d = (
        v.positive_int(n, val)
        for n, val in (("batch_size", batch_size), ("seq_len", seq_len), ("d_model", d_model))
    )
    p = v.in_range("pad_fraction", pad_fraction, 0.0, 1.0)
    x = TOKEN_MEAN + rng.standard_normal((b, t, d))
    n_pad = rng.binomial(t - 1, p, size=b)
    n_pad[0] = 0
    mask = np.arange(t)[None, :] < (t - n_pad)[:, None]
    return np.where(mask[..., None], x, 0.0), mask


@dataclass(frozen=True)
class ProbeResult:
    """What BatchNorm and LayerNorm output for one fixed token (feature 0) across random batches."""

    batch_size: int
    pad_fraction: float
    masked: np.ndarray  # BatchNorm training mode, padding masked out
    unmasked: np.ndarray  # BatchNorm training mode, padding counted as data
    inference: float  # BatchNorm inference mode (running statistics)
    layer: float  # LayerNorm: one value whatever the batch

    @property
    def discrepancy(self) -> float:
        """Mean |training-mode output - inference-mode output| (masked BatchNorm)."""
        return float(np.abs(self.masked - self.inference).mean())


PROBE = np.array([2.5, 0.5, 1.0, 2.0, 1.5, 0.0, 3.0, 1.5])
#: The training run whose running statistics every inference value uses (one model).
TRAIN_BATCH_SIZE, TRAIN_STEPS, TRAIN_SEED = 16, 200, 12345


def expected_pad_share(batch_size: int, pad_fraction: float, seq_len: int = 16) -> float:
    """Expected share of padding positions in a batch drawn by :func:`token_batch`.

    The first sequence has none; each of the other ``batch_size - 1`` loses
    ``Binomial(seq_len - 1, pad_fraction)`` trailing tokens, so the share is
    ``(batch_size - 1) * (seq_len - 1) * pad_fraction / (batch_size * seq_len)``.
    """
    b = v.positive_int("batch_size", batch_size)
    p = v.in_range("pad_fraction", pad_fraction, 0.0, 1.0)
    t = v.positive_int("seq_len", seq_len)
    return (b - 1) * (t - 1) * p / (b * t)


@lru_cache(maxsize=4)
def inference_output(seq_len: int = 16) -> float:
    """BatchNorm's inference-mode output for feature 0 of ``PROBE``: one number for one model.

    The running statistics come from one training run (``TRAIN_STEPS`` masked steps, momentum
    0.1, batches of ``TRAIN_BATCH_SIZE`` sequences without padding, seed ``TRAIN_SEED``), so
    the inference value does not depend on the batches the probe is later evaluated in.
    """
    t = v.positive_int("seq_len", seq_len)
    rng = np.random.default_rng(TRAIN_SEED)
    bn = BatchNorm(PROBE.size)
    for _ in range(TRAIN_STEPS):
        x, mask = token_batch(rng, TRAIN_BATCH_SIZE, t, PROBE.size, 0.0)
        bn(x, mask=mask)
    return float(bn(PROBE[None, None, :], training=False)[0, 0, 0])


@lru_cache(maxsize=64)
def probe_outputs(
    batch_size: int, pad_fraction: float, n_batches: int = 200, seq_len: int = 16, seed: int = 0
) -> ProbeResult:
    """Put the fixed token ``PROBE`` first in ``n_batches`` random batches and record its outputs.

    ``pad_fraction`` p: every sequence but the probe's loses Binomial(seq_len - 1, p) trailing
    tokens to zero padding (see :func:`expected_pad_share`). The inference value is
    :func:`inference_output`, the same for every batch size and padding.
    """
    b = v.positive_int("batch_size", batch_size)
    p = v.in_range("pad_fraction", pad_fraction, 0.0, 1.0)
    n = v.positive_int("n_batches", n_batches)
    rng = np.random.default_rng(seed)
    d = PROBE.size
    masked, unmasked = np.empty(n), np.empty(n)
    for r in range(n):
        x, mask = token_batch(rng, b, seq_len, d, p)
        x[0, 0] = PROBE
        masked[r] = BatchNorm(d)(x, mask=mask)[0, 0, 0]
        unmasked[r] = BatchNorm(d)(x)[0, 0, 0]
    masked.setflags(write=False)
    unmasked.setflags(write=False)
    layer = float(layer_norm(PROBE)[0])
    return ProbeResult(b, p, masked, unmasked, inference_output(seq_len), layer)


@dataclass(frozen=True)
class GainTable:
    """Var of q components and of q·k after LayerNorm (gain g) and random W_Q, W_K."""

    d_model: int
    d_k: int
    gains: np.ndarray
    var_q: np.ndarray
    var_qk: np.ndarray
    se_qk: np.ndarray
    n: int


def qk_variance_after_layernorm(
    d_model: int = 512,
    d_k: int = 64,
    gains=(0.5, 1.0, 1.5, 2.0, 3.0),
    n_weights: int = 6,
    n_tokens: int = 400,
    seed: int = 0,
) -> GainTable:
    """Tokens with arbitrary scale and offset -> LayerNorm with gain γ -> random W_Q, W_K.

    W_Q, W_K have N(0, 1/d_model) entries, the choice that gives unit-variance query components
    at γ = 1 (GPT-2 uses standard deviation 0.02 instead). For every gain,
    fresh tokens and ``n_weights`` independent weight draws with ``n_tokens`` token pairs each
    give q and k (the query from one token, the key from another); returns the variance of
    the query components, of q·k (the mean over draws), and the standard error of the latter
    over the independent weight draws.
    """
    d, dk = v.positive_int("d_model", d_model), v.positive_int("d_k", d_k)
    g = v.finite_array("gains", gains)
    if g.ndim != 1 or np.any(g <= 0):
        raise ValueError(f"gains must be a 1-D array of positive numbers, got {g!r}")
    nw, nt = v.positive_int("n_weights", n_weights), v.positive_int("n_tokens", n_tokens)
    rng = np.random.default_rng(seed)
    var_q, var_qk, se_qk = np.empty(g.size), np.empty(g.size), np.empty(g.size)
    for j, gain in enumerate(g):
        qs, per_draw = [], np.empty(nw)
        for r in range(nw):
            x = 3.0 + 5.0 * rng.standard_normal((2, nt, d))  # far from unit variance on purpose
            wq, wk = rng.standard_normal((2, d, dk)) / np.sqrt(d)
            h = layer_norm(x, gamma=np.full(d, gain))
            q, k = h[0] @ wq, h[1] @ wk
            qs.append(q)
            per_draw[r] = np.einsum("nd,nd->n", q, k).var(ddof=1)
        var_q[j] = np.concatenate(qs).var()
        # pairs that share one weight draw are not independent: the error bar comes from the
        # spread between the independent draws
        var_qk[j] = per_draw.mean()
        se_qk[j] = per_draw.std(ddof=1) / np.sqrt(nw)
    return GainTable(d, dk, g, var_q, var_qk, se_qk, nw * nt)


# -- figures ----------------------------------------------------------------------
_PROBE_LIM = (-1.5, 2.5)


def batch_size_plot(batch_size: int = 8, pad_fraction: float = 0.25, lang: str = "en") -> Figure:
    """Histogram of one fixed token's BatchNorm output (feature 0) over 200 random batches.

    Masked and unmasked padding, with the inference-mode value and the LayerNorm value
    (which does not depend on the batch) as vertical lines.
    """
    res = probe_outputs(batch_size, pad_fraction)
    check_lang(lang)
    fig, (ax,) = new_figure()
    bins = np.linspace(*_PROBE_LIM, 61)
    padded = res.pad_fraction > 0
    ax.hist(
        np.clip(res.masked, *_PROBE_LIM),
        bins=bins,
        histtype="stepfilled",  # one polygon, not 60 bars: a much cheaper frame
        color=COLORS["scaled"],
        alpha=0.6,
        label=(
            tr("BatchNorm, training, padding masked (sd {sd:.3f})", lang)
            if padded
            else tr("BatchNorm, training (sd {sd:.3f})", lang)
        ).format(sd=res.masked.std(ddof=1)),
    )
    if padded:  # without padding, counting it changes nothing: the two histograms coincide
        ax.hist(
            np.clip(res.unmasked, *_PROBE_LIM),
            bins=bins,
            histtype="stepfilled",  # one polygon, not 60 bars: a much cheaper frame
            color=COLORS["unscaled"],
            alpha=0.45,
            label=tr("BatchNorm, training, padding counted (mean {mean:.2f})", lang).format(
                mean=res.unmasked.mean()
            ),
        )
    ax.axvline(
        res.inference,
        color=COLORS["theory"],
        ls="--",
        lw=1.5,
        label=tr("BatchNorm, inference (running stats): {value:.3f}", lang).format(
            value=res.inference
        ),
    )
    ax.axvline(
        res.layer,
        color="#009E73",
        lw=2,
        label=tr("LayerNorm, any batch: {value:.3f}", lang).format(value=res.layer),
    )
    ax.set_xlim(*_PROBE_LIM)
    ax.set_xlabel(tr("normalised value of feature 0 of the same token", lang))
    ax.set_ylabel(tr("batches (of 200)", lang))
    share = expected_pad_share(res.batch_size, res.pad_fraction)
    pad = (
        tr("padding p = {p:g} (~{share:.0%} of positions)", lang).format(
            p=res.pad_fraction, share=share
        )
        if padded
        else tr("no padding", lang)
    )
    ax.set_title(tr("batch size {b}, {pad}", lang).format(b=res.batch_size, pad=pad), fontsize=10)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    return fig


def describe_batch_size_plot(
    batch_size: int = 8, pad_fraction: float = 0.25, lang: str = "en"
) -> str:
    """Alt text for :func:`batch_size_plot`."""
    res = probe_outputs(batch_size, pad_fraction)
    check_lang(lang)
    values = dict(
        b=res.batch_size,
        p=res.pad_fraction,
        share=expected_pad_share(res.batch_size, res.pad_fraction),
        sd=res.masked.std(ddof=1),
        inference=res.inference,
        counted=res.unmasked.mean(),
        layer=res.layer,
    )
    if res.pad_fraction > 0:
        text = tr(
            "Histograms of the BatchNorm output for one fixed token over 200 random batches of "
            "size {b} with padding fraction {p:g} (each other sequence loses a Binomial(15, "
            "{p:g}) number of its 16 tokens, about {share:.0%} of the batch's positions): with "
            "padding masked the outputs have standard deviation {sd:.3f} around the inference "
            "value {inference:.3f}; with padding counted as data they average {counted:.3f}. "
            "LayerNorm gives {layer:.3f} in every batch.",
            lang,
        )
    else:
        text = tr(
            "A histogram of the BatchNorm output for one fixed token over 200 random batches of "
            "size {b} without padding: the outputs have standard deviation {sd:.3f} around the "
            "inference value {inference:.3f}. LayerNorm gives {layer:.3f} in every batch.",
            lang,
        )
    return text.format(**values)


def gain_plot(table: GainTable, lang: str = "en") -> Figure:
    """Var[q·k]/d_k against the LayerNorm gain γ (log-log) with the prediction γ**4.

    Chinese labels are plain text (here and in :func:`residual_plot`): matplotlib's
    mathtext draws no CJK glyphs.
    """
    if not isinstance(table, GainTable):
        raise TypeError(f"table must be a GainTable, got {type(table).__name__}")
    check_lang(lang)
    fig, (ax,) = new_figure()
    g = table.gains
    ax.errorbar(
        g,
        table.var_qk / table.d_k,
        yerr=2 * table.se_qk / table.d_k,
        fmt="o",
        color=COLORS["unscaled"],
        label=r"simulated Var$[q\cdot k]/d_k$ ($\pm$2 s.e.)"
        if lang == "en"
        else tr("simulated Var[q·k]/d_k (±2 s.e.)", lang),
    )
    grid = np.geomspace(g.min(), g.max(), 100)
    ax.loglog(grid, grid**4, color=COLORS["theory"], lw=1, label=r"$\gamma^4$")
    ax.loglog(
        g,
        table.var_q,
        "s",
        color=COLORS["scaled"],
        label=r"simulated Var$[q_i]$ (vs $\gamma^2$)"
        if lang == "en"
        else tr("simulated Var[q_i] (vs γ²)", lang),
    )
    ax.loglog(grid, grid**2, "--", color=COLORS["theory"], lw=1, label=r"$\gamma^2$")
    ax.set_xticks(g, labels=[f"{x:g}" for x in g])
    ax.minorticks_off()
    ax.set_xlabel(tr("LayerNorm gain γ", lang))
    ax.set_ylabel(tr("variance", lang))
    ax.set_title(
        tr("d_model = {d_model}, d_k = {d_k}, {n:,} pairs", lang).format(
            d_model=table.d_model, d_k=table.d_k, n=table.n
        ),
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False)
    return fig


def residual_plot(pre, post, lang: str = "en") -> Figure:
    """RMS of the residual stream against depth for pre-LN and post-LN blocks, with √(1 + depth).

    ``pre`` and ``post`` are the ``(n_seeds, depth + 1)`` arrays of :func:`residual_stream_rms`;
    points are the mean over seeds with ±2 standard errors (seeds are independent).
    """
    pre, post = v.finite_array("pre", pre, ndim_min=2), v.finite_array("post", post, ndim_min=2)
    if pre.ndim != 2 or pre.shape != post.shape or pre.shape[0] < 2:
        raise ValueError(
            f"pre and post must be (n_seeds >= 2, depth + 1) arrays of one shape, got "
            f"{pre.shape} and {post.shape}"
        )
    check_lang(lang)
    fig, (ax,) = new_figure()
    layers = np.arange(pre.shape[1])
    for arr, name, color in ((pre, "pre-LN", "unscaled"), (post, "post-LN", "scaled")):
        se = arr.std(axis=0, ddof=1) / np.sqrt(arr.shape[0])
        ax.errorbar(
            layers,
            arr.mean(axis=0),
            yerr=2 * se,
            fmt="o",
            ms=3,
            color=COLORS[color],
            label=tr("{name} ({n} seeds, ±2 s.e.)", lang).format(name=name, n=arr.shape[0]),
        )
    ax.plot(
        layers,
        np.sqrt(1 + layers),
        color=COLORS["theory"],
        lw=1,
        label=r"$\sqrt{1+N_{\mathrm{layers}}}$",
    )
    ax.set_xlabel(r"blocks $N_{\mathrm{layers}}$" if lang == "en" else tr("blocks N_layers", lang))
    ax.set_ylabel(tr("RMS of the residual stream", lang))
    ax.set_ylim(0, None)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig
