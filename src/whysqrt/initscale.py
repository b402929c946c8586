"""Initialisation × width: the attention logit variance a model starts with (in-brief).

One head's query and key are ``q = x W_Q + b_Q`` and ``k = x' W_K + b_K`` for two different
tokens ``x, x'`` with independent unit-variance components (the output of a LayerNorm, say).
Each component of ``q`` and ``k`` then has variance

    sigma^2 = d_model * Var[W_ij] + Var[b_i],

and, since the d_k products q_i k_i are uncorrelated with variance sigma^4,

    Var[q·k / sqrt(d_k)] = sigma^4.

The head size d_k drops out; the initialisation and the width d_model do not. PyTorch's
defaults scale Var[W_ij] like 1/d_model (sigma^4 = 1/9 or 1/4 at every width); a fixed
standard deviation such as GPT-2's 0.02 gives (0.02^2 d_model)^2.

* :data:`INITS` - the initialisations compared, with their labels;
* :func:`component_variance`, :func:`predicted_logit_variance` - the formula above;
* :func:`logit_variance_mc` - a seeded Monte Carlo over independent weight draws;
* :func:`init_width_table` - initialisation × width as a table to glue whole.

* :func:`torch_linear_init`, :func:`xavier_uniform` - numpy copies of PyTorch's initialisers.

Used by in-brief (the table) and modern-practice (PyTorch's defaults).
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate as v
from .i18n import text
from .tables import Table, table

__all__ = [
    "INITS",
    "GPT2_STD",
    "component_variance",
    "predicted_logit_variance",
    "logit_variance_mc",
    "init_width_table",
    "torch_linear_init",
    "xavier_uniform",
    "largest_weight_at_init",
]

#: GPT-2's ``initializer_range`` (Hugging Face ``GPT2Config``): every weight ~ N(0, 0.02^2).
GPT2_STD = 0.02

#: name -> label of the initialisations compared (``"normal"`` uses a fixed ``std``).
INITS = {
    "linear": "PyTorch nn.Linear default",
    "mha": "PyTorch nn.MultiheadAttention",
    "normal": "N(0, std²), fixed std",
    "fan-in": "N(0, 1/d_model)",
}


def torch_linear_init(fan_in: int, fan_out: int, rng, bias: bool = True, rows: int | None = None):
    """numpy copy of ``torch.nn.Linear.reset_parameters``: weight (fan_out, fan_in) and bias.

    ``rows`` draws only the first rows (outputs) of the weight and bias, with the
    same distribution (one attention head's slice of a larger projection).

    kaiming_uniform_(a=sqrt(5)): gain = sqrt(2 / (1 + a^2)) = sqrt(1/3),
    std = gain / sqrt(fan_in), bound = sqrt(3) std = 1 / sqrt(fan_in); the bias is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) too. Each entry has variance 1 / (3 fan_in).
    """
    fan_in, fan_out = v.positive_int("fan_in", fan_in), v.positive_int("fan_out", fan_out)
    rows = fan_out if rows is None else v.positive_int("rows", rows)
    a = math.sqrt(5.0)
    gain = math.sqrt(2.0 / (1 + a**2))
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)
    weight = rng.uniform(-bound, bound, size=(rows, fan_in))
    b = (
        rng.uniform(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), size=rows)
        if bias
        else np.zeros(rows)
    )
    return weight, b


def xavier_uniform(fan_in: int, fan_out: int, rng, rows: int | None = None) -> np.ndarray:
    """numpy copy of ``torch.nn.init.xavier_uniform_``: U(-b, b), b = sqrt(6 / (fan_in + fan_out)).

    ``rows`` draws only the first rows of the (fan_out, fan_in) matrix.
    """
    fan_in, fan_out = v.positive_int("fan_in", fan_in), v.positive_int("fan_out", fan_out)
    rows = fan_out if rows is None else v.positive_int("rows", rows)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(rows, fan_in))


def _init(init) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    return init


def _label(init: str, std: float) -> str:
    if init != "normal":
        return INITS[init]
    return f"N(0, {std:g}²)" + (", GPT-2" if std == GPT2_STD else "")


def _weight_and_bias_variance(init: str, d_model: int, std: float) -> tuple[float, float]:
    if init == "linear":  # kaiming_uniform_(a=sqrt 5): U(+-1/sqrt(fan_in)), bias likewise
        return 1 / (3 * d_model), 1 / (3 * d_model)
    if init == "mha":  # xavier_uniform_ on the packed (3 d_model, d_model) in-projection
        return 1 / (2 * d_model), 0.0
    if init == "normal":  # N(0, std^2) weights, zero bias (GPT-2's _init_weights)
        return std**2, 0.0
    return 1 / d_model, 0.0  # "fan-in": unit-variance q_i, the textbook assumption


def component_variance(init: str = "linear", d_model: int = 768, std: float = GPT2_STD) -> float:
    """Var[q_i] = d_model Var[W_ij] + Var[b_i] for unit-variance inputs."""
    init = _init(init)
    d_model = v.positive_int("d_model", d_model)
    std = v.finite_float("std", std, positive=True)
    w, b = _weight_and_bias_variance(init, d_model, std)
    return d_model * w + b


def predicted_logit_variance(
    init: str = "linear", d_model: int = 768, std: float = GPT2_STD
) -> float:
    """Var[q·k/sqrt(d_k)] at initialisation: Var[q_i]^2, the same for every head size d_k."""
    return component_variance(init, d_model, std) ** 2


def _draw(init: str, d_model: int, d_k: int, std: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """One head's (d_k, d_model) weight slice and bias, PyTorch's (out, in) layout."""
    if init == "linear":
        return torch_linear_init(d_model, d_model, rng, bias=True, rows=d_k)
    if init == "mha":
        return xavier_uniform(d_model, 3 * d_model, rng, rows=d_k), np.zeros(d_k)
    s = std if init == "normal" else 1 / math.sqrt(d_model)
    return s * rng.standard_normal((d_k, d_model), dtype=np.float32), np.zeros(d_k)


def logit_variance_mc(
    init: str = "linear",
    d_model: int = 768,
    d_k: int = 64,
    *,
    std: float = GPT2_STD,
    n_weights: int = 8,
    seed: int = 0,
) -> tuple[float, float]:
    """Monte Carlo Var[q·k/sqrt(d_k)] and its standard error, over independent weight draws.

    Each of ``n_weights`` draws initialises W_Q, W_K (and biases) afresh. The average over
    pairs of tokens x, x' (independent, mean 0, identity covariance) is taken exactly:
    with A = W_Q^T W_K, E[(q·k)^2] = |A|_F^2 + |W_Q^T b_K|^2 + |W_K^T b_Q|^2 + (b_Q·b_K)^2,
    and |A|_F^2 = sum((W_Q W_Q^T) * (W_K W_K^T)) costs d_k^2 d_model. The mean logit is
    0 by symmetry, so this is the variance. The error bar is the standard error over the
    independent weight draws.
    """
    init = _init(init)
    d_model, d_k = v.positive_int("d_model", d_model), v.positive_int("d_k", d_k)
    std = v.finite_float("std", std, positive=True)
    n_weights = v.positive_int("n_weights", n_weights)
    if n_weights < 2:
        raise ValueError(f"n_weights must be at least 2 for a standard error, got {n_weights}")
    rng = np.random.default_rng([seed, d_model, d_k, list(INITS).index(init)])
    per_draw = np.empty(n_weights)
    for w in range(n_weights):
        (w_q, b_q), (w_k, b_k) = (_draw(init, d_model, d_k, std, rng) for _ in range(2))
        frob = np.sum((w_q @ w_q.T).astype(float) * (w_k @ w_k.T))
        bias = np.sum((b_k @ w_q) ** 2) + np.sum((b_q @ w_k) ** 2) + (b_q @ b_k) ** 2
        per_draw[w] = (frob + bias) / d_k
    return float(per_draw.mean()), float(per_draw.std(ddof=1) / math.sqrt(n_weights))


def init_width_table(
    d_models=(768, 2048, 8192),
    inits=tuple(INITS),
    *,
    d_k: int = 64,
    std: float = GPT2_STD,
    n_weights: int = 8,
    seed: int = 0,
) -> Table:
    """Initialisation (rows) × width d_model (columns): predicted Var[q·k/sqrt(d_k)], and
    in brackets the Monte Carlo of :func:`logit_variance_mc` ± one standard error."""
    d_models = [int(d) for d in v.positive_int_list("d_models", d_models)]
    if isinstance(inits, str) or not len(inits):
        raise ValueError("inits must be a non-empty sequence of names from INITS")
    rows = []
    for init in inits:
        cells = [_label(_init(init), std)]
        for d in d_models:
            pred = predicted_logit_variance(init, d, std)
            mc, se = logit_variance_mc(init, d, d_k, std=std, n_weights=n_weights, seed=seed)
            cells.append(f"{pred:.3g} (MC {mc:.3g} ± {se:.1g})")
        rows.append(cells)
    header = ["initialisation of W_Q, W_K"] + [f"d_model = {d:,}" for d in d_models]
    return table(
        header,
        rows,
        caption=text(
            "Var[q·k/√d_k] at initialisation, one head of d_k = {d_k}, unit-variance tokens; "
            "in brackets a Monte Carlo over {n_weights} independent weight draws (± one "
            "standard error over the draws).",
            d_k=d_k,
            n_weights=n_weights,
        ),
    )


def largest_weight_at_init(
    init: str = "linear",
    d_model: int = 1024,
    d_k: int = 64,
    *,
    n_keys: int = 512,
    n_models: int = 24,
    n_queries: int = 128,
    std: float = GPT2_STD,
    n_boot: int = 200,
    seed: int = 0,
) -> dict:
    """How saturated the softmax starts, with and without 1/sqrt(d_k), at a real initialisation.

    Each of ``n_models`` independent draws initialises one head's W_Q, W_K (and biases) and
    draws ``n_keys`` key tokens and ``n_queries`` query tokens with independent standard normal
    components (unit-variance inputs, as after a LayerNorm). Returns the unscaled logit
    standard deviation (all logits pooled) and, for the unscaled and the scaled logits, the
    median over all rows of the largest softmax weight with a bootstrap standard error that
    resamples whole draws (rows of one draw share its weights and keys).
    """
    init = _init(init)
    d_model, d_k = v.positive_int("d_model", d_model), v.positive_int("d_k", d_k)
    n_keys, n_queries = v.positive_int("n_keys", n_keys), v.positive_int("n_queries", n_queries)
    n_models, n_boot = v.positive_int("n_models", n_models), v.positive_int("n_boot", n_boot)
    if n_models < 2:
        raise ValueError(f"n_models must be at least 2 for a standard error, got {n_models}")
    if d_k > d_model:
        raise ValueError(f"d_k must be at most d_model for one head's slice, got {d_k}")
    std = v.finite_float("std", std, positive=True)
    rng = np.random.default_rng([seed, d_model, d_k, n_keys, list(INITS).index(init)])
    largest = {
        "unscaled": np.empty((n_models, n_queries)),
        "scaled": np.empty((n_models, n_queries)),
    }
    sq = np.empty(n_models)
    for m in range(n_models):
        (w_q, b_q), (w_k, b_k) = (_draw(init, d_model, d_k, std, rng) for _ in range(2))
        x = rng.standard_normal((n_queries + n_keys, d_model)).astype(np.float32)
        q = x[:n_queries] @ w_q.T.astype(np.float32) + b_q
        k = x[n_queries:] @ w_k.T.astype(np.float32) + b_k
        s = (q @ k.T).astype(float)
        sq[m] = np.mean(s**2)
        for name, c in (("unscaled", 1.0), ("scaled", 1 / math.sqrt(d_k))):
            z = c * s
            p = np.exp(z - z.max(axis=1, keepdims=True))
            largest[name][m] = p.max(axis=1) / p.sum(axis=1)
    boot = np.random.default_rng([seed, 1]).integers(0, n_models, size=(n_boot, n_models))
    out = {"logit_sd": float(math.sqrt(sq.mean())), "rows": n_models * n_queries}
    for name, lw in largest.items():
        out[f"median_{name}"] = float(np.median(lw))
        out[f"median_{name}_se"] = float(np.std([np.median(lw[b]) for b in boot], ddof=1))
    return out
