"""SymPy derivations, returned as expressions so notebooks can display them.

Used by: ``variance-proof`` (the mean and variance of q·k in every case).

The one trick: write each coordinate pair as a polynomial in independent
standardised variables Z1, Z2 (mean 0, variance 1) and take expectations
monomial by monomial. Only the moments that actually appear are needed, which
shows *which* assumptions a result uses: the independent case needs only first
and second moments (no normality); the correlated case also needs the fourth
moment E[Z^4] = kappa (kappa = 3 for a normal distribution).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["expectation", "product_term", "dot_product_moments", "standard_case", "symbols"]

#: The symbols used in the variance-proof chapter.
symbols = {
    "d_k": sp.Symbol("d_k", positive=True, integer=True),
    "mu_q": sp.Symbol(r"\mu_q", real=True),
    "mu_k": sp.Symbol(r"\mu_k", real=True),
    "sigma_q": sp.Symbol(r"\sigma_q", positive=True),
    "sigma_k": sp.Symbol(r"\sigma_k", positive=True),
    "rho": sp.Symbol(r"\rho", real=True),
    "kappa": sp.Symbol(r"\kappa", positive=True),
}
_Z1, _Z2 = sp.symbols("Z_1 Z_2", real=True)


def expectation(expr, zs=(_Z1, _Z2), kappa=None):
    """E[expr] for a polynomial in independent standardised variables ``zs``.

    Uses E[Z] = 0, E[Z^2] = 1, E[Z^3] = 0 (symmetry) and E[Z^4] = ``kappa``
    (a symbol unless given; 3 for a normal distribution). Higher powers raise
    ``ValueError``: the derivation never needs them.
    """
    kappa = symbols["kappa"] if kappa is None else kappa
    moments = {0: 1, 1: 0, 2: 1, 3: 0, 4: kappa}
    poly = sp.Poly(sp.expand(expr), *zs)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for n in powers:
            if n not in moments:
                raise ValueError(f"expr needs E[Z^{n}], which this derivation does not define")
            term *= moments[n]
        total += term
    return sp.expand(total)  # a polynomial: expanding is enough (simplify is 25x slower)


def product_term(correlated: bool = True):
    """One coordinate pair (q_i, k_i) written in terms of Z1, Z2.

    q_i = mu_q + sigma_q Z1 and k_i = mu_k + sigma_k (rho Z1 + sqrt(1 - rho^2) Z2),
    so Corr(q_i, k_i) = rho; with ``correlated=False`` rho is fixed at 0.
    """
    s = symbols
    rho = s["rho"] if correlated else 0
    q = s["mu_q"] + s["sigma_q"] * _Z1
    k = s["mu_k"] + s["sigma_k"] * (rho * _Z1 + sp.sqrt(1 - rho**2) * _Z2)
    return q, k


def dot_product_moments(correlated: bool = False, kappa=None):
    """(E[q·k], Var[q·k]) for d_k independent coordinate pairs, as SymPy expressions.

    The coordinates are independent of each other, so mean and variance of the
    sum are d_k times those of one product q_i k_i.
    """
    q, k = product_term(correlated)
    mean1 = expectation(q * k, kappa=kappa)
    var1 = sp.expand(expectation((q * k) ** 2, kappa=kappa) - mean1**2)
    d_k = symbols["d_k"]
    return sp.factor(d_k * mean1), sp.collect(sp.expand(d_k * var1), d_k)


def standard_case():
    """The textbook case (means 0, variances 1, independent): returns a dict of results.

    Keys: ``mean`` (= 0), ``var`` (= d_k), ``scaled_var`` (Var[q·k / sqrt(d_k)] = 1).
    """
    mean, var = dot_product_moments(correlated=False)
    sub = {symbols["mu_q"]: 0, symbols["mu_k"]: 0, symbols["sigma_q"]: 1, symbols["sigma_k"]: 1}
    mean0, var0 = sp.simplify(mean.subs(sub)), sp.simplify(var.subs(sub))
    scaled = sp.simplify(var0 / sp.sqrt(symbols["d_k"]) ** 2)
    return {"mean": mean0, "var": var0, "scaled_var": scaled}
