"""whysqrt.heads: multi-head / grouped-query attention, shapes, costs, KV cache, figures."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import whysqrt as ws

H = ws.heads


def _x(batch=2, seq=5, d_model=8, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, seq, d_model))


def _single_head(x, w_q, w_k, w_v, w_o):
    """The single-head formula written out directly: softmax(QK^T/sqrt(d)) V W_O."""
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    z = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ v) @ w_o


# -- known values -------------------------------------------------------------
def test_paper_head_sizes():
    assert H.head_dim(512, 8) == 64 and H.head_dim(1024, 16) == 64


def test_h1_equals_single_head_formula():
    x, w = _x(d_model=6), H.init_weights(6, 1, seed=1)
    res = H.multi_head_attention(x, **w, h=1)
    np.testing.assert_allclose(res.output, _single_head(x, *w.values()), rtol=1e-12)


def test_each_head_is_the_single_head_formula_on_its_slice():
    d, h = 8, 4
    x, w = _x(d_model=d), H.init_weights(d, h, seed=2)
    res = H.multi_head_attention(x, **w, h=h)
    d_k = d // h
    parts = [
        _single_head(
            x,
            w["w_q"][:, i * d_k : (i + 1) * d_k],
            w["w_k"][:, i * d_k : (i + 1) * d_k],
            w["w_v"][:, i * d_k : (i + 1) * d_k],
            np.eye(d_k),
        )
        for i in range(h)
    ]
    np.testing.assert_allclose(res.output, np.concatenate(parts, -1) @ w["w_o"], rtol=1e-10)


def test_scale_uses_per_head_dk():
    # q = k = all-ones rows: every raw logit is d_k, so the scaled logit must be sqrt(d_k)
    d, h = 16, 4
    x = np.ones((1, 3, d))
    w = {"w_q": np.eye(d), "w_k": np.eye(d), "w_v": np.eye(d), "w_o": np.eye(d)}
    res = H.multi_head_attention(x, **w, h=h)
    np.testing.assert_allclose(res.weights, 1 / 3)  # equal logits -> uniform
    s = ws.attention_scores(H.split_heads(x, h), H.split_heads(x, h))
    np.testing.assert_allclose(s, np.sqrt(d // h))


def test_gqa_with_g_equal_h_is_mha():
    d, h = 12, 3
    x, w = _x(d_model=d, seed=3), H.init_weights(d, h, seed=3)
    a = H.multi_head_attention(x, **w, h=h)
    b = H.grouped_query_attention(x, **w, h=h, g=h)
    np.testing.assert_allclose(a.output, b.output, rtol=1e-12)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12)


def test_mqa_shares_one_key_head():
    d, h = 8, 4
    x, w = _x(d_model=d, seed=4), H.init_weights(d, h, g=1, seed=4)
    res = H.grouped_query_attention(x, **w, h=h, g=1)
    d_k = d // h
    k = x @ w["w_k"]
    for i in range(h):
        q = (x @ w["w_q"])[..., i * d_k : (i + 1) * d_k]
        _, p = ws.scaled_dot_product_attention(q, k, k)
        np.testing.assert_allclose(res.weights[:, i], p, rtol=1e-12)


def test_counts():
    assert H.param_count(512, 8) == 4 * 512**2 == H.param_count(512, 1)
    assert H.param_count(512, 8, g=1) == 2 * 512**2 + 2 * 512 * 64
    assert H.flop_count(512, 8, 10) == H.flop_count(512, 1, 10) == 10 * 4 * 512**2 + 2 * 100 * 512
    c = H.symbolic_costs()
    assert sp.simplify(c["params_h"] - 4 * c["d_model"] ** 2) == 0
    assert sp.simplify(c["macs_h"] - c["macs_1"]) == 0


def test_base_model_counts_by_hand():
    # four 512 x 512 matrices; biases add 4 x 512
    assert H.param_count(512, 8) == 1_048_576
    assert H.param_count(512, 8, bias=True) == 1_048_576 + 2_048
    # per token and layer: K and V, g heads of 64 numbers each
    assert [H.kv_cache_elements(1, 1, g, 64) for g in (8, 2, 1)] == [1024, 256, 128]


def test_kv_cache_bytes_hand_value():
    # Llama-2-7B-like: 2 * 32 layers * 4096 tokens * 32 heads * 128 * 2 bytes = 2 GiB
    assert H.kv_cache_bytes(32, 4096, 32, 128) == 2 * 2**30
    rows = H.kv_cache_table(seq_len=1)
    assert all(r["bytes"] == 4 * r["layers"] * r["g"] * r["d_k"] for r in rows)


def test_shape_trace_matches_a_run():
    for h, g in ((4, None), (4, 2), (4, 1)):
        x, w = _x(d_model=8), H.init_weights(8, h, g=g)
        res = H.grouped_query_attention(x, **w, h=h, g=g or h)
        trace = H.shape_trace(2, 5, 8, h, g)
        assert res.shapes == {k: s for k, s in trace.items() if k != "token ids"}
        assert trace["Q heads"] == (2, h, 5, 2) and trace["K heads"] == (2, g or h, 5, 2)


def test_variance_experiments_track_dk():
    v = H.head_logit_variances(64, 4, n_tokens=64, draws=3)
    assert v.shape == (3, 4) and abs(v.mean() / 16 - 1) < 0.2
    r = H.scale_experiment(64, 4, n_keys=16, n_queries=500)
    assert abs(r["per_head"]["std"] - 1) < 0.1 and abs(r["d_model"]["std"] - 0.5) < 0.05
    assert r["d_model"]["entropy"] > r["per_head"]["entropy"]


def test_planted_heads_separate_the_patterns():
    tokens = H.planted_sequence()
    x, w_q, w_k = H.planted_weights(tokens)
    n = len(tokens)
    mask = np.tril(np.ones((n, n), dtype=bool))
    wts = H.multi_head_attention(x, w_q, w_k, np.eye(32), np.eye(32), 2, mask=mask).weights[0]
    prev = wts[0][np.arange(1, n), np.arange(n - 1)]
    assert prev.min() > 0.5  # head 1 follows the previous token
    same = np.array([wts[1][t, : t + 1][tokens[: t + 1] == tokens[t]].sum() for t in range(n)])
    assert same.min() > 0.85  # head 2 attends to copies of the same token


def test_planted_patterns_keep_one_temperature_across_h():
    """Each pattern is worth the same scaled logit whatever h is (only the cut changes)."""
    tokens = H.planted_sequence()
    for h in (1, 2, 8):
        x, w_q, w_k = H.planted_weights(tokens, strength=4.0 * np.sqrt(32 // h))
        q = H.split_heads(x @ w_q, h)
        k = H.split_heads(x @ w_k, h)
        top = (q @ np.swapaxes(k, -1, -2)).sum(axis=1)[0] / np.sqrt(32 // h)
        assert np.isclose(top[1, 0], 4.0)  # position 1 -> previous token 0, different ids


def test_a_narrow_head_can_follow_the_previous_token():
    w = H.previous_token_head(12, d_k=4, margin=4.0)
    prev = w[np.arange(1, 12), np.arange(11)]
    assert np.allclose(w.sum(axis=1), 1) and np.allclose(np.triu(w, 1), 0)
    assert prev.min() > 0.95 and abs(prev.mean() - 0.966) < 0.001


def test_score_memory_grows_with_h_and_flops_do_not():
    assert H.score_memory_bytes(4, 1024, 12) == 192 * 2**20
    assert H.score_memory_bytes(4, 1024, 1) == 16 * 2**20
    assert H.flop_count(768, 12, 1024) == H.flop_count(768, 1, 1024)


def test_llama2_70b_weights_and_crossing():
    assert abs(H.decode_params(8) / 1e9 - 68.98) < 0.01  # the released 70B's size
    assert H._decode_half(8, 1, H.LLAMA2_70B) > 8 * H._decode_half(64, 1, H.LLAMA2_70B) / 1.2


# -- properties ---------------------------------------------------------------
dims = st.sampled_from([(4, 1), (4, 2), (4, 4), (6, 3), (8, 2), (8, 8)])


@settings(max_examples=30, deadline=None)
@given(dims, st.integers(1, 3), st.integers(1, 6), st.integers(0, 10_000))
def test_mha_shapes_and_rows_sum_to_one(dh, batch, seq, seed):
    d, h = dh
    x, w = _x(batch, seq, d, seed), H.init_weights(d, h, seed=seed)
    res = H.multi_head_attention(x, **w, h=h)
    assert res.output.shape == (batch, seq, d) and res.weights.shape == (batch, h, seq, seq)
    np.testing.assert_allclose(res.weights.sum(-1), 1.0, rtol=1e-12)
    assert np.all(np.isfinite(res.output))


@settings(max_examples=30, deadline=None)
@given(dims, st.integers(0, 10_000))
def test_split_merge_round_trip(dh, seed):
    d, h = dh
    x = _x(2, 3, d, seed)
    np.testing.assert_array_equal(H.merge_heads(H.split_heads(x, h)), x)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8]), st.integers(1, 2**20))
def test_gqa_params_and_cache_scale_with_g(h, g, seq):
    if h % g:
        return
    d = 8 * h
    assert H.param_count(d, h, g) == 2 * d * d + 2 * d * g * (d // h)
    assert H.kv_cache_bytes(2, seq, g, 8) * h == H.kv_cache_bytes(2, seq, h, 8) * g
    n = H.kv_cache_elements(2, seq, g, 8)
    assert H.kv_cache_bytes(2, seq, g, 8, bytes_per_value=4) == 4 * n
    extra = H.param_count(d, h, g, bias=True) - H.param_count(d, h, g)
    assert extra == 2 * d + 2 * g * (d // h)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([(4, 1), (8, 2), (6, 3), (8, 8)]), st.integers(1, 4), st.integers(1, 7))
def test_merge_undoes_split_and_heads_are_feature_blocks(dh, batch, seq):
    d, h = dh
    x = np.arange(batch * seq * d, dtype=float).reshape(batch, seq, d)
    heads = H.split_heads(x, h)
    d_k = d // h
    for i in range(h):
        np.testing.assert_array_equal(heads[:, i], x[..., i * d_k : (i + 1) * d_k])
    np.testing.assert_array_equal(H.merge_heads(heads), x)


# -- bad input ----------------------------------------------------------------
def _w(d=8, h=2):
    return H.init_weights(d, h)


@pytest.mark.parametrize(
    "call, exc, name",
    [
        (lambda: H.head_dim(10, 3), ValueError, "h"),
        (lambda: H.head_dim(0, 1), ValueError, "d_model"),
        (lambda: H.head_dim(8, 0), ValueError, "h"),
        (lambda: H.head_dim(8, 2.5), TypeError, "h"),
        (lambda: H.multi_head_attention(_x(), **_w(), h=3), ValueError, "h"),
        (lambda: H.multi_head_attention(_x()[0], **_w(), h=2), ValueError, "x"),
        (lambda: H.multi_head_attention(np.full((1, 2, 8), np.nan), **_w(), h=2), ValueError, "x"),
        (lambda: H.multi_head_attention(np.full((1, 2, 8), np.inf), **_w(), h=2), ValueError, "x"),
        (lambda: H.multi_head_attention(np.zeros((1, 0, 8)), **_w(), h=2), ValueError, "x"),
        (lambda: H.multi_head_attention(np.full((1, 2, 8), "a"), **_w(), h=2), TypeError, "x"),
        (
            lambda: H.multi_head_attention(_x(), **{**_w(), "w_k": np.eye(4)}, h=2),
            ValueError,
            "w_k",
        ),
        (
            lambda: H.multi_head_attention(_x(), **{**_w(), "w_o": np.ones((8, 8)) * np.nan}, h=2),
            ValueError,
            "w_o",
        ),
        (lambda: H.grouped_query_attention(_x(), **_w(8, 4), h=4, g=3), ValueError, "g"),
        (lambda: H.grouped_query_attention(_x(), **_w(8, 4), h=4, g=1), ValueError, "w_k"),
        (lambda: H.shape_trace(0, 2, 8, 2), ValueError, "batch"),
        (lambda: H.param_count(512, 7), ValueError, "h"),
        (lambda: H.kv_cache_bytes(32, 0, 8, 128), ValueError, "seq_len"),
        (lambda: H.kv_cache_bytes(32, 10, 8, -1), ValueError, "d_k"),
        (lambda: H.split_heads(np.ones((2, 3, 5)), 2), ValueError, "heads"),
        (lambda: H.split_heads(np.ones((2, 3)), 1), ValueError, "x"),
        (lambda: H.merge_heads(np.ones((2, 3, 4))), ValueError, "x"),
        (lambda: H.merge_heads(np.full((1, 2, 3, 4), np.nan)), ValueError, "x"),
        (lambda: H.param_count(512, 8, bias="yes"), TypeError, "bias"),
        (lambda: H.kv_cache_elements(0, 1, 1, 64), ValueError, "layers"),
        (lambda: H.kv_cache_bytes(1, 1, 1, 64, bytes_per_value=0), ValueError, "bytes_per_value"),
        (lambda: H.head_logit_variances(64, 4, seed=-1), ValueError, "seed"),
        (lambda: H.head_logit_variances(64, 4, n_tokens=1), ValueError, "n_tokens"),
        (lambda: H.planted_weights(np.arange(20)), ValueError, "d_model"),
        (lambda: H.planted_weights([0.5, 1.5]), ValueError, "tokens"),
        (lambda: H.decode_read_figure(g=3), ValueError, "g"),
        (lambda: H.cost_figure(h=5), ValueError, "h"),
        (lambda: H.previous_token_head(d_k=2), ValueError, "d_k"),
        (lambda: H.score_memory_bytes(1, 0, 1), ValueError, "n"),
        (lambda: H.logit_variance_figure(64, []), ValueError, "configs"),
    ],
)
def test_bad_input(call, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


# -- figures ------------------------------------------------------------------
@pytest.mark.parametrize(
    "func, kw",
    [
        (H.cost_figure, {"h": 16, "n": 256}),
        (H.head_maps, {"h": 8}),
        (H.decode_read_figure, {"g": 1, "batch": 64}),
    ],
)
def test_figures_are_new_figures_with_alt_text(func, kw):
    a, b = func(**kw), func(**kw)
    assert isinstance(a, Figure) and a is not b
    alt = getattr(H, "describe_" + func.__name__)(**kw)
    assert all(str(x) in alt for x in kw.values())


def test_logit_variance_figure():
    fig = H.logit_variance_figure(32, [(1, None), (4, 1)], n_tokens=16, draws=1)
    assert len(fig.axes) == 2


def test_kv_cache_table_latex_lists_every_configuration():
    rows = H.kv_cache_table(seq_len=1024)
    latex = H.kv_cache_table_latex(seq_len=1024)
    assert latex.count(r"\\") == len(rows)  # header + one line per row, joined
    for r in rows:
        assert r["name"] in latex
