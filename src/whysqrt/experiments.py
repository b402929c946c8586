"""Seeded Monte Carlo experiments whose numbers the chapters quote (via glue).

Used by: ``variance-proof`` (:func:`dot_product_moments_mc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _validate as v
from .numerics import dot_product_samples

__all__ = ["DK_GRID", "MomentsTable", "dot_product_moments_mc", "cached_dot_samples"]

#: Powers of two from 1 to 1024: the d_k values every d_k slider and sweep uses.
DK_GRID = tuple(2**i for i in range(11))


@dataclass(frozen=True)
class MomentsTable:
    """Empirical moments of q·k per d_k, unscaled and divided by sqrt(d_k)."""

    d_k: np.ndarray
    n: int
    mean: np.ndarray
    var: np.ndarray
    scaled_mean: np.ndarray
    scaled_var: np.ndarray
    var_se: np.ndarray

    @property
    def max_rel_var_error(self) -> float:
        """Largest |empirical Var / d_k - 1| over the grid (the unscaled prediction is d_k)."""
        return float(np.max(np.abs(self.var / self.d_k - 1.0)))

    def summary(self, at: int = 512) -> dict:
        """The numbers the variance-proof chapter quotes, keyed for ``glue``."""
        i = list(self.d_k).index(at)
        return {
            "n": int(self.n),
            "max-rel-error": 100 * self.max_rel_var_error,
            "max-z": self.max_var_z,
            f"var-{at}": float(self.var[i]),
            f"scaled-var-{at}": float(self.scaled_var[i]),
            "scaled-var-range": f"{self.scaled_var.min():.3f} to {self.scaled_var.max():.3f}",
        }

    @property
    def max_var_z(self) -> float:
        """Largest |empirical Var - d_k| in units of its standard error over the grid."""
        return float(np.max(np.abs(self.var - self.d_k) / self.var_se))


def dot_product_moments_mc(d_ks=DK_GRID, n: int = 20_000, seed: int = 0) -> MomentsTable:
    """Mean and variance of q·k over ``n`` seeded draws of standard normal q, k per d_k.

    Each d_k gets its own generator, seeded with ``seed + d_k``, so adding a grid
    point never changes the others.
    """
    d_ks, n = v.positive_int_list("d_ks", d_ks), v.positive_int("n", n)
    if n < 2:
        raise ValueError("n must be at least 2 to estimate a variance")
    rows = []
    for d_k in d_ks:
        rng = np.random.default_rng(seed + d_k)
        q, k = rng.standard_normal((n, d_k)), rng.standard_normal((n, d_k))
        dots = np.einsum("nd,nd->n", q, k)  # n independent samples of q·k
        scaled = dots / np.sqrt(d_k)
        # standard error of the sample variance: sd of the squared deviations / sqrt(n)
        se = np.std((dots - dots.mean()) ** 2, ddof=1) / np.sqrt(n)
        rows.append((dots.mean(), dots.var(ddof=1), scaled.mean(), scaled.var(ddof=1), se))
    mean, var, smean, svar, se = (np.array(c) for c in zip(*rows))
    return MomentsTable(d_ks, n, mean, var, smean, svar, se)


@lru_cache(maxsize=32)
def cached_dot_samples(d_k: int, n: int, seed: int) -> np.ndarray:
    """Unscaled q·k samples, memoised so a slider revisiting a d_k only redraws.

    The array is read-only: callers scale a copy.
    """
    out = dot_product_samples(d_k, n, seed=seed)
    out.setflags(write=False)
    return out
