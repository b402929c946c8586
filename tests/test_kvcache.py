"""whysqrt.kvcache: cache per token (MHA/GQA/MQA/MLA), arithmetic intensity, sliding windows."""

import pytest

from whysqrt import heads as H
from whysqrt import kvcache as K


def test_gqa_numbers_by_hand_and_against_heads():
    assert K.gqa_numbers(8, 128) == 2048  # Llama 2 70B: 2 x 8 x 128
    assert K.gqa_numbers(128, 192, 128) == 40960  # DeepSeek-V3 heads in full
    for g in (1, 2, 8):
        assert K.gqa_numbers(g, 64) == H.kv_cache_elements(1, 1, g, 64)


def test_mla_caches_576_numbers_for_deepseek_v3():
    ds = K.MODELS["deepseek-v3"]
    assert K.mla_numbers(ds["kv_lora_rank"], ds["qk_rope_head_dim"]) == 576


def test_macs_per_number_is_heads_per_kv_head():
    assert [K.gqa_macs_per_number(64, g) for g in (64, 8, 1)] == [1.0, 8.0, 64.0]
    # MLA: 128 heads x (576 score + 512 value) multiply-adds over 576 cached numbers
    assert K.mla_macs_per_number(128, 512, 64) == pytest.approx(128 * 1088 / 576)


def test_layer_windows_repeat_the_pattern_like_gemma_pytorch():
    w = K.layer_windows(62, ("local",) * 5 + (None,), 1024)
    assert len(w) == 62 and w.count(None) == 10  # global at layers 5, 11, ..., 59
    assert w[5] is None and w[60] == 1024 and w[61] == 1024
    assert K.layer_windows(3) == [None, None, None]


def test_cache_bytes_caps_local_layers_at_their_window():
    # two layers, one local (window 4), one global, 10 tokens, 3 numbers each, 2 bytes
    assert K.cache_bytes(3, 10, [4, None]) == (4 + 10) * 3 * 2
    assert K.cache_bytes(3, 2, [4, None]) == (2 + 2) * 3 * 2  # short context: window not reached
    assert K.cache_bytes(3, 10, [None], batch=5, bytes_per_value=4) == 10 * 3 * 5 * 4


def test_mistral_window_gives_the_papers_eightfold_saving_at_32k():
    rows = {r["name"]: r for r in K.window_rows()}
    assert rows["Mistral 7B v0.1"]["fraction"] == 1 / 8
    assert rows["Mistral 7B v0.1"]["full"] == H.kv_cache_bytes(32, 32768, 8, 128)
    assert rows["Gemma 2 27B"]["fraction"] == pytest.approx(0.75)
    gemma3 = (10 * 131072 + 52 * 1024) / (62 * 131072)  # 10 global layers, 52 local of 1,024
    assert rows["Gemma 3 27B"]["fraction"] == pytest.approx(gemma3)
    gptoss = (18 * 131072 + 18 * 128) / (36 * 131072)  # 18 global layers, 18 local of 128
    assert rows["gpt-oss-120b"]["fraction"] == pytest.approx(gptoss)
    assert rows["gpt-oss-120b"]["full"] == H.kv_cache_bytes(36, 131072, 8, 64)


def test_per_token_rows():
    rows = {r["name"]: r for r in K.per_token_rows()}
    assert rows["Llama 2 70B shape, GQA (G = 8)"]["bytes"] == 4096
    assert rows["DeepSeek-V3, MLA (latent + RoPE key)"]["bytes"] == 1152
    assert rows["DeepSeek-V3 heads cached in full"]["numbers"] == 128 * (192 + 128)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: K.gqa_numbers(0, 64), "g"),
        (lambda: K.gqa_numbers(1, 64, d_v=-1), "d_v"),
        (lambda: K.mla_numbers(512, 0), "qk_rope_head_dim"),
        (lambda: K.gqa_macs_per_number(64, 3), "g must divide h"),
        (lambda: K.layer_windows(4, ("local",)), "window"),
        (lambda: K.layer_windows(4, ("sliding",), 8), "pattern"),
        (lambda: K.cache_bytes(3, 0, [None]), "n"),
        (lambda: K.cache_bytes(3, 5, []), "windows"),
        (lambda: K.cache_bytes(3, 5, [0]), "windows"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_tables_have_one_row_per_configuration():
    assert len(K.per_token_table().cells) == 5
    text = K.window_table().text()
    assert "Gemma 3 27B" in text and "gpt-oss-120b" in text and "0.125" in text
