"""What a decoder keeps per token: the key/value cache of MHA, GQA, MQA and MLA, with windows.

Used by the ``mqa-gqa`` chapter. Three questions, each a pure function:

* how many numbers one token leaves in one layer's cache (:func:`gqa_numbers` for
  multi-head/grouped/multi-query attention, :func:`mla_numbers` for DeepSeek's multi-head
  latent attention, which caches one compressed latent plus one shared RoPE key);
* how many multiply-adds one new query token does per cached number it reads
  (:func:`gqa_macs_per_number`, :func:`mla_macs_per_number`), the arithmetic intensity behind
  the memory-bandwidth argument for MQA and GQA;
* how large a whole sequence's cache is when some layers attend only to a sliding window
  (:func:`layer_windows`, :func:`cache_bytes`).

The published shapes are in :data:`MODELS`, each with the file it comes from.
"""

from __future__ import annotations

from . import _validate as v

__all__ = [
    "MODELS",
    "gqa_numbers",
    "mla_numbers",
    "gqa_macs_per_number",
    "mla_macs_per_number",
    "layer_windows",
    "cache_bytes",
    "per_token_rows",
    "window_rows",
    "per_token_table",
    "window_table",
]


def gqa_numbers(g: int, d_k: int, d_v: int | None = None) -> int:
    """Numbers one token adds to one layer's cache with g key/value heads: g (d_k + d_v).

    g = h is multi-head attention, g = 1 multi-query; ``d_v`` defaults to ``d_k``.
    """
    g, d_k = v.positive_int("g", g), v.positive_int("d_k", d_k)
    d_v = d_k if d_v is None else v.positive_int("d_v", d_v)
    return g * (d_k + d_v)


def mla_numbers(kv_lora_rank: int, qk_rope_head_dim: int) -> int:
    """Numbers one token adds to one MLA layer's cache: the latent plus the shared RoPE key.

    DeepSeek-V3's ``MLA`` (``attn_impl="absorb"``) keeps ``kv_cache`` (kv_lora_rank numbers)
    and ``pe_cache`` (qk_rope_head_dim numbers) per token, shared by every head.
    """
    return v.positive_int("kv_lora_rank", kv_lora_rank) + v.positive_int(
        "qk_rope_head_dim", qk_rope_head_dim
    )


def gqa_macs_per_number(h: int, g: int) -> float:
    """Multiply-adds per cached number read when one query token attends (h query heads, g KV heads).

    Scores: h d_k multiply-adds per cached token; weighted values: h d_v. The token's cache
    holds g (d_k + d_v) numbers, so the ratio is h / g: 1 for MHA, h for MQA.
    """
    h, g = v.positive_int("h", h), v.positive_int("g", g)
    if h % g:
        raise ValueError(f"g must divide h, got h={h}, g={g}")
    return h / g


def mla_macs_per_number(h: int, kv_lora_rank: int, qk_rope_head_dim: int) -> float:
    """The same ratio for absorbed MLA: every head scores against the whole cached token and
    sums the latent, h (kv_lora_rank + qk_rope_head_dim + kv_lora_rank) multiply-adds."""
    h = v.positive_int("h", h)
    per_token = mla_numbers(kv_lora_rank, qk_rope_head_dim)
    return h * (per_token + kv_lora_rank) / per_token


def layer_windows(layers: int, pattern=(None,), window: int | None = None) -> list:
    """Each layer's attention span: ``None`` (global) or ``window`` tokens.

    ``pattern`` repeats over the layers as in gemma_pytorch (layer i uses
    ``pattern[i % len(pattern)]``); its entries are ``"local"`` or ``None`` (global).
    """
    layers = v.positive_int("layers", layers)
    if isinstance(pattern, str) or not pattern or any(p not in ("local", None) for p in pattern):
        raise ValueError(f"pattern must be a non-empty sequence of 'local'/None, got {pattern!r}")
    if "local" in pattern:
        if window is None:
            raise ValueError("window must be given when pattern has local layers")
        window = v.positive_int("window", window)
    return [window if pattern[i % len(pattern)] == "local" else None for i in range(layers)]


def cache_bytes(numbers_per_token: int, n: int, windows, batch: int = 1, bytes_per_value=2) -> int:
    """Bytes of a whole cache after n tokens: each layer keeps min(n, its window) tokens.

    ``windows`` is one entry per layer (``None`` = global), e.g. from :func:`layer_windows`.
    """
    per_token = v.positive_int("numbers_per_token", numbers_per_token)
    n, batch = v.positive_int("n", n), v.positive_int("batch", batch)
    if isinstance(windows, str | int) or not list(windows):
        raise ValueError("windows must be a non-empty sequence, one entry per layer")
    kept = sum(n if w is None else min(n, v.positive_int("windows", w)) for w in windows)
    return kept * per_token * batch * v.positive_int("bytes_per_value", bytes_per_value)


#: Published shapes (bib keys in brackets). Llama 2 70B: config.json [meta2023llama2config];
#: DeepSeek-V3: inference/configs/config_671B.json and class MLA in inference/model.py
#: [deepseekv3_code]; Mistral 7B v0.1: paper Table 1 [jiang2023mistral]; Gemma 2 27B and
#: Gemma 3 27B: gemma/config.py, get_config_for_27b and get_config_for_27b_v3 [gemma_pytorch];
#: gpt-oss-120b: gpt_oss/torch/model.py, ModelConfig (36 layers, 128 experts) and AttentionBlock
#: (window 128 on even layers), context 4,096 x rope_scaling_factor 32 [gptoss_torch_model].
MODELS = {
    "llama2-70b": {"layers": 80, "h": 64, "g": 8, "d_k": 128},
    "deepseek-v3": {
        "layers": 61,
        "h": 128,
        "kv_lora_rank": 512,
        "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64,
        "v_head_dim": 128,
    },
    "mistral-7b": {
        "layers": 32,
        "h": 32,
        "g": 8,
        "d_k": 128,
        "pattern": ("local",),
        "window": 4096,
    },
    "gemma2-27b": {
        "layers": 46,
        "h": 32,
        "g": 16,
        "d_k": 128,
        "pattern": ("local", None),
        "window": 4096,
        "context": 8192,
    },
    "gemma3-27b": {
        "layers": 62,
        "h": 32,
        "g": 16,
        "d_k": 128,
        "pattern": ("local",) * 5 + (None,),
        "window": 1024,
        "context": 131072,
    },
    "gpt-oss-120b": {
        "layers": 36,
        "h": 64,
        "g": 8,
        "d_k": 64,
        "pattern": ("local", None),
        "window": 128,
        "context": 131072,
    },
}


def per_token_rows(models=MODELS) -> list[dict]:
    """Per token and layer: numbers cached, bf16 bytes, multiply-adds per number read.

    Rows: Llama 2 70B as released (GQA, G = 8), the same shape with MHA and MQA, DeepSeek-V3's
    MLA as its inference code caches it, and DeepSeek-V3's heads cached in full (its
    ``attn_impl="naive"``: keys of qk_nope + qk_rope numbers and values of v_head_dim per head).
    """
    ll, ds = models["llama2-70b"], models["deepseek-v3"]
    rows = []
    for name, g in (("GQA", ll["g"]), ("MHA", ll["h"]), ("MQA", 1)):
        rows.append(
            {
                "name": f"Llama 2 70B shape, {name} (G = {g})",
                "numbers": gqa_numbers(g, ll["d_k"]),
                "macs": gqa_macs_per_number(ll["h"], g),
            }
        )
    mla = mla_numbers(ds["kv_lora_rank"], ds["qk_rope_head_dim"])
    macs = mla_macs_per_number(ds["h"], ds["kv_lora_rank"], ds["qk_rope_head_dim"])
    rows.append({"name": "DeepSeek-V3, MLA (latent + RoPE key)", "numbers": mla, "macs": macs})
    d_k = ds["qk_nope_head_dim"] + ds["qk_rope_head_dim"]
    full = gqa_numbers(ds["h"], d_k, ds["v_head_dim"])
    rows.append({"name": "DeepSeek-V3 heads cached in full", "numbers": full, "macs": 1.0})
    for r in rows:
        r["bytes"] = 2 * r["numbers"]
    return rows


def window_rows(models=MODELS, mistral_n: int = 32768) -> list[dict]:
    """Whole-sequence bf16 cache with and without each model's sliding-window layers.

    Mistral 7B v0.1 at ``mistral_n`` tokens (the paper's 32k example); Gemma 2 27B,
    Gemma 3 27B and gpt-oss-120b at their own context lengths. ``fraction`` = windowed / all-global.
    """
    rows = []
    for key, name in (
        ("mistral-7b", "Mistral 7B v0.1"),
        ("gemma2-27b", "Gemma 2 27B"),
        ("gemma3-27b", "Gemma 3 27B"),
        ("gpt-oss-120b", "gpt-oss-120b"),
    ):
        m = models[key]
        n = m.get("context", mistral_n)
        per = gqa_numbers(m["g"], m["d_k"])
        windows = layer_windows(m["layers"], m["pattern"], m["window"])
        windowed = cache_bytes(per, n, windows)
        full = cache_bytes(per, n, [None] * m["layers"])
        rows.append(
            {
                "name": name,
                "n": n,
                "window": m["window"],
                "local_layers": sum(w is not None for w in windows),
                "layers": m["layers"],
                "full": full,
                "windowed": windowed,
                "fraction": windowed / full,
            }
        )
    return rows


def per_token_table(rows=None):
    """:func:`per_token_rows` as a glueable ``ws.table`` (used by the ``mqa-gqa`` chapter)."""
    from .tables import table

    rows = per_token_rows() if rows is None else rows
    return table(
        ["per token and layer", "numbers", "bytes (bf16)", "multiply-adds per number read"],
        [[r["name"], r["numbers"], r["bytes"], r["macs"]] for r in rows],
        fmt=["", ",d", ",d", ".0f"],
    )


def window_table(rows=None):
    """:func:`window_rows` as a glueable ``ws.table``: GiB with every layer global and as built."""
    from .tables import table

    rows = window_rows() if rows is None else rows
    header = ["model", "tokens n", "window W", "local layers", "GiB, all global", "GiB, as built"]
    cells = [
        [
            r["name"],
            r["n"],
            r["window"],
            f"{r['local_layers']} of {r['layers']}",
            r["full"] / 2**30,
            r["windowed"] / 2**30,
            r["fraction"],
        ]
        for r in rows
    ]
    return table(header + ["ratio"], cells, fmt=["", ",d", ",d", "", ".2f", ".2f", ".3f"])
