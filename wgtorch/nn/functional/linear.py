"""Linear maps and lookups: linear, bilinear, embedding."""

from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...device import check_same_device
from ...ops.creation import ones, zeros
from ...ops.linalg import linear as _linear


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (bias added inside the matmul kernel)."""
    return _linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``out[..., o] = input1 @ weight[o] @ input2 + bias[o]``; weight (out, in1, in2)."""
    o, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input1 size {input1.shape[-1]} / input2 size {input2.shape[-1]} do "
            f"not match weight size {list(weight.shape)}"
        )
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} "
            f"and {list(input2.shape[:-1])}"
        )
    w = weight.permute(1, 0, 2).reshape(in1, o * in2)  # (in1, out*in2)
    t = (input1 @ w).view(*input1.shape[:-1], o, in2)  # (..., out, in2)
    out = (t * input2.unsqueeze(-2)).sum(-1, dtype=t.dtype)  # (..., out); int32 stays int32
    return out + bias if bias is not None else out


class EmbeddingBackward0(Function):
    """Rows of ``weight`` at ``indices``; the gradient is added back into those rows."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.consts = (weight.shape[0], padding_idx, scale_grad_by_freq)
        ctx.save_for_backward(indices)
        return weight.index_select(0, indices)  # (N, D)

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        num, padding_idx, scale_grad_by_freq = ctx.consts
        if padding_idx is not None:
            g = g * (indices != padding_idx).unsqueeze(1)  # no gradient into the padding row
        if scale_grad_by_freq:
            counts = zeros(num, device=g.device).index_add(0, indices, ones(indices.shape[0],
                                                                            device=g.device))
            g = g / counts.index_select(0, indices).unsqueeze(1)
        gw = zeros(num, g.shape[1], dtype=g.dtype, device=g.device).index_add(0, indices, g)
        return gw, None, None, None


def _renorm_rows(weight, indices, max_norm, norm_type):
    """PyTorch's max_norm: rows referenced by ``indices`` with norm > max_norm are rescaled
    in place (not differentiable, as in PyTorch)."""
    with no_grad():
        rows = weight.index_select(0, indices)
        norms = rows.abs().pow(norm_type).sum(1, keepdim=True).pow(1.0 / norm_type)
        scale = (max_norm / (norms + 1e-7)).clamp_max(1.0)
        weight.index_copy_(0, indices, rows * scale)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (num_embeddings, dim) at integer ``input`` indices.

    The row at ``padding_idx`` gets no gradient. ``sparse=True`` is accepted but the
    gradient is dense.
    """
    if input.dtype.is_floating_point:
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.type()} instead (while checking arguments for "
            "embedding)"
        )
    check_same_device("embedding", (weight, input))
    if padding_idx is not None:
        if padding_idx >= weight.shape[0] or padding_idx < -weight.shape[0]:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % weight.shape[0]
    flat = input.reshape(-1)
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    out = EmbeddingBackward0.apply(weight, flat, padding_idx, scale_grad_by_freq)
    return out.view(*input.shape, weight.shape[1])
