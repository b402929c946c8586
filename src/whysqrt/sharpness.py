"""How the size of the logits sharpens the softmax (numerics and figures).

Used by the ``softmax-sharpness`` chapter (and its figures are reused by ``why-sqrt``):

* :func:`random_logits` draws attention logits for standard normal queries and keys,
  multiplied by any factor (1 = unscaled, ``d_k**-0.5`` = the Transformer's scale);
* :func:`row_stats` measures a batch of softmax rows: the largest weight, the entropy,
  "almost one-hot" (largest weight > 0.99) and the spectral norm of the softmax Jacobian
  diag(p) - p p^T;
* :func:`sharpness_sweep` runs the seeded Monte Carlo against d_k, scaled and unscaled,
  with standard errors over independent seeds (:class:`SharpnessTable`);
* :func:`row_gradients`, :func:`gradient_summary` and :func:`tie_limit`: how the
  per-row gradient norm c‖J‖₂ is distributed when the scaled logits are multiplied by c
  (its median vanishes for large c, its mean does not);
* figure functions ``params -> Figure`` with their ``describe_*`` alt texts.

Every function validates its input (the message starts with the parameter name) and
never returns NaN or inf for finite input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from . import _validate as v
from . import plots, tables
from .experiments import DK_GRID
from .i18n import check_lang, text, tr
from .numerics import entropy, softmax
from .plots import COLORS, new_figure

__all__ = [
    "ONE_HOT_THRESHOLD",
    "STATS",
    "random_logits",
    "jacobian_norms",
    "row_stats",
    "SharpnessTable",
    "seed_streams",
    "sweep_logits",
    "sharpness_sweep",
    "temperature_curves",
    "FACTORS",
    "temperature_grid",
    "GRAD_FACTORS",
    "scaled_logits_given_norm",
    "row_gradients",
    "gradient_summary",
    "tie_limit",
    "gradient_spread",
    "describe_gradient_spread",
    "source001",
    "sweep_table",
    "sharpness_vs_dk",
    "describe_sharpness_vs_dk",
    "temperature_panel",
    "describe_temperature_panel",
    "draw_weights",
]

#: A row counts as "almost one-hot" when its largest weight exceeds this.
ONE_HOT_THRESHOLD = 0.99
#: The statistics :func:`row_stats` returns, in order, with their plot labels.
STATS = {
    "max_weight": "largest weight",
    "entropy": "entropy (nats)",
    "one_hot": "share of rows with max > 0.99",
    "jac_norm": "‖J‖₂ = ‖diag(p) − ppᵀ‖₂",
}


def seed_streams(seed, *keys: int) -> int:
    """A generator seed for the independent stream ``keys`` of ``seed`` (SeedSequence).

    ``seed_streams(0, 64, 3)`` is the seed of stream 3 at d_k = 64 in :func:`sharpness_sweep`.
    """
    return _stream("seed", seed, *keys)


def _stream(name: str, seed, *keys: int) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative, got {seed}")
    state = np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


def random_logits(
    d_k: int, n_keys: int, n_rows: int = 1, seed: int = 0, factor: float = 1.0
) -> np.ndarray:
    """Logits ``factor * q·k_j`` for ``n_rows`` queries, each against its own ``n_keys`` keys.

    Every component of every q and k is an independent standard normal draw from
    ``np.random.default_rng(seed)``; the result has shape (n_rows, n_keys). Use
    ``factor=1`` for raw dot products and ``factor=d_k**-0.5`` for the Transformer's.
    """
    d_k = v.positive_int("d_k", d_k)
    n_keys = v.positive_int("n_keys", n_keys)
    n_rows = v.positive_int("n_rows", n_rows)
    factor = v.finite_float("factor", factor, nonneg=True)
    return factor * _dot_products(d_k, n_keys, n_rows, int(seed))


@lru_cache(maxsize=64)
def _dot_products(d_k: int, n_keys: int, n_rows: int, seed: int) -> np.ndarray:
    """q·k_j for :func:`random_logits`, drawn once per arguments (the chapter and its
    sliders ask for the same draws again); read-only, so no caller can change it."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_rows, 1, d_k))
    k = rng.standard_normal((n_rows, n_keys, d_k))
    out = np.einsum("rid,rjd->rj", q, k)
    out.flags.writeable = False
    return out


def jacobian_norms(p) -> np.ndarray:
    """Spectral norm of the softmax Jacobian diag(p) - p p^T for every row of ``p``.

    The Jacobian is symmetric positive semi-definite, so its norm is its largest
    eigenvalue; it is at most 1/2 (two equal weights) and 0 for a one-hot row.
    It is found without forming the matrix: a rank-one change of diag(p) has its
    eigenvalues between the p_i (interlacing), 0 is one of them (J 1 = 0 as Σp = 1),
    and the largest, λ in [p_(2), p_(1)] (the two largest weights), is the root of the
    secular equation Σ_i p_i / (p_i - λ) = 0 (``_top_secular_root``). That keeps the
    relative accuracy of a saturated row, p = (1 - e, e) gives 2e(1 - e) even when
    1 - e rounds to 1, and costs a few vectorised passes instead of one eigensolve per row.
    """
    p = v.finite_array("p", p)
    if p.ndim != 2:
        raise ValueError(f"p must be a 2-D array of probability rows, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("p must hold probability rows (non-negative, summing to 1)")
    return np.clip(_top_secular_root(p), 0.0, None)


def _top_secular_root(p: np.ndarray) -> np.ndarray:
    """Largest root λ of h(λ) = Σ_i p_i / (p_i - λ) for each row (0 if fewer than two p_i > 0).

    h increases from -inf just above p2 (the second largest p) to +inf just below p1,
    so the root is unique in (p2, p1); if p1 = p2 it is p1. The sign of h at the midpoint
    picks the nearer end o (p2 if h > 0) and the root is written λ = o + στ, τ in
    (0, (p1 - p2)/2] with σ = +1 from p2, -1 from p1: the offsets p_i - o are formed once,
    so a small root next to p2 (a saturated row) keeps its relative accuracy. τ solves
    F(τ) = στ h = -P + στ B(τ) = 0, with P the weight sitting at o and B the other terms
    (smooth near τ = 0), by Newton's method kept inside a shrinking bracket (bisection
    when a step would leave it): under ten steps to full precision.
    """
    if p.shape[1] < 2:  # one key: p = 1, J = 0
        return np.zeros(p.shape[0])
    part = np.partition(p, p.shape[1] - 2, axis=1)
    p1, p2 = part[:, -1], part[:, -2]
    out = p1.copy()  # ties at the top: λ = p1
    live = (p1 > p2) & (p2 > 0)
    out[p2 <= 0] = 0.0  # at most one non-zero weight: J = 0
    if not live.any():
        return out
    q, p1, p2 = p[live], p1[live], p2[live]
    mid = 0.5 * (p1 + p2)
    h_mid = (q / (q - mid[:, None])).sum(axis=1)
    from_p2 = h_mid > 0
    o = np.where(from_p2, p2, p1)
    sigma = np.where(from_p2, 1.0, -1.0)[:, None]
    d = q - o[:, None]
    at_o = d == 0
    big_p = np.where(at_o, q, 0.0).sum(axis=1)
    inert = at_o | (q == 0)  # zero weights add nothing to h
    w = np.where(inert, 0.0, q)  # the weights of the other poles
    d_safe = np.where(inert, 1.0, d)
    lo, hi = np.zeros_like(p1), 0.5 * (p1 - p2)
    with np.errstate(all="ignore"):  # only subnormal weights can overflow; the bracket holds
        b0 = sigma[:, 0] * (w / d_safe).sum(axis=1)  # σB(0): τ = P/σB(0) drops B's slope
        tau = np.clip(np.where(b0 > 0, big_p / np.where(b0 > 0, b0, 1.0), hi), 0.0, hi)
        tau = np.where((tau <= lo) | (tau >= hi), 0.5 * hi, tau)
        todo, tol = np.arange(p1.size), 4 * np.finfo(float).eps
        for _ in range(60):
            t, sg = tau[todo], sigma[todo]
            r = 1.0 / (d_safe[todo] - sg * t[:, None])
            wr = w[todo] * r
            s_b = sg[:, 0] * wr.sum(axis=1)  # σB(τ)
            f = t * s_b - big_p[todo]  # F(τ)
            fp = s_b + t * (wr * r).sum(axis=1)  # F'(τ)
            neg = f < 0
            lo[todo] = np.where(neg, t, lo[todo])
            hi[todo] = np.where(neg, hi[todo], t)
            l_, h_ = lo[todo], hi[todo]
            step = np.where(fp > 0, f / np.where(fp > 0, fp, 1.0), np.inf)
            conv = (f == 0) | (np.abs(step) <= tol * t)  # quadratic: the next step is below ulp
            # bisect where Newton leaves the bracket: geometrically while it spans
            # decades (a root of 1e-80 next to a bracket of 0.5 is found in ~10 steps)
            floor = np.maximum(l_, np.maximum(h_ * 1e-300, np.finfo(float).tiny))
            mid = np.where(h_ > 1e3 * floor, np.sqrt(floor) * np.sqrt(h_), 0.5 * (l_ + h_))
            new = np.where((t - step > l_) & (t - step < h_), t - step, mid)
            tau[todo] = np.where(conv, t - step, new)
            done = conv | (h_ - l_ <= tol * h_)
            todo = todo[~done]
            if todo.size == 0:
                break
    out[live] = o + sigma[:, 0] * tau
    return out


def row_stats(logits) -> dict[str, np.ndarray]:
    """Per-row statistics of softmax(logits): the keys of :data:`STATS`, each shape (n_rows,)."""
    logits = v.finite_array("logits", logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n_rows, n_keys), got {logits.shape}")
    p = softmax(logits, axis=-1)
    top = p.max(axis=1)
    return {
        "max_weight": top,
        "entropy": entropy(p, axis=-1),
        "one_hot": (top > ONE_HOT_THRESHOLD).astype(float),
        "jac_norm": jacobian_norms(p),
    }


@dataclass(frozen=True)
class SharpnessTable:
    """Mean and standard error of every statistic in :data:`STATS`, per d_k.

    ``mean[mode][stat]`` and ``se[mode][stat]`` are arrays aligned with ``d_k``;
    ``mode`` is ``"unscaled"`` or ``"scaled"``. Each point pools ``n_seeds`` independent
    seeds of ``n_rows`` rows; the standard error is taken over the seeds.
    """

    d_k: np.ndarray
    n_keys: int
    n_rows: int
    n_seeds: int
    mean: dict
    se: dict

    def at(self, d_k: int, mode: str, stat: str) -> tuple[float, float]:
        """(mean, standard error) of ``stat`` at ``d_k`` in ``mode``."""
        i = list(self.d_k).index(d_k)
        return float(self.mean[mode][stat][i]), float(self.se[mode][stat][i])


def _seed_mean_se(per_seed: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-seed means (the seed is the independent unit)."""
    return float(per_seed.mean()), float(per_seed.std(ddof=1) / np.sqrt(per_seed.size))


def sweep_logits(
    d_k: int, n_keys: int = 16, n_rows: int = 500, n_seeds: int = 8, seed: int = 0
) -> np.ndarray:
    """The raw logits q·k_j of :func:`sharpness_sweep` at one d_k, shape (n_seeds, n_rows, n_keys).

    Stream r is :func:`random_logits` with the seed ``seed_streams(seed, d_k, r)``.
    """
    d_k, n_seeds = v.positive_int("d_k", d_k), v.positive_int("n_seeds", n_seeds)
    return np.stack(
        [random_logits(d_k, n_keys, n_rows, _stream("seed", seed, d_k, r)) for r in range(n_seeds)]
    )


def sharpness_sweep(
    d_ks=DK_GRID, n_keys: int = 16, n_rows: int = 500, n_seeds: int = 8, seed: int = 0
) -> SharpnessTable:
    """Seeded Monte Carlo of :func:`row_stats` against d_k, unscaled and scaled by 1/sqrt(d_k).

    For each d_k, ``n_seeds`` independent generator streams (``SeedSequence([seed, d_k,
    r])``) each draw ``n_rows`` queries, each query against its own ``n_keys`` keys.
    Scaled and unscaled use the *same* draws, so their difference is the scale alone. The
    mean pools every row; the standard error is the standard deviation of the ``n_seeds``
    per-seed means divided by sqrt(n_seeds), so it holds however the rows of one seed
    depend on each other.
    """
    d_ks = v.positive_int_list("d_ks", d_ks)
    n_rows = v.positive_int("n_rows", n_rows)
    n_seeds = v.positive_int("n_seeds", n_seeds)
    if n_seeds < 2:
        raise ValueError("n_seeds must be at least 2 to estimate a standard error")
    mean = {m: {s: [] for s in STATS} for m in ("unscaled", "scaled")}
    se = {m: {s: [] for s in STATS} for m in ("unscaled", "scaled")}
    for d in d_ks:
        per_seed = {m: {s: [] for s in STATS} for m in mean}
        for raw in sweep_logits(int(d), n_keys, n_rows, n_seeds, seed):
            for mode, z in (("unscaled", raw), ("scaled", raw / np.sqrt(d))):
                for stat, x in row_stats(z).items():
                    per_seed[mode][stat].append(x.mean())
        for mode in mean:
            for stat in STATS:
                m, e = _seed_mean_se(np.array(per_seed[mode][stat]))
                mean[mode][stat].append(m)
                se[mode][stat].append(e)
    arr = lambda t: {m: {s: np.array(x) for s, x in d.items()} for m, d in t.items()}  # noqa: E731
    return SharpnessTable(d_ks, int(n_keys), n_rows, n_seeds, arr(mean), arr(se))


def temperature_curves(
    factors, d_k: int = 64, n_keys: int = 16, n_rows: int = 500, seed: int = 0
) -> dict[str, np.ndarray]:
    """Entropy, ‖J‖₂ and ‖∂p/∂s‖₂ = c‖J‖₂ over random rows when *scaled* logits s are multiplied by c.

    ``s = q·k / sqrt(d_k)`` for standard normal q, k (so Var s = 1); for each factor c in
    ``factors`` the weights are softmax(c s). ``grad_norm`` is the *median* over rows of the
    spectral norm of the derivative of the weights with respect to s, c (diag(p) - p p^T):
    it vanishes both for c -> 0 (uniform weights, and the factor c -> 0) and for c -> inf
    (one-hot weights, J -> 0). ``grad_norm_mean`` is the mean, which does *not* vanish for
    large c: the rare rows whose top two logits nearly tie carry it, and it tends to
    :func:`tie_limit`. ``entropy`` and ``max_weight`` are means, ``jac_norm`` a median.
    One seed; :func:`row_gradients` gives the per-row values over independent seeds.
    """
    factors = v.finite_array("factors", factors)
    if factors.ndim != 1 or np.any(factors < 0):
        raise ValueError("factors must be a 1-D array of non-negative numbers")
    d_k = v.positive_int("d_k", d_k)
    s = random_logits(d_k, n_keys, n_rows, seed, factor=1 / np.sqrt(d_k))
    names = ("entropy", "jac_norm", "grad_norm", "grad_norm_mean", "max_weight")
    out = {name: [] for name in names}
    for c in factors:
        st = row_stats(c * s)
        out["entropy"].append(st["entropy"].mean())
        out["jac_norm"].append(np.median(st["jac_norm"]))
        out["grad_norm"].append(c * np.median(st["jac_norm"]))
        out["grad_norm_mean"].append(c * st["jac_norm"].mean())
        out["max_weight"].append(st["max_weight"].mean())
    out = {k: np.asarray(x, dtype=float) for k, x in out.items()}
    out["factor"] = factors
    return out


@lru_cache(maxsize=4)
def _source001_logits(d_k: int, n_keys: int, n_rows: int, seed: int) -> np.ndarray:
    out = random_logits(d_k, n_keys, n_rows, seed)
    out.setflags(write=False)
    return out


def source001(n_keys: int = 10, n_rows: int = 500, seed: int = 0) -> dict[str, tuple]:
    """Source 001's lost experiment: the largest softmax weight at d_k = 5 and 100, with one seed.

    For each d_k, ``n_rows`` standard normal queries, each against its own ``n_keys`` keys,
    from ``np.random.default_rng(seed)``. Keys ``"5-unscaled"``, ``"100-scaled"``, ...; each
    value is (largest weight of the first query, mean over the queries, standard error).
    """
    n_keys, n_rows = v.positive_int("n_keys", n_keys), v.positive_int("n_rows", n_rows)
    if n_rows < 2:
        raise ValueError("n_rows must be at least 2 to estimate a standard error")
    out = {}
    for d_k in (5, 100):
        raw = _source001_logits(d_k, n_keys, n_rows, seed)
        for mode, z in (("unscaled", raw), ("scaled", raw / np.sqrt(d_k))):
            top = softmax(z).max(axis=1)
            out[f"{d_k}-{mode}"] = (
                float(top[0]),
                float(top.mean()),
                float(top.std(ddof=1) / np.sqrt(n_rows)),
            )
    return out


def sweep_table(table: SharpnessTable, d_ks=(1, 64, 1024)):
    """The sweep at a few d_k as a glueable :func:`whysqrt.tables.table` (mean ± s.e.)."""
    if not isinstance(table, SharpnessTable):
        raise TypeError(f"table must be a SharpnessTable, got {type(table).__name__}")
    d_ks = v.positive_int_list("d_ks", d_ks)
    if not set(d_ks) <= set(int(d) for d in table.d_k):
        raise ValueError(f"d_ks must be values of the sweep, got {list(d_ks)}")
    columns = [
        ("max_weight", "unscaled"),
        ("max_weight", "scaled"),
        ("one_hot", "unscaled"),
        ("jac_norm", "unscaled"),
        ("jac_norm", "scaled"),
    ]
    names = {"max_weight": "largest weight", "one_hot": "share max > 0.99", "jac_norm": "‖J‖₂"}
    header = ["dₖ"] + [f"{names[stat]}, {mode}" for stat, mode in columns]
    rows = [[int(d)] + [table.at(int(d), mode, stat) for stat, mode in columns] for d in d_ks]
    return tables.table(
        header,
        rows,
        caption=text(
            "Mean ± one standard error over {n_seeds} independent seeds, each {n_rows:,} "
            "queries × {n_keys} keys (the seed is the unit of the error).",
            n_seeds=table.n_seeds,
            n_rows=table.n_rows,
            n_keys=table.n_keys,
        ),
        fmt=["d"] + [".3f"] * len(columns),
    )


# -- figures ------------------------------------------------------------------
def _bars(ax, y, color: str, alpha: float = 1.0) -> None:
    """Bars for a few keys; thin lines for many.

    The bars are one collection of rectangles, not one patch each (``ax.bar``): the
    same picture, drawn several times faster.
    """
    x = np.arange(1, len(y) + 1)
    if len(y) <= 64:
        y = np.asarray(y, dtype=float)
        verts = np.stack(
            [
                np.column_stack([x - 0.4, np.zeros_like(y)]),
                np.column_stack([x - 0.4, y]),
                np.column_stack([x + 0.4, y]),
                np.column_stack([x + 0.4, np.zeros_like(y)]),
            ],
            axis=1,
        )
        ax.add_collection(PolyCollection(verts, facecolors=color, alpha=alpha, linewidths=0))
        ax.autoscale_view()
    else:
        ax.vlines(x, 0, y, color=color, alpha=alpha, lw=max(0.3, 300 / len(y)))


def _sym(lang: str, math: str, plain: str) -> str:
    """A symbol in a figure: mathtext in English; in Chinese plain Unicode, because
    mathtext has no font fallback and would draw the Chinese words around it as boxes."""
    return math if lang == "en" else plain


def draw_weights(ax, p, color: str, title: str, lang: str = "en") -> None:
    """Bar chart of one row of attention weights on ``ax`` (shared by every weights figure).

    ``lang`` ("en" or "zh") is the language of the axis labels and the read-out; the
    caller gives ``title`` in that language.
    """
    check_lang(lang)
    p = np.asarray(p, dtype=float)
    _bars(ax, p, color)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0.4, len(p) + 0.6)
    ax.set_xlabel(tr("key {j}", lang).format(j=_sym(lang, "$j$", "j")))
    ax.set_ylabel(tr("weight {p}", lang).format(p=_sym(lang, "$p_j$", "pⱼ")))
    ax.set_title(title, fontsize=10)
    plots.note(
        ax,
        tr("max {top:.3f}", lang).format(top=p.max())
        + f"\nH = {entropy(p):.2f} / {np.log(len(p)):.2f}",
        x=0.98,
        ha="right",
        fontsize=8,
    )
    if lang != "en" and plots.CJK_FONT:  # the monospace font has no Chinese glyphs
        ax.texts[-1].set_fontfamily(["DejaVu Sans Mono", plots.CJK_FONT])


def _stat_title(stat: str, lang: str) -> str:
    """The panel title of a statistic of :data:`STATS` (‖J‖₂'s is only symbols)."""
    return STATS[stat] if stat == "jac_norm" else tr(STATS[stat], lang)


def sharpness_vs_dk(table: SharpnessTable, lang: str = "en") -> Figure:
    """The four statistics of :func:`sharpness_sweep` against d_k, unscaled and scaled (±2 s.e.).

    ``lang`` ("en" or "zh"): the language of the titles and legend.
    """
    check_lang(lang)
    if not isinstance(table, SharpnessTable):
        raise TypeError(f"table must be a SharpnessTable, got {type(table).__name__}")
    fig, axes = new_figure(2, 2, figsize=(6.4, 4.8))
    for ax, stat in zip(axes, STATS):
        for mode, marker in (("unscaled", "o"), ("scaled", "s")):
            ax.errorbar(
                table.d_k,
                table.mean[mode][stat],
                yerr=2 * table.se[mode][stat],
                fmt=marker + "-",
                ms=3,
                lw=1,
                color=COLORS[mode],
                label=tr(mode, lang),
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 8, 64, 512], labels=["1", "8", "64", "512"])
        ax.set_title(_stat_title(stat, lang), fontsize=9)
        ax.set_xlabel(_sym(lang, "$d_k$", "dₖ"), fontsize=9)
    axes[1].axhline(np.log(table.n_keys), color=COLORS["theory"], lw=0.8, ls="--")
    axes[0].legend(fontsize=8, frameon=False)
    return fig


def describe_sharpness_vs_dk(table: SharpnessTable, lang: str = "en") -> str:
    """Alt text for :func:`sharpness_vs_dk`, in ``lang`` ("en" or "zh")."""
    check_lang(lang)
    last = int(table.d_k[-1])
    u = table.at(last, "unscaled", "max_weight")[0]
    s = table.at(last, "scaled", "max_weight")[0]
    return tr(
        "Four panels against d_k from {first} to {last} ({n_keys} keys, "
        "{n_seeds} seeds of {n_rows} rows per point): unscaled, the largest weight "
        "climbs to {u:.3f}, the entropy and the mean spectral norm of the Jacobian fall towards "
        "0 and most rows become one-hot; scaled, all four change a little up to d_k = 16 and "
        "are flat beyond (largest weight {s:.3f} at d_k = {last}).",
        lang,
    ).format(
        first=int(table.d_k[0]),
        last=last,
        n_keys=table.n_keys,
        n_seeds=table.n_seeds,
        n_rows=table.n_rows,
        u=u,
        s=s,
    )


#: The factors c of the temperature panel's curves: 41 points from 0.01 to 100.
FACTORS = np.geomspace(1e-2, 1e2, 41)


@lru_cache(maxsize=8)
def temperature_grid(d_k: int = 64, n_keys: int = 16) -> dict:
    """:func:`temperature_curves` over :data:`FACTORS` (seed 0, 500 rows), computed once per call."""
    return temperature_curves(FACTORS, d_k=v.positive_int("d_k", d_k), n_keys=n_keys)


def temperature_panel(
    factor: float = 1.0, n_keys: int = 16, d_k: int = 64, seed: int = 0, lang: str = "en"
) -> Figure:
    """Scaled logits multiplied by ``factor``: one row's weights, and the mean entropy and gradient.

    Left: the weights of one seeded query. Right, against the factor: the mean entropy
    divided by log n_keys, the median over rows of ‖J‖₂ (the softmax Jacobian, which
    measures saturation) and of ‖∂p/∂s‖₂ = c‖J‖₂, and the *mean* of c‖J‖₂, which does
    not come back down for large c; the dotted line marks ``factor``. ``lang`` ("en" or
    "zh"): the language of its words.
    """
    check_lang(lang)
    factor = v.finite_float("factor", factor, positive=True)
    n_keys, d_k = v.positive_int("n_keys", n_keys), v.positive_int("d_k", d_k)
    s = random_logits(d_k, n_keys, 1, seed, factor=1 / np.sqrt(d_k))[0]
    cur = temperature_grid(d_k, n_keys)
    fig, (ax_p, ax_c) = new_figure(2)
    draw_weights(
        ax_p,
        softmax(factor * s),
        COLORS["scaled"],
        tr("one query, factor c = {factor:g}", lang).format(factor=factor),
        lang,
    )
    ax_c.semilogx(
        cur["factor"],
        cur["entropy"] / np.log(n_keys),
        color=COLORS["scaled"],
        label=tr("entropy / log n", lang),
    )
    ax_c.semilogx(
        cur["factor"],
        cur["jac_norm"],
        color=COLORS["unscaled"],
        lw=2,
        label=tr("median ‖J‖₂", lang),
    )
    ax_c.semilogx(
        cur["factor"],
        cur["grad_norm"],
        color=COLORS["theory"],
        ls="--",
        label=tr("median c‖J‖₂", lang),
    )
    ax_c.semilogx(
        cur["factor"],
        cur["grad_norm_mean"],
        color=COLORS["theory"],
        lw=2.5,
        label=tr("mean c‖J‖₂", lang),
    )
    ax_c.axvline(factor, color=COLORS["theory"], lw=1, ls=":")
    ax_c.set_ylim(0, max(1.05, 1.08 * float(cur["grad_norm_mean"].max())))
    ax_c.set_xlabel(tr("factor c", lang))
    ax_c.minorticks_off()
    ax_c.set_title(
        tr("over 500 queries, {dk} = {d_k}", lang).format(dk=_sym(lang, "$d_k$", "dₖ"), d_k=d_k),
        fontsize=10,
    )
    # in Chinese above the curves (the English legend sits on the entropy line)
    ax_c.legend(fontsize=7, frameon=False, loc="center left" if lang == "en" else "upper left")
    return fig


def describe_temperature_panel(
    factor: float = 1.0, n_keys: int = 16, d_k: int = 64, seed: int = 0, lang: str = "en"
) -> str:
    """Alt text for :func:`temperature_panel` at the same parameters, in ``lang``."""
    check_lang(lang)
    factor = v.finite_float("factor", factor, positive=True)
    st = temperature_curves([factor], d_k=d_k, n_keys=n_keys)
    return tr(
        "Scaled logits multiplied by c = {factor:g} over {n_keys} keys: mean entropy "
        "{entropy:.2f} nats of at most {log_n:.2f}, median spectral norm of "
        "the Jacobian {jac:.3f}, median c‖J‖₂ {grad:.3f} and mean "
        "c‖J‖₂ {grad_mean:.3f}. Against c, the median Jacobian norm falls to "
        "1/{n_keys} for small c and to 0 for large c, the median c‖J‖₂ vanishes at both ends, "
        "and the mean c‖J‖₂ rises and stays high for large c.",
        lang,
    ).format(
        factor=factor,
        n_keys=n_keys,
        entropy=st["entropy"][0],
        log_n=np.log(n_keys),
        jac=st["jac_norm"][0],
        grad=st["grad_norm"][0],
        grad_mean=st["grad_norm_mean"][0],
    )


# -- the distribution of the gradient over rows ---------------------------------------
#: The factors c of :func:`gradient_spread`: 0.1 to about 316, four per decade.
GRAD_FACTORS = tuple(float(c) for c in np.round(np.geomspace(0.1, 10**2.5, 15), 4))


def scaled_logits_given_norm(d_k: int, n_keys: int, n_rows: int = 1, seed: int = 0) -> np.ndarray:
    """Scaled logits q·k_j/sqrt(d_k), drawn through the norm of q: shape (n_rows, n_keys).

    For standard normal q and independent standard normal keys, given q the logits
    q·k_j/sqrt(d_k) are independent N(0, ‖q‖²/d_k), with ‖q‖² chi-squared on d_k degrees of
    freedom. Drawing ‖q‖² and n_keys normals per row gives the same distribution as
    :func:`random_logits` with ``factor=d_k**-0.5`` without drawing d_k · n_keys numbers.
    """
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    n_rows = v.positive_int("n_rows", n_rows)
    rng = np.random.default_rng(int(seed))
    sigma = np.sqrt(rng.chisquare(d_k, size=(n_rows, 1)) / d_k)
    return sigma * rng.standard_normal((n_rows, n_keys))


def row_gradients(
    factors,
    d_k: int = 64,
    n_keys: int = 16,
    n_rows: int = 500,
    n_seeds: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Per-row ‖∂p/∂s‖₂ = c‖J(softmax(c s))‖₂ for scaled logits s times each factor c.

    ``s = q·k / sqrt(d_k)`` for standard normal q and keys; ``n_seeds`` independent streams
    (``SeedSequence([seed, d_k, r])``) of ``n_rows`` queries, each against its own
    ``n_keys`` keys. Returns shape (len(factors), n_seeds, n_rows). The logits are drawn by
    :func:`scaled_logits_given_norm`, which has the same distribution at a fraction of the cost.
    """
    factors = v.finite_array("factors", factors)
    if factors.ndim != 1 or np.any(factors < 0):
        raise ValueError("factors must be a 1-D array of non-negative numbers")
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    n_rows, n_seeds = v.positive_int("n_rows", n_rows), v.positive_int("n_seeds", n_seeds)
    out = np.empty((factors.size, n_seeds, n_rows))
    for r in range(n_seeds):
        s = scaled_logits_given_norm(d_k, n_keys, n_rows, _stream("seed", seed, d_k, r))
        for i, c in enumerate(factors):
            out[i, r] = c * jacobian_norms(softmax(c * s, axis=-1))
    return out


def gradient_summary(grads, quantiles=(0.5, 0.9, 0.99)) -> dict[str, np.ndarray]:
    """How :func:`row_gradients` output is spread over rows, per factor.

    ``grads`` has shape (n_factors, n_seeds, n_rows). Returns arrays of length n_factors:
    ``mean`` (over all rows) and ``se`` (standard deviation of the per-seed means over
    sqrt(n_seeds)), ``q50``, ``q90``, ... (quantiles over all rows, named by percent) and
    ``half_share``: the smallest share of rows whose gradients add up to half of the total.
    """
    grads = v.finite_array("grads", grads)
    if grads.ndim != 3 or grads.shape[1] < 2 or np.any(grads < 0):
        raise ValueError(
            "grads must be non-negative with shape (n_factors, n_seeds >= 2, n_rows), "
            f"got shape {grads.shape}"
        )
    quantiles = v.finite_array("quantiles", quantiles)
    if np.any((quantiles < 0) | (quantiles > 1)):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles.tolist()}")
    flat = grads.reshape(grads.shape[0], -1)
    seed_means = grads.mean(axis=2)
    out = {
        "mean": flat.mean(axis=1),
        "se": seed_means.std(axis=1, ddof=1) / np.sqrt(grads.shape[1]),
    }
    for q in quantiles:
        out[f"q{100 * q:g}"] = np.quantile(flat, q, axis=1)
    desc = -np.sort(-flat, axis=1)
    total = desc.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        reached = np.cumsum(desc, axis=1) >= 0.5 * total
    out["half_share"] = (np.argmax(reached, axis=1) + 1) / flat.shape[1]
    return out


def tie_limit(d_k: int = 64, n_keys: int = 16) -> float:
    """The large-c limit of the mean of c‖J‖₂ over rows: the density at 0 of the top gap.

    For large c only rows whose two largest scaled logits lie within about 1/c of each
    other keep a gradient; such a row has ‖J‖₂ = 2 p₁p₂ = 2σ'(cδ) for the gap δ, and
    c E[2σ'(cδ)] tends to f(0), the density of δ at 0. Given q, the scaled logits are
    independent N(0, σ²) with σ = ‖q‖/sqrt(d_k), so f(0) = E[1/σ] · n(n−1)∫φ²Φ^(n−2).
    """
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    if n_keys < 2:
        raise ValueError(f"n_keys must be at least 2 for a gap between two logits, got {n_keys}")
    if d_k == 1:  # E[1/|q|] diverges for a one-dimensional q
        return float("inf")
    x, phi, cdf = _normal_grid()
    unit = n_keys * (n_keys - 1) * np.trapezoid(phi**2 * cdf ** (n_keys - 2), x)
    # E[1/sigma] = sqrt(d_k) E[1/|q|], |q| chi-distributed with d_k degrees of freedom
    inv = (
        math.sqrt(d_k) * math.exp(math.lgamma((d_k - 1) / 2) - math.lgamma(d_k / 2)) / math.sqrt(2)
    )
    return float(unit * inv)


@lru_cache(maxsize=1)
def _normal_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x on [-12, 12] (48,001 points), the standard normal density and distribution function
    there: the integration grid of :func:`tie_limit`, computed once (48,001 calls of erf)."""
    x = np.linspace(-12.0, 12.0, 48_001)
    phi = np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi)
    cdf = 0.5 * (1 + np.array([math.erf(t / math.sqrt(2)) for t in x]))
    for a in (x, phi, cdf):
        a.flags.writeable = False
    return x, phi, cdf


@lru_cache(maxsize=4)
def _spread(factors: tuple, d_k: int, n_keys: int, n_rows: int, n_seeds: int, seed: int):
    grads = row_gradients(np.array(factors), d_k, n_keys, n_rows, n_seeds, seed)
    return gradient_summary(grads), tie_limit(d_k, n_keys)


def _spread_args(factors, d_k, n_keys, n_rows, n_seeds, seed):
    factors = v.finite_array("factors", factors)
    if factors.ndim != 1 or factors.size < 2 or np.any(factors <= 0):
        raise ValueError("factors must be a 1-D array of at least two positive numbers")
    d_k = v.positive_int("d_k", d_k)
    if d_k < 2:
        raise ValueError(f"d_k must be at least 2 (the tie limit is infinite at 1), got {d_k}")
    n_seeds = v.positive_int("n_seeds", n_seeds)
    if n_seeds < 2:
        raise ValueError("n_seeds must be at least 2 to estimate a standard error")
    return (
        tuple(float(c) for c in factors),
        d_k,
        v.positive_int("n_keys", n_keys),
        v.positive_int("n_rows", n_rows),
        n_seeds,
        int(seed),
    )


def gradient_spread(
    factors=GRAD_FACTORS,
    d_k: int = 64,
    n_keys: int = 16,
    n_rows: int = 500,
    n_seeds: int = 8,
    seed: int = 0,
    lang: str = "en",
) -> Figure:
    """How the per-row gradient norm c‖J‖₂ is spread over rows, against the factor c.

    Left (log-log): the median, 90th and 99th percentiles over rows and the mean (±2
    standard errors over seeds), with the large-c limit of the mean (:func:`tie_limit`)
    dashed. Right: the smallest share of rows that carries half of the summed gradient.
    The dotted line marks c = sqrt(d_k), where the scaled logits times c are the unscaled
    ones. ``lang`` ("en" or "zh"): the language of its words.
    """
    check_lang(lang)
    args = _spread_args(factors, d_k, n_keys, n_rows, n_seeds, seed)
    summary, limit = _spread(*args)
    c = np.array(args[0])
    floor = 1e-4
    fig, (ax_g, ax_h) = new_figure(2)
    for key, ls, label in (
        ("q50", "-", "median"),
        ("q90", "--", "90th pct"),
        ("q99", ":", "99th pct"),
    ):
        ax_g.plot(
            c, np.maximum(summary[key], floor), ls, color=COLORS["unscaled"], label=tr(label, lang)
        )
    ax_g.errorbar(
        c,
        summary["mean"],
        yerr=2 * summary["se"],
        fmt="o-",
        ms=3,
        lw=2,
        color=COLORS["theory"],
        label=tr("mean ± 2 s.e.", lang),
    )
    ax_g.axhline(
        limit,
        color=COLORS["scaled"],
        ls="--",
        lw=1,
        label=tr("limit {limit:.2f}", lang).format(limit=limit),
    )
    ax_g.set_xscale("log")
    ax_g.set_yscale("log")
    ax_g.set_ylim(floor, 3 * float(np.max(summary["q99"])))
    ax_g.set_xlabel(tr("factor c", lang))
    ax_g.set_ylabel(tr("per-row c‖J‖₂", lang))
    ax_g.set_title(
        tr("over rows ({dk} = {d_k}, {n_keys} keys)", lang).format(
            dk=_sym(lang, "$d_k$", "dₖ"), d_k=args[1], n_keys=args[2]
        ),
        fontsize=10,
    )
    ax_g.legend(fontsize=7, frameon=False, loc="upper left")
    ax_h.loglog(c, summary["half_share"], "o-", ms=3, color=COLORS["unscaled"])
    ax_h.set_xlabel(tr("factor c", lang))
    ax_h.set_ylabel(tr("share of rows", lang))
    ax_h.set_title(tr("rows carrying half the total", lang), fontsize=10)
    for ax in (ax_g, ax_h):
        ax.axvline(np.sqrt(args[1]), color=COLORS["theory"], lw=1, ls=":")
    return fig


def describe_gradient_spread(
    factors=GRAD_FACTORS,
    d_k: int = 64,
    n_keys: int = 16,
    n_rows: int = 500,
    n_seeds: int = 8,
    seed: int = 0,
    lang: str = "en",
) -> str:
    """Alt text for :func:`gradient_spread` at the same parameters, in ``lang``."""
    check_lang(lang)
    args = _spread_args(factors, d_k, n_keys, n_rows, n_seeds, seed)
    summary, limit = _spread(*args)
    c = args[0]
    return tr(
        "Two log-scale panels against the factor c from {c_first:.3g} to {c_last:.3g} (d_k = "
        "{d_k}, {n_keys} keys, {n_seeds} seeds of {n_rows} rows). Left: the median "
        "per-row gradient norm c‖J‖₂ rises to {q50_max:.2f} and then falls to "
        "{q50_last:.1e} at c = {c_last:.3g}, while the 99th percentile keeps rising to "
        "{q99_last:.0f}; the mean, noisy at large c because a few rows carry it, ends at "
        "{mean_last:.2f} against its limit {limit:.2f}. Right: the share of rows that carries "
        "half the total falls from {half_first:.2f} to {half_last:.4f}.",
        lang,
    ).format(
        c_first=c[0],
        c_last=c[-1],
        d_k=args[1],
        n_keys=args[2],
        n_seeds=args[4],
        n_rows=args[3],
        q50_max=summary["q50"].max(),
        q50_last=summary["q50"][-1],
        q99_last=summary["q99"][-1],
        mean_last=summary["mean"][-1],
        limit=limit,
        half_first=summary["half_share"][0],
        half_last=summary["half_share"][-1],
    )
