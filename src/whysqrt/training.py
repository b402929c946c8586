"""Why d_k**-0.5 and not d_k**-1 or 1: logit scaling and a tiny training experiment.

Used by the ``why-sqrt`` chapter.

* :func:`alpha_panel` (figure) scales the logits by ``d_k**-alpha`` and shows the
  logit variance d_k**(1 - 2 alpha) and what the softmax does with it;
* :func:`make_task` draws a synthetic retrieval task: the query is a noisy copy of
  one of ``n_keys`` keys and the target is the value stored with that key;
* :func:`loss_and_grads` is one attention layer with learned W_Q, W_K and fixed
  values, with hand-derived gradients (checked against finite differences in
  ``tests/test_training.py``);
* :func:`train` runs plain SGD for each scale exponent alpha (numpy only, seeded).

The layer, for one example with inputs x_0 (query token) and x_1..x_n (key tokens)::

    q = W_Q x_0,  k_j = W_K x_j,  s_j = c q·k_j with c = d_k**-alpha,
    p = softmax(s),  o = sum_j p_j v_j,  L = 1/2 |o - y|^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .numerics import entropy, softmax
from .plots import COLORS, new_figure
from .sharpness import draw_weights, random_logits

__all__ = [
    "Task",
    "make_task",
    "init_params",
    "loss_and_grads",
    "TrainResult",
    "train",
    "LrSweep",
    "lr_sweep",
    "lr_sweep_figure",
    "describe_lr_sweep_figure",
    "alpha_panel",
    "describe_alpha_panel",
    "training_curves",
    "describe_training_curves",
]

ALPHA_COLORS = {0.0: COLORS["unscaled"], 0.5: COLORS["scaled"], 1.0: "#009E73"}


@dataclass(frozen=True)
class Task:
    """One batch of the retrieval task.

    ``x`` (batch, 1 + n_keys, d_model): token 0 is the query, tokens 1..n the keys;
    ``values`` (batch, n_keys, d_v): the value stored with each key;
    ``target`` (batch,): index of the key the query copies; ``y`` = values[target].
    """

    x: np.ndarray
    values: np.ndarray
    target: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return self.values[np.arange(len(self.target)), self.target]


def make_task(
    batch: int, n_keys: int = 8, d_model: int = 16, d_v: int = 8, noise: float = 0.5, rng=None
) -> Task:
    """Draw a batch: keys and values i.i.d. N(0, 1) (values N(0, 1/d_v)), query = key[target] + noise.

    Keys have standard normal components so that q = W_Q x has unit-variance
    components when W_Q has N(0, 1/d_model) entries: the setting of the variance argument.
    """
    batch, n_keys = v.positive_int("batch", batch), v.positive_int("n_keys", n_keys)
    d_model, d_v = v.positive_int("d_model", d_model), v.positive_int("d_v", d_v)
    noise = v.finite_float("noise", noise, nonneg=True)
    if rng is None:
        rng = np.random.default_rng(0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    keys = rng.standard_normal((batch, n_keys, d_model))
    target = rng.integers(0, n_keys, size=batch)
    query = keys[np.arange(batch), target] + noise * rng.standard_normal((batch, d_model))
    values = rng.standard_normal((batch, n_keys, d_v)) / np.sqrt(d_v)
    return Task(np.concatenate([query[:, None], keys], axis=1), values, target)


def init_params(d_model: int, d_k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """W_Q, W_K of shape (d_k, d_model) with i.i.d. N(0, 1/d_model) entries (seeded)."""
    d_model, d_k = v.positive_int("d_model", d_model), v.positive_int("d_k", d_k)
    rng = np.random.default_rng(seed)
    std = 1 / np.sqrt(d_model)
    return {
        "W_Q": std * rng.standard_normal((d_k, d_model)),
        "W_K": std * rng.standard_normal((d_k, d_model)),
    }


def _check_params(params, d_model: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(params, dict) or set(params) != {"W_Q", "W_K"}:
        raise TypeError("params must be a dict with the keys 'W_Q' and 'W_K'")
    wq = v.finite_array("params", params["W_Q"], ndim_min=2)
    wk = v.finite_array("params", params["W_K"], ndim_min=2)
    if wq.ndim != 2 or wq.shape != wk.shape or wq.shape[1] != d_model:
        raise ValueError(
            f"params W_Q and W_K must both have shape (d_k, {d_model}), "
            f"got {wq.shape} and {wk.shape}"
        )
    return wq, wk


def loss_and_grads(params, task: Task, alpha: float = 0.5):
    """Mean loss over the batch, the gradients with respect to W_Q and W_K, and the weights p.

    Hand-derived backward pass (see the ``why-sqrt`` chapter), with c = d_k**-alpha::

        delta = o - y                    dL/do
        u_j   = v_j · delta              dL/dp_j
        g_j   = p_j (u_j - sum_i p_i u_i)  dL/ds_j   (softmax Jacobian)
        dL/dq = c sum_j g_j k_j,  dL/dk_j = c g_j q
        dL/dW_Q = mean_b dL/dq x_0^T,  dL/dW_K = mean_b sum_j dL/dk_j x_j^T
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    wq, wk = _check_params(params, task.x.shape[2])
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    d_k = wq.shape[0]
    c = d_k**-alpha
    x0, xk = task.x[:, 0], task.x[:, 1:]
    q = x0 @ wq.T  # (B, d_k)
    k = xk @ wk.T  # (B, n, d_k)
    s = c * (k @ q[:, :, None])[..., 0]  # (B, n)
    p = softmax(s, axis=-1)
    o = (p[:, None, :] @ task.values)[:, 0]  # (B, d_v)
    delta = o - task.y
    batch = len(delta)
    loss = 0.5 * float(np.mean(np.sum(delta**2, axis=1)))
    u = (task.values @ delta[:, :, None])[..., 0]  # (B, n)
    g = p * (u - np.sum(p * u, axis=1, keepdims=True))
    dq = c * (g[:, None, :] @ k)[:, 0]  # (B, d_k)
    gx = (g[:, None, :] @ xk)[:, 0]  # sum_j g_j x_j, (B, d_model)
    grads = {"W_Q": dq.T @ x0 / batch, "W_K": c * q.T @ gx / batch}
    return loss, grads, p


@dataclass(frozen=True)
class TrainResult:
    """Per-step training loss, gradient norm (Frobenius, both matrices) and accuracy, per alpha."""

    d_k: int
    lr: float
    alphas: tuple
    loss: dict
    grad_norm: dict
    accuracy: dict
    init_entropy: dict

    def final_loss(self, alpha: float, last: int = 50) -> float:
        """Mean training loss over the last ``last`` steps."""
        return float(np.mean(self.loss[alpha][-last:]))


def train(
    d_k: int,
    alphas=(0.0, 0.5, 1.0),
    lr: float = 1.0,
    steps: int = 300,
    batch: int = 32,
    n_keys: int = 8,
    d_model: int = 16,
    seed: int = 0,
) -> TrainResult:
    """Plain SGD on the retrieval task for each alpha, from the same initialisation and batches.

    Every alpha sees identical W_Q, W_K at step 0 and identical batches, so the
    curves differ only by the logit scale d_k**-alpha.
    """
    d_k, steps = v.positive_int("d_k", d_k), v.positive_int("steps", steps)
    lr = v.finite_float("lr", lr, positive=True)
    alphas = tuple(v.in_range("alphas", a, 0.0, 2.0) for a in alphas)
    if not alphas:
        raise ValueError("alphas must not be empty")
    out = {name: {} for name in ("loss", "grad_norm", "accuracy", "init_entropy")}
    data = make_task(steps * batch, n_keys, d_model, rng=np.random.default_rng(seed + 1))
    tasks = [
        Task(
            data.x[t * batch : (t + 1) * batch],
            data.values[t * batch : (t + 1) * batch],
            data.target[t * batch : (t + 1) * batch],
        )
        for t in range(steps)
    ]
    for a in alphas:
        params = init_params(d_model, d_k, seed)
        rec = np.empty((3, steps))
        for t, task in enumerate(tasks):
            loss, grads, p = loss_and_grads(params, task, a)
            gn = np.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
            rec[:, t] = loss, gn, np.mean(p.argmax(axis=1) == task.target)
            if t == 0:
                out["init_entropy"][a] = float(np.mean(entropy(p, axis=-1)))
            params = {name: params[name] - lr * grads[name] for name in params}
        out["loss"][a], out["grad_norm"][a], out["accuracy"][a] = rec
    return TrainResult(d_k, lr, alphas, **out)


@dataclass(frozen=True)
class LrSweep:
    """Final training loss ``loss[i, j, l]`` for d_ks[i], alphas[j], lrs[l] (mean of the last 50 steps)."""

    d_ks: tuple
    alphas: tuple
    lrs: tuple
    loss: np.ndarray
    runs: dict = field(default_factory=dict, repr=False)  # (d_k, lr) -> TrainResult

    def best_alpha(self, d_k: int, lr: float) -> float:
        """The alpha with the lowest final loss at (d_k, lr)."""
        i, m = self.d_ks.index(d_k), self.lrs.index(lr)
        return self.alphas[int(np.argmin(self.loss[i, :, m]))]

    def best(self, d_k: int, alpha: float) -> tuple[float, float]:
        """(lowest final loss over the learning rates, the learning rate that reached it)."""
        i, j = self.d_ks.index(d_k), self.alphas.index(alpha)
        m = int(np.argmin(self.loss[i, j]))
        return float(self.loss[i, j, m]), self.lrs[m]


def lr_sweep(
    d_ks=(16, 64, 256),
    lrs=(0.1, 0.3, 1.0, 3.0, 10.0),
    alphas=(0.0, 0.5, 1.0),
    steps: int = 200,
    seed: int = 0,
) -> LrSweep:
    """:func:`train` on every (d_k, learning rate) and record each alpha's final loss."""
    d_ks = tuple(v.positive_int("d_ks", d) for d in d_ks)
    lrs = tuple(v.finite_float("lrs", x, positive=True) for x in lrs)
    if not d_ks or not lrs:
        raise ValueError("d_ks and lrs must not be empty")
    loss = np.empty((len(d_ks), len(alphas), len(lrs)))
    runs = {}
    for i, d in enumerate(d_ks):
        for m, lr in enumerate(lrs):
            runs[d, lr] = r = train(d, alphas, lr=lr, steps=steps, seed=seed)
            loss[i, :, m] = [r.final_loss(a) for a in r.alphas]
    return LrSweep(d_ks, tuple(float(a) for a in alphas), lrs, loss, runs)


# -- figures -------------------------------------------------------------------
@lru_cache(maxsize=16)
def _raw_logits(d_k: int, n_keys: int, seed: int) -> tuple[np.ndarray, float]:
    """One query's raw logits and the sample variance of 200 more rows (cached per d_k)."""
    raw = random_logits(d_k, n_keys, 1, seed)[0]
    raw.setflags(write=False)
    return raw, float(np.var(random_logits(d_k, n_keys, 200, seed + 1)))


def _alpha_row(d_k: int, alpha: float, n_keys: int, seed: int) -> tuple[np.ndarray, float]:
    raw, var = _raw_logits(d_k, n_keys, seed)
    return softmax(raw * d_k**-alpha), var * d_k ** (-2 * alpha)


def alpha_panel(alpha: float = 0.5, d_k: int = 64, n_keys: int = 16, seed: int = 0) -> Figure:
    """Logits q·k / d_k**alpha: one query's softmax weights, and the logit variance against d_k.

    Right panel: the predicted variance d_k**(1 - 2 alpha) for alpha = 0, 1/2, 1 (thin)
    and for the chosen alpha (thick), with the sampled variance at ``d_k`` as a dot.
    """
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    p, var = _alpha_row(d_k, alpha, n_keys, seed)
    fig, (ax_p, ax_v) = new_figure(2)
    draw_weights(ax_p, p, COLORS["scaled"], f"α = {alpha:g}, $d_k$ = {d_k}")
    d = np.geomspace(1, 1024, 50)
    for a, col in ALPHA_COLORS.items():
        ax_v.loglog(d, d ** (1 - 2 * a), color=col, lw=0.8, alpha=0.6, label=f"α = {a:g}")
    ax_v.loglog(
        d, d ** (1 - 2 * alpha), color=COLORS["theory"], lw=2, label=f"α = {alpha:g} (chosen)"
    )
    ax_v.loglog([d_k], [var], "o", color=COLORS["unscaled"], ms=7, label=f"sampled: {var:.3g}")
    ax_v.set_ylim(1e-3 / 1.5, 1.5e3)
    ax_v.minorticks_off()  # minor log ticks cost most of the drawing time of every slider frame
    ax_v.set_yticks([1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3])
    ax_v.set_xticks([1, 4, 16, 64, 256, 1024], labels=["1", "4", "16", "64", "256", "1024"])
    ax_v.set_xlabel("$d_k$")
    ax_v.set_ylabel("Var of logit")
    ax_v.set_title(r"Var $= d_k^{\,1-2\alpha}$", fontsize=10)
    ax_v.legend(fontsize=7, frameon=False, loc="lower left")
    return fig


def describe_alpha_panel(alpha: float = 0.5, d_k: int = 64, n_keys: int = 16, seed: int = 0) -> str:
    """Alt text for :func:`alpha_panel` at the same parameters."""
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    p, var = _alpha_row(d_k, alpha, n_keys, seed)
    return (
        f"Logits divided by d_k to the power {alpha:g} at d_k = {d_k}: predicted logit variance "
        f"{d_k ** (1 - 2 * alpha):.3g}, sampled {var:.3g}; one query's largest weight over "
        f"{n_keys} keys is {p.max():.3f}, entropy {entropy(p):.2f} nats."
    )


def lr_sweep_figure(sweep: LrSweep, chance: float | None = None) -> Figure:
    """Final loss against the learning rate, one panel per d_k, one line per alpha."""
    if not isinstance(sweep, LrSweep):
        raise TypeError(f"sweep must be an LrSweep, got {type(sweep).__name__}")
    fig, axes = new_figure(len(sweep.d_ks))
    for i, (ax, d) in enumerate(zip(axes, sweep.d_ks)):
        for j, a in enumerate(sweep.alphas):
            ax.semilogx(
                sweep.lrs,
                sweep.loss[i, j],
                "o-",
                ms=3,
                color=ALPHA_COLORS.get(a, COLORS["theory"]),
                label=f"α = {a:g}",
            )
        if chance is not None:
            ax.axhline(chance, color=COLORS["theory"], lw=0.8, ls="--")
        ax.set_title(f"$d_k$ = {d}", fontsize=10)
        ax.set_xlabel("learning rate")
        ax.set_ylim(0, max(0.7, float(np.nanmax(sweep.loss)) * 1.05))
    axes[0].set_ylabel("final loss")
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def describe_lr_sweep_figure(sweep: LrSweep, chance: float | None = None) -> str:
    """Alt text for :func:`lr_sweep_figure`."""
    parts = []
    for d in sweep.d_ks:
        best = [
            f"alpha {a:g} reaches {sweep.best(d, a)[0]:.3f} at lr {sweep.best(d, a)[1]:g}"
            for a in sweep.alphas
        ]
        parts.append(f"d_k = {d}: " + ", ".join(best))
    return "Final training loss against the learning rate per d_k; " + "; ".join(parts) + "."


def _smooth(x: np.ndarray, w: int = 15) -> np.ndarray:
    w = max(1, min(w, len(x)))
    return np.convolve(x, np.ones(w) / w, mode="valid")


def training_curves(results) -> Figure:
    """Smoothed loss (top) and gradient norm (bottom) per alpha, one column per TrainResult."""
    results = list(results)
    if not results or not all(isinstance(r, TrainResult) for r in results):
        raise TypeError("results must be a non-empty list of TrainResult")
    fig, axes = new_figure(len(results), 2, figsize=(6.4, 4.4))
    n = len(results)
    for i, r in enumerate(results):
        ax_l, ax_g = axes[i], axes[n + i]
        for a in r.alphas:
            col = ALPHA_COLORS.get(a, COLORS["theory"])
            ax_l.plot(_smooth(r.loss[a]), color=col, lw=1.2, label=f"α = {a:g}")
            ax_g.semilogy(_smooth(r.grad_norm[a]) + 1e-12, color=col, lw=1.2)
        ax_l.set_title(f"$d_k$ = {r.d_k}, lr = {r.lr:g}", fontsize=9)
        ax_l.set_ylim(0, None)
        ax_g.set_xlabel("step", fontsize=9)
    axes[0].set_ylabel("loss")
    axes[n].set_ylabel("‖gradient‖")
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def describe_training_curves(results) -> str:
    """Alt text for :func:`training_curves`."""
    parts = [
        f"d_k = {r.d_k}: final loss "
        + ", ".join(f"alpha {a:g} {r.final_loss(a):.3f}" for a in r.alphas)
        for r in results
    ]
    return "Loss and gradient-norm curves of SGD on the retrieval task; " + "; ".join(parts) + "."
