"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoderLayer vs numpy."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F

RNG = np.random.default_rng(13)


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_sdpa(q, k, v, mask=None, causal=False):
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        mask = np.tril(np.ones(s.shape[-2:], dtype=bool))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    return np_softmax(s) @ v


def test_sdpa_plain_and_causal():
    check_op([(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)], F.scaled_dot_product_attention,
             ref=ref_sdpa)
    check_op([(2, 5, 4), (2, 5, 4), (2, 5, 4)],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
             ref=lambda q, k, v: ref_sdpa(q, k, v, causal=True))


def test_sdpa_masks_and_errors():
    bool_mask = RNG.uniform(size=(4, 6)) > 0.3
    bool_mask[:, 0] = True
    float_mask = RNG.standard_normal((1, 4, 6))
    bm = torch.tensor(bool_mask)
    fm = torch.tensor(float_mask, dtype=torch.float32)
    check_op([(2, 4, 8), (2, 6, 8), (2, 6, 8)],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bm),
             ref=lambda q, k, v: ref_sdpa(q, k, v, bool_mask), layouts=("contiguous",))
    check_op([(2, 4, 8), (2, 6, 8), (2, 6, 8)],
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=fm),
             ref=lambda q, k, v: ref_sdpa(q, k, v, float_mask), layouts=("contiguous",))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(torch.randn(1, 2, 4), torch.randn(1, 2, 4),
                                       torch.randn(1, 2, 4), attn_mask=bm, is_causal=True)


def test_sdpa_dropout_is_seeded():
    q = torch.randn(1, 2, 16, 8)
    torch.manual_seed(5)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    torch.manual_seed(5)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    c = F.scaled_dot_product_attention(q, q, q).numpy()
    assert (a == b).all() and not np.allclose(a, c)


def ref_mha(x_q, x_kv, w_in, b_in, w_out, b_out, heads, key_padding=None):
    b, L, e = x_q.shape
    S = x_kv.shape[1]
    hd = e // heads
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    q = (x_q @ wq.T + bq).reshape(b, L, heads, hd).transpose(0, 2, 1, 3)
    k = (x_kv @ wk.T + bk).reshape(b, S, heads, hd).transpose(0, 2, 1, 3)
    v = (x_kv @ wv.T + bv).reshape(b, S, heads, hd).transpose(0, 2, 1, 3)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
    if key_padding is not None:
        s = np.where(key_padding[:, None, None, :], -np.inf, s)
    p = np_softmax(s)
    out = (p @ v).transpose(0, 2, 1, 3).reshape(b, L, e)
    return out @ w_out.T + b_out, p.mean(1)


def test_multihead_attention_batch_first_and_seq_first():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    assert [n for n, _ in mha.named_parameters()] == ["in_proj_weight", "in_proj_bias",
                                                     "out_proj.weight", "out_proj.bias"]
    xq = RNG.standard_normal((2, 3, 8))
    xkv = RNG.standard_normal((2, 5, 8))
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    params = [p.detach().numpy().astype(np.float64) for p in mha.parameters()]
    ref_out, ref_w = ref_mha(xq, xkv, *params, 2, kpm)
    q = torch.tensor(xq, dtype=torch.float32)
    kv = torch.tensor(xkv, dtype=torch.float32)
    out, w = mha(q, kv, kv, key_padding_mask=torch.tensor(kpm))
    assert_close(out, ref_out, atol=1e-4)
    assert_close(w, ref_w, atol=1e-5)
    out2, none = mha(q, kv, kv, key_padding_mask=torch.tensor(kpm), need_weights=False)
    assert none is None
    assert_close(out2, ref_out, atol=1e-4)
    seq_first = nn.MultiheadAttention(8, 2)
    seq_first.load_state_dict(mha.state_dict())
    out3, _ = seq_first(q.transpose(0, 1), kv.transpose(0, 1), kv.transpose(0, 1),
                        key_padding_mask=torch.tensor(kpm))
    assert_close(out3.transpose(0, 1), ref_out, atol=1e-4)
    out.sum().backward()
    assert all(p.grad is not None for p in mha.parameters())


def test_transformer_encoder_layer():
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    names = [n for n, _ in layer.named_parameters()]
    assert names[:4] == ["self_attn.in_proj_weight", "self_attn.in_proj_bias",
                         "self_attn.out_proj.weight", "self_attn.out_proj.bias"]
    assert names[4:] == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                         "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    x = RNG.standard_normal((2, 4, 8))
    p = {n: t.detach().numpy().astype(np.float64) for n, t in layer.named_parameters()}

    def ln(v, w, b):
        m = v.mean(-1, keepdims=True)
        return (v - m) / np.sqrt(((v - m) ** 2).mean(-1, keepdims=True) + 1e-5) * w + b

    sa, _ = ref_mha(x, x, p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"],
                    p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"], 2)
    h = ln(x + sa, p["norm1.weight"], p["norm1.bias"])
    ff = np.maximum(h @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T
    ref = ln(h + ff + p["linear2.bias"], p["norm2.weight"], p["norm2.bias"])
    out = layer(torch.tensor(x, dtype=torch.float32))
    assert_close(out, ref, atol=1e-4)
    enc = nn.TransformerEncoder(layer, num_layers=2)
    assert len(enc.layers) == 2 and enc.layers[0].linear1.weight is not layer.linear1.weight
    mask = nn.Transformer.generate_square_subsequent_mask(4)  # is_causal is a hint, as torch
    y = enc(torch.tensor(x, dtype=torch.float32), mask=mask, is_causal=True)
    y.sum().backward()
    assert enc.layers[1].norm2.weight.grad is not None
