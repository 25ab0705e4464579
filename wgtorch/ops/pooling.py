"""Pooling kernels: max, average and adaptive pooling over (N, C, H, W) (shaders/pool2d*.wgsl).

One forward kernel (a mode per pooling kind) writes the pooled values and, for max pooling,
the argmax of each window (``h * W + w``, PyTorch's ``return_indices``). One backward kernel
lets every input element gather the gradient of the windows that contain it, so there are
no atomics. Each backward is itself differentiable: average pooling is linear (its backward's
adjoint is the forward) and max pooling's backward is undone by a gather at the indices.
``nn/functional/pooling.py`` checks the arguments and builds the ``PoolGeometry``.
"""

from collections import namedtuple

from .. import dtypes as dt
from ..autograd.function import Function
from ..backend import get_runtime
from ..tensor import Tensor
from .im2col import ROW_LOOP_MAX
from .kernel import Kernel

MAX, AVG, ADAPTIVE_AVG, ADAPTIVE_MAX, GATHER = 0, 1, 2, 3, 4

PoolGeometry = namedtuple("PoolGeometry", "mode h w oh ow kh kw sh sw ph pw dh dw flags divisor")

_PARAMS = ("total: u32", "C: u32", "H: u32", "W: u32", "OH: u32", "OW: u32", "KH: u32",
           "KW: u32", "SH: u32", "SW: u32", "PH: u32", "PW: u32", "DH: u32", "DW: u32",
           "flags: u32", "divisor: u32", "st: vec4<u32>", "x_off: u32")
POOL2D = Kernel("pool2d", "pool2d.wgsl", inputs=("x: T", "idx_in: i32"),
                outputs=("out: T", "idx: i32"), params=_PARAMS)
POOL2D_BACKWARD = Kernel("pool2d_backward", "pool2d_backward.wgsl", inputs=("g: T", "idx: i32"),
                         outputs=("dx: T",), params=_PARAMS, defaults={"st": (0, 0, 0, 0)})


def _params(g, total, channels, offset):
    return dict(total=total, C=channels, H=g.h, W=g.w, OH=g.oh, OW=g.ow, KH=g.kh, KW=g.kw,
                SH=g.sh, SW=g.sw, PH=g.ph, PW=g.pw, DH=g.dh, DW=g.dw, flags=g.flags,
                divisor=g.divisor, x_off=offset)


def _launch_forward(x, g, idx_in=None):
    """Pool (N, C, H, W) ``x`` (any strides) -> (out, indices or None), both (N, C, OH, OW)."""
    n, c = x.shape[0], x.shape[1]
    out = Tensor._empty((n, c, g.oh, g.ow), x.dtype, x.device)
    with_idx = g.mode in (MAX, ADAPTIVE_MAX)
    idx = Tensor._empty(out.shape, dt.int64, x.device) if with_idx else None
    # CPU adapters: one invocation per output row (fixed windows; the loop walks OW windows)
    rows = (get_runtime().is_cpu_adapter and g.mode in (MAX, AVG, GATHER)
            and g.ow * g.kh * g.kw <= ROW_LOOP_MAX)
    count = out.numel() // g.ow if rows else out.numel()
    POOL2D.launch(ins=[x, idx_in], outs=[out, idx], threads=count,
                  variant=dict(MODE=g.mode, ROWS=rows, T=x.dtype),
                  **_params(g, count, c, x._offset), st=x._stride)
    return out, idx


def _launch_backward(grad, idx, g, input_shape):
    grad = grad.contiguous()
    n, c = input_shape[0], input_shape[1]
    dx = Tensor._empty((n, c, g.h, g.w), grad.dtype, grad.device)
    mode = g.mode if g.mode != GATHER else MAX
    nonoverlap = (mode in (MAX, AVG) and g.kh <= g.sh and g.kw <= g.sw
                  and (mode == AVG or g.dh == g.dw == 1))
    # windows that tile the input exactly: one invocation per output writes its window
    partition = (nonoverlap and (g.kh, g.kw) == (g.sh, g.sw) and g.ph == g.pw == 0
                 and g.oh * g.kh == g.h and g.ow * g.kw == g.w)
    # CPU adapters: one invocation per row of the input (or of the output, PARTITION)
    row_steps = g.ow * g.kh * g.kw if partition else g.w
    rows = get_runtime().is_cpu_adapter and nonoverlap and row_steps <= ROW_LOOP_MAX
    count = grad.numel() if partition else dx.numel()
    if rows:
        count //= g.ow if partition else g.w
    if dx.numel():
        POOL2D_BACKWARD.launch(ins=[grad, idx], outs=[dx], threads=count,
                               variant=dict(MODE=mode, ROWS=rows, NONOVERLAP=nonoverlap,
                                            PARTITION=partition, T=grad.dtype),
                               **_params(g, count, c, grad._offset))
    return dx


class MaxPool2DWithIndicesBackward0(Function):
    @staticmethod
    def forward(ctx, x, g):
        out, idx = _launch_forward(x, g)
        ctx.mark_non_differentiable(idx)
        ctx.set_materialize_grads(False)  # no zeros kernel for the indices' (unused) gradient
        ctx.geometry, ctx.shape = g, x.shape
        ctx.save_for_backward(idx)
        return out, idx

    @staticmethod
    def backward(ctx, grad, _grad_idx):
        (idx,) = ctx.saved_tensors
        return _MaxPoolGrad.apply(grad, idx, ctx.geometry, ctx.shape), None


class _MaxPoolGrad(Function):
    """Scatter the output gradient to the argmax positions; its adjoint gathers."""

    @staticmethod
    def forward(ctx, grad, idx, g, shape):
        ctx.geometry = g
        ctx.save_for_backward(idx)
        return _launch_backward(grad, idx, g, shape)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        out, _ = _launch_forward(gg, ctx.geometry._replace(mode=GATHER), idx_in=idx)
        return out, None, None, None


class AvgPool2DBackward0(Function):
    @staticmethod
    def forward(ctx, x, g):
        ctx.geometry, ctx.shape = g, x.shape
        return _launch_forward(x, g)[0]

    @staticmethod
    def backward(ctx, grad):
        return _AvgPoolGrad.apply(grad, ctx.geometry, ctx.shape), None


class _AvgPoolGrad(Function):
    """Average pooling's backward (linear); its adjoint is the forward pooling."""

    @staticmethod
    def forward(ctx, grad, g, shape):
        ctx.geometry = g
        return _launch_backward(grad, None, g, shape)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2DBackward0.apply(gg, ctx.geometry), None, None
