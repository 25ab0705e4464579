"""Pooling: max, average and adaptive pooling in 1-D and 2-D — argument checks and output
sizes; the kernels and their autograd Functions are in ``wgtorch/ops/pooling.py``.
1-D pooling is 2-D pooling over (N, C, 1, L).
"""

from ...ops.pooling import (
    ADAPTIVE_AVG,
    ADAPTIVE_MAX,
    AVG,
    MAX,
    AvgPool2DBackward0,
    MaxPool2DWithIndicesBackward0,
    PoolGeometry,
)
from .fold import check_float, ntuple

MAX_WINDOW = 60000  # one invocation walks a window (lavapipe stops loops at 65,535)


# ---- argument handling --------------------------------------------------------------------


def _output_size(size, k, pad, stride, dilation, ceil_mode):
    """PyTorch's pooling_output_shape."""
    num = size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _batched(op, input, dims):
    if input.ndim not in (dims + 1, dims + 2) or 0 in input.shape[1:]:
        raise RuntimeError(
            f"{op}: Expected {dims + 1}D or {dims + 2}D (batch mode) tensor with optional 0 dim "
            f"batch size for input, but got: {list(input.shape)}"
            if dims == 2 else
            f"{op}: Expected {dims + 1}D or {dims + 2}D (batch mode) tensor for input, but got: "
            f"{list(input.shape)}"
        )
    check_float(op, input)
    batched = input.ndim == dims + 2
    x = input if batched else input.unsqueeze(0)
    if dims == 1:
        x = x.unsqueeze(2)  # (N, C, 1, L)
    return x, batched


def _unbatch(out, batched, dims):
    if dims == 1:
        out = out.squeeze(2)
    return out if batched else out.squeeze(0)


def _window_geometry(op, mode, x, kernel_size, stride, padding, dilation, ceil_mode, dims,
                     flags=0, divisor=0):
    k = ntuple(kernel_size, dims, "kernel_size")
    s = ntuple(stride if stride is not None and stride != [] and stride != () else k, dims,
               "stride")
    p = ntuple(padding, dims, "padding")
    d = ntuple(dilation, dims, "dilation")
    if min(k) <= 0:
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {k}")
    if min(s) <= 0:
        raise RuntimeError(f"{op}: stride must be greater than zero, but got {s}")
    if min(d) <= 0:
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got {d}")
    for pi, ki, di in zip(p, k, d):
        limit = ((ki - 1) * di + 1) // 2 if mode == MAX else ki // 2
        if not 0 <= pi <= limit:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={pi}, "
                f"kernel_size={ki} and dilation={di}" if mode == MAX else
                f"pad should be smaller than or equal to half of kernel size, but got "
                f"padW = {pi}, padH = {pi}, kW = {ki}, kH = {ki}"
            )
    if dims == 1:
        k, s, p, d = (1, *k), (1, *s), (0, *p), (1, *d)
    _check_window(op, k[0] * k[1])
    h, w = x.shape[2], x.shape[3]
    oh = _output_size(h, k[0], p[0], s[0], d[0], ceil_mode)
    ow = _output_size(w, k[1], p[1], s[1], d[1], ceil_mode)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input size: ({x.shape[1]}x{h}x{w}). Calculated output size: "
            f"({x.shape[1]}x{oh}x{ow}). Output size is too small"
        )
    return PoolGeometry(mode, h, w, oh, ow, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
                        flags, divisor)


def _check_window(op, area):
    if area > MAX_WINDOW:
        raise RuntimeError(
            f"{op}: pooling windows of {area} elements are not supported (at most {MAX_WINDOW}: "
            "one GPU invocation walks a window); pool in two steps instead"
        )


def _max_pool(op, dims, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    x, batched = _batched(op, input, dims)
    g = _window_geometry(op, MAX, x, kernel_size, stride, padding, dilation, ceil_mode, dims)
    out, idx = MaxPool2DWithIndicesBackward0.apply(x, g)
    out = _unbatch(out, batched, dims)
    return (out, _unbatch(idx, batched, dims)) if return_indices else out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over (dilated) windows of (N, C, H, W) or (C, H, W) input."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over (dilated) windows of (N, C, L) or (C, L) input."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d_with_indices(*args, **kwargs):
    return max_pool2d(*args, **{**kwargs, "return_indices": True})


def _avg_pool(op, dims, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, batched = _batched(op, input, dims)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    g = _window_geometry(op, AVG, x, kernel_size, stride, padding, 1, ceil_mode, dims,
                         1 if count_include_pad else 0,
                         int(divisor_override or 0) & 0xFFFFFFFF)  # i32 bits: may be negative
    return _unbatch(AvgPool2DBackward0.apply(x, g), batched, dims)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of (N, C, H, W) or (C, H, W) input."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of (N, C, L) or (C, L) input."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def _adaptive_size(output_size, x, dims):
    size = ntuple(output_size, dims, "output_size") if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(size) != dims:
        raise RuntimeError(f"adaptive pooling: output_size must be {dims} ints, got {size}")
    spatial = x.shape[4 - dims:]
    size = tuple(int(s) if s is not None else spatial[k] for k, s in enumerate(size))
    if min(size) < 0:
        raise RuntimeError(f"adaptive pooling: elements of output_size must be >= 0, got {size}")
    return (1, *size) if dims == 1 else size


def _adaptive(op, mode, dims, input, output_size, return_indices=False):
    x, batched = _batched(op, input, dims)
    oh, ow = _adaptive_size(output_size, x, dims)
    if mode == ADAPTIVE_AVG and (oh, ow) == (1, 1):
        # global average pooling: the chunked mean has no per-invocation loop limit
        return _unbatch(x.mean((2, 3), keepdim=True), batched, dims)
    h, w = x.shape[2], x.shape[3]
    if mode == ADAPTIVE_MAX and (oh, ow) == (1, 1):
        # global max pooling: the chunked reduction has no per-invocation loop limit
        values, idx = x.flatten(2).max(2, keepdim=True)  # index h * W + w in the plane
        out = _unbatch(values.unsqueeze(-1), batched, dims)
        return (out, _unbatch(idx.unsqueeze(-1), batched, dims)) if return_indices else out
    if oh == 0 or ow == 0:
        raise RuntimeError(f"{op}: output_size must be greater than 0, got {(oh, ow)}")
    _check_window(op, (-(-h // oh) + 1) * (-(-w // ow) + 1))
    g = PoolGeometry(mode, h, w, oh, ow, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0)
    if mode == ADAPTIVE_AVG:
        return _unbatch(AvgPool2DBackward0.apply(x, g), batched, dims)
    out, idx = MaxPool2DWithIndicesBackward0.apply(x, g)
    out = _unbatch(out, batched, dims)
    return (out, _unbatch(idx, batched, dims)) if return_indices else out


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW) output size (``None`` keeps an input size)."""
    return _adaptive("adaptive_avg_pool2d", ADAPTIVE_AVG, 2, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    return _adaptive("adaptive_avg_pool1d", ADAPTIVE_AVG, 1, input, output_size)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (OH, OW) output size."""
    return _adaptive("adaptive_max_pool2d", ADAPTIVE_MAX, 2, input, output_size, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive("adaptive_max_pool1d", ADAPTIVE_MAX, 1, input, output_size, return_indices)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over the window of x**p) ** (1/p)."""
    kh, kw = ntuple(kernel_size, 2, "kernel_size")
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kernel_size).pow(1.0 / norm_type)
