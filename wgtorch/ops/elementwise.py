"""Elementwise primitives: one table row each (WGSL expression + backward rule).

The declarators (``unary``, ``binary``) and the dtype rules live in ``table.py``; rows with
scalar parameters are in ``elementwise_args.py`` and ``activation.py``. Backward rules are
written in wgtorch ops (so they run on the GPU and can be differentiated again); broadcasting
is undone by the table.
"""

import math

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import Tensor
from .pointwise import launch_map
from .reduce import sum_to
from .table import BOOL, FLOAT, SAME, _check_devices, binary, elementwise_function, publish
from .table import register, unary

__all__ = []  # filled by the declarators

# loss.py's binary cross-entropy rows still build their Function directly
_make_function = elementwise_function


def _f(expr):
    return {"f32": expr}


# ---- the table: unary -----------------------------------------------------------------


@unary({"f32": "-{0}", "i32": "-{0}", "u32": "(0u - {0})"}, SAME, lambda g, out, x: -g,
       aliases=("negative",))
def neg(input):
    """``-input`` (refused for bool tensors, as PyTorch does)."""
    if isinstance(input, Tensor) and input.dtype is dt.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return (input,)


abs = unary("abs", {"f32": "abs({0})", "i32": "abs({0})", "u32": "{0}"}, SAME,
            lambda g, out, x: g * x.sign(), aliases=("absolute",))
# NOTE: sign(NaN) is 0 in PyTorch, as WGSL's sign gives.
sign = unary("sign", {"f32": "sign({0})", "i32": "sign({0})", "u32": "min({0}, 1u)"}, SAME,
             lambda g, out, x: g * 0.0)
exp = unary("exp", _f("exp({0})"), FLOAT, lambda g, out, x: g * out)
exp2 = unary("exp2", _f("exp2({0})"), FLOAT, lambda g, out, x: g * out * math.log(2.0))
log = unary("log", _f("log({0})"), FLOAT, lambda g, out, x: g / x)
log2 = unary("log2", _f("log2({0})"), FLOAT, lambda g, out, x: g / (x * math.log(2.0)))
log10 = unary("log10", _f("log2({0}) * 0.30102999566398120"), FLOAT,
              lambda g, out, x: g / (x * math.log(10.0)))
log1p = unary("log1p", _f("log1p_f({0})"), FLOAT, lambda g, out, x: g / (x + 1.0))
expm1 = unary("expm1", _f("expm1_f({0})"), FLOAT, lambda g, out, x: g * (out + 1.0))
sqrt = unary("sqrt", _f("sqrt({0})"), FLOAT, lambda g, out, x: g / (out * 2.0))
rsqrt = unary("rsqrt", _f("inverseSqrt({0})"), FLOAT, lambda g, out, x: g * out * out * out * -0.5)
sin = unary("sin", _f("sin({0})"), FLOAT, lambda g, out, x: g * x.cos())
cos = unary("cos", _f("cos({0})"), FLOAT, lambda g, out, x: -g * x.sin())
tan = unary("tan", _f("tan({0})"), FLOAT, lambda g, out, x: g * (out * out + 1.0))
tanh = unary("tanh", _f("tanh_f({0})"), FLOAT, lambda g, out, x: g * (1.0 - out * out))
# NOTE: 1 - x*x cancels near +-1; (1 - x)(1 + x) keeps the gradient's precision there
asin = unary("asin", _f("asin_f({0})"), FLOAT, lambda g, out, x: g * ((1.0 - x) * (1.0 + x)).rsqrt(),
             aliases=("arcsin",))
acos = unary("acos", _f("acos_f({0})"), FLOAT,
             lambda g, out, x: -g * ((1.0 - x) * (1.0 + x)).rsqrt(),
             aliases=("arccos",))
atan = unary("atan", _f("atan({0})"), FLOAT, lambda g, out, x: g / (x * x + 1.0),
             aliases=("arctan",))
sinh = unary("sinh", _f("sinh({0})"), FLOAT, lambda g, out, x: g * x.cosh())
cosh = unary("cosh", _f("cosh({0})"), FLOAT, lambda g, out, x: g * x.sinh())
sigmoid = unary("sigmoid", _f("sigmoid_f({0})"), FLOAT, lambda g, out, x: g * out * (1.0 - out))
erf = unary("erf", _f("erf_f({0})"), FLOAT,
            lambda g, out, x: g * (x * x * -1.0).exp() * (2.0 / math.sqrt(math.pi)))
reciprocal = unary("reciprocal", _f("1.0 / {0}"), FLOAT, lambda g, out, x: -g * out * out)
# relu's gradient in one kernel, ``g`` where the result is positive (PyTorch's
# threshold_backward); it is linear in g, and the result gets no gradient through it
_threshold_backward = binary(
    "_threshold_backward", _f("select(0.0, {0}, {1} > 0.0)"), SAME,
    (lambda g, out, gy, y: _threshold_backward(g, y), lambda g, out, gy, y: None),
    method=False, export=False)
relu = unary("relu", {"f32": "select(max({0}, 0.0), {0}, isnan_f({0}))", "i32": "max({0}, 0)",
                      "u32": "{0}"}, SAME, lambda g, out, x: _threshold_backward(g, out))
silu = unary("silu", _f("{0} * sigmoid_f({0})"), FLOAT,
             lambda g, out, x: g * (x.sigmoid() * (1.0 + x * (1.0 - x.sigmoid()))))
_ROUND_INT = {"i32": "{0}", "u32": "{0}"}
floor = unary("floor", {"f32": "floor({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0)
ceil = unary("ceil", {"f32": "ceil({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0)
trunc = unary("trunc", {"f32": "trunc({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0,
              aliases=("fix",))
frac = unary("frac", _f("{0} - trunc({0})"), SAME, lambda g, out, x: g)
square = unary("square", {"f32": "{0} * {0}", "i32": "{0} * {0}", "u32": "{0} * {0}"}, SAME,
               lambda g, out, x: g * x * 2.0, node="PowBackward0")  # torch's is x ** 2
# tests: a bool result, no in-place form
isnan = unary("isnan", {"f32": "select(0u, 1u, isnan_f({0}))", "i32": "0u", "u32": "0u"}, BOOL,
              inplace=False)
isinf = unary("isinf", {"f32": "select(0u, 1u, isinf_f({0}))", "i32": "0u", "u32": "0u"}, BOOL,
              inplace=False)
isfinite = unary("isfinite", {"f32": "select(1u, 0u, isnan_f({0}) || isinf_f({0}))",
                              "i32": "1u", "u32": "1u"}, BOOL, inplace=False)
isposinf = unary("isposinf", {"f32": "select(0u, 1u, isinf_f({0}) && {0} > 0.0)",
                              "i32": "0u", "u32": "0u"}, BOOL, inplace=False)
isneginf = unary("isneginf", {"f32": "select(0u, 1u, isinf_f({0}) && {0} < 0.0)",
                              "i32": "0u", "u32": "0u"}, BOOL, inplace=False)
signbit = unary("signbit", {"f32": "select(0u, 1u, (bitcast<u32>({0}) >> 31u) == 1u)",
                            "i32": "select(0u, 1u, {0} < 0)", "u32": "0u"}, BOOL, inplace=False)
logical_not = unary("logical_not", {"f32": "select(1u, 0u, nz_f({0}))",
                                    "i32": "select(0u, 1u, {0} == 0)",
                                    "u32": "select(0u, 1u, {0} == 0u)"}, BOOL)
bitwise_not = unary("bitwise_not", {"i32": "~{0}", "u32": "~{0}"}, SAME)


# ---- the table: binary ------------------------------------------------------------------


def _min_max_grad(pick_a):
    def grad(g, out, a, b):
        a_wins = pick_a(a, b).float() + (a == b).float() * 0.5
        return g * a_wins, g * (1.0 - a_wins)

    return grad


def _pow_grad_base(g, out, a, b):
    # d/da a^b = b a^(b-1); 0 where b == 0 (not 0 * inf at a == 0), as PyTorch
    if isinstance(b, Tensor):
        return where(b == 0, 0.0, g * b * a.pow(b - 1.0))
    return g * b * a.pow(b - 1.0) if b else g * 0.0


def _pow_grad_exponent(g, out, a, b):
    # d/db a^b = a^b log a; 0 where a == 0 and b >= 0 (PyTorch's convention)
    if not isinstance(a, Tensor):  # a Python scalar base: 2.0 ** x
        log_a = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
        return where(b >= 0, 0.0, g * out * log_a) if a == 0 else g * out * log_a
    return where((a == 0) & (b >= 0), 0.0, g * out * a.log())


def _is_bool(x):
    return isinstance(x, bool) or isinstance(x, Tensor) and x.dtype is dt.bool_


def _check_alpha(input, other, alpha):
    if isinstance(alpha, float) and not dt.result_type(input, other).is_floating_point:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )


def _times_alpha(g, alpha):
    return g if alpha == 1 else g * alpha


_ARITH = ("f32", "i32", "u32")


def _sub_node(input, other):
    return "SubBackward0" if isinstance(input, Tensor) else "RsubBackward1"  # 1 - x: rsub


# alpha == 1 (every operator) takes the plain kernel; the others one fused kernel
_add = binary("_add", {t: "{0} + {1}" for t in _ARITH}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: g), method=False, export=False)
_sub = binary("_sub", {t: "{0} - {1}" for t in _ARITH}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: -g), node=_sub_node,
              method=False, export=False)


@binary({t: "{0} + {1} * {2}" for t in _ARITH}, SAME,
        (lambda g, out, a, b, alpha: g, lambda g, out, a, b, alpha: _times_alpha(g, alpha)),
        node="AddBackward0", method=False, export=False)
def _add_scaled(input, other, alpha):
    return input, other, alpha


@binary({t: "{0} - {1} * {2}" for t in _ARITH}, SAME,
        (lambda g, out, a, b, alpha: g, lambda g, out, a, b, alpha: _times_alpha(-g, alpha)),
        node="SubBackward0", method=False, export=False)
def _sub_scaled(input, other, alpha):
    return input, other, alpha


@register()
def add(input, other, *, alpha=1):
    """``input + alpha * other`` with broadcasting (either may be a number)."""
    if alpha == 1:
        return _add(input, other)
    _check_alpha(input, other, alpha)
    return _add_scaled(input, other, alpha)


@register(aliases=("subtract",))
def sub(input, other, *, alpha=1):
    """``input - alpha * other`` with broadcasting (refused for bool operands, as PyTorch)."""
    if _is_bool(input) or _is_bool(other):
        if _is_bool(input) and _is_bool(other):
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                "the `^` or `logical_xor()` operator instead."
            )
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    if alpha == 1:
        return _sub(input, other)
    _check_alpha(input, other, alpha)
    return _sub_scaled(input, other, alpha)


mul = binary("mul", {t: "{0} * {1}" for t in _ARITH}, SAME,
             (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a), aliases=("multiply",))
_div = binary("_div", _f("{0} / {1}"), FLOAT,
              (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * out / b),
              method=False, export=False)
# floor is flat: a zero gradient (as PyTorch's), so div(rounding_mode='floor') requires grad
floor_divide = binary("floor_divide", {"f32": "floor({0} / {1})", "i32": "idiv_floor({0}, {1})",
                                       "u32": "{0} / max({1}, 1u)"}, SAME,
                      (lambda g, out, a, b: g * 0.0, lambda g, out, a, b: g * 0.0))


def _tensor_other_node(base):
    """PyTorch's overloads of ``base(input, other)``: Backward0 for a number, 1 a tensor."""

    def node(input, other):
        return f"{base}Backward{int(isinstance(other, Tensor))}"

    node.__qualname__ = node.__name__ = f"{base.lower()}_node"
    return node


remainder = binary("remainder", {"f32": "fmod_py({0}, {1})", "i32": "imod_py({0}, {1})",
                                 "u32": "{0} % max({1}, 1u)"}, SAME,
                   (lambda g, out, a, b: g, lambda g, out, a, b: -g * floor_divide(a, b)),
                   node=_tensor_other_node("Remainder"))
fmod = binary("fmod", {"f32": "{0} - {1} * trunc({0} / {1})", "i32": "{0} % {1}",
                       "u32": "{0} % max({1}, 1u)"}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: -g * (a / b).trunc()),
              node=_tensor_other_node("Fmod"))


def _pow_node(input, exponent):
    if not isinstance(input, Tensor):
        return "PowBackward2"  # 2 ** x
    return "PowBackward1" if isinstance(exponent, Tensor) else "PowBackward0"


_pow = binary("_pow", {"f32": "pow_f({0}, {1})", "i32": "pow_i({0}, {1})",
                       "u32": "u32(pow_i(i32({0}), i32({1})))"}, SAME,
              (_pow_grad_base, _pow_grad_exponent), node=_pow_node, method=False, export=False)
maximum = binary("maximum", {"f32": "max_f({0}, {1})", "i32": "max({0}, {1})",
                             "u32": "max({0}, {1})"}, SAME, _min_max_grad(lambda a, b: a > b))
minimum = binary("minimum", {"f32": "min_f({0}, {1})", "i32": "min({0}, {1})",
                             "u32": "min({0}, {1})"}, SAME, _min_max_grad(lambda a, b: a < b))
atan2 = binary("atan2", _f("atan2({0}, {1})"), FLOAT,
               lambda g, out, a, b: (g * b / (a * a + b * b), -g * a / (a * a + b * b)))


def _cmp(op):
    return {t: f"select(0u, 1u, {{0}} {op} {{1}})" for t in ("f32", "i32", "u32")}


# NOTE: compilers may assume floats are never NaN, so NaN is tested by its bits: NaN == x is
# false and NaN != x is true for every x.
eq = binary("eq", {**_cmp("=="), "f32": "select(0u, 1u, {0} == {1} && !isnan_f({0}))"}, BOOL)
ne = binary("ne", {**_cmp("!="),
                   "f32": "select(0u, 1u, {0} != {1} || isnan_f({0}) || isnan_f({1}))"}, BOOL,
            aliases=("not_equal",))
lt = binary("lt", _cmp("<"), BOOL, aliases=("less",))
le = binary("le", _cmp("<="), BOOL, aliases=("less_equal",))
gt = binary("gt", _cmp(">"), BOOL, aliases=("greater",))
ge = binary("ge", _cmp(">="), BOOL, aliases=("greater_equal",))


def _logical(op):
    nonzero = {"f32": "nz_f({})", "i32": "({} != 0)", "u32": "({} != 0u)"}
    return {t: f"select(0u, 1u, {nz.format('{0}')} {op} {nz.format('{1}')})"
            for t, nz in nonzero.items()}


logical_and = binary("logical_and", _logical("&&"), BOOL)
logical_or = binary("logical_or", _logical("||"), BOOL)
logical_xor = binary("logical_xor", _logical("!="), BOOL)
bitwise_and = binary("bitwise_and", {"i32": "{0} & {1}", "u32": "{0} & {1}"}, SAME)
bitwise_or = binary("bitwise_or", {"i32": "{0} | {1}", "u32": "{0} | {1}"}, SAME)
bitwise_xor = binary("bitwise_xor", {"i32": "{0} ^ {1}", "u32": "{0} ^ {1}"}, SAME)


# ---- ops with PyTorch's signatures over the rows ----------------------------------------


@register(aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode=None):
    """True division, or ``rounding_mode='floor'|'trunc'``."""
    if rounding_mode is None:
        return _div(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        t = dt.result_type(input, other)
        q = _div(input, other).trunc()
        return q if t.is_floating_point else q.to(t)
    raise RuntimeError(
        f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


@register()
def pow(input, exponent):
    """``input ** exponent`` (either may be a scalar)."""
    if (isinstance(input, Tensor) and isinstance(exponent, (int, float))
            and not isinstance(exponent, bool)):
        if exponent == 1:
            return input * 1
        if exponent == 2:
            return input * input
        if isinstance(exponent, int) and exponent < 0 and not input.dtype.is_floating_point:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _pow(input, exponent)


class WhereBackward0(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        _check_devices("where", [cond, a, b])
        t = dt.result_type(a, b)
        cond_t = cond if cond.dtype is dt.bool_ else cond.bool()
        ctx.save_for_backward(cond_t)
        ctx.shapes = (a.shape if isinstance(a, Tensor) else None,
                      b.shape if isinstance(b, Tensor) else None)
        return launch_map("where", "select({2}, {1}, {0} != 0u)", [cond_t, a, b],
                          ["u32", t.wgsl, t.wgsl], t)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad[1:]
        ga = sum_to(where(cond, g, 0.0), sa) if sa is not None and need_a else None
        gb = sum_to(where(cond, 0.0, g), sb) if sb is not None and need_b else None
        return None, ga, gb


@register(method=False)
def where(condition, input=None, other=None):
    """``input`` where ``condition`` else ``other`` (either may be a scalar)."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' must be Tensor")
    if condition.dtype not in (dt.bool_, dt.uint8):
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{condition.dtype.legacy_name}"
        )
    return WhereBackward0.apply(condition, input, other)


def _where_method(self, condition, other):
    """``self.where(condition, other)`` is ``where(condition, self, other)``."""
    return where(condition, self, other)


publish(_where_method, "where", export=False)
