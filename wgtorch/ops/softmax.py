"""softmax, log_softmax and logsumexp.

softmax/log_softmax along any dim are one fused kernel (``shaders/softmax.wgsl``): one
invocation per row reads the row once for the running max and sum of exp(x - max), then
writes the result, reading strided input in place (rows along a non-innermost dim included).
A row too long for one invocation (lavapipe's loop limit), or too few rows to fill a real GPU,
takes two steps instead: the multi-pass ``logsumexp`` reduction, then one elementwise kernel.

Backward: softmax's ``y * (g - sum(g * y))`` and log_softmax's ``g - exp(y) * sum(g)`` are
one fused kernel each (``shaders/softmax_backward.wgsl``), itself a ``Function`` whose
backward is written in wgtorch ops, so double backward works; logsumexp's is
``g * exp(x - out)``.
"""

import warnings

from .. import dtypes as dt
from ..autograd.function import Function
from ..backend import get_runtime
from ..tensor import Tensor, prod, tensor_method
from .kernel import Kernel
from .pointwise import launch_map
from .reduce_kernel import along, normalize_dims, reduce, reduced_shape

ROW_STEPS_LIMIT = 16384  # loop steps per pass of the fused kernel (two passes per row)
GPU_MIN_ROWS = 2048  # on real GPUs, fewer rows than this take the parallel two-step path

_RESULT = {"softmax": "exp(v - m) * inv_s", "log_softmax": "v - m - log_s"}
_POINTWISE = {"softmax": "exp({0} - {1})", "log_softmax": "{0} - {1}"}


def _two_step(rt, steps, rows, L):
    """Whether a row is too long for one invocation, or there are too few rows to fill a real
    GPU: then the fused kernel gives way to reductions plus one elementwise kernel."""
    return steps > ROW_STEPS_LIMIT or (not rt.is_cpu_adapter and rows < GPU_MIN_ROWS and L > 1024)


def _forward_code(variant):
    result = (f"fn result(v: f32, m: f32, inv_s: f32, log_s: f32) -> f32 "
              f"{{ return store_t({_RESULT[variant['kind']]}); }}")
    if variant["ELEM"] == "f32":
        return {"RESULT": result, "PUSH": "push(x[src + r * P.sr]);",
                "WRITE": "y[dst + r * P.inner] = result(x[src + r * P.sr], m, inv_s, log_s);"}
    lanes = ", ".join(f"result(v.{c}, m, inv_s, log_s)" for c in "xyzw")
    return {"RESULT": result, "PUSH": "let v = x[src + r]; push(v.x); push(v.y); push(v.z); "
                                      "push(v.w);",
            "WRITE": f"let v = x[src + r];\ny[dst + r] = vec4<f32>({lanes});"}


SOFTMAX = Kernel("softmax", "softmax.wgsl", inputs=("x: ELEM",), outputs=("y: ELEM",),
                 params=("rows: u32", "L: u32", "inner: u32", "base: u32", "so: u32", "sr: u32",
                         "si: u32"), generate=_forward_code)


def _forward(kind, x, dim):
    """softmax or log_softmax of float tensor ``x`` along wrapped ``dim``; contiguous result."""
    rt = get_runtime()
    out = Tensor._empty(x.shape, x.dtype, x.device)
    if x.numel() == 0:
        return out
    src, outer, L, inner, so, sr, si = along(x, dim)
    base, rows = src._offset, outer * inner
    vec4 = inner == 1 and sr == 1 and L % 4 == 0 and base % 4 == 0 and so % 4 == 0
    steps = L // 4 if vec4 else L
    if _two_step(rt, steps, rows, L):
        dims = (dim,) if x.ndim else ()
        lse = reduce(src, dims, "logsumexp", [dt.float32], reduced_shape(x.shape, dims, True))[0]
        return launch_map(kind, _POINTWISE[kind], [x, lse], ["f32", "f32"], x.dtype, out=out)
    variant = dict(kind=kind, T=x.dtype, ELEM="vec4<f32>" if vec4 else "f32")
    q = 4 if vec4 else 1
    SOFTMAX.launch(ins=[src], outs=[out], threads=rows, variant=variant, rows=rows, L=L // q,
                   inner=inner, base=base // q, so=so // q, sr=1 if vec4 else sr,
                   si=0 if vec4 else si)
    return out


_GRAD_TERM = {"softmax": "gv * yv", "log_softmax": "gv"}
_GRAD_RESULT = {"softmax": "yv * (gv - t)", "log_softmax": "gv - exp(yv) * t"}


def _backward_code(variant):
    kind, vec4 = variant["kind"], variant["ELEM"] != "f32"
    result = _GRAD_RESULT[kind] if vec4 else f"store_t({_GRAD_RESULT[kind]})"
    return {"RULE": f"""
fn term(gv: ELEM, yv: ELEM) -> ELEM {{ return {_GRAD_TERM[kind]}; }}
fn total(s: ELEM) -> f32 {{ return {"s.x + s.y + s.z + s.w" if vec4 else "s"}; }}
fn result(gv: ELEM, yv: ELEM, t: f32) -> ELEM {{ return {result}; }}"""}


SOFTMAX_BACKWARD = Kernel("softmax_backward", "softmax_backward.wgsl",
                          inputs=("g: ELEM", "y: ELEM"), outputs=("dx: ELEM",),
                          params=("rows: u32", "L: u32", "inner: u32", "gbase: u32", "ybase: u32"),
                          generate=_backward_code)


def _grad_forward(kind, g, y, dim):
    """The input gradient of softmax/log_softmax (output ``y``) for output gradient ``g``."""
    rt = get_runtime()
    g = g.contiguous()
    shape = y.shape
    L = shape[dim] if y.ndim else 1
    inner = prod(shape[dim + 1:]) if y.ndim else 1
    rows = y.numel() // L if L else 0
    if _two_step(rt, L, rows, L):
        if kind == "softmax":
            return y * (g - (g * y).sum(dim, keepdim=True))
        return g - y.exp() * g.sum(dim, keepdim=True)
    dx = Tensor._empty(shape, y.dtype, y.device)
    if dx.numel() == 0:
        return dx
    vec4 = (inner == 1 and L % 4 == 0 and g._offset % 4 == 0 and y._offset % 4 == 0
            and y.dtype is dt.float32)
    q = 4 if vec4 else 1
    SOFTMAX_BACKWARD.launch(ins=[g, y], outs=[dx], threads=rows,
                            variant=dict(kind=kind, T=y.dtype, ELEM="vec4<f32>" if vec4 else "f32"),
                            rows=rows, L=L // q, inner=inner, gbase=g._offset // q,
                            ybase=y._offset // q)
    return dx


class _SoftmaxGradKernel(Function):
    """The input gradient of ``kind`` (softmax or log_softmax) as one fused kernel."""

    @classmethod
    def forward(cls, ctx, g, y, dim):
        ctx.dim = dim
        ctx.save_for_backward(g, y)
        return _grad_forward(cls.kind, g, y, dim)


class SoftmaxBackwardData(_SoftmaxGradKernel):
    """softmax's input gradient ``y * (g - sum(g * y))`` as one fused kernel; differentiable."""

    kind = "softmax"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        dg = SoftmaxBackwardData.apply(gg, y, d)
        dy = gg * (g - (g * y).sum(d, keepdim=True)) - g * (gg * y).sum(d, keepdim=True)
        return dg, dy, None


class LogSoftmaxBackwardData(_SoftmaxGradKernel):
    """log_softmax's input gradient ``g - exp(y) * sum(g)`` as one fused kernel."""

    kind = "log_softmax"

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        d = ctx.dim
        p = y.exp()
        dg = gg - (gg * p).sum(d, keepdim=True)
        dy = -gg * p * g.sum(d, keepdim=True)
        return dg, dy, None


class SoftmaxBackward0(Function):
    kind, grad_kernel = "softmax", SoftmaxBackwardData

    @classmethod
    def forward(cls, ctx, x, dim):
        y = _forward(cls.kind, x, dim)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        (y,) = ctx.saved_tensors
        return cls.grad_kernel.apply(g, y, ctx.dim), None


class LogSoftmaxBackward0(SoftmaxBackward0):
    kind, grad_kernel = "log_softmax", LogSoftmaxBackwardData


def implicit_dim(name, ndim, stacklevel):
    """PyTorch's deprecated default dim of softmax-like ops, with its warning (``stacklevel``
    counts this function as 1, as PyTorch's ``_get_softmax_dim``)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                  "call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(name, input, dim, dtype, stacklevel):
    if dim is None:
        dim = implicit_dim(name, input.ndim, stacklevel + 1)
    if dtype is not None:
        input = input.to(dt.as_dtype(dtype))
    if not input.dtype.is_floating_point:
        name_ = {"int32": "Int", "int64": "Long", "bool": "Bool", "uint8": "Byte"}
        raise NotImplementedError(
            f'"{name}" not implemented for \'{name_[input.dtype.name]}\'')
    return input, input._wrap_dim(dim)


@tensor_method()
def softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """``exp(x) / exp(x).sum(dim)``, computed max-subtracted in one fused kernel.

    Example: ``probs = logits.softmax(-1)``.
    """
    input, dim = _prepare("softmax", input, dim, dtype, _stacklevel)
    return SoftmaxBackward0.apply(input, dim)


@tensor_method()
def log_softmax(input, dim=None, dtype=None, *, _stacklevel=3):
    """``x - logsumexp(x, dim)``, in one fused kernel (stable for large logits)."""
    input, dim = _prepare("log_softmax", input, dim, dtype, _stacklevel)
    return LogSoftmaxBackward0.apply(input, dim)


class LogsumexpBackward0(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        out = reduce(x, dims, "logsumexp", [x.dtype], reduced_shape(x.shape, dims, keepdim))[0]
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        if not ctx.keepdim:
            shape = reduced_shape(x.shape, ctx.dims, True)
            g, out = g.view(shape), out.view(shape)
        return g * (x - out).exp(), None, None


@tensor_method()
def logsumexp(input, dim, keepdim=False):
    """``log(exp(x).sum(dim))`` without overflow: a single stable multi-pass reduction."""
    if not input.dtype.is_floating_point:
        input = input.to(dt.get_default_dtype())
    return LogsumexpBackward0.apply(input, normalize_dims(input, dim), keepdim)
