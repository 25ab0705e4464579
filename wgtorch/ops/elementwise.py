"""Elementwise primitives: one table row each (WGSL expression + backward rule).

Expressions use ``{0}``, ``{1}``... for the operands, already converted to the compute type.
Backward rules are written in wgtorch ops (so they run on the GPU and can be differentiated
again); broadcasting is undone by ``sum_to``.
"""

import dis
import math

import numpy as np

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import check_same_device as _check_devices  # the one device check (device.py)
from ..tensor import Tensor, tensor_method
from .pointwise import launch_map
from .reduce import sum_to

# ---- dtype rules ------------------------------------------------------------------------

_OPERAND = (Tensor, bool, int, float)
FLOAT = "float"  # integer inputs are promoted to the default float dtype
SAME = "same"  # result has the (promoted) input dtype
BOOL = "bool"  # result is bool; compared in the promoted dtype


def _python_numbers(name, operands):
    """``operands`` with numpy scalars as Python numbers; TypeError for anything else."""
    out = []
    for op in operands:
        if isinstance(op, np.generic) and op.ndim == 0 and op.dtype.kind in "biuf":
            op = op.item()
        elif not isinstance(op, (Tensor, bool, int, float)):
            raise TypeError(
                f"{name}(): argument must be a Tensor or a number, not {type(op).__name__}"
            )
        out.append(op)
    return out


def _compute_dtype(name, operands, kind):
    t = dt.result_type(*operands)
    if kind == FLOAT and not t.is_floating_point:
        t = dt.get_default_dtype()
    return t


def _scalar_check(name, op, t):
    if isinstance(op, float) and not t.is_floating_point:
        raise RuntimeError(f"{name}: result type Float can't be cast to the desired output type")
    if isinstance(op, int) and not isinstance(op, bool) and not t.is_floating_point:
        if not dt.INT32_MIN <= op <= dt.INT32_MAX:
            raise RuntimeError(
                f"{name}: scalar {op} does not fit in wgtorch's 32-bit integer storage"
            )


def run(name, exprs, operands, kind=SAME, out=None):
    """Launch ``exprs[compute type]`` over ``operands`` with PyTorch's type promotion."""
    for op in operands:
        if not isinstance(op, _OPERAND):
            operands = _python_numbers(name, operands)
            break
    _check_devices(name, operands)
    t = _compute_dtype(name, operands, kind)
    expr = exprs.get(t.wgsl) if isinstance(exprs, dict) else exprs
    if expr is None:
        raise NotImplementedError(f'"{name}" not implemented for \'{t.legacy_name}\'')
    for op in operands:
        if not isinstance(op, Tensor):
            _scalar_check(name, op, t)
    out_dtype = dt.bool_ if kind == BOOL else t
    casts = [t.wgsl] * len(operands)
    return launch_map(name, expr, operands, casts, out_dtype, out=out)


# ---- Function factories ----------------------------------------------------------------


def _camel(name):
    return "".join(p.capitalize() for p in name.strip("_").split("_"))


def _reads(fn, n):
    """Which of ``fn``'s first ``n`` parameters its body reads (all, when unknown)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return (True,) * n
    names = set(code.co_cellvars)  # parameters that a nested function reads
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_"):
            names.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    return tuple(p in names for p in code.co_varnames[:n])


def _make_function(name, exprs, kind, grad, n_tensor_args):
    # ``grad`` is one rule giving every operand's gradient, or a tuple of one rule per operand
    # (then only the gradients needed are computed, from only the tensors they read).
    # NOTE: save only the tensors the rules read (as PyTorch): a saved tensor may not be
    # modified in place later, and x = a + b; x.relu_() or x = a * 2; x[0] = b must work.
    rules = grad if isinstance(grad, tuple) else None
    n_read = 2 + n_tensor_args
    reads = [_reads(r, n_read)[1:] for r in rules] if rules else None
    reads_all = _reads(grad, n_read)[1:] if grad is not None and not rules else None

    def forward(ctx, *args):
        operands = args[:n_tensor_args]
        out = run(name, exprs, operands, kind)
        if grad is not None:
            keep = reads_all or [any(r[j] for r, need in zip(reads, ctx.needs_input_grad) if need)
                                 for j in range(n_read - 1)]
            ctx.save_for_backward(*(t if k or not isinstance(t, Tensor) else None
                                    for t, k in zip((out, *operands), keep)))
            ctx.shapes = tuple(x.shape if isinstance(x, Tensor) else None for x in operands)
            ctx.consts = args[n_tensor_args:]
        return out

    def backward(ctx, g):
        out, *inputs = ctx.saved_tensors
        if rules:
            grads = tuple(rule(g, out, *inputs, *ctx.consts) if need else None
                          for rule, need in zip(rules, ctx.needs_input_grad))
        else:
            grads = grad(g, out, *inputs, *ctx.consts)
            grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(
            sum_to(gi, shape) if shape is not None and gi is not None else None
            for gi, shape in zip(grads, ctx.shapes)
        )

    cls = type(f"{_camel(name)}Backward0", (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward)
    })
    return cls


def _differentiable(kind):
    return kind != BOOL


def _records(*operands):
    """Whether autograd records this call: grad mode is on and an operand requires grad.
    (Calls that do not record skip the Function machinery: the common inference path.)"""
    return is_grad_enabled() and any(isinstance(x, Tensor) and x.requires_grad for x in operands)


def unary(name, exprs, kind=SAME, grad=None, aliases=()):
    """Declare a unary op ``name(input)`` and ``Tensor.name``."""
    fn_cls = _make_function(name, exprs, kind, grad, 1)

    def op(input):
        if grad is None or not _records(input):
            return run(name, exprs, [input], kind)
        return fn_cls.apply(input)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` (PyTorch's ``torch.{name}``)."
    tensor_method(name, *aliases)(op)
    return op


def binary(name, exprs, kind=SAME, grad=None):
    """Declare a binary op ``name(input, other)`` with broadcasting and scalars."""
    fn_cls = _make_function(name, exprs, kind, grad, 2)

    def op(input, other):
        if grad is None or not _records(input, other):
            return run(name, exprs, [input, other], kind)
        return fn_cls.apply(input, other)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` with broadcasting (PyTorch's ``torch.{name}``)."
    tensor_method(name)(op)
    return op


# ---- the table: unary -----------------------------------------------------------------

F = "f32"
NUM = {"f32": "{0}", "i32": "{0}", "u32": "{0}"}


def _f(expr):
    return {"f32": expr}


_neg = unary("neg", {"f32": "-{0}", "i32": "-{0}", "u32": "(0u - {0})"}, SAME,
             lambda g, out, x: -g, aliases=("negative",))
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
asin = unary("asin", _f("asin({0})"), FLOAT, lambda g, out, x: g * (1.0 - x * x).rsqrt(),
             aliases=("arcsin",))
acos = unary("acos", _f("acos({0})"), FLOAT, lambda g, out, x: -g * (1.0 - x * x).rsqrt(),
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
_relu_grad = binary("_threshold_backward", _f("select(0.0, {0}, {1} > 0.0)"), SAME,
                    (lambda g, out, gy, y: _relu_grad(g, y), lambda g, out, gy, y: None))
relu = unary("relu", {"f32": "select(max({0}, 0.0), {0}, isnan_f({0}))", "i32": "max({0}, 0)",
                      "u32": "{0}"}, SAME, lambda g, out, x: _relu_grad(g, out))
silu = unary("silu", _f("{0} * sigmoid_f({0})"), FLOAT,
             lambda g, out, x: g * (x.sigmoid() * (1.0 + x * (1.0 - x.sigmoid()))))
_ROUND_INT = {"i32": "{0}", "u32": "{0}"}
floor = unary("floor", {"f32": "floor({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0)
ceil = unary("ceil", {"f32": "ceil({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0)
trunc = unary("trunc", {"f32": "trunc({0})", **_ROUND_INT}, SAME, lambda g, out, x: g * 0.0,
              aliases=("fix",))
frac = unary("frac", _f("{0} - trunc({0})"), SAME, lambda g, out, x: g)
square = unary("square", {"f32": "{0} * {0}", "i32": "{0} * {0}", "u32": "{0} * {0}"}, SAME,
               lambda g, out, x: g * x * 2.0)
isnan = unary("isnan", {"f32": "select(0u, 1u, isnan_f({0}))", "i32": "0u", "u32": "0u"}, BOOL)
isinf = unary("isinf", {"f32": "select(0u, 1u, isinf_f({0}))", "i32": "0u", "u32": "0u"}, BOOL)
isfinite = unary("isfinite", {"f32": "select(1u, 0u, isnan_f({0}) || isinf_f({0}))",
                              "i32": "1u", "u32": "1u"}, BOOL)
isposinf = unary("isposinf", {"f32": "select(0u, 1u, isinf_f({0}) && {0} > 0.0)",
                              "i32": "0u", "u32": "0u"}, BOOL)
isneginf = unary("isneginf", {"f32": "select(0u, 1u, isinf_f({0}) && {0} < 0.0)",
                              "i32": "0u", "u32": "0u"}, BOOL)
signbit = unary("signbit", {"f32": "select(0u, 1u, (bitcast<u32>({0}) >> 31u) == 1u)",
                            "i32": "select(0u, 1u, {0} < 0)", "u32": "0u"}, BOOL)
logical_not = unary("logical_not", {"f32": "select(1u, 0u, nz_f({0}))",
                                    "i32": "select(0u, 1u, {0} == 0)",
                                    "u32": "select(0u, 1u, {0} == 0u)"}, BOOL)
bitwise_not = unary("bitwise_not", {"i32": "~{0}", "u32": "~{0}"}, SAME)


@tensor_method("neg", "negative")
def neg(input):
    """``-input`` (refused for bool tensors, as PyTorch does)."""
    if isinstance(input, Tensor) and input.dtype is dt.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return _neg(input)


negative, absolute, arcsin, arccos, arctan, fix = neg, abs, asin, acos, atan, trunc

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


add_ = binary("_add", {"f32": "{0} + {1}", "i32": "{0} + {1}", "u32": "{0} + {1}"}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: g))
sub_ = binary("_sub", {"f32": "{0} - {1}", "i32": "{0} - {1}", "u32": "{0} - {1}"}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: -g))
mul = binary("mul", {"f32": "{0} * {1}", "i32": "{0} * {1}", "u32": "{0} * {1}"}, SAME,
             (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a))
div_true = binary("_div", _f("{0} / {1}"), FLOAT,
                  (lambda g, out, a, b: g / b, lambda g, out, a, b: -g * out / b))
floor_divide = binary("floor_divide", {"f32": "floor({0} / {1})", "i32": "idiv_floor({0}, {1})",
                                       "u32": "{0} / max({1}, 1u)"}, SAME)
remainder = binary("remainder", {"f32": "fmod_py({0}, {1})", "i32": "imod_py({0}, {1})",
                                 "u32": "{0} % max({1}, 1u)"}, SAME,
                   (lambda g, out, a, b: g, lambda g, out, a, b: -g * floor_divide(a, b)))
fmod = binary("fmod", {"f32": "{0} - {1} * trunc({0} / {1})", "i32": "{0} % {1}",
                       "u32": "{0} % max({1}, 1u)"}, SAME,
              (lambda g, out, a, b: g, lambda g, out, a, b: -g * (a / b).trunc()))
pow_ = binary("_pow", {"f32": "pow_f({0}, {1})", "i32": "pow_i({0}, {1})",
                       "u32": "u32(pow_i(i32({0}), i32({1})))"}, SAME,
               (_pow_grad_base, _pow_grad_exponent))
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
                   "f32": "select(0u, 1u, {0} != {1} || isnan_f({0}) || isnan_f({1}))"}, BOOL)
lt = binary("lt", _cmp("<"), BOOL)
le = binary("le", _cmp("<="), BOOL)
gt = binary("gt", _cmp(">"), BOOL)
ge = binary("ge", _cmp(">="), BOOL)
tensor_method("less")(lt)
tensor_method("less_equal")(le)
tensor_method("greater")(gt)
tensor_method("greater_equal")(ge)
tensor_method("not_equal")(ne)


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


# ---- public wrappers with PyTorch's signatures ------------------------------------------


def _times_alpha(input, other, alpha):
    if alpha == 1:
        return other
    if isinstance(alpha, float) and not dt.result_type(input, other).is_floating_point:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    return mul(other, alpha) if isinstance(other, Tensor) else other * alpha


@tensor_method()
def add(input, other, *, alpha=1):
    """``input + alpha * other`` with broadcasting."""
    return add_(input, _times_alpha(input, other, alpha))


def _is_bool(x):
    return isinstance(x, bool) or isinstance(x, Tensor) and x.dtype is dt.bool_


@tensor_method()
def sub(input, other, *, alpha=1):
    """``input - alpha * other`` with broadcasting (refused for bool operands, as PyTorch)."""
    if _is_bool(input) and _is_bool(other):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )
    if _is_bool(input) or _is_bool(other):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return sub_(input, _times_alpha(input, other, alpha))


subtract = tensor_method("subtract")(sub)
multiply = tensor_method("multiply")(mul)


@tensor_method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None):
    """True division, or ``rounding_mode='floor'|'trunc'``."""
    if rounding_mode is None:
        return div_true(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        q = div_true(input, other).trunc()
        return q if dt.result_type(input, other).is_floating_point else q.to(dt.result_type(input, other))
    raise RuntimeError(
        f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
        f"'{rounding_mode}'"
    )


divide = true_divide = div


@tensor_method("pow")
def pow(input, exponent):
    """``input ** exponent`` (either may be a scalar)."""
    if isinstance(input, Tensor) and isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        if exponent == 1:
            return input * 1
        if exponent == 2:
            return input * input
        if isinstance(exponent, int) and exponent < 0 and not input.dtype.is_floating_point:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return pow_(input, exponent)


def _where_grad(g, out, cond, a, b):
    return None, where(cond, g, 0.0), where(cond, 0.0, g)


class WhereBackward0(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        _check_devices("where", [cond, a, b])
        t = dt.result_type(*(x for x in (a, b)))
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
        ga = sum_to(where(cond, g, 0.0), sa) if sa is not None and ctx.needs_input_grad[1] else None
        gb = sum_to(where(cond, 0.0, g), sb) if sb is not None and ctx.needs_input_grad[2] else None
        return None, ga, gb


@tensor_method()
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


@tensor_method("where")
def _where_method(self, condition, other):
    """``self.where(condition, other)`` is ``where(condition, self, other)``."""
    return where(condition, self, other)
