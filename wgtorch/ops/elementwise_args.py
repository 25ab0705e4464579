"""Elementwise rows with scalar parameters or more operands: clamp, lerp, addcmul/addcdiv,
round, nan_to_num, logit, softplus, gelu.

Each row decorates a function with PyTorch's signature that checks the arguments and returns
the kernel's operands, then its scalar parameters (see ``table.py``); the parameters ride in
the params slot, so one kernel serves every value.
"""

import math

from .. import dtypes as dt
from ..tensor import Tensor
from .elementwise import where
from .table import FLOAT, SAME, binary, register, ternary, unary

__all__ = []  # filled by the declarators

_ALL = ("f32", "i32", "u32")
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT16_MAX = 65504.0

# C++'s names of the dtypes, as PyTorch's dtype checks print them
_CPP_NAMES = {"float32": "float", "float16": "c10::Half", "int64": "long int", "int32": "int",
              "bool": "bool", "uint8": "unsigned char"}


def _f(expr):
    return {"f32": expr}


# ---- clamp -----------------------------------------------------------------------------


def _no_bound(t, upper):
    """The bound that clamps nothing, in compute type ``t``."""
    if t.is_floating_point:
        return math.inf if upper else -math.inf
    if upper:
        return dt.INT32_MAX
    return 0 if t.wgsl == "u32" else dt.INT32_MIN


def _real(bound, infinite):
    return isinstance(bound, Tensor) or bound != infinite


def _clamp_grad_input(g, out, x, lo, hi):
    # PyTorch's clamp_backward: ties give the gradient to the input
    if not isinstance(lo, Tensor) and not isinstance(hi, Tensor):
        return _clamp_backward(g, x, lo, hi)
    mask = x >= lo if _real(lo, -math.inf) else None
    if _real(hi, math.inf):
        mask = x <= hi if mask is None else mask & (x <= hi)
    return where(mask, g, 0.0)


def _clamp_grad_min(g, out, x, lo, hi):
    below = x < lo
    return where(below & (lo < hi) if _real(hi, math.inf) else below, g, 0.0)


def _clamp_grad_max(g, out, x, lo, hi):
    above = x > hi  # crossed bounds (min > max): max wins, as PyTorch
    return where(above | (hi < lo) if _real(lo, -math.inf) else above, g, 0.0)


def _clamp_node(input, min, max):
    tensors = isinstance(min, Tensor) or isinstance(max, Tensor)
    return "ClampBackward0" if tensors else "ClampBackward1"


# NOTE: max_f/min_f propagate NaN from the input and from the bounds, as PyTorch
@ternary({"f32": "min_f(max_f({0}, {1}), {2})", "i32": "min(max({0}, {1}), {2})",
          "u32": "min(max({0}, {1}), {2})"}, SAME,
         (_clamp_grad_input, _clamp_grad_min, _clamp_grad_max), node=_clamp_node,
         aliases=("clip",))
def clamp(input, min=None, max=None):
    """Clamp into ``[min, max]``; either bound may be None, a number or a tensor."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if min is None or max is None:
        t = dt.result_type(input, max if min is None else min)
        min = _no_bound(t, upper=False) if min is None else min
        max = _no_bound(t, upper=True) if max is None else max
    return input, min, max


# the gradient of clamp with number bounds, in one kernel (PyTorch's clamp_backward); it is
# linear in the gradient, and the input gets no gradient through it
@binary(_f("select(0.0, {0}, {1} >= {2} && {1} <= {3})"), SAME,
        (lambda gg, out, g, x, lo, hi: _clamp_backward(gg, x, lo, hi),
         lambda gg, out, g, x, lo, hi: None), method=False, export=False)
def _clamp_backward(grad, input, min, max):
    return grad, input, min, max


_MAX = {"f32": "max_f({0}, {1})", "i32": "max({0}, {1})", "u32": "max({0}, {1})"}
_MIN = {"f32": "min_f({0}, {1})", "i32": "min({0}, {1})", "u32": "min({0}, {1})"}


def _bound_node(base):
    """PyTorch's overloads: ``<base>Backward0`` for a number bound, ``1`` for a tensor."""

    def node(input, bound):
        return f"{base}Backward{int(isinstance(bound, Tensor))}"

    node.__name__ = node.__qualname__ = f"_{base.lower()}_node"
    return node


clamp_min = binary("clamp_min", _MAX, SAME,
                   (lambda g, out, x, lo: where(x >= lo, g, 0.0),
                    lambda g, out, x, lo: where(x < lo, g, 0.0)), node=_bound_node("ClampMin"))
clamp_max = binary("clamp_max", _MIN, SAME,
                   (lambda g, out, x, hi: where(x <= hi, g, 0.0),
                    lambda g, out, x, hi: where(x > hi, g, 0.0)), node=_bound_node("ClampMax"))


# ---- lerp, addcmul, addcdiv ------------------------------------------------------------


def _check_same_dtype(input, other, name):
    if isinstance(other, Tensor) and other.dtype is not input.dtype:
        raise RuntimeError(f"expected dtype {_CPP_NAMES[input.dtype.name]} for `{name}` but "
                           f"got dtype {_CPP_NAMES[other.dtype.name]}")


def _lerp_node(input, end, weight):
    return f"LerpBackward{int(isinstance(weight, Tensor))}"


# PyTorch's formula: from the nearer end, so weight 1 gives exactly ``end``
@ternary(_f("select({1} - ({1} - {0}) * (1.0 - {2}), {0} + {2} * ({1} - {0}), abs({2}) < 0.5)"),
         SAME, (lambda g, out, s, e, w: g * (1.0 - w), lambda g, out, s, e, w: g * w,
                lambda g, out, s, e, w: g * (e - s)), node=_lerp_node)
def lerp(input, end, weight):
    """``input + weight * (end - input)``; ``weight`` a number or a tensor."""
    if isinstance(input, Tensor):
        if not input.dtype.is_floating_point:  # weight would promote: refuse, as PyTorch
            raise NotImplementedError(
                f'"lerp" not implemented for \'{input.dtype.legacy_name}\'')
        _check_same_dtype(input, end, "end")
        _check_same_dtype(input, weight, "weight")
    return input, end, weight


# the gradients of addcmul and addcdiv, one kernel each: g * b * value and g * value / b
@binary({t: "{0} * {1} * {2}" for t in _ALL}, SAME,
        (lambda gg, out, g, b, value: _mul_scaled(gg, b, value),
         lambda gg, out, g, b, value: _mul_scaled(gg, g, value)), method=False, export=False)
def _mul_scaled(input, other, value):
    return input, other, value


@binary(_f("{0} * {2} / {1}"), SAME,
        (lambda gg, out, g, b, value: _div_scaled(gg, b, value),
         lambda gg, out, g, b, value: _div_scaled(gg * g, b * b, -value)),
        method=False, export=False)
def _div_scaled(input, other, value):
    return input, other, value


@ternary({t: "{0} + {3} * {1} * {2}" for t in _ALL}, SAME,
         (lambda g, out, x, a, b, value: g,
          lambda g, out, x, a, b, value: _mul_scaled(g, b, value),
          lambda g, out, x, a, b, value: _mul_scaled(g, a, value)))
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return input, tensor1, tensor2, value


@ternary(_f("{0} + {3} * {1} / {2}"), SAME,
         (lambda g, out, x, a, b, value: g,
          lambda g, out, x, a, b, value: _div_scaled(g, b, value),
          lambda g, out, x, a, b, value: _div_scaled(g * a, b * b, -value)))
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (true division)."""
    if not any(isinstance(t, Tensor) and t.dtype.is_floating_point for t in (tensor1, tensor2)):
        raise RuntimeError(  # PyTorch's words (its double space too)
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) "
            "for float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes."
        )
    return input, tensor1, tensor2, value


# ---- round, nan_to_num, logit ----------------------------------------------------------


def _round_node(input, scale, unscale):
    return "RoundBackward1" if scale != 1.0 or unscale != 1.0 else "RoundBackward0"


# PyTorch's rounding to decimals: x * 10^d rounded, / 10^d; or for d < 0, x / 10^-d rounded,
# * 10^-d (so no inexact 10^d with d < 0 is involved)
@unary({"f32": "select(round({0} / {2}) * {2}, round({0} * {1}) / {1}, {2} == 1.0)",
        "i32": "{0}", "u32": "{0}"}, SAME, lambda g, out, x, scale, unscale: g * 0.0,
       node=_round_node)
def round(input, *, decimals=0):
    """Round half to even (as PyTorch), to ``decimals`` places (negative: tens, hundreds...)."""
    if decimals == 0:
        return input, 1.0, 1.0
    if not isinstance(decimals, int):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    if isinstance(input, Tensor) and not input.dtype.is_floating_point:
        raise NotImplementedError(f'"round" not implemented for \'{input.dtype.legacy_name}\'')
    return (input, 10.0 ** decimals, 1.0) if decimals > 0 else (input, 1.0, 10.0 ** -decimals)


@unary(_f("select(select(select({0}, {3}, isinf_f({0}) && {0} < 0.0), {2}, "
          "isinf_f({0}) && {0} > 0.0), {1}, isnan_f({0}))"), SAME,
       lambda g, out, x, nan, posinf, neginf: where(x.isfinite(), g, 0.0))
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN, +inf and -inf by numbers (defaults: 0 and the dtype's largest/smallest)."""
    if isinstance(input, Tensor) and not input.dtype.is_floating_point:
        return input.clone()  # nothing to replace: a copy, as PyTorch
    big = _FLOAT16_MAX if isinstance(input, Tensor) and input.dtype is dt.float16 else (
        _FLOAT32_MAX)
    return (input, nan, big if posinf is None else posinf,
            -big if neginf is None else neginf)


def _logit_grad(g, out, x, eps):
    # PyTorch's logit_backward: 0 outside [eps, 1 - eps]; without eps, NaN outside [0, 1]
    lo, hi, outside = (0.0, 1.0, math.nan) if eps < 0 else (eps, 1.0 - eps, 0.0)
    return where((x < lo) | (x > hi), outside, g / (x * (1.0 - x)))


_CLAMPED = "select(clamp({0}, {1}, 1.0 - {1}), {0}, {1} < 0.0 || isnan_f({0}))"


@unary(_f(f"log({_CLAMPED} / (1.0 - {_CLAMPED}))"), FLOAT, _logit_grad)
def logit(input, eps=None):
    """``log(p / (1 - p))``, with ``p`` first clamped to ``[eps, 1 - eps]`` when ``eps`` is
    given."""
    return input, -1.0 if eps is None else eps


# ---- activations PyTorch also has as torch.* / Tensor methods ------------------------------


@unary(_f("softplus_f({0}, {1}, {2})"), SAME,
       lambda g, out, x, beta, threshold: where(x * beta > threshold, g,
                                                g * (x * beta).sigmoid()), inplace=False)
def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    return input, beta, threshold


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


# one row per approximation: each kernel computes only its own formula
_gelu = unary("_gelu", _f("0.5 * {0} * (1.0 + erf_f({0} * 0.70710678118654752))"), SAME,
              _gelu_grad, method=False, export=False)
_gelu_tanh = unary(
    "_gelu_tanh",
    _f(f"0.5 * {{0}} * (1.0 + tanh_f({_S2PI!r} * ({{0}} + 0.044715 * {{0}} * {{0}} * {{0}})))"),
    SAME, _gelu_tanh_grad, node="GeluBackward0", method=False, export=False)


@register()
def gelu(input, approximate="none"):
    """GELU: exact (erf) or ``approximate='tanh'``."""
    if approximate == "none":
        return _gelu(input)
    if approximate == "tanh":
        return _gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")
