"""whysqrt.symbolic: the SymPy derivations agree with hand results and with numerics."""

import itertools

import pytest
import sympy as sp

import whysqrt as ws

s = ws.symbolic.symbols


def test_standard_case():
    r = ws.symbolic.standard_case()
    assert r["mean"] == 0
    assert sp.simplify(r["var"] - s["d_k"]) == 0
    assert r["scaled_var"] == 1


def test_independent_case_needs_no_fourth_moment():
    mean, var = ws.symbolic.dot_product_moments(correlated=False)
    assert not var.has(s["kappa"])
    expected = s["d_k"] * (
        s["sigma_q"] ** 2 * s["sigma_k"] ** 2
        + s["mu_q"] ** 2 * s["sigma_k"] ** 2
        + s["mu_k"] ** 2 * s["sigma_q"] ** 2
    )
    assert sp.simplify(var - expected) == 0
    assert sp.simplify(mean - s["d_k"] * s["mu_q"] * s["mu_k"]) == 0


def test_equal_vectors_have_mean_dk_and_variance_kappa_minus_one():
    mean, var = ws.symbolic.dot_product_moments(correlated=True)
    sub = {s["mu_q"]: 0, s["mu_k"]: 0, s["sigma_q"]: 1, s["sigma_k"]: 1, s["rho"]: 1}
    assert sp.simplify(mean.subs(sub) - s["d_k"]) == 0
    assert sp.simplify(var.subs(sub) - s["d_k"] * (s["kappa"] - 1)) == 0


@pytest.mark.parametrize(
    "case", list(itertools.product([0, 0.7], [-1.2, 0], [0.5, 2], [1], [-0.4, 0, 0.9]))
)
def test_symbolic_gaussian_formula_equals_numeric(case):
    mq, mk, sq, sk, r = case
    mean, var = ws.symbolic.dot_product_moments(correlated=True, kappa=3)
    f = sp.lambdify(
        [s["d_k"], s["mu_q"], s["mu_k"], s["sigma_q"], s["sigma_k"], s["rho"]], [mean, var]
    )
    exact = f(10, mq, mk, sq, sk, r)
    numeric = ws.product_moments(10, mu_q=mq, mu_k=mk, sigma_q=sq, sigma_k=sk, rho=r)
    assert exact == pytest.approx(numeric, rel=1e-12, abs=1e-12)


def test_expectation_rejects_unsupported_moments():
    z = sp.Symbol("Z_1", real=True)
    with pytest.raises(ValueError, match="^expr"):
        ws.symbolic.expectation(z**5, zs=(z,))


def test_importing_the_package_leaves_sympy_for_later():
    """SymPy (0.25 s) loads on the first use of ws.symbolic, not with ``import whysqrt``."""
    import subprocess
    import sys

    code = (
        "import sys, whysqrt as ws; assert 'sympy' not in sys.modules; "
        "ws.symbolic.standard_case(); assert 'sympy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
