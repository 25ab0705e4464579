"""Normalisation: layer_norm (fused kernels), group_norm, batch_norm, instance_norm, rms_norm,
normalize.

``layer_norm`` is one kernel forward (shaders/layer_norm.wgsl: per-row statistics, normalise,
affine) and one backward for the input gradient plus one for the weight and bias gradients
(shaders/layer_norm_backward.wgsl). When a graph of the backward is being recorded
(``create_graph=True``) the backward is written in wgtorch ops instead, recomputing the
statistics from the input, so higher-order gradients are exact. Rows longer than
``FUSED_MAX_D`` take the composite path too (the kernel walks a row in one invocation).
group_norm and instance_norm are layer_norm over (N * groups) rows plus a per-channel affine.

``batch_norm`` in training mode is fused too (shaders/batch_norm.wgsl): the per-channel
statistics are one run of the reduction engine (Welford, reading N and H*W in place), then
one kernel normalises, one updates both running statistics; the backward is one kernel of
per-channel partial sums (plus their sum when a channel spans several chunks) and one for the
input gradient. Eval mode is a per-channel scale and shift.
"""

import struct

from ... import dtypes as dt
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...backend import get_runtime
from ...device import check_same_device
from ...ops.copy import copy_into
from ...ops.pointwise import launch_map
from ...ops.reduce_kernel import reduce
from ...ops.shaders import load_shader
from ...ops.stats import vector_norm
from ...tensor import Tensor, prod
from .fold import _store_prelude, check_float

FUSED_MAX_D = 16384  # 2*D loop iterations per invocation, under lavapipe's 65,535
GRAD_CHUNK = 4096  # rows per invocation when summing weight/bias gradients
_FWD = struct.Struct("<4If3I")
_BWD = struct.Struct("<8I")
_BN = struct.Struct("<4I3f9I")
BN_CHUNK = 4096  # elements per invocation in the batch-norm kernels (a row segment or a chunk)
WORKGROUP = 64


def _ln_forward(x, weight, bias, eps):
    """x: contiguous (R, D) -> (y, mean, rstd)."""
    rt = get_runtime()
    r, d = x.shape
    y = Tensor._empty((r, d), x.dtype, x.device)
    mean = Tensor._empty((r,), dt.float32, x.device)
    rstd = Tensor._empty((r,), dt.float32, x.device)
    if r and d:
        kern = rt.kernel(("layer_norm", x.dtype.name),
                         lambda: _store_prelude(x.dtype) + load_shader("layer_norm.wgsl"), 3, 3)
        flags = (1 if weight is not None else 0) | (2 if bias is not None else 0)
        w = weight if weight is not None else x
        b = bias if bias is not None else x
        params = _FWD.pack(r, d, x._offset, flags, eps, w._offset, b._offset, 0)
        rt.dispatch(kern, [x._storage.buffer, w._storage.buffer, b._storage.buffer,
                           y._storage.buffer, mean._storage.buffer, rstd._storage.buffer],
                    params, -(-r // WORKGROUP))
    return y, mean, rstd


def _ln_backward_kernel(mode, g, x, mean, rstd, weight, outs, chunks=1):
    rt = get_runtime()
    r, d = x.shape
    kern = rt.kernel(
        ("layer_norm_backward", mode, g.dtype.name),
        lambda: f"const MODE: u32 = {mode}u;\n" + _store_prelude(g.dtype)
        + load_shader("layer_norm_backward.wgsl"), 5, 2)
    w = weight if weight is not None else x
    params = _BWD.pack(r, d, x._offset, 1 if weight is not None else 0, g._offset, w._offset,
                       GRAD_CHUNK, chunks)
    out1 = outs[1] if len(outs) > 1 else outs[0]
    if out1 is outs[0]:
        out1 = Tensor._empty((1,), dt.float32, x.device)  # unused in MODE 0; must not alias out0
    buffers = [g._storage.buffer, x._storage.buffer, mean._storage.buffer, rstd._storage.buffer,
               w._storage.buffer, outs[0]._storage.buffer, out1._storage.buffer]
    count = r if mode == 0 else chunks * d
    rt.dispatch(kern, buffers, params, -(-count // WORKGROUP))


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


def _rows_layer_norm(x2, weight, bias, eps):
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
    return _rows_layer_norm(x2, w, b, eps).view(input.shape)


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
    y = _rows_layer_norm(rows, None, None, eps).view(input.shape)
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


def _update_running(stat, value, momentum, scale):
    """stat = (1 - momentum) * stat + momentum * scale * value, in place: one kernel and one
    copy (no autograd; the statistics are buffers)."""
    blended = launch_map("running_stat", "{0} * {2} + {1} * {3}",
                         [stat, value.detach(), 1.0 - momentum, momentum * scale],
                         ["f32"] * 4, stat.dtype)
    copy_into(stat, blended)
    stat._storage.version += 1


def _bn_dispatch(section, x3, ins, outs, *, count, dtype, rows=False, flags=0, eps=0.0,
                 momentum=0.0, unbias=1.0, w=None, b=None, g=None, rm=None, rv=None):
    """One kernel of shaders/batch_norm.wgsl (the common part plus ``section``)."""
    rt = get_runtime()
    n, c, s = x3.shape

    def source():
        common, *sections = load_shader("batch_norm.wgsl").split("//@")
        body = next(t for t in sections if t.startswith(section))
        return f"const ROWS: bool = {str(rows).lower()};\n" + _store_prelude(dtype) + common \
            + body.split("\n", 1)[1]

    kern = rt.kernel(("batch_norm", section, dtype.name, rows), source, len(ins), len(outs))
    offsets = [t._offset if t is not None else 0 for t in (w, b, g, rm, rv)]
    segs = -(-s // BN_CHUNK)
    params = _BN.pack(n, c, s, flags, eps, momentum, unbias, BN_CHUNK, count, segs, x3._offset,
                      *offsets)
    rt.dispatch(kern, [t._storage.buffer for t in (*ins, *outs)], params,
                -(-count // WORKGROUP))


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
            _bn_dispatch("NORMALIZE", x3, [x3, mean, var, weight if weight is not None else x3,
                                           bias if bias is not None else x3], [y],
                         count=_bn_elementwise_count(x3, rows), dtype=x3.dtype, rows=rows,
                         flags=flags, eps=eps, w=weight, b=bias)
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
        _bn_dispatch("PARTIALS", x3, [g, x3, mean, var], [sg, sgx], count=chunks * c,
                     dtype=g.dtype, eps=ctx.eps, g=g)
        sg = sg.sum(0) if chunks > 1 else sg.view(c)  # sum g per channel
        sgx = sgx.sum(0) if chunks > 1 else sgx.view(c)  # sum g * xhat per channel
        dx = None
        if need_x:
            dx = Tensor._empty(x3.shape, g.dtype, g.device)
            rows = get_runtime().is_cpu_adapter
            _bn_dispatch("INPUT_GRAD", x3, [g, x3, mean, var,
                                            weight if weight is not None else x3, sg, sgx],
                         [dx], count=_bn_elementwise_count(x3, rows), dtype=g.dtype, rows=rows,
                         flags=1 if weight is not None else 0, eps=ctx.eps, w=weight, g=g)
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


def _update_running_stats(running_mean, running_var, mean, var, momentum, unbias):
    """Blend the batch statistics into the running ones, in place: one kernel for both."""
    if running_mean is None or running_var is None or running_mean.dtype is not running_var.dtype:
        if running_mean is not None:
            _update_running(running_mean, mean, momentum, 1.0)
        if running_var is not None:
            _update_running(running_var, var, momentum, unbias)
        return
    _bn_dispatch("RUNNING", mean.view(1, -1, 1), [mean, var], [running_mean, running_var],
                 count=mean.numel(), dtype=running_mean.dtype, flags=3, momentum=momentum,
                 unbias=unbias, rm=running_mean, rv=running_var)
    running_mean._storage.version += 1
    running_var._storage.version += 1


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
        _update_running_stats(running_mean, running_var, mean, var, momentum,
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
