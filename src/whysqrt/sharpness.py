"""How the size of the logits sharpens the softmax (numerics and figures).

Used by the ``softmax-sharpness`` chapter (and its figures are reused by ``why-sqrt``):

* :func:`random_logits` draws attention logits for standard normal queries and keys,
  multiplied by any factor (1 = unscaled, ``d_k**-0.5`` = the Transformer's scale);
* :func:`row_stats` measures a batch of softmax rows: the largest weight, the entropy,
  "almost one-hot" (largest weight > 0.99) and the spectral norm of the softmax Jacobian
  diag(p) - p p^T;
* :func:`sharpness_sweep` runs the seeded Monte Carlo against d_k, scaled and unscaled,
  with standard errors (:class:`SharpnessTable`);
* figure functions ``params -> Figure`` with their ``describe_*`` alt texts.

Every function validates its input (the message starts with the parameter name) and
never returns NaN or inf for finite input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from . import _validate as v
from . import plots, tables
from .experiments import DK_GRID
from .numerics import entropy, softmax
from .plots import COLORS, new_figure

__all__ = [
    "ONE_HOT_THRESHOLD",
    "STATS",
    "random_logits",
    "jacobian_norms",
    "row_stats",
    "SharpnessTable",
    "sharpness_sweep",
    "temperature_curves",
    "FACTORS",
    "temperature_grid",
    "weights_bars",
    "describe_weights_bars",
    "source001",
    "sweep_table",
    "source001_grid",
    "describe_source001_grid",
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


def _bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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
    """
    p = v.finite_array("p", p)
    if p.ndim != 2:
        raise ValueError(f"p must be a 2-D array of probability rows, got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("p must hold probability rows (non-negative, summing to 1)")
    jac = p[:, :, None] * np.eye(p.shape[1]) - p[:, :, None] * p[:, None, :]
    return np.clip(np.linalg.eigvalsh(jac)[:, -1], 0.0, None)


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
    ``mode`` is ``"unscaled"`` or ``"scaled"``.
    """

    d_k: np.ndarray
    n_keys: int
    n_rows: int
    mean: dict
    se: dict

    def at(self, d_k: int, mode: str, stat: str) -> tuple[float, float]:
        """(mean, standard error) of ``stat`` at ``d_k`` in ``mode``."""
        i = list(self.d_k).index(d_k)
        return float(self.mean[mode][stat][i]), float(self.se[mode][stat][i])


def sharpness_sweep(
    d_ks=DK_GRID, n_keys: int = 16, n_rows: int = 2000, seed: int = 0
) -> SharpnessTable:
    """Seeded Monte Carlo of :func:`row_stats` against d_k, unscaled and scaled by 1/sqrt(d_k).

    Each d_k uses the generator ``seed + d_k``; scaled and unscaled use the *same*
    draws, so their difference is the scale alone. Standard error = sample sd / sqrt(n_rows).
    """
    d_ks = v.positive_int_list("d_ks", d_ks)
    n_rows = v.positive_int("n_rows", n_rows)
    if n_rows < 2:
        raise ValueError("n_rows must be at least 2 to estimate a standard error")
    mean = {m: {s: [] for s in STATS} for m in ("unscaled", "scaled")}
    se = {m: {s: [] for s in STATS} for m in ("unscaled", "scaled")}
    for d in d_ks:
        raw = random_logits(int(d), n_keys, n_rows, seed=seed + int(d))
        for mode, z in (("unscaled", raw), ("scaled", raw / np.sqrt(d))):
            for stat, x in row_stats(z).items():
                mean[mode][stat].append(x.mean())
                se[mode][stat].append(x.std(ddof=1) / np.sqrt(n_rows))
    arr = lambda t: {m: {s: np.array(x) for s, x in d.items()} for m, d in t.items()}  # noqa: E731
    return SharpnessTable(d_ks, int(n_keys), n_rows, arr(mean), arr(se))


def temperature_curves(
    factors, d_k: int = 64, n_keys: int = 16, n_rows: int = 500, seed: int = 0
) -> dict[str, np.ndarray]:
    """Entropy, ‖J‖ and ‖∂p/∂s‖ = c‖J‖ over random rows when *scaled* logits s are multiplied by c.

    ``s = q·k / sqrt(d_k)`` for standard normal q, k (so Var s = 1); for each factor c in
    ``factors`` the weights are softmax(c s). ``grad_norm`` is the *median* over rows of the
    spectral norm of the derivative of the weights with respect to s, c (diag(p) - p p^T):
    it vanishes both for c -> 0 (uniform weights, and the factor c -> 0) and for c -> inf
    (one-hot weights, J -> 0). ``grad_norm_mean`` is the mean, which does *not* vanish for
    large c: the rare rows whose top two logits nearly tie keep c‖J‖ of order 1, and their
    share falls only like 1/c. ``entropy`` and ``max_weight`` are means, ``jac_norm`` a median.
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
    names = {"max_weight": "largest weight", "one_hot": "share max > 0.99", "jac_norm": "‖J‖"}
    header = ["dₖ"] + [f"{names[stat]}, {mode}" for stat, mode in columns]
    rows = [[int(d)] + [table.at(int(d), mode, stat) for stat, mode in columns] for d in d_ks]
    return tables.table(
        header,
        rows,
        caption=f"Mean ± one standard error over {table.n_rows:,} queries × {table.n_keys} keys.",
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


def draw_weights(ax, p, color: str, title: str) -> None:
    """Bar chart of one row of attention weights on ``ax`` (shared by every weights figure)."""
    p = np.asarray(p, dtype=float)
    _bars(ax, p, color)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0.4, len(p) + 0.6)
    ax.set_xlabel("key $j$")
    ax.set_ylabel("weight $p_j$")
    ax.set_title(title, fontsize=10)
    plots.note(
        ax,
        f"max {p.max():.3f}\nH = {entropy(p):.2f} / {np.log(len(p)):.2f}",
        x=0.98,
        ha="right",
        fontsize=8,
    )


def _one_row(d_k: int, n_keys: int, seed: int, scaled: bool) -> np.ndarray:
    raw = random_logits(d_k, n_keys, 1, seed)[0]
    return softmax(raw / np.sqrt(d_k) if scaled else raw)


def weights_bars(d_k: int = 64, scaled: bool = False, n_keys: int = 16, seed: int = 0) -> Figure:
    """Softmax weights of one seeded query against ``n_keys`` keys, and the logits behind them.

    Left: the logits q·k_j (or q·k_j/sqrt(d_k)) on an axis fixed per mode; right: the weights.
    The same seed gives the same q and keys, so the switch changes only the scale.
    """
    d_k, n_keys = v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys)
    scaled = _bool("scaled", scaled)
    raw = random_logits(d_k, n_keys, 1, seed)[0]
    z = raw / np.sqrt(d_k) if scaled else raw
    mode = "scaled" if scaled else "unscaled"
    fig, (ax_z, ax_p) = new_figure(2)
    _bars(ax_z, z, COLORS[mode], alpha=0.6)
    lim = 4.0 if scaled else 100.0
    ax_z.set_ylim(-lim, lim)
    ax_z.axhline(0, color=COLORS["theory"], lw=0.8)
    ax_z.set_xlabel("key $j$")
    ax_z.set_ylabel(r"$q\cdot k_j/\sqrt{d_k}$" if scaled else r"$q\cdot k_j$")
    ax_z.set_title(f"logits, $d_k$ = {d_k} ({mode}), spread {z.max() - z.min():.1f}", fontsize=10)
    draw_weights(ax_p, softmax(z), COLORS[mode], f"softmax over {n_keys} keys")
    return fig


def describe_weights_bars(
    d_k: int = 64, scaled: bool = False, n_keys: int = 16, seed: int = 0
) -> str:
    """Alt text for :func:`weights_bars` at the same parameters."""
    p = _one_row(
        v.positive_int("d_k", d_k), v.positive_int("n_keys", n_keys), seed, _bool("scaled", scaled)
    )
    how = "divided by the square root of d_k" if scaled else "not scaled"
    return (
        f"Bar charts for one query against {n_keys} keys with d_k = {d_k}, logits {how}: "
        f"the largest softmax weight is {p.max():.3f} and the entropy "
        f"{entropy(p):.2f} nats (uniform would be {np.log(n_keys):.2f})."
    )


def source001_grid(n_keys: int = 10, seed: int = 0, n_rows: int = 500) -> Figure:
    """The first query of :func:`source001`: weights at d_k = 5 and 100, unscaled (top), scaled (bottom)."""
    n_keys = v.positive_int("n_keys", n_keys)
    fig, axes = new_figure(2, 2, figsize=(6.4, 4.8))
    for col, d_k in enumerate((5, 100)):
        for row, scaled in enumerate((False, True)):
            mode = "scaled" if scaled else "unscaled"
            z = _source001_logits(d_k, n_keys, v.positive_int("n_rows", n_rows), seed)[0]
            draw_weights(
                axes[2 * row + col],
                softmax(z / np.sqrt(d_k) if scaled else z),
                COLORS[mode],
                f"$d_k$ = {d_k}, {mode}",
            )
    return fig


def describe_source001_grid(n_keys: int = 10, seed: int = 0, n_rows: int = 500) -> str:
    """Alt text for :func:`source001_grid`."""
    n_keys = v.positive_int("n_keys", n_keys)
    first = source001(n_keys, n_rows, seed)
    parts = [
        f"d_k = {d} {mode}: largest weight {first[f'{d}-{mode}'][0]:.3f}"
        for mode in ("unscaled", "scaled")
        for d in (5, 100)
    ]
    return f"Four bar charts of softmax weights over {n_keys} keys; " + "; ".join(parts) + "."


def sharpness_vs_dk(table: SharpnessTable) -> Figure:
    """The four statistics of :func:`sharpness_sweep` against d_k, unscaled and scaled (±2 s.e.)."""
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
                label=mode,
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 8, 64, 512], labels=["1", "8", "64", "512"])
        ax.set_title(STATS[stat], fontsize=9)
        ax.set_xlabel("$d_k$", fontsize=9)
    axes[1].axhline(np.log(table.n_keys), color=COLORS["theory"], lw=0.8, ls="--")
    axes[0].legend(fontsize=8, frameon=False)
    return fig


def describe_sharpness_vs_dk(table: SharpnessTable) -> str:
    """Alt text for :func:`sharpness_vs_dk`."""
    last = int(table.d_k[-1])
    u = table.at(last, "unscaled", "max_weight")[0]
    s = table.at(last, "scaled", "max_weight")[0]
    return (
        f"Four panels against d_k from {int(table.d_k[0])} to {last} ({table.n_keys} keys, "
        f"{table.n_rows} rows per point): unscaled, the largest weight climbs to {u:.3f}, the "
        f"entropy and the Jacobian norm fall towards 0 and most rows become one-hot; scaled, "
        f"all four stay flat (largest weight {s:.3f} at d_k = {last})."
    )


#: The factors c of the temperature panel's curves: 41 points from 0.01 to 100.
FACTORS = np.geomspace(1e-2, 1e2, 41)


@lru_cache(maxsize=8)
def temperature_grid(d_k: int = 64, n_keys: int = 16) -> dict:
    """:func:`temperature_curves` over :data:`FACTORS` (seed 0, 500 rows), computed once per call."""
    return temperature_curves(FACTORS, d_k=v.positive_int("d_k", d_k), n_keys=n_keys)


def temperature_panel(
    factor: float = 1.0, n_keys: int = 16, d_k: int = 64, seed: int = 0
) -> Figure:
    """Scaled logits multiplied by ``factor``: one row's weights, and the mean entropy and gradient.

    Left: the weights of one seeded query. Right, against the factor: the mean entropy
    divided by log n_keys, and the median over rows of ‖J‖ (the softmax Jacobian, which
    measures saturation) and of ‖∂p/∂s‖ = factor·‖J‖ (the chain-rule factor c is one a
    learning rate absorbs); the dotted line marks ``factor``.
    """
    factor = v.finite_float("factor", factor, positive=True)
    n_keys, d_k = v.positive_int("n_keys", n_keys), v.positive_int("d_k", d_k)
    s = random_logits(d_k, n_keys, 1, seed, factor=1 / np.sqrt(d_k))[0]
    cur = temperature_grid(d_k, n_keys)
    fig, (ax_p, ax_c) = new_figure(2)
    draw_weights(ax_p, softmax(factor * s), COLORS["scaled"], f"one query, factor c = {factor:g}")
    ax_c.semilogx(
        cur["factor"],
        cur["entropy"] / np.log(n_keys),
        color=COLORS["scaled"],
        label="entropy / log n",
    )
    ax_c.semilogx(cur["factor"], cur["jac_norm"], color=COLORS["unscaled"], lw=2, label="‖J‖")
    ax_c.semilogx(
        cur["factor"], cur["grad_norm"], color=COLORS["theory"], ls="--", label="c‖J‖ = ‖∂p/∂s‖"
    )
    ax_c.axvline(factor, color=COLORS["theory"], lw=1, ls=":")
    ax_c.set_ylim(0, max(1.05, 1.08 * float(cur["grad_norm"].max())))
    ax_c.set_xlabel("factor c")
    ax_c.minorticks_off()
    ax_c.set_title(f"over 500 queries (median row), $d_k$ = {d_k}", fontsize=10)
    ax_c.legend(fontsize=7, frameon=False, loc="center left")
    return fig


def describe_temperature_panel(
    factor: float = 1.0, n_keys: int = 16, d_k: int = 64, seed: int = 0
) -> str:
    """Alt text for :func:`temperature_panel` at the same parameters."""
    factor = v.finite_float("factor", factor, positive=True)
    st = temperature_curves([factor], d_k=d_k, n_keys=n_keys)
    return (
        f"Scaled logits multiplied by c = {factor:g} over {n_keys} keys: mean entropy "
        f"{st['entropy'][0]:.2f} nats of at most {np.log(n_keys):.2f}, median Jacobian norm "
        f"{st['jac_norm'][0]:.3f} and c‖J‖ = {st['grad_norm'][0]:.3f}. Against c, the Jacobian "
        f"norm falls to 1/{n_keys} for small c and to 0 for large c, and c‖J‖ vanishes at both ends."
    )
