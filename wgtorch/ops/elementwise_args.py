"""Elementwise ops that take more than plain operands: clamp, lerp, addcmul/addcdiv, round,
nan_to_num, gelu and softplus, built on the primitives of ``elementwise.py``."""

import math

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import Tensor, tensor_method
from .elementwise import FLOAT, SAME, _ROUND_INT, _check_devices, _f, unary, where
from .pointwise import launch_map
from .reduce import sum_to


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None):
    """Clamp into ``[min, max]``; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return ClampBackward1.apply(input, min, max)
    return ClampBackward0.apply(input, min, max)


clip = clamp


class ClampBackward0(Function):
    """clamp with a tensor bound (the other may be a number or None), in one kernel:
    ``min(max(x, lo), hi)`` with NaN in any operand propagated, as PyTorch."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        bounds = [b for b in (lo, hi) if b is not None]
        _check_devices("clamp", [x, *bounds])
        t = dt.result_type(x, *bounds)
        nan_safe = "_f" if t.is_floating_point else ""  # max_f/min_f propagate NaN
        expr, operand = "{0}", 1
        if lo is not None:
            expr, operand = f"max{nan_safe}({expr}, {{{operand}}})", operand + 1
        if hi is not None:
            expr = f"min{nan_safe}({expr}, {{{operand}}})"
        ctx.save_for_backward(x, *(b for b in bounds if isinstance(b, Tensor)))
        ctx.bounds = (lo, hi)
        return launch_map("clamp", expr, [x, *bounds], [t.wgsl] * (1 + len(bounds)), t)

    @staticmethod
    def backward(ctx, g):
        x, *saved = ctx.saved_tensors
        lo, hi = (saved.pop(0) if isinstance(b, Tensor) else b for b in ctx.bounds)
        # PyTorch's clamp_backward_min_max: ties go to the input; min > max: max wins
        in_range = x >= lo if lo is not None else None
        if hi is not None:
            in_range = x <= hi if in_range is None else in_range & (x <= hi)
        grads = [sum_to(where(in_range, g, 0.0), x.shape)]
        if isinstance(lo, Tensor):
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            grads.append(sum_to(where(below, g, 0.0), lo.shape))
        else:
            grads.append(None)
        if isinstance(hi, Tensor):
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            grads.append(sum_to(where(above, g, 0.0), hi.shape))
        else:
            grads.append(None)
        return tuple(grads)


class ClampBackward1(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        t = dt.result_type(x, lo if lo is not None else hi)
        if t.is_floating_point:
            expr = "select(min(max({0}, {1}), {2}), {0}, isnan_f({0}))"
            lo_v = -math.inf if lo is None else lo
            hi_v = math.inf if hi is None else hi
        else:
            expr = "min(max({0}, {1}), {2})"
            lo_v = dt.INT32_MIN if lo is None else lo
            hi_v = dt.INT32_MAX if hi is None else hi
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return launch_map("clamp", expr, [x, lo_v, hi_v], [t.wgsl] * 3, t)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = (x <= hi) if mask is None else mask & (x <= hi)
        return where(mask, g, 0.0), None, None


@tensor_method()
def clamp_min(input, min):
    return clamp(input, min=min)


@tensor_method()
def clamp_max(input, max):
    return clamp(input, max=max)


@tensor_method()
def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"lerp" not implemented for \'{input.dtype.legacy_name}\'')
    return input + weight * (end - input)


@tensor_method()
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return input + value * tensor1 * tensor2


@tensor_method()
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (true division)."""
    if not (tensor1.dtype.is_floating_point or tensor2.dtype.is_floating_point):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release "
            "addcdiv will perform a true division of tensor1 and tensor2. Use "
            "(input + value * tensor1 / tensor2) for a true division."
        )
    return input + value * tensor1 / tensor2


@tensor_method()
def round(input, decimals=0):
    """Round half to even (as PyTorch), optionally to ``decimals`` places."""
    if decimals == 0:
        return _round(input)
    scale = 10.0 ** decimals
    return _round(input * scale) / scale


_round = unary("_round", {"f32": "round({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0)


@tensor_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN, +inf and -inf by finite numbers (defaults: 0 and float32's max/min)."""
    if not input.dtype.is_floating_point:
        return input.clone()
    big = 65504.0 if input.dtype is dt.float16 else 3.4028234663852886e38
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    expr = "select(select(select({0}, {3}, isinf_f({0}) && {0} < 0.0), {2}, isinf_f({0}) && {0} > 0.0), {1}, isnan_f({0}))"
    return _NanToNum.apply(input, float(nan), float(posinf), float(neginf), expr)


class _NanToNum(Function):
    @staticmethod
    def forward(ctx, x, nan, posinf, neginf, expr):
        ctx.save_for_backward(x)
        return launch_map("nan_to_num", expr, [x, nan, posinf, neginf], ["f32"] * 4, x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return where(x.isfinite(), g, 0.0), None, None, None, None


@tensor_method()
def gelu(input, approximate="none"):
    """GELU: exact (erf) or ``approximate='tanh'``."""
    if approximate == "none":
        return _gelu(input)
    if approximate == "tanh":
        return _gelu_tanh(input)
    raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")


_S2PI = math.sqrt(2.0 / math.pi)


def _gelu_grad(g, out, x):
    cdf = 0.5 * (1.0 + (x * (1.0 / math.sqrt(2.0))).erf())
    pdf = (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))
    return g * (cdf + x * pdf)


def _gelu_tanh_grad(g, out, x):
    inner = (x + x * x * x * 0.044715) * _S2PI
    t = inner.tanh()
    d_inner = (1.0 + x * x * (3 * 0.044715)) * _S2PI
    return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)


_gelu = unary("_gelu", _f("0.5 * {0} * (1.0 + erf_f({0} * 0.70710678118654752))"), FLOAT,
              _gelu_grad)
_gelu_tanh = unary("_gelu_tanh",
                   _f(f"0.5 * {{0}} * (1.0 + tanh_f({_S2PI!r} * ({{0}} + 0.044715 * {{0}} * {{0}} * {{0}})))"),
                   FLOAT, _gelu_tanh_grad)


@tensor_method()
def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""
    return _Softplus.apply(input, float(beta), float(threshold))


class _Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.consts = (beta, threshold)
        t = dt.get_default_dtype() if not x.dtype.is_floating_point else x.dtype
        return launch_map("softplus", "softplus_f({0}, {1}, {2})", [x, beta, threshold],
                          ["f32"] * 3, t)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.consts
        z = (x * beta).sigmoid()
        return where(x * beta > threshold, g, g * z), None, None


SoftplusBackward0 = _Softplus
