"""Multi-head, multi-query and grouped-query attention in numpy: shapes, costs, KV cache.

Used by three chapters:

* ``dk-sizing`` - :func:`shape_trace`, :func:`multi_head_attention` (its recorded
  shapes), :func:`symbolic_costs`, :func:`scale_experiment`, :func:`score_memory_bytes`,
  :func:`cost_figure`;
* ``multi-head`` - :func:`multi_head_attention`, :func:`planted_sequence`,
  :func:`planted_weights`, :func:`head_maps`, :func:`previous_token_head`,
  :func:`head_logit_variances`, :func:`logit_variance_figure`;
* ``mqa-gqa`` - :func:`grouped_query_attention`, :func:`param_count`,
  :func:`kv_cache_bytes`, :func:`decode_read_figure`.

Conventions (those of Vaswani et al. 2017): ``d_k = d_v = d_model / h`` (a
convention, not a definition: some models choose h * d_k != d_model). Every head
scales its logits by ``1/sqrt(d_k)`` with its OWN (per-head) d_k, which is what
``ws.scaled_dot_product_attention`` does by default when given per-head arrays.
Grouped-query attention has ``h`` query heads and ``g`` key/value groups (the
book's G; ``g`` divides ``h``): ``g = h`` is multi-head attention, ``g = 1`` multi-query attention.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .numerics import entropy, scaled_dot_product_attention
from .plots import COLORS, new_figure

__all__ = [
    "Attention",
    "head_dim",
    "shape_trace",
    "init_weights",
    "split_heads",
    "merge_heads",
    "multi_head_attention",
    "grouped_query_attention",
    "param_count",
    "flop_count",
    "symbolic_costs",
    "kv_cache_elements",
    "kv_cache_bytes",
    "KV_CONFIGS",
    "kv_cache_table",
    "scale_experiment",
    "head_logit_variances",
    "planted_sequence",
    "planted_weights",
    "previous_token_head",
    "score_memory_bytes",
    "cost_figure",
    "describe_cost_figure",
    "head_maps",
    "describe_head_maps",
    "logit_variance_figure",
    "LLAMA2_70B",
    "decode_params",
    "decode_read_figure",
    "describe_decode_read_figure",
]


class Attention(NamedTuple):
    """Result of :func:`multi_head_attention` / :func:`grouped_query_attention`.

    ``output`` (batch, seq, d_model); ``weights`` (batch, h, seq, seq), one map per
    query head; ``shapes`` the shape of every intermediate, keyed as in :func:`shape_trace`.
    """

    output: np.ndarray
    weights: np.ndarray
    shapes: dict


# -- sizes --------------------------------------------------------------------
def head_dim(d_model: int, h: int) -> int:
    """d_k = d_model / h; ``h`` must divide ``d_model`` (ValueError starting with "h")."""
    d_model = v.positive_int("d_model", d_model)
    h = v.positive_int("h", h)
    if d_model % h:
        raise ValueError(f"h must divide d_model, got d_model={d_model}, h={h}")
    return d_model // h


def _groups(h: int, g) -> int:
    if g is None:
        return h
    g = v.positive_int("g", g)
    if h % g:
        raise ValueError(f"g must divide h, got h={h}, g={g}")
    return g


def shape_trace(batch: int, seq: int, d_model: int, h: int, g=None) -> dict:
    """The named shape of every step of (grouped-query) multi-head attention.

    From token ids (batch, seq) to the output (batch, seq, d_model); ``g=None``
    means multi-head attention (g = h). Keys match :attr:`Attention.shapes`.
    """
    batch, seq = v.positive_int("batch", batch), v.positive_int("seq", seq)
    d_k = head_dim(d_model, h)
    g = _groups(h, g)
    return {
        "token ids": (batch, seq),
        "embeddings X": (batch, seq, d_model),
        "Q = X W_Q": (batch, seq, h * d_k),
        "K = X W_K": (batch, seq, g * d_k),
        "V = X W_V": (batch, seq, g * d_k),
        "Q split": (batch, seq, h, d_k),
        "Q heads": (batch, h, seq, d_k),
        "K heads": (batch, g, seq, d_k),
        "V heads": (batch, g, seq, d_k),
        "scores": (batch, h, seq, seq),
        "head outputs": (batch, h, seq, d_k),
        "heads back": (batch, seq, h, d_k),
        "concat": (batch, seq, h * d_k),
        "output": (batch, seq, d_model),
    }


def init_weights(d_model: int, h: int, g=None, seed: int = 0) -> dict:
    """Seeded weights with N(0, 1/d_model) entries, so unit-variance inputs give unit-variance q, k.

    Returns ``w_q`` (d_model, d_model), ``w_k`` and ``w_v`` (d_model, g*d_k),
    ``w_o`` (d_model, d_model).
    """
    d_k = head_dim(d_model, h)
    g = _groups(h, g)
    rng = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(d_model)
    return {
        "w_q": s * rng.standard_normal((d_model, d_model)),
        "w_k": s * rng.standard_normal((d_model, g * d_k)),
        "w_v": s * rng.standard_normal((d_model, g * d_k)),
        "w_o": s * rng.standard_normal((d_model, d_model)),
    }


def _check_split(x, heads: int):
    x = v.finite_array("x", x, ndim_min=3)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, n, features), got {x.shape}")
    heads = v.positive_int("heads", heads)
    if x.shape[-1] % heads:
        raise ValueError(
            f"heads must divide the last axis of x, got {x.shape[-1]} and heads={heads}"
        )
    return x, heads


def _check_merge(x):
    x = v.finite_array("x", x, ndim_min=4)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, heads, n, d), got {x.shape}")
    return x


def split_heads(x, heads: int) -> np.ndarray:
    """(batch, n, heads*d) -> (batch, heads, n, d): cut the features into heads."""
    x, heads = _check_split(x, heads)
    batch, n, features = x.shape  # n: sequence length
    x = x.reshape(batch, n, heads, features // heads)  # feature block a is head a
    return x.transpose(0, 2, 1, 3)  # heads before positions: one (n, d) matrix per head


def merge_heads(x) -> np.ndarray:
    """(batch, heads, n, d) -> (batch, n, heads*d): the inverse of :func:`split_heads` (concat)."""
    x = _check_merge(x)
    batch, heads, n, d = x.shape
    x = x.transpose(0, 2, 1, 3)  # back to (batch, n, heads, d)
    return x.reshape(batch, n, heads * d)  # head outputs side by side


def _check_inputs(x, w_q, w_k, w_v, w_o, h, g):
    x = v.finite_array("x", x, ndim_min=1)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seq, d_model), got {x.shape}")
    d_model = x.shape[-1]
    d_k = head_dim(d_model, h)
    g = _groups(h, g)
    want = {
        "w_q": (d_model, h * d_k),
        "w_k": (d_model, g * d_k),
        "w_v": (d_model, g * d_k),
        "w_o": (h * d_k, d_model),
    }
    ws_ = {}
    for name, w in zip(want, (w_q, w_k, w_v, w_o)):
        w = v.finite_array(name, w, ndim_min=1)
        if w.shape != want[name]:
            raise ValueError(
                f"{name} must have shape {want[name]} for d_model={d_model}, "
                f"h={h}, g={g}, got {w.shape}"
            )
        ws_[name] = w
    return x, ws_, d_k, g


def multi_head_attention(x, w_q, w_k, w_v, w_o, h: int, mask=None) -> Attention:
    """Multi-head attention: project, split into h heads, attend per head, concat, project.

    ``x`` is (batch, seq, d_model); all four weights are (d_model, d_model). Each head
    calls ``ws.scaled_dot_product_attention`` on (batch, h, seq, d_k) arrays, so its
    scale is 1/sqrt(d_k) with the per-head d_k = d_model/h. ``mask`` (True = may
    attend) broadcasts to (batch, h, seq, seq). With h = 1 this is the single-head
    formula softmax(QK^T/sqrt(d_model))V W_O.
    """
    h = v.positive_int("h", h)
    x, w, d_k, _ = _check_inputs(x, w_q, w_k, w_v, w_o, h, h)
    shapes = {}
    q, k, val = x @ w["w_q"], x @ w["w_k"], x @ w["w_v"]
    shapes.update(
        {
            "embeddings X": x.shape,
            "Q = X W_Q": q.shape,
            "K = X W_K": k.shape,
            "V = X W_V": val.shape,
        }
    )
    shapes["Q split"] = q.reshape(*q.shape[:2], h, d_k).shape
    qh, kh, vh = split_heads(q, h), split_heads(k, h), split_heads(val, h)
    shapes.update({"Q heads": qh.shape, "K heads": kh.shape, "V heads": vh.shape})
    out, weights = scaled_dot_product_attention(qh, kh, vh, mask=mask)
    shapes.update({"scores": weights.shape, "head outputs": out.shape})
    shapes["heads back"] = out.transpose(0, 2, 1, 3).shape
    concat = merge_heads(out)
    shapes["concat"] = concat.shape
    y = concat @ w["w_o"]
    shapes["output"] = y.shape
    return Attention(y, weights, shapes)


def grouped_query_attention(x, w_q, w_k, w_v, w_o, h: int, g: int, mask=None) -> Attention:
    """Grouped-query attention: h query heads share g key/value heads (g divides h).

    ``w_k`` and ``w_v`` are (d_model, g*d_k). Key/value group j serves the h/g
    consecutive query heads j*h/g, ..., (j+1)*h/g - 1. The scale is still
    1/sqrt(d_k) with the per-head d_k: sharing keys does not change a head's
    logit dimension. g = h is :func:`multi_head_attention`, g = 1 multi-query attention.
    """
    h = v.positive_int("h", h)
    x, w, d_k, g = _check_inputs(x, w_q, w_k, w_v, w_o, h, g)
    q, k, val = x @ w["w_q"], x @ w["w_k"], x @ w["w_v"]
    shapes = {
        "embeddings X": x.shape,
        "Q = X W_Q": q.shape,
        "K = X W_K": k.shape,
        "V = X W_V": val.shape,
        "Q split": q.reshape(*q.shape[:2], h, d_k).shape,
    }
    qh, kh, vh = split_heads(q, h), split_heads(k, g), split_heads(val, g)
    shapes.update({"Q heads": qh.shape, "K heads": kh.shape, "V heads": vh.shape})
    kh, vh = np.repeat(kh, h // g, axis=1), np.repeat(vh, h // g, axis=1)
    out, weights = scaled_dot_product_attention(qh, kh, vh, mask=mask)
    shapes.update(
        {
            "scores": weights.shape,
            "head outputs": out.shape,
            "heads back": out.transpose(0, 2, 1, 3).shape,
        }
    )
    concat = merge_heads(out)
    shapes["concat"] = concat.shape
    y = concat @ w["w_o"]
    shapes["output"] = y.shape
    return Attention(y, weights, shapes)


# -- costs --------------------------------------------------------------------
def param_count(d_model: int, h: int, g=None, bias: bool = False) -> int:
    """Weights in W_Q, W_K, W_V, W_O: 2 d_model^2 + 2 d_model g d_k.

    For multi-head attention (g = h) this is 4 d_model^2 whatever h is. With
    ``bias=True`` the four bias vectors add 2 d_model + 2 g d_k.
    """
    d_k = head_dim(d_model, h)
    g = _groups(h, g)
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    weights = 2 * d_model * d_model + 2 * d_model * g * d_k
    return weights + (2 * d_model + 2 * g * d_k if bias else 0)


def flop_count(d_model: int, h: int, seq: int, g=None) -> int:
    """Multiply-adds of one attention layer on one sequence of length ``seq`` (no softmax).

    Projections seq*d_model*(2 d_model + 2 g d_k), scores h*seq^2*d_k, weighted
    values h*seq^2*d_k.
    """
    d_k = head_dim(d_model, h)
    g = _groups(h, g)
    seq = v.positive_int("seq", seq)
    return seq * d_model * (2 * d_model + 2 * g * d_k) + 2 * h * seq * seq * d_k


def symbolic_costs() -> dict:
    """SymPy parameter and multiply-add counts, summed head by head.

    h heads of size d_k = d_model/h against one head of size d_model. Returns
    expressions (symbols ``d_model``, ``h``, ``n`` = sequence length):
    ``params_h``, ``params_1``, ``macs_h``, ``macs_1`` (each summed over heads with
    ``sp.Sum`` and evaluated), and the unevaluated per-head sums ``params_sum`` and
    ``macs_sum`` for display.
    """
    import sympy as sp  # here, not at the top: SymPy takes 0.25 s to import

    d, h, n, a = sp.symbols("d_model h n a", positive=True, integer=True)  # a: head index
    d_k = d / h
    per_head_params = 3 * d * d_k + d_k * d  # W_Q^a, W_K^a, W_V^a and head a's rows of W_O
    per_head_macs = 3 * n * d * d_k + 2 * n * n * d_k + n * d_k * d
    params_sum = sp.Sum(per_head_params, (a, 1, h))
    macs_sum = sp.Sum(per_head_macs, (a, 1, h))
    one = {h: 1}
    return {
        "d_model": d,
        "h": h,
        "n": n,
        "params_sum": params_sum,
        "macs_sum": macs_sum,
        "params_h": sp.simplify(params_sum.doit()),
        "macs_h": sp.expand(macs_sum.doit()),
        "params_1": sp.simplify(params_sum.doit().subs(one)),
        "macs_1": sp.expand(macs_sum.doit().subs(one)),
    }


def kv_cache_elements(layers: int, seq_len: int, g: int, d_k: int, batch: int = 1) -> int:
    """Numbers in the key/value cache: 2 (K and V) x layers x batch x seq_len x g x d_k.

    ``g`` is the number of key/value heads (h for MHA, 1 for MQA).
    """
    out = 2
    for name, x in (
        ("layers", layers),
        ("seq_len", seq_len),
        ("g", g),
        ("d_k", d_k),
        ("batch", batch),
    ):
        out *= v.positive_int(name, x)
    return out


def kv_cache_bytes(
    layers: int, seq_len: int, g: int, d_k: int, batch: int = 1, bytes_per_value: int = 2
) -> int:
    """Bytes of the key/value cache: :func:`kv_cache_elements` x bytes per number (fp16: 2)."""
    n = kv_cache_elements(layers, seq_len, g, d_k, batch)
    return n * v.positive_int("bytes_per_value", bytes_per_value)


#: Published decoder configurations (layers, query heads h, key/value heads g, d_k).
KV_CONFIGS = (
    ("Transformer base (2017), MHA", 6, 8, 8, 64),
    ("Llama 2 7B, MHA", 32, 32, 32, 128),
    ("Llama 2 70B, GQA", 80, 64, 8, 128),
    ("Mistral 7B v0.1, GQA", 32, 32, 8, 128),
    ("Llama 2 70B shape as MHA", 80, 64, 64, 128),
    ("Llama 2 70B shape as MQA", 80, 64, 1, 128),
)


def kv_cache_table(seq_len: int = 4096, batch: int = 1, configs=KV_CONFIGS) -> list[dict]:
    """fp16 KV-cache size for each configuration (name, layers, h, g, d_k) at ``seq_len``."""
    rows = []
    for name, layers, h, g, d_k in configs:
        _groups(v.positive_int("h", h), g)
        b = kv_cache_bytes(layers, seq_len, g, d_k, batch=batch)
        rows.append(
            {
                "name": name,
                "layers": layers,
                "h": h,
                "g": g,
                "d_k": d_k,
                "bytes": b,
                "per_token": b // (seq_len * batch),
            }
        )
    return rows


# -- experiments --------------------------------------------------------------
def scale_experiment(
    d_model: int = 512, h: int = 8, n_keys: int = 64, n_queries: int = 2000, seed: int = 0
) -> dict:
    """Per-head logits with the right scale 1/sqrt(d_k) and the wrong 1/sqrt(d_model).

    q, k have i.i.d. N(0, 1) components in d_k = d_model/h dimensions (the
    per-head query and key at initialisation). Returns the logit standard deviation,
    the mean softmax entropy (nats) and mean largest weight for each scale, and the
    entropy of the uniform distribution log(n_keys).
    """
    d_k = head_dim(d_model, h)
    n_keys, n_queries = v.positive_int("n_keys", n_keys), v.positive_int("n_queries", n_queries)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_queries, 1, d_k))
    k = rng.standard_normal((n_queries, n_keys, d_k))
    raw = (q @ np.swapaxes(k, -1, -2))[:, 0, :]
    out = {"d_k": d_k, "uniform_entropy": float(np.log(n_keys))}
    for name, s in (("per_head", 1 / np.sqrt(d_k)), ("d_model", 1 / np.sqrt(d_model))):
        z = raw * s
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[name] = {
            "std": float(z.std()),
            "entropy": float(entropy(p).mean()),
            "max_weight": float(p.max(axis=1).mean()),
        }
    return out


def head_logit_variances(
    d_model: int, h: int, g=None, n_tokens: int = 128, draws: int = 4, seed: int = 0
) -> np.ndarray:
    """Sample variance of each query head's raw logits q·k (off-diagonal pairs), per draw.

    Inputs x have i.i.d. N(0, 1) entries and the weights come from
    :func:`init_weights`; returns an array (draws, h). The prediction is d_k for
    every head, whatever g is.
    """
    d_k = head_dim(d_model, h)  # validates d_model and h
    g = _groups(h, g)
    n_tokens, draws = v.positive_int("n_tokens", n_tokens), v.positive_int("draws", draws)
    if n_tokens < 2:
        raise ValueError("n_tokens must be at least 2 (logits of distinct tokens)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return _head_logit_variances(d_model, h, g, d_k, n_tokens, draws, int(seed)).copy()


@functools.lru_cache(maxsize=32)
def _head_logit_variances(d_model, h, g, d_k, n_tokens, draws, seed) -> np.ndarray:
    # Cached: the chapters quote these numbers and then plot them.
    off = ~np.eye(n_tokens, dtype=bool)
    out = np.empty((draws, h))
    for r in range(draws):
        rng = np.random.default_rng(seed + r)  # the first two draws of init_weights(seed + r)
        w_q = rng.standard_normal((d_model, d_model)) / np.sqrt(d_model)
        w_k = rng.standard_normal((d_model, g * d_k)) / np.sqrt(d_model)
        x = np.random.default_rng(10_000 + seed + r).standard_normal((1, n_tokens, d_model))
        qh = split_heads(x @ w_q, h)
        kh = np.repeat(split_heads(x @ w_k, g), h // g, axis=1)
        logits = qh @ np.swapaxes(kh, -1, -2)
        out[r] = logits[0][:, off].var(axis=1, ddof=1)
    out.flags.writeable = False
    return out


def planted_sequence(length: int = 12, vocab: int = 5, seed: int = 3) -> np.ndarray:
    """A seeded token sequence with repeats (so "attend to the same token" has targets)."""
    length, vocab = v.positive_int("length", length), v.positive_int("vocab", vocab)
    return np.random.default_rng(seed).integers(0, vocab, size=length)


def planted_weights(tokens, d_model: int = 32, strength: float = 16.0):
    """Input X and hand-set W_Q, W_K for two planted patterns (``multi-head`` chapter).

    X = [one-hot position (d_model/2) | one-hot token (d_model/2)]. W_Q maps the
    position block to the PREVIOUS position and the token block to itself; W_K is
    the identity. So the raw score of query t and key s is
    strength x ([s = t-1] + [token_s = token_t]). With two heads, head 1 sees only
    positions (previous-token pattern) and head 2 only tokens (same-token pattern);
    one head must add both. Returns ``x`` (1, T, d_model), ``w_q``, ``w_k``.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.size == 0 or tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a non-empty 1-D integer array, got {tokens!r}")
    d_model = v.positive_int("d_model", d_model)
    strength = v.finite_float("strength", strength, positive=True)
    half = d_model // 2
    if d_model % 2 or tokens.size > half or tokens.max() >= half or tokens.min() < 0:
        raise ValueError(
            f"d_model must be even and d_model/2 >= both the length and the "
            f"vocabulary, got d_model={d_model}, length={tokens.size}"
        )
    t = tokens.size
    x = np.zeros((1, t, d_model))
    x[0, np.arange(t), np.arange(t)] = 1.0
    x[0, np.arange(t), half + tokens] = 1.0
    w_q = np.zeros((d_model, d_model))
    w_q[np.arange(1, half), np.arange(half - 1)] = strength  # position p -> p-1
    w_q[half:, half:] = strength * np.eye(half)
    return x, w_q, np.eye(d_model)


# -- figures ------------------------------------------------------------------
def score_memory_bytes(batch: int, n: int, h: int, bytes_per_value: int = 4) -> int:
    """Bytes of one layer's score tensor (batch, h, n, n): batch x h x n^2 x bytes (float32: 4).

    The multiply-adds of a layer do not depend on h; this does. Fused kernels such as
    FlashAttention never store it whole.
    """
    out = 1
    for name, x in (("batch", batch), ("n", n), ("n", n), ("h", h)):
        out *= v.positive_int(name, x)
    return out * v.positive_int("bytes_per_value", bytes_per_value)


_MIB = 2**20


def _layer_costs(h: int, n: int, d_model: int, batch: int) -> dict:
    d_k = head_dim(d_model, h)
    n, batch = v.positive_int("n", n), v.positive_int("batch", batch)
    return {
        "d_k": d_k,
        "macs_proj": batch * 4 * n * d_model * d_model,
        "macs_scores": batch * 2 * h * n * n * d_k,
        "mib_weights": 4 * d_model * d_model * 4 / _MIB,
        "mib_qkv": 3 * batch * n * d_model * 4 / _MIB,
        "mib_scores": score_memory_bytes(batch, n, h) / _MIB,
        "mib_scores_1": score_memory_bytes(batch, n, 1) / _MIB,
    }


def cost_figure(
    h: int = 12, n: int = 1024, d_model: int = 768, batch: int = 4, lang: str = "en"
) -> Figure:
    """dk-sizing slider: what one attention layer costs, and which part depends on h.

    Left: multiply-adds of the projections (4 n d_model^2) and of the scores and
    weighted values (2 n^2 d_model), per batch; neither contains h. Right: float32
    memory of the weights, of Q, K, V, and of the score tensor batch x h x n^2, with
    the one-head score tensor as an outline. Log axes with fixed limits so frames compare.
    ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    c = _layer_costs(h, n, d_model, batch)
    fig, (ax_m, ax_b) = new_figure(2)
    macs = [c["macs_proj"], c["macs_scores"]]
    ax_m.bar([0, 1], macs, color=[COLORS["scaled"], COLORS["unscaled"]])
    ax_m.set_xticks(
        [0, 1], [tr("projections", lang), tr("scores +\nweighted sum", lang)], fontsize=8
    )
    ax_m.set_yscale("log")
    ax_m.set_ylim(1e8, 1e12)
    ax_m.set_ylabel(tr("multiply-adds per layer", lang))
    mib = [c["mib_weights"], c["mib_qkv"], c["mib_scores"]]
    ax_b.bar([0, 1, 2], mib, color=[COLORS["theory"], COLORS["scaled"], COLORS["unscaled"]])
    ax_b.bar(2, c["mib_scores_1"], fill=False, edgecolor="0.4", ls="--", lw=1.2)
    ticks = [tr("weights", lang), "Q, K, V", tr("scores\n(dashed: h = 1)", lang)]
    ax_b.set_xticks([0, 1, 2], ticks, fontsize=8)
    ax_b.set_yscale("log")
    ax_b.set_ylim(0.5, 2e4)
    ax_b.set_ylabel(tr("float32 memory per layer (MiB)", lang))
    for ax, vals, fmt in ((ax_m, macs, "{:.2g}"), (ax_b, mib, "{:,.0f}")):
        for x, val in enumerate(vals):
            ax.text(x, val * 1.3, fmt.format(val), ha="center", fontsize=8)
    title = tr("d_model = {d_model}, h = {h} (d_k = {d_k}), n = {n}, batch {batch}", lang)
    fig.suptitle(title.format(d_model=d_model, h=h, d_k=c["d_k"], n=n, batch=batch), fontsize=10)
    return fig


def describe_cost_figure(
    h: int = 12, n: int = 1024, d_model: int = 768, batch: int = 4, lang: str = "en"
) -> str:
    """Alt text for :func:`cost_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    c = _layer_costs(h, n, d_model, batch)
    total = (c["macs_proj"] + c["macs_scores"]) / 1e9
    if h == 1:
        template = tr(
            "Two log-scale bar charts for one attention layer with d_model = {d_model}, h = {h} "
            "(d_k = {d_k}), n = {n} and batch {batch}: {total:.1f} billion multiply-adds, "
            "the same for every h; in float32, {weights:.0f} MiB of weights, "
            "{qkv:.0f} MiB of queries, keys and values, and {scores:,.0f} MiB of scores, "
            "the size for a single head.",
            lang,
        )
    else:
        template = tr(
            "Two log-scale bar charts for one attention layer with d_model = {d_model}, h = {h} "
            "(d_k = {d_k}), n = {n} and batch {batch}: {total:.1f} billion multiply-adds, "
            "the same for every h; in float32, {weights:.0f} MiB of weights, "
            "{qkv:.0f} MiB of queries, keys and values, and {scores:,.0f} MiB of scores, "
            "{h} times the {one:,.0f} MiB a single head would store.",
            lang,
        )
    return template.format(
        d_model=d_model,
        h=h,
        d_k=c["d_k"],
        n=n,
        batch=batch,
        total=total,
        total_yi=total * 10,  # the Chinese counts in 亿 (10^8)
        weights=c["mib_weights"],
        qkv=c["mib_qkv"],
        scores=c["mib_scores"],
        one=c["mib_scores_1"],
    )


def _planted_run(h: int, length: int, vocab: int, seed: int, logit: float):
    # The raw strength grows with sqrt(d_k) so that every h sees the same SCALED logit:
    # h changes how the features are cut into heads, not the softmax temperature.
    tokens = planted_sequence(length, vocab, seed)
    d_k = head_dim(32, v.positive_int("h", h))
    strength = v.finite_float("logit", logit, positive=True) * np.sqrt(d_k)
    x, w_q, w_k = planted_weights(tokens, strength=strength)
    causal = np.tril(np.ones((length, length), dtype=bool))
    res = multi_head_attention(x, w_q, w_k, np.eye(32), np.eye(32), h, mask=causal)
    return tokens, res.weights[0]


def previous_token_head(length: int = 12, d_k: int = 4, margin: float = 4.0) -> np.ndarray:
    """Causal attention weights (length, length) of ONE head of width d_k that follows the previous token.

    The head codes position u in three of its features, k_u = (1, u, u^2, 0, ...), and
    q_t = sqrt(d_k) margin (-(t-1)^2, 2(t-1), -1, 0, ...), so that the scaled logit is
    q_t . k_u / sqrt(d_k) = -margin (u - t + 1)^2: largest at u = t - 1 and ``margin``
    lower at u = t and u = t - 2. With one-hot positions in the input, W_Q and W_K
    slices of width d_k can produce exactly these vectors. Needs d_k >= 3.
    """
    length = v.positive_int("length", length)
    d_k = v.positive_int("d_k", d_k)
    if d_k < 3:
        raise ValueError(f"d_k must be at least 3 (the code uses 1, u, u^2), got {d_k}")
    margin = v.finite_float("margin", margin, positive=True)
    u = np.arange(length, dtype=float)
    k = np.zeros((length, d_k))
    k[:, :3] = np.stack([np.ones(length), u, u**2], axis=1)
    q = np.zeros((length, d_k))
    q[:, :3] = np.stack([-((u - 1) ** 2), 2 * (u - 1), -np.ones(length)], axis=1)
    q *= np.sqrt(d_k) * margin
    causal = np.tril(np.ones((length, length), dtype=bool))
    return scaled_dot_product_attention(q, k, k, mask=causal)[1]


def head_maps(
    h: int = 2,
    length: int = 12,
    vocab: int = 5,
    seed: int = 3,
    logit: float = 4.0,
    lang: str = "en",
) -> Figure:
    """multi-head slider: each head's causal attention map on the planted sequence.

    Uses :func:`planted_weights` (d_model = 32) with each pattern worth the same
    scaled logit ``logit`` for every h: with h = 1 the previous-token and same-token
    patterns are added in one map; with h = 2 each gets its own head; with more heads
    the planted W_Q cuts each pattern across several narrower heads. ``lang`` ("en" or
    "zh") is the language of its words.
    """
    check_lang(lang)
    h = v.positive_int("h", h)
    tokens, weights = _planted_run(h, length, vocab, seed, logit)
    ncols = min(h, 4)
    nrows = (h + ncols - 1) // ncols
    fig, axes = new_figure(ncols, nrows, figsize=(6.4, 3.6 if nrows == 1 else 4.6))
    labels = [str(t) for t in tokens]
    for i, ax in enumerate(axes):
        if i >= h:
            ax.axis("off")
            continue
        ax.imshow(weights[i], vmin=0, vmax=1, cmap="Blues")
        ax.set_title(tr("head {i} (d_k = {d_k})", lang).format(i=i + 1, d_k=32 // h), fontsize=9)
        # token labels on the outer edge only: every map shows the same sequence
        bottom, left = i + ncols >= h, i % ncols == 0
        ax.set_xticks(range(length), labels if bottom else [], fontsize=6)
        ax.set_yticks(range(length), labels if left else [], fontsize=6)
        if left:
            ax.set_ylabel(tr("query token", lang), fontsize=8)
        if bottom:
            ax.set_xlabel(tr("key token", lang), fontsize=8)
    return fig


def describe_head_maps(
    h: int = 2,
    length: int = 12,
    vocab: int = 5,
    seed: int = 3,
    logit: float = 4.0,
    lang: str = "en",
) -> str:
    """Alt text for :func:`head_maps`: how much weight each head puts on the previous token."""
    check_lang(lang)
    tokens, weights = _planted_run(v.positive_int("h", h), length, vocab, seed, logit)
    prev = [
        float(np.mean(weights[i][np.arange(1, length), np.arange(length - 1)])) for i in range(h)
    ]
    best = int(np.argmax(prev))
    if h == 1:
        template = tr(
            "One causal attention map over the sequence {tokens}; its one head puts weight on "
            "the previous token, {prev:.2f} on average.",
            lang,
        )
    else:
        template = tr(
            "{h:,} causal attention maps over the sequence {tokens}; head {best} puts the most "
            "weight on the previous token, {prev:.2f} on average.",
            lang,
        )
    return template.format(h=h, tokens=" ".join(map(str, tokens)), best=best + 1, prev=prev[best])


def logit_variance_figure(
    d_model: int, configs, n_tokens: int = 128, draws: int = 4, seed: int = 0, lang: str = "en"
) -> Figure:
    """Per-head raw logit variance (dots, one per head and draw) against the prediction d_k.

    ``configs`` is a sequence of (h, g) pairs (g = None for MHA); the x axis labels
    them. Left: raw q·k variance with the line d_k; right: after 1/sqrt(d_k), with 1.
    ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    configs = list(configs)
    if not configs:
        raise ValueError("configs must list at least one (h, g) pair")
    fig, (ax_raw, ax_sc) = new_figure(2)
    rng = np.random.default_rng(0)
    labels = []
    for j, (h, g) in enumerate(configs):
        d_k = head_dim(d_model, h)
        var = head_logit_variances(d_model, h, g, n_tokens, draws, seed).ravel()
        jit = j + rng.uniform(-0.15, 0.15, var.size)
        ax_raw.plot(jit, var, ".", color=COLORS["unscaled"], alpha=0.6, ms=4)
        ax_raw.plot([j - 0.3, j + 0.3], [d_k, d_k], color=COLORS["theory"], lw=1.5)
        ax_sc.plot(jit, var / d_k, ".", color=COLORS["scaled"], alpha=0.6, ms=4)
        labels.append(f"h={h}" + ("" if g is None else f"\ng={g}"))
    ax_raw.set_yscale("log")
    ax_sc.axhline(1, color=COLORS["theory"], lw=1.5)
    ax_sc.set_ylim(0, 2)
    for ax in (ax_raw, ax_sc):
        ax.set_xticks(range(len(configs)), labels, fontsize=8)
    ax_raw.set_ylabel(tr("variance of a head's logits", lang))
    if lang == "en":
        qk, d_k, scaled = r"$q\cdot k$", "$d_k$", r"$q\cdot k/\sqrt{d_k}$"
    else:  # mathtext has no Chinese glyphs: the symbols in Unicode, outside mathtext
        qk, d_k, scaled = "q·k", "dₖ", "q·k/√dₖ"
    ax_raw.set_title(tr("raw {qk} (line: {d_k})", lang).format(qk=qk, d_k=d_k), fontsize=10)
    ax_sc.set_title(tr("{scaled} (line: 1)", lang).format(scaled=scaled), fontsize=10)
    return fig


#: Llama 2 70B as released (config.json of Llama-2-70b-hf): layers, d_model, query heads h,
#: key/value heads g (the book's G), d_k, feed-forward width, vocabulary.
LLAMA2_70B = {
    "layers": 80,
    "d_model": 8192,
    "h": 64,
    "g": 8,
    "d_k": 128,
    "ffn": 28672,
    "vocab": 32000,
}


def decode_params(g: int, cfg=LLAMA2_70B) -> int:
    """Weights of a Llama-style decoder with g key/value heads (norm gains ignored).

    Per layer W_Q and W_O (d_model x h d_k), W_K and W_V (d_model x g d_k) and the
    three SwiGLU matrices (d_model x ffn); plus the input and output embeddings.
    For Llama 2 70B (g = 8) this is about 69.0 billion.
    """
    d, h, d_k = cfg["d_model"], cfg["h"], cfg["d_k"]
    g = _groups(h, g)
    per_layer = 2 * d * h * d_k + 2 * d * g * d_k + 3 * d * cfg["ffn"]
    return cfg["layers"] * per_layer + 2 * cfg["vocab"] * d


def _decode_half(g: int, batch: int, cfg) -> int:
    """Context length at which one decoding step reads as many cache bytes as weight bytes."""
    per_token = kv_cache_bytes(cfg["layers"], 1, g, cfg["d_k"], batch=batch)
    return int(round(2 * decode_params(g, cfg) / per_token))


def _kv_name(gg: int, h: int) -> str:
    return "MHA" if gg == h else "MQA" if gg == 1 else "GQA"


def decode_read_figure(g: int = 8, batch: int = 1, cfg=LLAMA2_70B, lang: str = "en") -> Figure:
    """mqa-gqa slider: the share of the bytes read per decoding step that is KV cache.

    Each generated token reads every weight once per step (shared by the batch) and the
    whole key/value cache of every sequence. Lines: MHA (g = h), MQA (g = 1) and the
    chosen g (thick), for the Llama 2 70B shape in fp16/bf16 (2 bytes), context length
    512 to 131,072 on a log axis; the thin grey line marks the point where the cache
    costs as much to read as the weights. ``lang`` ("en" or "zh") is the language of its words.
    """
    check_lang(lang)
    h = cfg["h"]
    g = _groups(h, g)
    batch = v.positive_int("batch", batch)
    seqs = 2.0 ** np.arange(9, 17.01, 0.25)
    fig, (ax,) = new_figure()
    styles = {"MHA": (COLORS["unscaled"], "--"), "GQA": (COLORS["scaled"], "-")}
    styles["MQA"] = (COLORS["theory"], ":")
    for gg in sorted({h, g, 1}, reverse=True):
        name = _kv_name(gg, h)
        color, style = styles[name]
        per_token = kv_cache_bytes(cfg["layers"], 1, gg, cfg["d_k"], batch=batch)
        kv = per_token * seqs
        share = kv / (kv + 2 * decode_params(gg, cfg))
        label = tr("{name} (G = {g}), selected", lang) if gg == g else tr("{name} (G = {g})", lang)
        label = label.format(name=name, g=gg)
        ax.semilogx(
            seqs, share, style, color=color, lw=2.4 if gg == g else 1.3, label=label, base=2
        )
    ax.axhline(0.5, color="0.6", lw=0.8)  # half: cache and weights cost the same
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(tr("context length n (tokens)", lang))
    ax.set_ylabel(tr("share of bytes read that is KV cache", lang))
    title = tr("Llama 2 70B shape, batch {batch}: cache = weights at n = {n:,} for G = {g}", lang)
    ax.set_title(title.format(batch=batch, n=_decode_half(g, batch, cfg), g=g), fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    return fig


def describe_decode_read_figure(
    g: int = 8, batch: int = 1, cfg=LLAMA2_70B, lang: str = "en"
) -> str:
    """Alt text for :func:`decode_read_figure` at the same parameters, in ``lang``."""
    check_lang(lang)
    h = cfg["h"]
    g = _groups(h, g)
    n_g, n_mha = _decode_half(g, batch, cfg), _decode_half(h, batch, cfg)

    def where(n_: int) -> str:
        out = tr("{n:,} tokens", lang).format(n=n_)
        return out + (tr(" (beyond the axis)", lang) if n_ > 2**17 else "")

    head = tr(
        "Lines of the share of the bytes read per generated token that is key/value cache, "
        "against context length from 512 to 131,072 tokens, Llama 2 70B shape, batch {batch}: ",
        lang,
    ).format(batch=batch)
    if g == h:
        tail = tr(
            "with G = {g} key/value heads (multi-head attention) the cache outweighs the "
            "weights beyond {where}.",
            lang,
        )
    elif g == 1:
        tail = tr(
            "with G = 1, one key/value head (multi-query attention) the cache outweighs the "
            "weights beyond {where}, {times:.1f} times later than the {where_mha} of "
            "multi-head attention.",
            lang,
        )
    else:
        tail = tr(
            "with G = {g} key/value heads (grouped-query attention) the cache outweighs the "
            "weights beyond {where}, {times:.1f} times later than the {where_mha} of "
            "multi-head attention.",
            lang,
        )
    return head + tail.format(g=g, where=where(n_g), times=n_g / n_mha, where_mha=where(n_mha))


def kv_cache_table_latex(seq_len: int = 4096) -> str:
    """:func:`kv_cache_table` as a LaTeX array (for ``ws.math``), sizes in KiB/token and GiB.

    Used by the ``mqa-gqa`` chapter.
    """
    rows = kv_cache_table(seq_len=seq_len)
    lines = [
        r"\text{%s} & %d & %d & %d & %d & %s & %.2f"  # noqa: UP031 (braces in LaTeX)
        % (
            r["name"],
            r["layers"],
            r["h"],
            r["g"],
            r["d_k"],
            f"{r['per_token'] // 1024:,}",
            r["bytes"] / 2**30,
        )
        for r in rows
    ]
    head = (
        r"\text{configuration} & \text{layers} & h & G & d_k & \text{KiB/token} & "
        rf"\text{{GiB at {seq_len}}}"
    )
    return r"\begin{array}{lrrrrrr}" + head + r" \\ \hline " + r" \\ ".join(lines) + r"\end{array}"
