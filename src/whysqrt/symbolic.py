"""SymPy derivations, returned as expressions so notebooks can display them.

Used by: ``variance-proof`` (the mean and variance of q·k in every case) and ``why-sqrt``
(how far one SGD or Adam step moves a logit).

The one trick: write each coordinate pair as a polynomial in independent
standardised variables Z1, Z2 (mean 0, variance 1) and take expectations
monomial by monomial. Only the moments that actually appear are needed, which
shows *which* assumptions a result uses: the independent case needs only first
and second moments (no normality); the correlated case also needs the fourth
moment E[Z^4] = kappa (kappa = 3 for a normal distribution).
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "expectation",
    "product_term",
    "dot_product_moments",
    "standard_case",
    "symbols",
    "logit_step_sgd",
    "logit_step_exponents",
]

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


# -- why-sqrt: how much one optimiser step moves a logit ------------------------------
def logit_step_sgd(d_k: int = 2, d_model: int = 2, n_keys: int = 2):
    """The first-order change of the logit s_1 in one SGD step on W_Q and W_K, derived.

    Builds s_j = d_k^-alpha x_0^T W_Q^T W_K x_j with explicit symbolic matrices (d_k and
    alpha symbols, the scale kept as a power), takes the step
    W <- W - lr dL/dW with dL/dW = sum_j g_j ds_j/dW (g_j = dL/ds_j), and differentiates
    s_1 after the step with respect to lr at lr = 0. Returns ``(derived, closed)``, where
    ``closed`` = -lr d_k^(-2 alpha) (|x_0|^2 sum_j g_j k_j·k_1 + |q|^2 sum_j g_j x_j·x_1); the two
    agree identically (``sp.expand(derived - closed) == 0``).
    """
    for name, value in (("d_k", d_k), ("d_model", d_model), ("n_keys", n_keys)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    lr = sp.Symbol("eta", positive=True)
    scale = sp.Symbol("d_k", positive=True) ** -sp.Symbol("alpha", positive=True)
    wq = sp.Matrix(d_k, d_model, lambda i, j: sp.Symbol(f"Q_{i}{j}", real=True))
    wk = sp.Matrix(d_k, d_model, lambda i, j: sp.Symbol(f"K_{i}{j}", real=True))
    xs = [
        sp.Matrix(d_model, 1, lambda i, _, t=t: sp.Symbol(f"x_{t}{i}", real=True))
        for t in range(n_keys + 1)
    ]
    g = sp.symbols(f"g_1:{n_keys + 1}", real=True)
    weights = list(wq) + list(wk)

    def logits(a, b):
        return [scale * ((a * xs[0]).T * (b * xs[j]))[0, 0] for j in range(1, n_keys + 1)]

    s = logits(wq, wk)
    grad = [sum(gj * sp.diff(sj, w) for gj, sj in zip(g, s)) for w in weights]
    step = dict(zip(weights, (w - lr * gw for w, gw in zip(weights, grad))))
    s1_after = logits(wq.subs(step, simultaneous=True), wk.subs(step, simultaneous=True))[0]
    derived = lr * sp.diff(s1_after, lr).subs(lr, 0)
    q, k = wq * xs[0], [wk * x for x in xs[1:]]
    dot = lambda u, w: (u.T * w)[0, 0]  # noqa: E731
    closed = (
        -lr
        * scale**2
        * (
            dot(xs[0], xs[0]) * sum(gj * dot(kj, k[0]) for gj, kj in zip(g, k))
            + dot(q, q) * sum(gj * dot(xj, xs[1]) for gj, xj in zip(g, xs[1:]))
        )
    )
    return derived, closed


def logit_step_exponents():
    """The power of d_k in the per-step logit change for the scale d_k^-alpha: {name: exponent}.

    SGD: |Δs| ~ lr d_k^(-2 alpha) |k|^2 |x|^2 with |k|^2 = d_k (unit-variance components),
    so exponent 1 - 2 alpha. Adam: every entry moves by ~lr, so |Δs| ~ lr d_k^-alpha
    |x|_1 sign(a)·k, a sum of d_k terms with non-zero mean, ~ lr d_k^(1 - alpha).
    Also returns ``alpha_sgd`` and ``alpha_adam``, the alpha that makes each exponent 0.
    """
    d_k, alpha = sp.symbols("d_k alpha", positive=True)
    scale = d_k**-alpha
    out = {}
    for name, size in (("sgd", scale**2 * d_k), ("adam", scale * d_k)):
        # log(size) / log(d_k), the log expanded into a sum and each term divided out
        out[name] = sp.expand(sp.expand_log(sp.log(size), force=True) / sp.log(d_k))
        out[f"alpha_{name}"] = sp.solve(sp.Eq(out[name], 0), alpha)[0]
    return out
