"""Attention: scaled_dot_product_attention and the multi-head attention forward.

``scaled_dot_product_attention`` is PyTorch's "math" path: two batched matmuls around a
fused softmax, with the scale applied to the query (L*E work instead of L*S), masks added
to the scores, and dropout on the attention weights.
"""

import math
import warnings

from ...ops import elementwise as ew
from ...ops.creation import arange
from ...ops.padding import pad
from ...ops.shape import cat
from .activation import softmax
from .dropout import dropout
from .linear import linear


def causal_mask(L, S, device):
    """Bool (L, S), True where query i may attend to key j (j <= i): PyTorch's tril(ones)."""
    return arange(L, device=device).view(L, 1) >= arange(S, device=device).view(1, S)


def _apply_mask(scores, attn_mask):
    if attn_mask is None:
        return scores
    if attn_mask.dtype.name == "bool":
        return ew.where(attn_mask, scores, -math.inf)
    return scores + attn_mask


def _repeat_heads(t, repeats):
    """(..., Hk, S, E) -> (..., Hk * repeats, S, E), each head repeated (grouped-query)."""
    *lead, h, s, e = t.shape
    return t.unsqueeze(-3).expand(*lead, h, repeats, s, e).reshape(*lead, h * repeats, s, e)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V over (..., L, E) queries and (..., S, E) keys.

    ``attn_mask`` is bool (True = attend) or float (added to the scores), broadcast to
    (..., L, S). ``is_causal`` masks keys after each query. Example::

        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)   # (B, H, T, hs)
    """
    if attn_mask is not None and is_causal:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at "
                           "least 2-D")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query and key must have the same embedding size, "
            f"got {query.shape[-1]} and {key.shape[-1]}"
        )
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3]:
            raise RuntimeError("number of heads in key/value must divide the query heads")
        key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)  # (..., L, S)
    if is_causal:
        attn_mask = causal_mask(L, S, query.device)
    weights = softmax(_apply_mask(scores, attn_mask), -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value  # (..., L, Ev)


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """``mask`` as an additive float mask (bool True -> -inf), PyTorch's checks included:
    only bool and floating masks; a warning when the two masks of one call differ in type."""
    if mask is None:
        return None
    is_float = mask.dtype.is_floating_point
    if mask.dtype.name != "bool" and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if not is_float:
        return ew.where(mask, -math.inf, 0.0).to(target_type)  # True means "masked" here
    return mask


def _none_or_dtype(input):
    return None if input is None else input.dtype


def _check_attn_mask(attn_mask, batch, heads, L, S):
    """A 2-D (L, S) or 3-D (B * H, L, S) attn_mask as (B or 1, H or 1, L, S)."""
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (L, S):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should "
                               f"be {(L, S)}.")
        return attn_mask.view(1, 1, L, S)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (batch * heads, L, S):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should "
                               f"be {(batch * heads, L, S)}.")
        return attn_mask.view(batch, heads, L, S)
    raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """PyTorch's ``F.multi_head_attention_forward``, with its argument order: sequence-first
    (L, N, E) or unbatched (L, E) query/key/value.

    Returns ``(output (L, N, E), weights (N, L, S) or (N, H, L, S) or None)``.
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k / static_v are not "
                                  "supported by wgtorch")
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if query.shape[-1] != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {query.shape[-1]}")
    e = query.shape[-1]
    bias_k = bias_k.reshape(1, 1, e) if bias_k is not None else None
    bias_v = bias_v.reshape(1, 1, e) if bias_v is not None else None
    if use_separate_proj_weight:
        in_proj_weight = None
    query, key, value = (t.transpose(0, 1) for t in (query, key, value))  # (N, L, E)
    out, weights = mha_batch_first(
        query, key, value, num_heads, in_proj_weight, in_proj_bias, out_proj_weight,
        out_proj_bias, key_padding_mask, need_weights, attn_mask, average_attn_weights,
        is_causal, dropout_p, training, q_proj_weight, k_proj_weight, v_proj_weight, bias_k,
        bias_v, add_zero_attn)
    out = out.transpose(0, 1)  # (L, N, E)
    if unbatched:
        out = out.squeeze(1)
        weights = weights.squeeze(0) if weights is not None else None
    return out, weights


def mha_batch_first(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                    out_proj_weight, out_proj_bias, key_padding_mask=None, need_weights=True,
                    attn_mask=None, average_attn_weights=True, is_causal=False, dropout_p=0.0,
                    training=True, q_proj_weight=None, k_proj_weight=None, v_proj_weight=None,
                    bias_k=None, bias_v=None, add_zero_attn=False):
    """Multi-head attention on batch-first (B, L, E) tensors (nn.MultiheadAttention's core).

    Returns ``(output (B, L, E), weights (B, L, S) or (B, H, L, S) or None)``.
    """
    b, L, e = query.shape
    S = key.shape[1]
    head_dim = e // num_heads
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask.")
    # NOTE: as PyTorch, is_causal is a hint that attn_mask is causal: without a padding mask
    # or weights to return, the causal mask is used instead of attn_mask
    is_causal = is_causal and key_padding_mask is None and not need_weights
    if is_causal:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if attn_mask is not None:
            attn_mask = _check_attn_mask(attn_mask, b, num_heads, L, S)
    if in_proj_weight is not None:
        wq, wk, wv = in_proj_weight.chunk(3)
    else:
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = in_proj_bias.chunk(3)
    if query is key and key is value and in_proj_weight is not None:
        q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)  # one matmul
    else:
        q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.view(1, 1, e).expand(b, 1, e)], 1)
        v = cat([v, bias_v.view(1, 1, e).expand(b, 1, e)], 1)
        S += 1
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    if add_zero_attn:
        k = cat([k, k.new_zeros(b, 1, e)], 1)
        v = cat([v, v.new_zeros(b, 1, e)], 1)
        S += 1
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    q = q.reshape(b, L, num_heads, head_dim).transpose(1, 2)  # (B, H, L, hd)
    k = k.reshape(b, S, num_heads, head_dim).transpose(1, 2)  # (B, H, S, hd)
    v = v.reshape(b, S, num_heads, head_dim).transpose(1, 2)
    mask = attn_mask
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (b, S):
            raise AssertionError(f"expecting key_padding_mask shape of {(b, S)}, but got "
                                 f"{key_padding_mask.shape}")
        kpm = key_padding_mask.view(b, 1, 1, S)
        mask = kpm if mask is None else mask + kpm
    p = dropout_p if training else 0.0
    if need_weights:
        scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)  # (B, H, L, S)
        weights = softmax(scores + mask if mask is not None else scores, -1)
        out = dropout(weights, p, training=True) @ v if p > 0 else weights @ v
    else:
        weights = None
        out = scaled_dot_product_attention(q, k, v, mask, p, is_causal=is_causal)
    out = out.transpose(1, 2).reshape(b, L, e)  # (B, L, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(1)  # (B, L, S)
    return out, weights


def _pad_last(mask):
    """Append one column (never masked) to a (.., S) mask, for bias_k / add_zero_attn."""
    if mask is None:
        return None
    return pad(mask, (0, 1))
