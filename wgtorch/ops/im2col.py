"""im2col / col2im: the two kernels convolution, ``F.unfold`` and ``F.fold`` are built on.

``Im2ColBackward0`` gathers sliding windows into columns (shaders/im2col.wgsl) and its
backward is col2im; ``Col2ImBackward0`` sums columns back into images (shaders/col2im.wgsl)
and its backward is im2col. Each is the other's adjoint, so convolutions composed from them
and the tiled matmul get every gradient (and second-order ones) from these two rules.

A ``Geometry`` holds one sliding-window layout: kernel, stride, padding before the data
(top/left; the padding after it only shows in the output size), dilation, the image size and
the number of window positions (OH, OW).
"""

from collections import namedtuple

from ..autograd.function import Function
from ..backend import get_runtime
from ..tensor import Tensor
from .kernel import Kernel

ROW_LOOP_MAX = 16384  # steps of the per-row loops on CPU adapters (lavapipe: 65,535)

Geometry = namedtuple("Geometry", "kh kw sh sw ph pw dh dw h w oh ow")

_GEOMETRY = ("N: u32", "C: u32", "H: u32", "W: u32", "KH: u32", "KW: u32", "OH: u32", "OW: u32",
             "SH: u32", "SW: u32", "PH: u32", "PW: u32", "DH: u32", "DW: u32", "total: u32",
             "x_off: u32")
IM2COL = Kernel("im2col", "im2col.wgsl", inputs=("x: T",), outputs=("cols: T",),
                params=(*_GEOMETRY, "st_n: u32", "st_c: u32", "st_h: u32", "st_w: u32",
                        "cols_row: u32"))
COL2IM = Kernel("col2im", "col2im.wgsl", inputs=("cols: T",), outputs=("x: T",),
                params=_GEOMETRY)


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


def _geometry_params(g, n, c):
    return dict(N=n, C=c, H=g.h, W=g.w, KH=g.kh, KW=g.kw, OH=g.oh, OW=g.ow, SH=g.sh, SW=g.sw,
                PH=g.ph, PW=g.pw, DH=g.dh, DW=g.dw)


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
    # CPU adapters: one invocation per output row (index decoding paid once per row); the row
    # loop must stay under lavapipe's 65,535 iterations
    rows = get_runtime().is_cpu_adapter and g.ow <= ROW_LOOP_MAX
    count = total // g.ow if rows else total
    st_n, st_c, st_h, st_w = x._stride
    IM2COL.launch(ins=[x], outs=[out], threads=count, variant=dict(ROWS=rows, T=x.dtype),
                  **_geometry_params(g, n, c), total=count, x_off=x._offset, st_n=st_n,
                  st_c=st_c, st_h=st_h, st_w=st_w, cols_row=padded)
    return out


def col2im(cols, g, channels):
    """(N, C*KH*KW, OH*OW) columns -> contiguous (N, C, H, W) image, summing overlaps."""
    cols = cols.contiguous()
    n = cols.shape[0]
    out = Tensor._empty((n, channels, g.h, g.w), cols.dtype, cols.device)
    total = out.numel()
    unit = g.sh == 1 and g.sw == 1
    # CPU adapters: one invocation per image row, as im2col (the row loop walks W * KH * KW)
    rows = get_runtime().is_cpu_adapter and g.w * g.kh * g.kw <= ROW_LOOP_MAX
    count = total // g.w if rows else total
    COL2IM.launch(ins=[cols], outs=[out], threads=count,
                  variant=dict(UNIT_STRIDE=unit, ROWS=rows, T=cols.dtype),
                  **_geometry_params(g, n, channels), total=count, x_off=cols._offset)
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
