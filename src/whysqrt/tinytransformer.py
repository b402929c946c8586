"""A two-layer Transformer in numpy: attention-logit growth with and without QK-norm as Adam's
learning rate rises (the small-scale experiment of Wortsman et al. 2023, in miniature).

Not run by the build (it does not fit the book's build budget): modern-practice's exercise has the
reader run it in a kernel. :func:`lr_sweep` is the experiment, :func:`loss_and_grads` the model
with its hand-derived backward pass (checked against finite differences in
``tests/test_tinytransformer.py``).

The model, for R independent runs at once (every array has a leading run axis)::

    x = E[token] + P[position]                                   (d_model)
    per layer:  a = rms(x);  q, k, v = a W_Q, a W_K, a W_V        (h heads of d_k)
                QK-norm:  q <- gamma_q * rms(q),  k <- gamma_k * rms(k)   (per head, over d_k)
                s = q k^T / sqrt(d_k) (causal),  x <- x + softmax(s) v W_O
                x <- x + relu(rms(x) W_1) W_2
    z = rms(x) W_U,  loss = cross-entropy of z on the counted positions

``rms(y) = y / sqrt(mean(y^2) + eps)`` has no gain, except QK-norm's learned per-channel gains
gamma_q, gamma_k (shared by the heads of a layer, from 1), as in Qwen3 and Gemma 3.

The task: 8 random tokens from a vocabulary of 16, then the same 8 again; the loss counts only
the predictions inside the repeat, which an attention head solves exactly by looking 7 positions
back (a loss of 0 is reachable; uniform guessing scores log 16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .training import adam_update

__all__ = [
    "VARIANTS",
    "init_params",
    "make_batches",
    "loss_and_grads",
    "SweepResult",
    "lr_sweep",
]

VARIANTS = ("plain", "qk-norm")
EPS = 1e-6


def _rms(y):
    r = np.sqrt(np.mean(y * y, axis=-1, keepdims=True) + EPS)
    return y / r, r


def _rms_back(dy, u, r):
    """Backward of u = y / r(y): dy/dy = (dy - u mean(dy u)) / r."""
    return (dy - u * np.mean(dy * u, axis=-1, keepdims=True)) / r


def _lin(y, w):
    """y (R, ..., d_in) times each run's w (R, d_in, d_out), as R matrix products."""
    return (y.reshape(y.shape[0], -1, y.shape[-1]) @ w).reshape(*y.shape[:-1], w.shape[-1])


def _lin_t(dy, w):
    """dy (R, ..., d_out) times w^T: the input's gradient of :func:`_lin`."""
    return _lin(dy, np.swapaxes(w, 1, 2))


def _wgrad(y, dy):
    """The weight's gradient of :func:`_lin`: sum over the rows of y^T dy, per run."""
    r = y.shape[0]
    return np.swapaxes(y.reshape(r, -1, y.shape[-1]), 1, 2) @ dy.reshape(r, -1, dy.shape[-1])


def init_params(
    runs: int,
    seed: int = 0,
    vocab: int = 16,
    n: int = 15,
    d_model: int = 32,
    heads: int = 2,
    layers: int = 2,
    d_ff: int = 64,
    qk_norm: bool = False,
) -> dict[str, np.ndarray]:
    """Weights of ``runs`` independent models, N(0, 1/fan_in) (embeddings N(0, 1)), seeded.

    Keys ``E``, ``P``, ``U`` and, per layer ``l``, ``Q{l}``, ``K{l}``, ``V{l}``, ``O{l}``,
    ``W1{l}``, ``W2{l}`` (and ``gq{l}``, ``gk{l}`` with QK-norm); each with a leading run axis.
    """
    runs, vocab, n = (v.positive_int(k, x) for k, x in (("runs", runs), ("vocab", vocab), ("n", n)))
    d_model, heads = v.positive_int("d_model", d_model), v.positive_int("heads", heads)
    layers, d_ff = v.positive_int("layers", layers), v.positive_int("d_ff", d_ff)
    if d_model % heads:
        raise ValueError(f"d_model must be divisible by heads, got {d_model} and {heads}")
    rng = np.random.default_rng(seed)

    def w(*shape, fan_in=None):
        scale = 1.0 if fan_in is None else 1 / math.sqrt(fan_in)
        return scale * rng.standard_normal((runs, *shape))

    p = {"E": w(vocab, d_model), "P": w(n, d_model), "U": w(d_model, vocab, fan_in=d_model)}
    for layer in range(layers):
        for name in "QKVO":
            p[f"{name}{layer}"] = w(d_model, d_model, fan_in=d_model)
        p[f"W1{layer}"] = w(d_model, d_ff, fan_in=d_model)
        p[f"W2{layer}"] = w(d_ff, d_model, fan_in=d_ff)
        if qk_norm:
            p[f"gq{layer}"] = np.ones((runs, d_model // heads))
            p[f"gk{layer}"] = np.ones((runs, d_model // heads))
    return p


def make_batches(runs_seeds, steps: int, batch: int = 16, vocab: int = 16, half: int = 8):
    """Token sequences (R, steps, batch, 2 half): ``half`` random tokens, then the same again.

    Run r draws its data from ``default_rng(runs_seeds[r])``: runs with equal seeds see
    the same batches (paired comparisons), different seeds independent ones.
    """
    steps, batch = v.positive_int("steps", steps), v.positive_int("batch", batch)
    vocab, half = v.positive_int("vocab", vocab), v.positive_int("half", half)
    out = []
    for s in runs_seeds:
        first = np.random.default_rng([int(s), 1]).integers(0, vocab, (steps, batch, half))
        out.append(np.concatenate([first, first], axis=-1))
    return np.stack(out)


def loss_and_grads(params, tokens, heads: int = 2, counted: slice | None = None):
    """Mean cross-entropy per run (R,), gradients (same keys as ``params``) and the largest
    |attention logit| per run (R,) over both layers, heads, the batch and causal pairs.

    ``tokens`` (R, B, n + 1): inputs ``tokens[..., :-1]``, targets ``tokens[..., 1:]``;
    ``counted`` selects the target positions in the loss (default: the repeated half).
    """
    tokens = np.asarray(tokens)
    n_r, n_b, n_in = tokens.shape[0], tokens.shape[1], tokens.shape[2] - 1
    layers = sum(1 for k in params if k.startswith("Q"))
    qk_norm = "gq0" in params
    vocab, d = params["E"].shape[1:]
    d_k = d // heads
    if counted is None:
        counted = slice(tokens.shape[2] // 2 - 1, n_in)
    inp, tgt = tokens[..., :-1], tokens[..., 1:]
    onehot = np.eye(vocab)[inp]  # (R, B, n, V)
    x = _lin(onehot, params["E"]) + params["P"][:, None, :n_in]
    causal = np.tril(np.ones((n_in, n_in), bool))
    cache, max_logit = [], np.zeros(n_r)

    def split(y):  # (R, B, n, d) -> (R, B, h, n, d_k)
        return y.reshape(n_r, n_b, n_in, heads, d_k).transpose(0, 1, 3, 2, 4)

    def merge(y):
        return y.transpose(0, 1, 3, 2, 4).reshape(n_r, n_b, n_in, d)

    for layer in range(layers):
        a, ra = _rms(x)
        q, k, val = (split(_lin(a, params[f"{m}{layer}"])) for m in "QKV")
        c = {"a": a, "ra": ra, "v": val}
        if qk_norm:
            (uq, rq), (uk, rk) = _rms(q), _rms(k)
            gq, gk = params[f"gq{layer}"], params[f"gk{layer}"]
            q, k = uq * gq[:, None, None, None], uk * gk[:, None, None, None]
            c.update(uq=uq, rq=rq, uk=uk, rk=rk)
        s = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)  # (R, B, h, n, n)
        max_logit = np.maximum(
            max_logit, np.max(np.abs(np.where(causal, s, 0.0)), axis=(1, 2, 3, 4))
        )
        s = np.where(causal, s, -np.inf)
        pr = np.exp(s - s.max(axis=-1, keepdims=True))
        pr /= pr.sum(axis=-1, keepdims=True)
        o = merge(pr @ val)
        x = x + _lin(o, params[f"O{layer}"])
        c.update(q=q, k=k, p=pr, o=o)
        b, rb = _rms(x)
        hid = np.maximum(_lin(b, params[f"W1{layer}"]), 0.0)
        x = x + _lin(hid, params[f"W2{layer}"])
        c.update(b=b, rb=rb, hid=hid)
        cache.append(c)
    f, rf = _rms(x)
    z = _lin(f, params["U"])  # (R, B, n, V)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    mask = np.zeros(n_in)
    mask[counted] = 1.0
    count = n_b * mask.sum()
    picked = np.take_along_axis(logp, tgt[..., None], axis=-1)[..., 0]
    loss = -np.sum(picked * mask, axis=(1, 2)) / count

    g = {}
    dz = (np.exp(logp) - np.eye(vocab)[tgt]) * (mask / count)[:, None]
    g["U"] = _wgrad(f, dz)
    dx = _rms_back(_lin_t(dz, params["U"]), f, rf)
    for layer in reversed(range(layers)):
        c = cache[layer]
        w1, w2 = params[f"W1{layer}"], params[f"W2{layer}"]
        g[f"W2{layer}"] = _wgrad(c["hid"], dx)
        dh = _lin_t(dx, w2) * (c["hid"] > 0)
        g[f"W1{layer}"] = _wgrad(c["b"], dh)
        dx = dx + _rms_back(_lin_t(dh, w1), c["b"], c["rb"])
        g[f"O{layer}"] = _wgrad(c["o"], dx)
        do = split(_lin_t(dx, params[f"O{layer}"]))
        dp = do @ np.swapaxes(c["v"], -1, -2)
        dv = np.swapaxes(c["p"], -1, -2) @ do
        ds = c["p"] * (dp - np.sum(c["p"] * dp, axis=-1, keepdims=True)) / math.sqrt(d_k)
        dq, dk = ds @ c["k"], np.swapaxes(ds, -1, -2) @ c["q"]
        if qk_norm:
            gq, gk = params[f"gq{layer}"], params[f"gk{layer}"]
            g[f"gq{layer}"] = np.sum(dq * c["uq"], axis=(1, 2, 3))
            g[f"gk{layer}"] = np.sum(dk * c["uk"], axis=(1, 2, 3))
            dq = _rms_back(dq * gq[:, None, None, None], c["uq"], c["rq"])
            dk = _rms_back(dk * gk[:, None, None, None], c["uk"], c["rk"])
        da = 0.0
        for m, dm in (("Q", dq), ("K", dk), ("V", dv)):
            dm = merge(dm)
            g[f"{m}{layer}"] = _wgrad(c["a"], dm)
            da = da + _lin_t(dm, params[f"{m}{layer}"])
        dx = dx + _rms_back(da, c["a"], c["ra"])
    g["E"] = _wgrad(onehot, dx)
    g["P"] = np.zeros_like(params["P"])
    g["P"][:, :n_in] = dx.sum(axis=1)
    return loss, g, max_logit


@dataclass(frozen=True)
class SweepResult:
    """Final loss and largest |logit| per (variant, learning rate, seed), averaged over the last
    ``last`` steps; ``diverged`` marks runs whose loss became non-finite (their values are nan)."""

    lrs: np.ndarray
    seeds: int
    steps: int
    loss: dict
    max_logit: dict
    diverged: dict

    def mean_se(self, field: str, variant: str):
        """Mean and standard error over seeds, per learning rate (nan where any seed diverged)."""
        x = getattr(self, field)[variant]
        return x.mean(axis=1), x.std(axis=1, ddof=1) / math.sqrt(x.shape[1])


def lr_sweep(
    lrs=(1e-3, 1e-2, 1e-1),
    seeds: int = 3,
    steps: int = 300,
    batch: int = 16,
    last: int = 20,
    variants=VARIANTS,
    **model,
) -> SweepResult:
    """Train every (learning rate, seed) of each variant with Adam, all runs as one array.

    Seed r gives the same initial weights (QK-norm adds its gains) and the same batches to
    every variant and learning rate; seeds are independent, so the standard error over
    seeds is the error bar. ``model`` passes sizes to :func:`init_params`.
    """
    lrs = v.finite_array("lrs", lrs, ndim_min=0).ravel()
    if np.any(lrs <= 0):
        raise ValueError(f"lrs must be positive, got {lrs.tolist()}")
    seeds, steps = v.positive_int("seeds", seeds), v.positive_int("steps", steps)
    if seeds < 2:
        raise ValueError(f"seeds must be at least 2 for an error bar, got {seeds}")
    last = v.positive_int("last", last)
    if last > steps:
        raise ValueError(f"last must be at most steps = {steps}, got {last}")
    if isinstance(variants, str) or not set(variants) <= set(VARIANTS) or not variants:
        raise ValueError(f"variants must be a non-empty sequence from {VARIANTS}, got {variants!r}")
    heads = model.get("heads", 2)
    vocab = model.get("vocab", 16)
    half = (model.get("n", 15) + 1) // 2
    run_seed = np.tile(np.arange(seeds), lrs.size)  # runs ordered (lr, seed)
    data = make_batches(run_seed, steps, batch, vocab, half)
    out = {"loss": {}, "max_logit": {}, "diverged": {}}
    for variant in variants:
        per_seed = [
            init_params(1, seed=s, qk_norm=variant == "qk-norm", **model) for s in range(seeds)
        ]
        params = {k: np.concatenate([p[k] for p in per_seed])[run_seed] for k in per_seed[0]}
        moments = {k: (np.zeros_like(w), np.zeros_like(w)) for k, w in params.items()}
        lr = np.repeat(lrs, seeds)
        losses, logits = np.empty((steps, lr.size)), np.empty((steps, lr.size))
        with np.errstate(all="ignore"):
            for t in range(steps):
                losses[t], grads, logits[t] = loss_and_grads(params, data[:, t], heads)
                for k in params:
                    step, *moments[k] = adam_update(
                        grads[k], *moments[k], t + 1, lr.reshape(-1, *[1] * (params[k].ndim - 1))
                    )
                    params[k] = params[k] + step
        bad = ~np.all(np.isfinite(losses), axis=0)
        for field, arr in (("loss", losses), ("max_logit", logits)):
            final = arr[-last:].mean(axis=0)
            final[bad] = np.nan
            out[field][variant] = final.reshape(lrs.size, seeds)
        out["diverged"][variant] = bad.reshape(lrs.size, seeds)
    return SweepResult(lrs, seeds, steps, **out)
