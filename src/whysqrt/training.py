"""Why d_k**-0.5 and not d_k**-1 or 1: logit scaling, one optimiser step, a training sweep.

Used by the ``why-sqrt`` chapter.

* :func:`make_task` (retrieval: the best attention is one-hot) and
  :func:`make_soft_task` (a teacher softmax: the best attention is spread out);
* :func:`loss_and_grads` is one attention layer with learned W_Q, W_K and fixed
  values, with hand-derived gradients (checked against finite differences in
  ``tests/test_training.py``); :func:`batched_grads` is the same for many runs at once;
* :func:`logit_change` (closed form) and :func:`logit_step` (measured): how far one
  SGD or Adam step moves the logits, as a function of d_k and alpha;
* :func:`race` trains many (seed, alpha, learning rate) runs until a loss threshold, with
  early stopping, and
  :func:`race_sweep` runs it for every width and optimizer of the chapter's experiment
  (d_k growing at a fixed input width, or the input width growing at a fixed d_k).

The layer, for one example with inputs x_0 (query token) and x_1..x_n (key tokens)::

    q = W_Q x_0,  k_j = W_K x_j,  s_j = c q·k_j with c = d_k**-alpha,
    p = softmax(s),  o = sum_j p_j v_j,  L = 1/2 |o - y|^2.

Here W_Q, W_K are stored d_k x D and act on column vectors; the book writes the transpose in its
row convention (q = x_0 W_Q with W_Q of shape D x d_k) and calls the target y the teacher's output o*.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure

from . import _validate as v
from .i18n import check_lang, tr
from .numerics import softmax
from .plots import COLORS, new_figure

__all__ = [
    "Task",
    "make_task",
    "make_soft_task",
    "teacher_matrix",
    "init_params",
    "loss_and_grads",
    "logit_change",
    "logit_step",
    "batched_logits",
    "batched_grads",
    "adam_update",
    "Sweep",
    "predicted_slope",
    "fit_power",
    "logit_step_figure",
    "describe_logit_step_figure",
    "race_grads",
    "race",
    "race_sweep",
    "optimum_map",
    "describe_optimum_map",
    "saturation_panel",
    "describe_saturation_panel",
    "race_figure",
    "describe_race_figure",
    "shift_table_latex",
]

ALPHA_COLORS = {0.0: COLORS["unscaled"], 0.5: COLORS["scaled"], 1.0: "#009E73"}


@dataclass(frozen=True)
class Task:
    """One batch of the retrieval task.

    ``x`` (batch, 1 + n_keys, d_model): token 0 is the query, tokens 1..n the keys;
    ``values`` (batch, n_keys, d_v): the value stored with each key;
    ``target`` (batch,): index of the key the query copies; ``y`` = values[target];
    ``soft`` (batch, n_keys), optional: teacher weights, then ``y`` = sum_j soft_j values_j.
    """

    x: np.ndarray
    values: np.ndarray
    target: np.ndarray
    soft: np.ndarray | None = None

    @property
    def y(self) -> np.ndarray:
        if self.soft is not None:
            return np.einsum("bj,bjv->bv", self.soft, self.values)
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
    rng = _check_rng(rng)
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


def teacher_matrix(d_model: int = 8, seed: int = 0) -> np.ndarray:
    """The fixed teacher A* (d_model, d_model), entries N(0, 1/d_model^2): x·A*x' has variance 1."""
    d_model = v.positive_int("d_model", d_model)
    return np.random.default_rng(seed).standard_normal((d_model, d_model)) / d_model


def make_soft_task(
    batch: int,
    n_keys: int = 8,
    d_model: int = 8,
    d_v: int = 8,
    beta: float = 1.5,
    teacher_seed: int = 0,
    rng=None,
) -> Task:
    """A batch of the soft-attention task: its best attention is a spread-out teacher softmax.

    Query and key tokens are independent N(0, 1) vectors; the target is
    y = sum_j w_j v_j with teacher weights w = softmax(beta x_0·A* x_j). A student with
    c W_Q^T W_K = beta A* reproduces w exactly (loss 0), and any other attention,
    one-hot attention included, has a larger expected loss. ``target`` is argmax w.
    """
    batch, n_keys = v.positive_int("batch", batch), v.positive_int("n_keys", n_keys)
    d_model, d_v = v.positive_int("d_model", d_model), v.positive_int("d_v", d_v)
    beta = v.finite_float("beta", beta, nonneg=True)
    rng = _check_rng(rng)
    x = rng.standard_normal((batch, 1 + n_keys, d_model))
    values = rng.standard_normal((batch, n_keys, d_v)) / np.sqrt(d_v)
    logits = np.einsum("bd,de,bje->bj", x[:, 0], teacher_matrix(d_model, teacher_seed), x[:, 1:])
    w = softmax(beta * logits, axis=-1)
    return Task(x, values, w.argmax(axis=1), soft=w)


def _check_rng(rng) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    return rng


def batched_grads(wq, wk, c, x, values, y):
    """Loss and gradients for a stack of runs at once (the sweep's inner loop).

    ``wq``, ``wk`` (S, M, d_k, D): M runs for each of S data streams; ``c`` (M,) their
    logit factors; ``x`` (S, B, 1 + n, D), ``values`` (S, B, n, d_v), ``y`` (S, B, d_v).
    The same hand-derived backward pass as :func:`loss_and_grads`, written through
    the D x D matrix A = W_Q^T W_K (s_j = c x_0^T A x_j) so that the cost per step
    is O(d_k D^2), not O(d_k B n D)::

        G = dL/dA = c mean_b x_0 (sum_j g_j x_j)^T,  dL/dW_Q = W_K G^T,  dL/dW_K = W_Q G

    Returns (loss (S, M), dW_Q, dW_K).
    """
    n_s, n_b, n_m, d = x.shape[0], x.shape[1], wq.shape[1], x.shape[-1]
    c = np.asarray(c)
    x0, xk = x[:, :, 0], x[:, :, 1:]  # (S, B, D), (S, B, n, D)
    s = batched_logits(wq, wk, c, x)  # (S, B, M, n): few large matrix products
    p = np.exp(np.maximum(s - s.max(axis=-1, keepdims=True), -60.0))  # softmax; no denormals
    p /= p.sum(axis=-1, keepdims=True)
    delta = p @ values - y[:, :, None]  # (S, B, M, d_v)
    loss = 0.5 * np.mean(np.sum(delta**2, axis=-1), axis=1)  # (S, M)
    u = delta @ np.swapaxes(values, -1, -2)  # (S, B, M, n)
    g = p * (u - np.sum(p * u, axis=-1, keepdims=True))
    gx = (g @ xk).reshape(n_s, n_b, n_m * d)  # sum_j g_j x_j
    grad_a = (np.swapaxes(x0, 1, 2) @ gx).reshape(n_s, d, n_m, d).swapaxes(1, 2)
    grad_a *= c[:, None, None] / n_b
    return loss, wk @ np.swapaxes(grad_a, -1, -2), wq @ grad_a


def _forward_g(params, task: Task, alpha: float):
    """q, k, c and dL/ds per example (the quantities of the backward pass)."""
    wq, wk = _check_params(params, task.x.shape[2])
    d_k = wq.shape[0]
    c = d_k ** -v.in_range("alpha", alpha, 0.0, 2.0)
    x0, xk = task.x[:, 0], task.x[:, 1:]
    q, k = x0 @ wq.T, xk @ wk.T
    p = softmax(c * np.einsum("bnk,bk->bn", k, q), axis=-1)
    delta = np.einsum("bn,bnv->bv", p, task.values) - task.y
    u = np.einsum("bnv,bv->bn", task.values, delta)
    return q, k, c, p * (u - np.sum(p * u, axis=1, keepdims=True))


def logit_change(params, task: Task, alpha: float = 0.5, optimizer: str = "sgd") -> np.ndarray:
    """Change of every logit s_i per unit learning rate, to first order, in the first step
    taken on one example alone (closed form; shape (batch, n_keys), one row per example).

    With a = sum_j g_j k_j and b = sum_j g_j x_j (g = dL/ds)::

        SGD:   ds_i / lr = -c^2 (|x_0|^2 a·k_i + |q|^2 b·x_i)
        Adam:  ds_i / lr = -c (|x_0|_1 sign(a)·k_i + |q|_1 sign(b)·x_i)

    (Adam's first bias-corrected step moves every entry by lr against the sign of its
    gradient.) ``tests/test_training.py`` checks both against real steps.
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    q, k, c, g = _forward_g(params, task, alpha)
    x0, xk = task.x[:, 0], task.x[:, 1:]
    a, b = np.einsum("bn,bnk->bk", g, k), np.einsum("bn,bnd->bd", g, xk)
    if optimizer == "sgd":
        na, nb, factor = np.sum(x0**2, axis=1), np.sum(q**2, axis=1), c**2
    else:
        na, nb, factor = np.abs(x0).sum(axis=1), np.abs(q).sum(axis=1), c
        a, b = np.sign(a), np.sign(b)
    ka, xb = np.einsum("bnk,bk->bn", k, a), np.einsum("bnd,bd->bn", xk, b)
    return -factor * (na[:, None] * ka + nb[:, None] * xb)


def logit_step(
    d_ks=(8, 16, 32, 64, 128, 256, 512, 1024),
    alphas=(0.0, 0.5, 1.0),
    seeds: int = 5,
    batch: int = 64,
    lr: float = 1e-4,
) -> dict:
    """Measured RMS change of the logits per unit learning rate in the first step, from
    the initialisation, on a batch of the soft task: {optimizer: array (d_k, alpha, seed)}.

    A real step with the batch-mean gradient (not the one-example closed form), small
    ``lr`` so that the change is linear in lr.
    """
    d_ks = tuple(v.positive_int("d_ks", d) for d in d_ks)
    lr = v.finite_float("lr", lr, positive=True)
    alphas = np.array([v.in_range("alphas", a, 0.0, 2.0) for a in alphas])
    tasks = [make_soft_task(batch, rng=np.random.default_rng(2000 + r)) for r in range(seeds)]
    x, vals = np.stack([t.x for t in tasks]), np.stack([t.values for t in tasks])
    y = np.stack([t.y for t in tasks])
    out = {"sgd": np.empty((len(d_ks), len(alphas), seeds)), "adam": None}
    out["adam"] = np.empty_like(out["sgd"])
    for i, d in enumerate(d_ks):
        init = [init_params(x.shape[-1], d, seed=r) for r in range(seeds)]
        wq = np.repeat(np.stack([p["W_Q"] for p in init])[:, None], len(alphas), axis=1)
        wk = np.repeat(np.stack([p["W_K"] for p in init])[:, None], len(alphas), axis=1)
        c = float(d) ** -alphas
        _, gq, gk = batched_grads(wq, wk, c, x, vals, y)
        s0 = batched_logits(wq, wk, c, x)
        for name in out:
            if name == "sgd":
                dq, dk = -lr * gq, -lr * gk
            else:
                dq = adam_update(gq, 0 * gq, 0 * gq, 1, lr)[0]
                dk = adam_update(gk, 0 * gk, 0 * gk, 1, lr)[0]
            ds = batched_logits(wq + dq, wk + dk, c, x) - s0  # (S, B, M, n)
            out[name][i] = np.sqrt(np.mean(ds**2, axis=(1, 3))).T / lr
    return out


def batched_logits(wq, wk, c, x) -> np.ndarray:
    """Logits s (S, B, M, n) of M runs on S batches; shapes as in :func:`batched_grads`."""
    n_s, n_b, n_m, d = x.shape[0], x.shape[1], wq.shape[1], x.shape[-1]
    a = np.swapaxes(wq, -1, -2) @ wk  # (S, M, D, D)
    z = (x[:, :, 0] @ np.swapaxes(a, 1, 2).reshape(n_s, d, n_m * d)).reshape(n_s, n_b, n_m, d)
    return np.asarray(c)[:, None] * (z @ np.swapaxes(x[:, :, 1:], -1, -2))


ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def adam_update(grad, m, s, t: int, lr, inplace: bool = False):
    """One Adam step (Kingma & Ba, bias-corrected): returns (update, new m, new s).

    The update is -lr m_hat / (sqrt(s_hat) + eps); at t = 1 it is -lr sign(grad)
    (up to eps): every entry moves by about lr whatever the scale of the gradient.
    ``inplace=True`` writes the new moments into ``m`` and ``s`` (the same numbers).
    """
    b1, b2 = ADAM_BETAS
    if inplace:
        m *= b1
        m += (1 - b1) * grad
        s *= b2
        g2 = grad**2
        g2 *= 1 - b2
        s += g2
    else:
        m = b1 * m + (1 - b1) * grad
        s = b2 * s + (1 - b2) * grad**2
    step = np.sqrt(s / (1 - b2**t))
    step += ADAM_EPS
    np.divide(m, step, out=step)
    step *= -lr / (1 - b1**t)
    return step, m, s


@dataclass(frozen=True)
class Sweep:
    """Final loss ``loss[o, i, j, l, r]`` for optimizers[o], d_ks[i], alphas[j], lrs[o][l], seed r.

    The final loss is the mean training loss over the last quarter of the steps.
    """

    optimizers: tuple
    d_ks: tuple
    alphas: tuple
    lrs: dict  # optimizer -> tuple of learning rates
    loss: np.ndarray
    uniform_loss: float | None
    steps: int
    measure: str = "final loss"  # or "steps" (to the threshold, :func:`race_sweep`)
    width: str = "d_k"  # what ``d_ks`` holds: d_k, or d_model at a fixed d_k
    reached: np.ndarray | None = None  # for "steps": which runs reached the threshold
    threshold: float | None = None

    def index(self, optimizer: str, d_k: int, alpha: float) -> tuple[int, int, int]:
        for name, value, options in (
            ("optimizer", optimizer, self.optimizers),
            ("d_k", d_k, self.d_ks),
            ("alpha", alpha, self.alphas),
        ):
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}")
        return self.optimizers.index(optimizer), self.d_ks.index(d_k), self.alphas.index(alpha)

    def curve(self, optimizer: str, d_k: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard error over seeds of the final loss (or steps), per learning rate."""
        o, i, j = self.index(optimizer, d_k, alpha)
        runs = self.loss[o, i, j]
        n = runs.shape[-1]
        mean, se = runs.mean(axis=-1), runs.std(axis=-1, ddof=1) / np.sqrt(n)
        if self.reached is not None:  # steps: a learning rate some seed did not finish is left out
            ok = self.reached[o, i, j].all(axis=-1)
            mean, se = np.where(ok, mean, np.nan), np.where(ok, se, np.nan)
        return mean, se

    def best_log_lr(self, optimizer: str, d_k: int, alpha: float) -> np.ndarray:
        """log10 of the best learning rate, one per seed, refined by a parabola through
        the lowest grid point and its two neighbours (in log10 lr, log loss); an optimum
        on the edge of the grid stays on the edge."""
        o, i, j = self.index(optimizer, d_k, alpha)
        x = np.log10(self.lrs[optimizer])
        return np.array([_parabola_min(x, np.log(run)) for run in self.loss[o, i, j].T])

    def grid_error(self, optimizer: str) -> float:
        """Slope uncertainty from the grid alone: each end's log10 lr* is known to within
        a grid step, taken as a uniform error (standard deviation step/sqrt(12))."""
        step = float(np.mean(np.diff(np.log10(self.lrs[optimizer]))))
        return float(step / np.sqrt(12) * np.sqrt(2) / np.log10(self.d_ks[-1] / self.d_ks[0]))

    def shift(self, optimizer: str, alpha: float) -> tuple[float, float]:
        """Slope of log lr* against log d_k between the smallest and largest d_k (0: the
        best learning rate transfers): mean over seeds and its uncertainty, the standard
        error over seeds and :meth:`grid_error` added in quadrature."""
        lo = self.best_log_lr(optimizer, self.d_ks[0], alpha)
        hi = self.best_log_lr(optimizer, self.d_ks[-1], alpha)
        slope = (hi - lo) / np.log10(self.d_ks[-1] / self.d_ks[0])
        se = slope.std(ddof=1) / np.sqrt(len(slope))
        return float(slope.mean()), float(np.hypot(se, self.grid_error(optimizer)))

    def best_steps(self, optimizer: str, d_k: int, alpha: float) -> np.ndarray:
        """Steps to the threshold at each seed's best learning rate (one per seed)."""
        if self.measure != "steps":
            raise ValueError(f"sweep must measure steps, not {self.measure!r}")
        o, i, j = self.index(optimizer, d_k, alpha)
        return self.loss[o, i, j].min(axis=0)

    def steps_summary(self, optimizer: str, d_k: int, alpha: float) -> tuple[float, float]:
        """Mean over seeds of :meth:`best_steps` and its standard error (seeds are independent)."""
        runs = self.best_steps(optimizer, d_k, alpha)
        return float(runs.mean()), float(runs.std(ddof=1) / np.sqrt(len(runs)))

    def ratio(self, optimizer: str, d_k: int, slow: float, fast: float) -> tuple[float, float]:
        """Per seed, best steps at ``slow`` over those at ``fast`` (same data and initial
        weights): mean over seeds and standard error."""
        r = self.best_steps(optimizer, d_k, slow) / self.best_steps(optimizer, d_k, fast)
        return float(r.mean()), float(r.std(ddof=1) / np.sqrt(len(r)))

    def on_edge(self, optimizer: str, alpha: float) -> bool:
        """True if some seed's best learning rate is at the end of the grid (the optimum may lie outside)."""
        n = len(self.lrs[optimizer]) - 1
        o, _, j = self.index(optimizer, self.d_ks[0], alpha)
        best = np.argmin(self.loss[o, :, j], axis=-2)
        return bool(np.any((best == 0) | (best == n)))


def _parabola_min(x: np.ndarray, y: np.ndarray) -> float:
    m = int(np.argmin(y))
    if m in (0, len(y) - 1):
        return float(x[m])
    (x0, x1, x2), (y0, y1, y2) = x[m - 1 : m + 2], y[m - 1 : m + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / denom
    if a <= 0:
        return float(x[m])
    return float(np.clip(-b / (2 * a), x0, x2))


# -- steps to a loss threshold -------------------------------------------------
def race_grads(wq, wk, c, x, values, y, out=None):
    """Loss and gradients of R independent runs: ``wq``, ``wk`` (R, d_k, D), ``c`` (R,),
    ``x`` (R, B, 1 + n, D), ``values`` (R, B, n, d_v), ``y`` (R, B, d_v).

    The backward pass of :func:`loss_and_grads`, ordered so that no D x D matrix is
    formed (the cost grows like d_k B D, so a wide input stays cheap)::

        b_b = (c / B) sum_j g_j x_j,  dL/dW_Q = (W_K b^T) x_0,  dL/dW_K = q^T b

    Returns (loss (R,), dW_Q, dW_K); with ``out`` (R, 2, d_k, D), the loss alone, the
    gradients written to ``out[:, 0]`` and ``out[:, 1]``.
    """
    n_b = x.shape[1]
    x0, xk = x[:, :, 0], x[:, :, 1:]
    q = x0 @ np.swapaxes(wq, 1, 2)  # (R, B, d_k)
    s = (xk @ (q @ wk)[..., None])[..., 0] * c[:, None, None]  # (R, B, n)
    # Sums and maxima over the short last axes go through _row_sum/_row_max: the same
    # numbers as numpy's reductions, 2 to 8 times faster on rows of 8 or 16.
    p = np.exp(np.maximum(s - _row_max(s)[..., None], -60.0))  # softmax; no denormals
    p /= _row_sum(p)[..., None]
    delta = (p[:, :, None] @ values)[:, :, 0] - y  # (R, B, d_v)
    loss = 0.5 * (_row_sum(_row_sum(delta**2)) / n_b)  # the mean over the batch
    u = (values @ delta[..., None])[..., 0]  # (R, B, n)
    g = p * (u - _row_sum(p * u)[..., None])
    b = (g[:, :, None] @ xk)[:, :, 0] * (c / n_b)[:, None, None]  # (R, B, D)
    if out is None:
        return loss, (wk @ np.swapaxes(b, 1, 2)) @ x0, np.swapaxes(q, 1, 2) @ b
    np.matmul(wk @ np.swapaxes(b, 1, 2), x0, out=out[:, 0])
    np.matmul(np.swapaxes(q, 1, 2), b, out=out[:, 1])
    return loss


def _row_sum(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=-1)``, bit for bit, faster when rows hold 8 or 16 numbers.

    numpy sums a row of 8 to 128 numbers pairwise with eight partial sums
    (``pairwise_sum`` in its loops_utils): r_j = a_j + a_(j+8) + ..., then
    ((r_0 + r_1) + (r_2 + r_3)) + ((r_4 + r_5) + (r_6 + r_7)). The same additions, made
    pairwise on strided views in three calls, avoid its per-row call, the cost when rows
    are this short (``tests/test_training.py`` checks the equality).
    """
    n = a.shape[-1]
    if n not in (8, 16) or a.dtype.kind != "f":
        return a.sum(axis=-1)
    r = a[..., :8] + a[..., 8:] if n == 16 else a  # r_j = a_j + a_(j+8)
    r = r[..., 0::2] + r[..., 1::2]  # r_0 + r_1, r_2 + r_3, r_4 + r_5, r_6 + r_7
    r = r[..., 0::2] + r[..., 1::2]
    return r[..., 0] + r[..., 1]


def _row_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=-1)`` (exact in any order), faster on short rows."""
    n = a.shape[-1]
    if n not in (8, 16):
        return a.max(axis=-1)
    while n > 1:  # halve the row: the larger of each pair
        a, n = np.maximum(a[..., 0::2], a[..., 1::2]), n // 2
    return a[..., 0]


def _race_batches(rngs, steps, batch, d_model, teacher, n_keys=8, d_v=8, beta=1.5):
    """``steps`` batches of the soft task per seed: x (S, steps, B, 1 + n, D), values, y.

    The teacher reads the first ``len(teacher)`` coordinates of each token; the rest
    (when d_model is larger) are inputs the layer must learn to ignore."""
    w = len(teacher)
    x = np.stack([r.standard_normal((steps, batch, 1 + n_keys, d_model)) for r in rngs])
    vals = np.stack([r.standard_normal((steps, batch, n_keys, d_v)) for r in rngs]) / np.sqrt(d_v)
    logits = np.einsum("stbd,de,stbje->stbj", x[..., 0, :w], teacher, x[..., 1:, :w])
    y = np.einsum("stbj,stbjv->stbv", softmax(beta * logits, axis=-1), vals)
    return x, vals, y


class _RaceData:
    """The batches :func:`race` trains on, drawn chunk by chunk, once, and shared.

    Seed r's stream (``default_rng(1000 + r)``) depends only on the number of seeds, the
    batch size and d_model, not on d_k, alpha, the learning rates or the optimizer: the
    races of a sweep that have those three in common read the same batches, so drawing
    them once gives every race the numbers it would have drawn itself. Thread-safe.
    """

    CHUNK = 32  # steps drawn at a time

    def __init__(self, seeds: int, batch: int, d_model: int):
        self._args = (batch, d_model, teacher_matrix(8))
        self._rngs = [np.random.default_rng(1000 + r) for r in range(seeds)]
        self._chunks: list = []
        self._lock = threading.Lock()

    def chunk(self, k: int) -> list:
        """x, values, y (float32) of steps k * CHUNK to (k + 1) * CHUNK - 1."""
        with self._lock:
            while len(self._chunks) <= k:
                drawn = _race_batches(self._rngs, self.CHUNK, *self._args)
                self._chunks.append([a.astype(np.float32) for a in drawn])
            return self._chunks[k]


def race(
    d_k: int,
    alphas,
    lrs,
    optimizer: str = "sgd",
    seeds: int = 5,
    d_model: int = 8,
    threshold: float = 0.01,
    window: int = 10,
    patience: float = 2.0,
    max_steps: int = 10_000,
    batch: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Steps until the training loss falls below ``threshold``, for every (alpha, lr, seed).

    The loss read is the mean of the last ``window`` batch losses. Seed r has its own
    data stream and initial W_Q, W_K (entries N(0, 1/d_model)), shared by every alpha
    and learning rate. The soft task's teacher reads 8 input coordinates whatever
    ``d_model`` is. Early stopping: a run stops when it reaches the threshold, when its
    loss exceeds 10 (diverged), or after ``patience`` times the steps of the fastest run
    with the same seed and alpha (it cannot be the best); ``max_steps`` bounds all.

    Returns (steps (A, L, S) as floats, reached (A, L, S) bool). A run that did not reach
    the threshold counts as the step at which its seed and alpha stopped everything
    (``patience`` x the fastest run, or ``max_steps``): censored, a lower bound.
    """
    args = _race_args(
        d_k, alphas, lrs, optimizer, seeds, d_model, threshold, window, patience, max_steps, batch
    )
    return _race(*args, data=_RaceData(args[4], args[10], args[5]))


def _race_args(
    d_k,
    alphas,
    lrs,
    optimizer="sgd",
    seeds=5,
    d_model=8,
    threshold=0.01,
    window=10,
    patience=2.0,
    max_steps=10_000,
    batch=16,
) -> tuple:
    """:func:`race`'s arguments, checked, in its order."""
    d_k, seeds = v.positive_int("d_k", d_k), v.positive_int("seeds", seeds)
    d_model, batch = v.positive_int("d_model", d_model), v.positive_int("batch", batch)
    window, max_steps = v.positive_int("window", window), v.positive_int("max_steps", max_steps)
    threshold = v.finite_float("threshold", threshold, positive=True)
    patience = v.in_range("patience", patience, 1.0, 1e3)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    alphas = np.array([v.in_range("alphas", a, 0.0, 2.0) for a in alphas])
    lrs = np.array([v.finite_float("lrs", x, positive=True) for x in lrs])
    if d_model < 8:
        raise ValueError(f"d_model must be at least 8 (the teacher's width), got {d_model}")
    if not len(alphas) or not len(lrs):
        raise ValueError("alphas and lrs must not be empty")
    return (
        d_k,
        alphas,
        lrs,
        optimizer,
        seeds,
        d_model,
        threshold,
        window,
        patience,
        max_steps,
        batch,
    )


def _race(
    d_k, alphas, lrs, optimizer, seeds, d_model, threshold, window, patience, max_steps, batch, data
):
    """The loop of :func:`race`, on checked arguments, reading its batches from ``data``."""
    n_a, n_l = len(alphas), len(lrs)
    grid = np.stack(np.meshgrid(np.arange(n_a), np.arange(n_l), np.arange(seeds), indexing="ij"))
    a_of, l_of, s_of = (g.ravel() for g in grid)  # run index -> alpha, lr, seed
    cell = a_of * seeds + s_of  # runs of one alpha and seed compete
    init = [init_params(d_model, d_k, seed=r) for r in range(seeds)]
    wq = np.stack([init[r]["W_Q"] for r in s_of])
    wk = np.stack([init[r]["W_K"] for r in s_of])
    c, lr = float(d_k) ** -alphas[a_of], lrs[l_of][:, None, None, None]
    c, lr = c.astype(np.float32), lr.astype(np.float32)  # float32: 1.5x faster
    # W_Q and W_K of each run side by side, (R, 2, d_k, D), as are their gradients and
    # Adam moments: every elementwise step is one numpy call for both matrices.
    w = np.stack([wq, wk], axis=1).astype(np.float32)
    grads = np.empty_like(w)
    moments = [np.zeros_like(w) for _ in range(2)]
    steps = np.full(len(a_of), np.nan)
    stop = np.full(n_a * seeds, float(max_steps))  # per cell
    # The active runs: their indices and, pruned with them, their per-run arrays.
    act, recent = np.arange(len(a_of)), np.zeros((window, len(a_of)))
    c_act, s_act, cell_act = c, s_of, cell
    chunk = _RaceData.CHUNK
    for t in range(max_steps):
        if t % chunk == 0:
            batches = data.chunk(t // chunk)
        x, vals, y = (d[s_act, t % chunk] for d in batches)
        loss = race_grads(w[:, 0], w[:, 1], c_act, x, vals, y, out=grads)
        recent[t % window] = loss
        if optimizer == "sgd":
            w += -lr * grads
        else:
            w += adam_update(grads, *moments, t + 1, lr, inplace=True)[0]
        done = recent.mean(axis=0) < threshold if t + 1 >= window else loss < -1
        steps[act[done]] = t + 1
        first = cell_act[done]
        stop[first] = np.minimum(stop[first], np.ceil(patience * (t + 1)))
        keep = ~done & np.isfinite(loss) & (loss < 10) & (t + 1 < stop[cell_act])
        if not keep.all():
            act, w, lr, grads, c_act = act[keep], w[keep], lr[keep], grads[keep], c_act[keep]
            s_act, cell_act, recent = s_act[keep], cell_act[keep], recent[:, keep]
            moments = [m[keep] for m in moments]
        if not len(act):
            break
    reached = np.isfinite(steps)
    steps = np.where(reached, steps, stop[cell])
    return steps.reshape(n_a, n_l, seeds), reached.reshape(n_a, n_l, seeds)


def race_sweep(
    widths=(8, 32, 128),
    alphas=(0.0, 0.5, 1.0),
    lrs=None,
    seeds: int = 5,
    vary: str = "d_k",
    fixed: int = 8,
    **kwargs,
) -> Sweep:
    """:func:`race` for every width and both optimizers, as a :class:`Sweep` whose
    ``loss`` holds steps to the threshold (lower is better).

    ``vary="d_k"``: d_k takes the ``widths`` with d_model = ``fixed``; ``vary="d_model"``:
    d_model takes them with d_k = ``fixed``.
    """
    if vary not in ("d_k", "d_model"):
        raise ValueError(f"vary must be 'd_k' or 'd_model', got {vary!r}")
    widths = tuple(v.positive_int("widths", d) for d in widths)
    fixed = v.positive_int("fixed", fixed)
    if not widths:
        raise ValueError("widths must not be empty")
    lrs = dict(lrs or RACE_LRS)
    opts = tuple(lrs)
    n_l = {len(g) for g in lrs.values()}
    if len(n_l) != 1:
        raise ValueError("lrs must give every optimizer a grid of the same length")
    out = np.empty((len(opts), len(widths), len(alphas), n_l.pop(), seeds))
    reached = np.empty(out.shape, bool)
    jobs, data = {}, {}
    for o, opt in enumerate(opts):
        for i, w in enumerate(widths):
            dims = {"d_k": w, "d_model": fixed} if vary == "d_k" else {"d_k": fixed, "d_model": w}
            args = _race_args(
                alphas=alphas, lrs=lrs[opt], optimizer=opt, seeds=seeds, **dims, **kwargs
            )
            key = (args[4], args[10], args[5])  # seeds, batch, d_model: the same batches
            jobs[o, i] = (*args, data.setdefault(key, _RaceData(*key)))
    # The races are independent (numpy releases the GIL in their array work): two at a time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(lambda a: _race(*a), jobs.values())))
    for (o, i), (steps, done) in results.items():
        out[o, i], reached[o, i] = steps, done
    grids = {k: tuple(float(x) for x in g) for k, g in lrs.items()}
    return Sweep(
        opts,
        widths,
        tuple(float(a) for a in alphas),
        grids,
        out,
        None,
        0,
        measure="steps",
        width=vary,
        reached=reached,
        threshold=float(kwargs.get("threshold", 0.01)),
    )


RACE_LRS = {  # half-decade steps, wide enough for every alpha and d_k of the chapter
    "sgd": tuple(float(f"{x:.3g}") for x in np.logspace(-2, 3, 11)),
    "adam": tuple(float(f"{x:.3g}") for x in np.logspace(-4, 1, 11)),
}


# -- figures -------------------------------------------------------------------
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}


def predicted_slope(optimizer: str, alpha: float) -> float:
    """Predicted slope of log lr* against log d_k: the per-step logit change ~ lr d_k^e
    (e = 1 - 2 alpha for SGD, 1 - alpha for Adam) stays fixed if lr ~ d_k^-e."""
    if optimizer not in OPTIMIZER_NAMES:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    alpha = v.in_range("alpha", alpha, 0.0, 2.0)
    return 2 * alpha - 1 if optimizer == "sgd" else alpha - 1


def _sym(lang: str, math: str, plain: str) -> str:
    """A symbol in a figure: mathtext in English; in Chinese plain Unicode, because
    mathtext has no font fallback and would draw the Chinese words around it as boxes."""
    return math if lang == "en" else plain


#: Chinese punctuation for the separators of alt texts assembled from parts ("list": between
#: values of one series, which Chinese separates with 、).
_ZH_MARKS = {", ": "，", "; ": "；", ": ": "：", ".": "。", "list": "、"}


def _mark(mark: str, lang: str) -> str:
    """A separator of assembled alt text in ``lang``."""
    if lang == "en":
        return ", " if mark == "list" else mark
    return _ZH_MARKS[mark]


#: The predicted exponent of d_k in the logit step, per optimizer.
STEP_EXPONENTS = {"sgd": "1-2α", "adam": "1-α"}


def _step_power(name: str, lang: str) -> str:
    """The predicted power of d_k in a title: mathtext in English, in words in Chinese
    (mathtext cannot sit among Chinese words, and a Unicode superscript is too small)."""
    e = STEP_EXPONENTS[name]
    if lang == "en":
        return f"$\\propto d_k^{{{e}}}$"
    return tr("∝ dₖ to the power {exponent}", lang).format(exponent=e.replace("-", "−"))


def logit_step_figure(steps: dict, d_ks, alphas=(0.0, 0.5, 1.0), lang: str = "en") -> Figure:
    """Per-step logit change per unit lr against d_k (log-log), SGD and Adam panels.

    Dots: mean over seeds of :func:`logit_step` (error bars: standard error); dashed:
    the predicted power d_k^(1 - 2 alpha) (SGD) or d_k^(1 - alpha) (Adam), through the
    first dot. ``lang`` ("en" or "zh"): the language of its words.
    """
    check_lang(lang)
    if not isinstance(steps, dict) or set(steps) != set(OPTIMIZER_NAMES):
        raise TypeError("steps must be the dict returned by logit_step")
    d = np.asarray(d_ks, dtype=float)
    fig, axes = new_figure(2)
    for ax, name in zip(axes, OPTIMIZER_NAMES):
        for j, a in enumerate(alphas):
            runs = steps[name][:, j]
            mean, se = runs.mean(axis=1), runs.std(axis=1, ddof=1) / np.sqrt(runs.shape[1])
            col = ALPHA_COLORS.get(float(a), COLORS["theory"])
            ax.errorbar(d, mean, yerr=se, fmt="o", ms=3, color=col, label=f"α = {a:g}")
            e = -predicted_slope(name, a) + 0.0
            ax.loglog(d, mean[0] * (d / d[0]) ** e, "--", color=col, lw=0.8)
        ax.set_title(
            tr("{optimizer}: predicted {power}", lang).format(
                optimizer=OPTIMIZER_NAMES[name], power=_step_power(name, lang)
            ),
            fontsize=10,
        )
        ax.set_xlabel(_sym(lang, "$d_k$", "dₖ"))
        ax.minorticks_off()
    axes[0].set_ylabel(tr("RMS logit change / lr", lang))
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def describe_logit_step_figure(steps: dict, d_ks, alphas=(0.0, 0.5, 1.0), lang: str = "en") -> str:
    """Alt text for :func:`logit_step_figure` (fitted and predicted powers of d_k), in ``lang``."""
    check_lang(lang)
    parts = []
    for name in OPTIMIZER_NAMES:
        fits = [
            tr("alpha {alpha:g} measured {measured:.2f} (predicted {predicted:g})", lang).format(
                alpha=a,
                measured=_fit_power(d_ks, steps[name][:, j]),
                predicted=-predicted_slope(name, a) + 0.0,
            )
            for j, a in enumerate(alphas)
        ]
        parts.append(OPTIMIZER_NAMES[name] + _mark(": ", lang) + _mark(", ", lang).join(fits))
    return (
        tr(
            "Log-log plot of how far one training step moves the logits, per unit learning "
            "rate, against d_k from {first} to {last}; power of d_k: ",
            lang,
        ).format(first=d_ks[0], last=d_ks[-1])
        + _mark("; ", lang).join(parts)
        + _mark(".", lang)
    )


def _fit_power(d_ks, runs: np.ndarray) -> float:
    return float(np.polyfit(np.log(np.asarray(d_ks, dtype=float)), np.log(runs.mean(axis=1)), 1)[0])


def fit_power(d_ks, runs) -> float:
    """Least-squares power of d_k in the seed-mean of ``runs`` (d_k, seed), on log-log axes."""
    runs = v.finite_array("runs", runs, ndim_min=2)
    if runs.shape[0] != len(d_ks) or runs.shape[0] < 2 or np.any(runs <= 0):
        raise ValueError("runs must be positive with one row per d_k (at least two)")
    return _fit_power(d_ks, runs)


WIDTH_LABELS = {"d_k": "$d_k$", "d_model": "$d_\\mathrm{model}$"}


def _y_label(sweep: Sweep, lang: str = "en", there: bool = False) -> str:
    """The measure of ``sweep`` as an axis label; ``there``: at the best learning rate."""
    if sweep.measure == "steps":
        if there:
            return tr("steps to loss < {threshold:g} there", lang).format(threshold=sweep.threshold)
        return tr("steps to loss < {threshold:g}", lang).format(threshold=sweep.threshold)
    return tr("final loss there", lang) if there else tr("final loss", lang)


#: The widths as plain Unicode, for figures whose words are Chinese (see :func:`_sym`).
WIDTH_SYMBOLS = {"d_k": "dₖ", "d_model": "d_model"}


def _optimum(sweep: Sweep, opt: str, d: int, a: float) -> tuple[float, float, float, float]:
    """Best learning rate (geometric mean over seeds) with its log10 s.e., steps there and their s.e."""
    logs = sweep.best_log_lr(opt, d, a)
    steps, se = sweep.steps_summary(opt, d, a)
    return 10 ** logs.mean(), logs.std(ddof=1) / np.sqrt(len(logs)), steps, se


def optimum_map(
    sweep: Sweep, alpha: float | None = None, d_k: int | None = None, lang: str = "en"
) -> Figure:
    """Where each setting's optimum sits: best learning rate (x) against the steps it needs
    there (y), one line per alpha through the widths, one panel per optimizer (mean ±
    s.e. over seeds, log-log). ``alpha`` or ``d_k`` picks the points drawn solid; the
    rest are faded. A vertical line of points means the best learning rate transfers.
    ``lang`` ("en" or "zh"): the language of its words."""
    check_lang(lang)
    if not isinstance(sweep, Sweep) or sweep.measure != "steps":
        raise TypeError("sweep must be a Sweep of steps (race_sweep)")
    if alpha is not None:
        sweep.index(sweep.optimizers[0], sweep.d_ks[0], v.in_range("alpha", alpha, 0.0, 2.0))
    if d_k is not None:
        sweep.index(sweep.optimizers[0], v.positive_int("d_k", d_k), sweep.alphas[0])
    fig, axes = new_figure(len(sweep.optimizers))
    name = _sym(lang, WIDTH_LABELS[sweep.width], WIDTH_SYMBOLS[sweep.width])
    for ax, opt in zip(axes, sweep.optimizers):
        for a in sweep.alphas:
            pts = np.array([_optimum(sweep, opt, d, a) for d in sweep.d_ks])
            col = ALPHA_COLORS.get(float(a), COLORS["theory"])
            on = [(alpha is None or a == alpha) and (d_k is None or d == d_k) for d in sweep.d_ks]
            ax.plot(pts[:, 0], pts[:, 2], "-", color=col, lw=1, alpha=1.0 if alpha == a else 0.3)
            for (x, lse, y, steps_se), d, solid in zip(pts, sweep.d_ks, on):
                ax.errorbar(
                    [x],
                    [y],
                    yerr=[steps_se],
                    xerr=[[x - x * 10**-lse], [x * 10**lse - x]],
                    fmt="o",
                    ms=5,
                    color=col,
                    alpha=1.0 if solid else 0.25,
                )
                ax.annotate(
                    f"{d}",
                    (x, y),
                    xytext=(4, 3),
                    textcoords="offset points",
                    fontsize=7,
                    color=col,
                    alpha=1.0 if solid else 0.4,
                )
            ax.plot([], [], "o-", color=col, label=f"α = {a:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.minorticks_off()
        ax.set_yticks([20, 50, 100, 200, 500], labels=["20", "50", "100", "200", "500"])
        lrs = np.asarray(sweep.lrs[opt])
        ax.set_xlim(lrs[0], lrs[-1])
        ax.set_xlabel(tr("best learning rate", lang))
        ax.set_title(
            tr("{optimizer} (labels: {width})", lang).format(
                optimizer=OPTIMIZER_NAMES[opt], width=name
            ),
            fontsize=10,
        )
    axes[0].set_ylabel(_y_label(sweep, lang, there=True))
    axes[0].legend(fontsize=7, frameon=False, loc="upper right")
    return fig


def describe_optimum_map(
    sweep: Sweep, alpha: float | None = None, d_k: int | None = None, lang: str = "en"
) -> str:
    """Alt text for :func:`optimum_map` at the same parameters, in ``lang``."""
    check_lang(lang)
    parts = []
    for opt in sweep.optimizers:
        for a in sweep.alphas if alpha is None else (alpha,):
            ds = sweep.d_ks if d_k is None else (d_k,)
            cells = _mark(", ", lang).join(
                tr("{width} {value}: {steps:.0f} steps at {lr:.2g}", lang).format(
                    width=sweep.width,
                    value=d,
                    steps=_optimum(sweep, opt, d, a)[2],
                    lr=_optimum(sweep, opt, d, a)[0],
                )
                for d in ds
            )
            parts.append(
                tr("{optimizer} alpha {alpha:g}: {cells}", lang).format(
                    optimizer=OPTIMIZER_NAMES[opt], alpha=a, cells=cells
                )
            )
    return (
        tr(
            "Best learning rate against the steps to loss < {threshold:g} needed there; ", lang
        ).format(threshold=sweep.threshold)
        + _mark("; ", lang).join(parts)
        + _mark(".", lang)
    )


def race_figure(sweep: Sweep, lang: str = "en") -> Figure:
    """Steps to the threshold at each seed's best learning rate against the width, one
    line per alpha (mean ± s.e. over seeds), one panel per optimizer; log-log.
    ``lang`` ("en" or "zh"): the language of its words."""
    check_lang(lang)
    if not isinstance(sweep, Sweep) or sweep.measure != "steps":
        raise TypeError("sweep must be a Sweep of steps (race_sweep)")
    fig, axes = new_figure(len(sweep.optimizers))
    d = np.asarray(sweep.d_ks, dtype=float)
    for ax, opt in zip(axes, sweep.optimizers):
        for a in sweep.alphas:
            mean, se = np.array([sweep.steps_summary(opt, w, a) for w in sweep.d_ks]).T
            col = ALPHA_COLORS.get(float(a), COLORS["theory"])
            ax.errorbar(d, mean, yerr=se, fmt="o-", ms=4, lw=1, color=col, label=f"α = {a:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.minorticks_off()
        ax.set_xticks(d, labels=[f"{w:g}" for w in d])
        ax.set_yticks(
            [20, 50, 100, 200, 500, 1000], labels=["20", "50", "100", "200", "500", "1000"]
        )
        ax.set_xlabel(_sym(lang, WIDTH_LABELS[sweep.width], WIDTH_SYMBOLS[sweep.width]))
        ax.set_title(
            tr("{optimizer}, each at its best learning rate", lang).format(
                optimizer=OPTIMIZER_NAMES[opt]
            ),
            fontsize=10,
        )
    axes[0].set_ylabel(_y_label(sweep, lang))
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    return fig


def describe_race_figure(sweep: Sweep, lang: str = "en") -> str:
    """Alt text for :func:`race_figure`, in ``lang``."""
    check_lang(lang)
    comma = _mark("list", lang)
    parts = []
    for opt in sweep.optimizers:
        for a in sweep.alphas:
            vals = comma.join(f"{sweep.steps_summary(opt, w, a)[0]:.0f}" for w in sweep.d_ks)
            parts.append(
                tr("{optimizer} alpha {alpha:g}: {cells}", lang).format(
                    optimizer=OPTIMIZER_NAMES[opt], alpha=a, cells=vals
                )
            )
    return (
        tr(
            "Steps to loss < {threshold:g} at the best learning rate against "
            "{width} = {values} (mean over seeds): ",
            lang,
        ).format(
            threshold=sweep.threshold,
            width=sweep.width,
            values=comma.join(str(w) for w in sweep.d_ks),
        )
        + _mark("; ", lang).join(parts)
        + _mark(".", lang)
    )


def shift_table_latex(sweep: Sweep) -> str:
    """LaTeX table: predicted and measured power of d_k in the best learning rate, per alpha and optimizer."""
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    head = " & ".join(
        rf"\text{{{OPTIMIZER_NAMES[o]} predicted}} & \text{{{OPTIMIZER_NAMES[o]} measured}}"
        for o in sweep.optimizers
    )
    rows = []
    for a in sweep.alphas:
        cells = []
        for o in sweep.optimizers:
            slope, se = sweep.shift(o, a)
            cells.append(f"{predicted_slope(o, a):+g} & {slope:+.2f} \\pm {se:.2f}")
        rows.append(rf"\alpha = {a:g} & " + " & ".join(cells))
    cols = "c" * (1 + 2 * len(sweep.optimizers))
    return rf"\begin{{array}}{{{cols}}} & {head} \\ \hline " + r" \\ ".join(rows) + r"\end{array}"


# -- the two effects of dropping the scale (synthesis) ----------------------------
@lru_cache(maxsize=8)
def _row_gradients(d_k: int, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """|dL/ds| per example at initialisation on the soft task, for alpha = 0 and 1/2."""
    task = make_soft_task(rows, rng=np.random.default_rng(seed))
    params = init_params(8, d_k, seed=seed)
    out = np.array([np.linalg.norm(_forward_g(params, task, a)[3], axis=1) for a in (0.0, 0.5)])
    out.setflags(write=False)
    return out[0], out[1]


def saturation_panel(d_k: int = 128, rows: int = 2000, seed: int = 0, lang: str = "en") -> Figure:
    """What saturation does to the gradient that trains W_Q and W_K: left, the distribution
    over examples of |dL/ds| at initialisation without the scale and with 1/sqrt(d_k);
    right, its median against d_k, with this d_k marked. ``lang`` ("en" or "zh"): the
    language of its words."""
    check_lang(lang)
    d_k = v.positive_int("d_k", d_k)
    rows, seed = v.positive_int("rows", rows), int(seed)
    g0, g5 = _row_gradients(d_k, rows, seed)
    fig, (ax_h, ax_m) = new_figure(2)
    bins = np.geomspace(1e-8, 1, 41)
    for g, a in ((g0, 0.0), (g5, 0.5)):
        ax_h.hist(
            np.clip(g, 1e-8, 1), bins=bins, color=ALPHA_COLORS[a], alpha=0.6, label=f"α = {a:g}"
        )
    ax_h.set_xscale("log")
    ax_h.set_xlabel(tr("|∂L/∂s| per example (clipped at 1e-8)", lang))
    ax_h.set_ylabel(tr("examples", lang))
    ax_h.set_title(
        tr("{dk} = {d_k}, at initialisation", lang).format(dk=_sym(lang, "$d_k$", "dₖ"), d_k=d_k),
        fontsize=10,
    )
    ax_h.legend(fontsize=7, frameon=False, loc="upper left")
    grid = SATURATION_DKS
    med = np.array([[np.median(x) for x in _row_gradients(d, rows, seed)] for d in grid])
    for j, a in enumerate((0.0, 0.5)):
        ax_m.loglog(grid, med[:, j], "o-", ms=3, color=ALPHA_COLORS[a], label=f"α = {a:g}")
    ax_m.axvline(d_k, color=COLORS["theory"], lw=0.8, ls=":")
    ax_m.minorticks_off()
    ax_m.set_xticks(grid, labels=[str(d) for d in grid])
    ax_m.set_xlabel(_sym(lang, "$d_k$", "dₖ"))
    ax_m.set_ylabel(tr("median |∂L/∂s|", lang))
    return fig


SATURATION_DKS = (8, 32, 128, 512)


def describe_saturation_panel(
    d_k: int = 128, rows: int = 2000, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`saturation_panel` at the same parameters, in ``lang``."""
    check_lang(lang)
    g0, g5 = _row_gradients(v.positive_int("d_k", d_k), v.positive_int("rows", rows), int(seed))
    return tr(
        "Gradient of the loss with respect to the logits, per example, at initialisation and "
        "d_k = {d_k} ({rows} examples): median {median0:.2g} without the scale, "
        "{median5:.2g} with 1/sqrt(d_k); a quarter of the examples below "
        "{quarter0:.2g} and {quarter5:.2g}.",
        lang,
    ).format(
        d_k=d_k,
        rows=rows,
        median0=np.median(g0),
        median5=np.median(g5),
        quarter0=np.quantile(g0, 0.25),
        quarter5=np.quantile(g5, 0.25),
    )
