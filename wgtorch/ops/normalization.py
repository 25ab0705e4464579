"""Fused normalisation kernels: layer norm and training-mode batch norm, with their autograd
Functions (the public functions, which check arguments, are in
``nn/functional/normalization.py``).

``layer_norm`` is one kernel forward (shaders/layer_norm.wgsl: per-row statistics, normalise,
affine) and one backward for the input gradient plus one for the weight and bias gradients
(shaders/layer_norm_backward.wgsl). When a graph of the backward is being recorded
(``create_graph=True``) the backward is written in wgtorch ops instead, recomputing the
statistics from the input, so higher-order gradients are exact. Rows longer than
``FUSED_MAX_D`` take the composite path too (the kernel walks a row in one invocation).

``batch_norm`` in training mode is fused too (shaders/batch_norm*.wgsl): the per-channel
statistics are one run of the reduction engine (Welford, reading N and H*W in place), then
one kernel normalises, one updates both running statistics; the backward is one kernel of
per-channel partial sums (plus their sum when a channel spans several chunks) and one for the
input gradient.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..backend import get_runtime
from ..tensor import Tensor
from .copy import copy_into
from .kernel import Kernel
from .pointwise import launch_map
from .reduce_kernel import reduce

FUSED_MAX_D = 16384  # 2*D loop iterations per invocation, under lavapipe's 65,535
GRAD_CHUNK = 4096  # rows per invocation when summing weight/bias gradients
BN_CHUNK = 4096  # elements per invocation in the batch-norm kernels (a row segment or a chunk)

LAYER_NORM = Kernel("layer_norm", "layer_norm.wgsl", inputs=("x: T", "weight: T", "bias: T"),
                    outputs=("y: T", "mean_out: f32", "rstd_out: f32"),
                    params=("R: u32", "D: u32", "x_off: u32", "flags: u32", "eps: f32",
                            "w_off: u32", "b_off: u32"))
LAYER_NORM_BACKWARD = Kernel(
    "layer_norm_backward", "layer_norm_backward.wgsl",
    inputs=("g: T", "x: T", "mean: f32", "rstd: f32", "weight: T"), outputs=("out0: T", "out1: T"),
    params=("R: u32", "D: u32", "x_off: u32", "flags: u32", "g_off: u32", "w_off: u32",
            "chunk: u32", "chunks: u32"))


def _offset(t):
    return t._offset if t is not None else 0


def _ln_forward(x, weight, bias, eps):
    """x: contiguous (R, D) -> (y, mean, rstd)."""
    r, d = x.shape
    y = Tensor._empty((r, d), x.dtype, x.device)
    mean = Tensor._empty((r,), dt.float32, x.device)
    rstd = Tensor._empty((r,), dt.float32, x.device)
    if d:
        flags = (1 if weight is not None else 0) | (2 if bias is not None else 0)
        LAYER_NORM.launch(ins=[x, weight, bias], outs=[y, mean, rstd], threads=r,
                          variant=dict(T=x.dtype), R=r, D=d, x_off=x._offset, flags=flags,
                          eps=eps, w_off=_offset(weight), b_off=_offset(bias))
    return y, mean, rstd


def _ln_backward_kernel(mode, g, x, mean, rstd, weight, outs, chunks=1):
    """MODE 0: the input gradient into outs[0]; MODE 1: per-chunk weight and bias gradient
    sums into outs[0] and outs[1]."""
    r, d = x.shape
    LAYER_NORM_BACKWARD.launch(
        ins=[g, x, mean, rstd, weight], outs=[outs[0], outs[1] if len(outs) > 1 else None],
        threads=r if mode == 0 else chunks * d, variant=dict(MODE=mode, T=g.dtype), R=r, D=d,
        x_off=x._offset, flags=1 if weight is not None else 0, g_off=g._offset,
        w_off=_offset(weight), chunk=GRAD_CHUNK, chunks=chunks)


def _ln_composite_backward(g, x, weight, eps, need_w, need_b):
    """The backward in wgtorch ops (differentiable), statistics recomputed from ``x``."""
    mean = x.mean(-1, keepdim=True)
    xc = x - mean
    rstd = ((xc * xc).mean(-1, keepdim=True) + eps).rsqrt()
    xhat = xc * rstd  # (R, D)
    gw = g * weight if weight is not None else g
    dx = rstd * (gw - gw.mean(-1, keepdim=True) - xhat * (gw * xhat).mean(-1, keepdim=True))
    dw = (g * xhat).sum(0) if need_w else None
    db = g.sum(0) if need_b else None
    return dx, dw, db


class NativeLayerNormBackward0(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        y, mean, rstd = _ln_forward(x, weight, bias, eps)
        ctx.eps = eps
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if is_grad_enabled():  # create_graph: record the backward itself
            dx, dw, db = _ln_composite_backward(g, x, weight, ctx.eps, need_w, need_b)
            return dx if need_x else None, dw, db, None
        g = g.contiguous()
        r, d = x.shape
        dx = dw = db = None
        if need_x:
            dx = Tensor._empty((r, d), g.dtype, g.device)
            _ln_backward_kernel(0, g, x, mean, rstd, weight, [dx])
        if need_w or need_b:
            chunks = max(1, -(-r // GRAD_CHUNK))
            pw = Tensor._empty((chunks, d), g.dtype, g.device)
            pb = Tensor._empty((chunks, d), g.dtype, g.device)
            _ln_backward_kernel(1, g, x, mean, rstd, weight, [pw, pb], chunks)
            dw = (pw.sum(0) if chunks > 1 else pw.view(d)) if need_w else None
            db = (pb.sum(0) if chunks > 1 else pb.view(d)) if need_b else None
        return dx, dw, db, None


def layer_norm_rows(x2, weight, bias, eps):
    """Layer norm of the rows of a (R, D) tensor, fused when D allows."""
    if x2.shape[1] <= FUSED_MAX_D:
        weight = weight.contiguous() if weight is not None else None  # the kernel reads [D]
        bias = bias.contiguous() if bias is not None else None
        return NativeLayerNormBackward0.apply(x2.contiguous(), weight, bias, float(eps))
    mean = x2.mean(-1, keepdim=True)
    xc = x2 - mean
    y = xc * ((xc * xc).mean(-1, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


_BN_PARAMS = ("N: u32", "C: u32", "S: u32", "flags: u32", "eps: f32", "momentum: f32",
              "unbias: f32", "chunk: u32", "count: u32", "segs: u32", "x_off: u32", "w_off: u32",
              "b_off: u32", "g_off: u32", "rm_off: u32", "rv_off: u32")
_BN_DEFAULTS = dict(flags=0, eps=0.0, momentum=0.0, unbias=1.0, w_off=0, b_off=0, g_off=0,
                    rm_off=0, rv_off=0)


def _batch_norm_kernel(section, inputs, outputs):
    return Kernel(f"batch_norm_{section}", f"batch_norm_{section}.wgsl", inputs=inputs,
                  outputs=outputs, params=_BN_PARAMS, defaults=_BN_DEFAULTS)


BN_NORMALIZE = _batch_norm_kernel("normalize", ("x: T", "mean: f32", "var_: f32", "w: T", "b: T"),
                                  ("y: T",))
BN_PARTIALS = _batch_norm_kernel("partials", ("g: T", "x: T", "mean: f32", "var_: f32"),
                                 ("sg: f32", "sgx: f32"))
BN_INPUT_GRAD = _batch_norm_kernel(
    "input_grad", ("g: T", "x: T", "mean: f32", "var_: f32", "w: T", "sg: f32", "sgx: f32"),
    ("dx: T",))
BN_RUNNING = _batch_norm_kernel("running", ("mean: f32", "var_: f32"),
                                ("running_mean: T", "running_var: T"))


def _bn_launch(kernel, x3, ins, outs, *, count, dtype, rows=False, **params):
    """One batch-norm kernel over contiguous (N, C, S) ``x3``: ``count`` invocations."""
    n, c, s = x3.shape
    kernel.launch(ins=ins, outs=outs, threads=count, variant=dict(ROWS=rows, T=dtype), N=n, C=c,
                  S=s, chunk=BN_CHUNK, count=count, segs=-(-s // BN_CHUNK), x_off=x3._offset,
                  **params)


def _bn_elementwise_count(x3, rows):
    """Invocations of NORMALIZE/INPUT_GRAD: row segments (ROWS) or elements."""
    n, c, s = x3.shape
    return n * c * -(-s // BN_CHUNK) if rows else n * c * s


class NativeBatchNormBackward0(Function):
    """Training-mode batch norm of contiguous (N, C, S) ``x3`` -> (y, mean, var), the batch
    statistics (biased variance) for the running averages."""

    @staticmethod
    def forward(ctx, x3, weight, bias, eps):
        c = x3.shape[1]
        var, mean = reduce(x3, (0, 2), "var", [dt.float32, dt.float32], (c,), correction=0.0)
        y = Tensor._empty(x3.shape, x3.dtype, x3.device)
        rows = get_runtime().is_cpu_adapter
        flags = (1 if weight is not None else 0) | (2 if bias is not None else 0)
        if y.numel():
            _bn_launch(BN_NORMALIZE, x3, [x3, mean, var, weight, bias], [y],
                       count=_bn_elementwise_count(x3, rows), dtype=x3.dtype, rows=rows,
                       flags=flags, eps=eps, w_off=_offset(weight), b_off=_offset(bias))
        ctx.mark_non_differentiable(mean, var)
        ctx.set_materialize_grads(False)
        ctx.eps = eps
        ctx.save_for_backward(x3, weight, mean, var)
        return y, mean, var

    @staticmethod
    def backward(ctx, g, _g_mean, _g_var):
        x3, weight, mean, var = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if is_grad_enabled():  # create_graph: record the backward itself
            dx, dw, db = _bn_composite_backward(g, x3, weight, ctx.eps)
            return dx if need_x else None, dw if need_w else None, db if need_b else None, None
        g = g.contiguous()
        n, c, s = x3.shape
        chunks = max(1, -(-(n * s) // BN_CHUNK))
        sg = Tensor._empty((chunks, c), dt.float32, g.device)
        sgx = Tensor._empty((chunks, c), dt.float32, g.device)
        _bn_launch(BN_PARTIALS, x3, [g, x3, mean, var], [sg, sgx], count=chunks * c,
                   dtype=g.dtype, eps=ctx.eps, g_off=g._offset)
        sg = sg.sum(0) if chunks > 1 else sg.view(c)  # sum g per channel
        sgx = sgx.sum(0) if chunks > 1 else sgx.view(c)  # sum g * xhat per channel
        dx = None
        if need_x:
            dx = Tensor._empty(x3.shape, g.dtype, g.device)
            rows = get_runtime().is_cpu_adapter
            _bn_launch(BN_INPUT_GRAD, x3, [g, x3, mean, var, weight, sg, sgx], [dx],
                       count=_bn_elementwise_count(x3, rows), dtype=g.dtype, rows=rows,
                       flags=1 if weight is not None else 0, eps=ctx.eps,
                       w_off=_offset(weight), g_off=g._offset)
        return dx, sgx if need_w else None, sg if need_b else None, None


def _bn_composite_backward(g, x3, weight, eps):
    """The backward in wgtorch ops (differentiable), statistics recomputed from ``x3``."""
    mean = x3.mean((0, 2), keepdim=True)
    xc = x3 - mean
    rstd = ((xc * xc).mean((0, 2), keepdim=True) + eps).rsqrt()
    xhat = xc * rstd  # (N, C, S)
    gw = g * weight.view(1, -1, 1) if weight is not None else g
    dx = rstd * (gw - gw.mean((0, 2), keepdim=True)
                 - xhat * (gw * xhat).mean((0, 2), keepdim=True))
    return dx, (g * xhat).sum((0, 2)), g.sum((0, 2))


def _update_running(stat, value, momentum, scale):
    """stat = (1 - momentum) * stat + momentum * scale * value, in place: one kernel and one
    copy (no autograd; the statistics are buffers)."""
    blended = launch_map("running_stat", "{0} * {2} + {1} * {3}",
                         [stat, value.detach(), 1.0 - momentum, momentum * scale],
                         ["f32"] * 4, stat.dtype)
    copy_into(stat, blended)
    stat._storage.version += 1


def update_running_stats(running_mean, running_var, mean, var, momentum, unbias):
    """Blend the batch statistics into the running ones, in place: one kernel for both."""
    if running_mean is None or running_var is None or running_mean.dtype is not running_var.dtype:
        if running_mean is not None:
            _update_running(running_mean, mean, momentum, 1.0)
        if running_var is not None:
            _update_running(running_var, var, momentum, unbias)
        return
    _bn_launch(BN_RUNNING, mean.view(1, -1, 1), [mean, var], [running_mean, running_var],
               count=mean.numel(), dtype=running_mean.dtype, flags=3, momentum=momentum,
               unbias=unbias, rm_off=running_mean._offset, rv_off=running_var._offset)
    running_mean._storage.version += 1
    running_var._storage.version += 1
