"""Seeded Monte Carlo experiments whose numbers the chapters quote (via glue).

Used by: ``variance-proof`` (:func:`dot_product_moments_mc`, :func:`variance_with_se`,
:func:`correlated_product_variance`) and ``source-audit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _validate as v
from .numerics import dot_product_samples

__all__ = [
    "DK_GRID",
    "MomentsTable",
    "dot_product_moments_mc",
    "variance_with_se",
    "correlated_product_variance",
    "cached_dot_samples",
]

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

    @property
    def var_z(self) -> np.ndarray:
        """(empirical Var - d_k) / standard error, per d_k: about N(0, 1) if only noise."""
        return (self.var - self.d_k) / self.var_se

    @property
    def max_var_z(self) -> float:
        """Largest |empirical Var - d_k| in units of its standard error over the grid."""
        return float(np.max(np.abs(self.var_z)))

    @property
    def max_z_chance(self) -> float:
        """Probability that pure noise gives a max |z| at least this large over the grid.

        The grid points use independent generators, so under the null the z values are
        independent standard normals: P = 1 - (1 - 2 Phi(-max|z|))^len(grid).
        """
        tail = math.erfc(self.max_var_z / math.sqrt(2))  # two-sided P(|Z| > max|z|)
        return float(1.0 - (1.0 - tail) ** len(self.d_k))

    def summary(self, at: int = 512) -> dict:
        """The numbers the variance-proof chapter quotes, keyed for ``glue``."""
        d_ks = [int(d) for d in self.d_k]
        if at not in d_ks:
            raise ValueError(f"at must be one of the grid's d_k values {d_ks}, got {at}")
        i = d_ks.index(at)
        worst = int(np.argmax(np.abs(self.var_z)))
        return {
            "n": int(self.n),
            "grid-size": len(d_ks),
            f"var-{at}": float(self.var[i]),
            f"var-{at}-se": float(self.var_se[i]),
            f"scaled-var-{at}": float(self.scaled_var[i]),
            f"scaled-var-{at}-se": float(self.var_se[i] / at),
            "z-sd": float(np.std(self.var_z, ddof=1)),
            "max-z": float(self.var_z[worst]),
            "max-z-dk": d_ks[worst],
            "max-z-chance": self.max_z_chance,
        }


def variance_with_se(x) -> tuple[float, float]:
    """Sample variance of independent draws ``x`` and its standard error.

    The standard error is the standard deviation of the squared deviations over sqrt(n):
    it needs no assumption about the distribution's shape.
    """
    x = v.finite_array("x", x)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be a 1-D array of at least 2 draws, got shape {x.shape}")
    se = np.std((x - x.mean()) ** 2, ddof=1) / np.sqrt(x.size)
    return float(x.var(ddof=1)), float(se)


def correlated_product_variance(rho: float, n: int = 1_000_000, seed: int = 0) -> dict:
    """Var[q_i k_i] for two ways of building standard normal q_i, k_i with correlation rho.

    ``linear``: k_i = rho z_1 + sqrt(1 - rho^2) z_2, q_i = z_1 (jointly normal; the
    construction behind the book's correlated-case formula, exact value 1 + rho^2).
    ``mixture``: k_i = z_1 with probability rho, else z_2 (same normal marginals, same
    correlation, not jointly normal; exact value 1 + 2 rho - rho^2).
    Returns each Monte Carlo estimate with its standard error and the exact value.
    """
    rho = v.in_range("rho", rho, 0.0, 1.0)
    n = v.positive_int("n", n)
    if n < 2:
        raise ValueError("n must be at least 2 to estimate a variance")
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, n))
    pick = rng.random(n) < rho
    built = {
        "linear": (z1 * (rho * z1 + math.sqrt(1 - rho**2) * z2), 1 + rho**2),
        "mixture": (z1 * np.where(pick, z1, z2), 1 + 2 * rho - rho**2),
    }
    out = {}
    for name, (prod, exact) in built.items():
        var, se = variance_with_se(prod)
        out[name] = {"sample": var, "se": se, "exact": float(exact)}
    return out


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
        var, se = variance_with_se(dots)  # se: sd of the squared deviations / sqrt(n)
        rows.append((dots.mean(), var, scaled.mean(), scaled.var(ddof=1), se))
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
