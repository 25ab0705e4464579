"""Normalisation: layer_norm, group_norm, batch_norm, instance_norm, rms_norm, normalize,
local_response_norm: argument checks and compositions. layer_norm (and group_norm and
instance_norm: layer_norm over N * groups rows plus a per-channel affine) and training-mode
batch_norm run the fused kernels of ``wgtorch/ops/normalization.py``; eval-mode batch_norm is
a per-channel scale and shift.
"""

from ...autograd.grad_mode import no_grad
from ...device import check_same_device
from ...ops.normalization import (
    FUSED_MAX_D,  # noqa: F401  (the row length past which layer_norm is composite)
    NativeBatchNormBackward0,
    layer_norm_rows,
    update_running_stats,
)
from ...ops.stats import vector_norm
from ...tensor import prod
from .fold import check_float


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    check_same_device("layer_norm", (input, weight, bias))
    n = len(normalized_shape)
    if n == 0 or tuple(input.shape[input.ndim - n:]) != normalized_shape or input.ndim < n:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
            f"{list(input.shape)}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(p.shape)} and normalized_shape = {list(normalized_shape)}"
            )
    check_float("layer_norm", input)
    d = prod(normalized_shape)
    x2 = input.reshape(-1, d)  # (R, D)
    w = weight.reshape(d) if weight is not None else None
    b = bias.reshape(d) if bias is not None else None
    return layer_norm_rows(x2, w, b, eps).view(input.shape)


def _channel_view(t, ndim):
    """A (C,) tensor shaped to broadcast along dim 1 of an ``ndim``-D input."""
    return t.view(1, -1, *([1] * (ndim - 2))) if ndim > 1 else t


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of ``num_groups`` channel groups of (N, C, *) input per sample."""
    check_same_device("group_norm", (input, weight, bias))
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    check_float("group_norm", input)
    rows = input.reshape(n * num_groups, input.numel() // max(n * num_groups, 1))  # (N*G, C/G*S)
    y = layer_norm_rows(rows, None, None, eps).view(input.shape)
    if weight is not None:
        y = y * _channel_view(weight, input.ndim)
    if bias is not None:
        y = y + _channel_view(bias, input.ndim)
    return y


def _check_batch_norm_size(input):
    count = prod(input.shape) // input.shape[1]
    if count == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size "
            f"{input.shape}"
        )


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) with batch statistics (training, updating the running
    statistics in place) or with the running statistics (eval)."""
    if input.numel() == 0:  # as PyTorch: an empty result, running statistics untouched
        return input.clone()
    if input.ndim < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")
    check_float("batch_norm", input)
    check_same_device("batch_norm", (input, running_mean, running_var, weight, bias))
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(
                f"running_mean should contain {c} elements not {t.numel()}"
                if name.startswith("running") else
                f"{name} should contain {c} elements not {t.numel()}"
            )
    nd = input.ndim
    if training:
        _check_batch_norm_size(input)
        x3 = input.reshape(input.shape[0], c, -1).contiguous()  # (N, C, S)
        y, mean, var = NativeBatchNormBackward0.apply(
            x3, weight.contiguous() if weight is not None else None,
            bias.contiguous() if bias is not None else None, float(eps))
        count = prod(input.shape) // c
        # the running variance is the unbiased one, as PyTorch's
        update_running_stats(running_mean, running_var, mean, var, momentum,
                              count / max(count - 1, 1))
        return y.view(input.shape)
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    # eval: one scale and one shift per channel, then two elementwise passes over the input
    scale = (running_var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return input * _channel_view(scale, nd) + _channel_view(shift, nd)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims."""
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n, c = input.shape[0], input.shape[1]
    if running_mean is not None or running_var is not None:
        rows = input.detach().reshape(n, c, -1)
        with no_grad():
            mean = rows.mean((0, 2))
            var = ((rows - rows.mean(2, keepdim=True)) ** 2).mean(2)
            count = rows.shape[2]
            var = var.mean(0) * (count / max(count - 1, 1))
            if running_mean is not None:
                running_mean.mul_(1.0 - momentum).add_(mean * momentum)
            if running_var is not None:
                running_var.mul_(1.0 - momentum).add_(var * momentum)
    return group_norm(input, c, weight, bias, eps)


_FINFO_EPS = {"float32": 1.1920928955078125e-07, "float16": 0.0009765625}


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x**2 over the last dims) + eps) * weight (eps defaults to finfo.eps)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    n = len(normalized_shape)
    if tuple(input.shape[input.ndim - n:]) != normalized_shape or input.ndim < n:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
            f"{list(input.shape)}"
        )
    eps = _FINFO_EPS.get(input.dtype.name, 1.1920928955078125e-07) if eps is None else eps
    dims = tuple(range(input.ndim - n, input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p along dim, eps)``."""
    if p == 2:
        norm = (input * input).sum(dim, keepdim=True).sqrt()
    elif p == 1:
        norm = input.abs().sum(dim, keepdim=True)
    elif p == float("inf"):
        norm = input.abs().amax(dim, keepdim=True)
    else:
        norm = vector_norm(input, p, dim, keepdim=True)  # p = 0 counts the non-zeros
    result = input / norm.clamp_min(eps)
    if out is not None:
        out.copy_(result)
        return out
    return result


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each element by the sum of squares of ``size`` neighbouring channels."""
    if input.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    from . import pad as _pad
    from .pooling import avg_pool2d

    n, c = input.shape[0], input.shape[1]
    sq = (input * input).reshape(n, 1, c, prod(input.shape[2:]))  # channels as a spatial dim
    sq = _pad(sq, (0, 0, size // 2, (size - 1) // 2))
    div = avg_pool2d(sq, (size, 1), stride=1).reshape(input.shape)
    return input / (div * alpha + k).pow(beta)
