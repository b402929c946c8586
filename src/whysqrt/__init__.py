"""Helpers for the book "Why √d_k?".

Every notebook imports the package one way::

    import whysqrt as ws

and then uses ``ws.softmax``, ``ws.plots.dot_product_histogram``, ``ws.interact``, ``ws.glue`` ...
Modules:

* :mod:`whysqrt.numerics` - softmax, attention scores, samples of q·k (validated input)
* :mod:`whysqrt.symbolic` - SymPy derivations
* :mod:`whysqrt.experiments` - seeded Monte Carlo experiments
* :mod:`whysqrt.heads` - multi-head, multi-query and grouped-query attention, KV cache
* :mod:`whysqrt.overflow` - exp limits, masking, online softmax, the classifier's softmax
* :mod:`whysqrt.scoring` - dot vs additive scores, shared vs separate W_Q and W_K
* :mod:`whysqrt.sharpness` - how the logit scale sharpens the softmax (softmax-sharpness)
* :mod:`whysqrt.initscale` - the logit variance each initialisation gives, across widths (in-brief)
* :mod:`whysqrt.longcontext` - long-context temperatures as deployed (YaRN, Qwen, Llama 4)
* :mod:`whysqrt.practice` - log n scaling, QK-norm, soft-capping (modern-practice)
* :mod:`whysqrt.tinytransformer` - a two-layer numpy Transformer: logit growth vs learning rate
* :mod:`whysqrt.training` - d_k**-alpha scaling and a small training experiment (why-sqrt)
* :mod:`whysqrt.diagrams` - the data flow, the geometry of q·k, the failure modes (in-brief)
* :mod:`whysqrt.plots` - pure ``params -> Figure`` functions
* :mod:`whysqrt.positional` - sinusoidal encoding, shift rotations, RoPE
* :mod:`whysqrt.normalization` - LayerNorm and BatchNorm in numpy
* :mod:`whysqrt.kvcache` - key/value cache per token (MHA, GQA, MQA, MLA) and sliding windows
* :mod:`whysqrt.tables` - ``ws.table``: multi-number tables glued whole (HTML, Markdown, text)
* :mod:`whysqrt.interactive` - live + static sliders, captioned figures, typeset math
* :mod:`whysqrt.audit` - the source-audit appendix: audit table, checks that need code
* :mod:`whysqrt.i18n` - the book's two languages: ``ws.text`` and the Chinese catalogue
* :mod:`whysqrt.sphinx_ext` - the Sphinx extension that makes the site self-contained
"""

from . import (
    audit,
    diagrams,
    experiments,
    heads,
    i18n,
    initscale,
    interactive,
    kvcache,
    longcontext,
    normalization,
    numerics,
    overflow,
    plots,
    positional,
    practice,
    scoring,
    sharpness,
    tables,
    tinytransformer,
    training,
)
from .experiments import DK_GRID
from .i18n import text
from .interactive import figure, glue, interact, math
from .numerics import (
    attention_scores,
    dot_product_samples,
    entropy,
    log_softmax,
    logsumexp,
    product_moments,
    sample_qk,
    scaled_dot_product_attention,
    softmax,
    softmax_jacobian,
)
from .tables import table

__version__ = "0.1.0"


def __getattr__(name):
    """``ws.symbolic`` is imported on first use: it loads SymPy (0.25 s), which the
    notebooks without derivations never need."""
    if name == "symbolic":
        import importlib

        return importlib.import_module(".symbolic", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DK_GRID",
    "audit",
    "attention_scores",
    "diagrams",
    "dot_product_samples",
    "entropy",
    "experiments",
    "figure",
    "glue",
    "heads",
    "interact",
    "initscale",
    "interactive",
    "kvcache",
    "longcontext",
    "log_softmax",
    "logsumexp",
    "math",
    "normalization",
    "numerics",
    "overflow",
    "plots",
    "positional",
    "practice",
    "product_moments",
    "sample_qk",
    "scoring",
    "scaled_dot_product_attention",
    "sharpness",
    "softmax",
    "softmax_jacobian",
    "symbolic",
    "table",
    "text",
    "i18n",
    "tinytransformer",
    "tables",
    "training",
]
