"""im2col / col2im: ``F.unfold`` and ``F.fold``, the two kernels convolution is built on.

``Im2ColBackward0`` gathers sliding windows into columns (shaders/im2col.wgsl) and its
backward is col2im; ``Col2ImBackward0`` sums columns back into images (shaders/col2im.wgsl)
and its backward is im2col. Each is the other's adjoint, so convolutions composed from them
and the tiled matmul get every gradient (and second-order ones) from these two rules.

A ``Geometry`` holds one sliding-window layout: kernel, stride, padding before the data
(top/left; the padding after it only shows in the output size), dilation, the image size and
the number of window positions (OH, OW).
"""

import struct
from collections import namedtuple

from ...autograd.function import Function
from ...backend import get_runtime
from ...ops import wgsl
from ...ops.shaders import load_shader
from ...tensor import Tensor

_PARAMS = struct.Struct("<21I")
WORKGROUP = 64
ROW_LOOP_MAX = 16384  # steps of im2col's and col2im's per-row loops on CPU adapters

Geometry = namedtuple("Geometry", "kh kw sh sw ph pw dh dw h w oh ow")


def ntuple(v, n, name="value"):
    """An int (or a 1-tuple) repeated ``n`` times, or an n-tuple of ints, as PyTorch accepts
    for kernel_size, stride, padding and dilation."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]),) * n
        if len(v) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
        return tuple(int(e) for e in v)
    return (int(v),) * n


def _pair(v, name="value"):
    return ntuple(v, 2, name)


def window_count(size, kernel, stride, pad_before, pad_after, dilation):
    """Number of window positions along one dim (PyTorch's conv output-size formula)."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def make_geometry(h, w, kernel, stride, padding, dilation, padding_after=None):
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    ah, aw = padding_after if padding_after is not None else padding
    dh, dw = dilation
    oh = window_count(h, kh, sh, ph, ah, dh)
    ow = window_count(w, kw, sw, pw, aw, dw)
    return Geometry(kh, kw, sh, sw, ph, pw, dh, dw, h, w, oh, ow)


def _store_prelude(dtype):
    """``fn store_t(v: f32) -> f32``, which the float kernels here call to store ``v`` as
    ``dtype`` holds it (float16 rounds)."""
    store = wgsl.store_value(dtype, "v")
    return f"fn store_t(v: f32) -> f32 {{ return {store}; }}\n{wgsl.helpers_for(store)}\n"


def _words(g, n, c, total, offset, strides=(0, 0, 0, 0), cols_row=0):
    return _PARAMS.pack(n, c, g.h, g.w, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw,
                        g.dh, g.dw, total, offset, *strides, cols_row)


def im2col(x, g, row_align=1):
    """(N, C, H, W) image (any strides) -> (N, C*KH*KW, OH*OW) columns. No autograd.

    The columns are contiguous, or with ``row_align=4`` rows that start on 16-byte
    boundaries (the padding is left unwritten), which the tiled matmul reads in place."""
    n, c = x.shape[0], x.shape[1]
    length = g.oh * g.ow
    padded = -(-length // row_align) * row_align
    shape = (n, c * g.kh * g.kw, length)
    out = Tensor._empty((*shape[:2], padded), x.dtype, x.device)
    if padded != length:
        out = out._view_of(shape, out._stride, 0)
    total = out.numel()
    if total:
        rt = get_runtime()
        # CPU adapters: one invocation per output row (index decoding paid once per row);
        # the row loop must stay under lavapipe's 65,535 iterations
        rows = rt.is_cpu_adapter and g.ow <= ROW_LOOP_MAX
        kern = rt.kernel(("im2col", rows),
                         lambda: f"const ROWS: bool = {str(rows).lower()};\n"
                         + load_shader("im2col.wgsl"), 1, 1)
        count = total // g.ow if rows else total
        params = _words(g, n, c, count, x._offset, x._stride, padded)
        rt.dispatch(kern, [x._storage.buffer, out._storage.buffer], params,
                    -(-count // WORKGROUP))
    return out


def col2im(cols, g, channels):
    """(N, C*KH*KW, OH*OW) columns -> contiguous (N, C, H, W) image, summing overlaps."""
    cols = cols.contiguous()
    n = cols.shape[0]
    out = Tensor._empty((n, channels, g.h, g.w), cols.dtype, cols.device)
    total = out.numel()
    if total:
        rt = get_runtime()
        unit = g.sh == 1 and g.sw == 1
        # CPU adapters: one invocation per image row, as im2col (the row loop walks W * KH * KW)
        rows = rt.is_cpu_adapter and g.w * g.kh * g.kw <= ROW_LOOP_MAX
        kern = rt.kernel(("col2im", cols.dtype.name, unit, rows),
                         lambda: f"const UNIT_STRIDE: bool = {str(unit).lower()};\n"
                         f"const ROWS: bool = {str(rows).lower()};\n"
                         + _store_prelude(cols.dtype) + load_shader("col2im.wgsl"), 1, 1)
        count = total // g.w if rows else total
        params = _words(g, n, channels, count, cols._offset)
        rt.dispatch(kern, [cols._storage.buffer, out._storage.buffer], params,
                    -(-count // WORKGROUP))
    return out


class Im2ColBackward0(Function):
    @staticmethod
    def forward(ctx, x, g, row_align=1):
        ctx.geometry, ctx.channels = g, x.shape[1]
        return im2col(x, g, row_align)

    @staticmethod
    def backward(ctx, grad):
        return Col2ImBackward0.apply(grad, ctx.geometry, ctx.channels), None, None


class Col2ImBackward0(Function):
    @staticmethod
    def forward(ctx, cols, g, channels):
        ctx.geometry = g
        return col2im(cols, g, channels)

    @staticmethod
    def backward(ctx, grad):
        return Im2ColBackward0.apply(grad, ctx.geometry), None, None


def check_float(op, *tensors):
    for t in tensors:
        if t is not None and not t.dtype.is_floating_point:
            raise RuntimeError(f'"{op}" not implemented for \'{t.dtype.name.capitalize()}\'')


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) image as columns
    (N, C * prod(kernel_size), L) — PyTorch's ``F.unfold`` (im2col)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)"
        )
    check_float("im2col", input)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    g = make_geometry(x.shape[2], x.shape[3], _pair(kernel_size), _pair(stride),
                      _pair(padding), _pair(dilation))
    if g.oh <= 0 or g.ow <= 0:
        raise RuntimeError(
            f"Given input with spatial size ({g.h}, {g.w}), kernel_size={_pair(kernel_size)}, "
            f"dilation={_pair(dilation)}, padding={_pair(padding)}, calculated shape of the "
            f"array of sliding blocks as ({g.oh}, {g.ow}), but its components must be at "
            "least one."
        )
    out = Im2ColBackward0.apply(x, g)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * prod(kernel_size), L) back into (N, C, *output_size) images —
    PyTorch's ``F.fold`` (col2im)."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {input.ndim}D)"
        )
    check_float("col2im", input)
    batched = input.ndim == 3
    cols = input if batched else input.unsqueeze(0)
    kh, kw = _pair(kernel_size)
    h, w = _pair(output_size)
    g = make_geometry(h, w, (kh, kw), _pair(stride), _pair(padding), _pair(dilation))
    if cols.shape[1] % (kh * kw):
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={cols.shape[1]} and "
            f"kernel_size=({kh}, {kw})"
        )
    if cols.shape[2] != g.oh * g.ow:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size=({kh}, {kw}), "
            f"dilation={_pair(dilation)}, padding={_pair(padding)}, stride={_pair(stride)}, "
            f"expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {g.oh} * {g.ow} = {g.oh * g.ow}, but got input.size(2)={cols.shape[2]}."
        )
    out = Col2ImBackward0.apply(cols, g, cols.shape[1] // (kh * kw))
    return out if batched else out.squeeze(0)
