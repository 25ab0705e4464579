"""Activation rows (``torch.nn.functional``'s leaky_relu, elu, hardtanh, mish...): each one
fused kernel forward, its backward rule in wgtorch ops beside it (see ``table.py``).

Like PyTorch these are functions only (no Tensor method), except where PyTorch also has
``torch.<name>`` (celu, selu, threshold) or ``Tensor.<name>`` (hardshrink).
``nn.functional`` adds the ``inplace=`` flags.
"""

from ..tensor import Tensor
from .elementwise import where
from .elementwise_args import softplus
from .table import SAME, binary, unary

__all__ = []  # filled by the declarators

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_NN = {"method": False, "export": False}  # torch.nn.functional only


def _f(expr):
    return {"f32": expr}


@unary(_f("select({0} * {1}, {0}, {0} > 0.0)"), SAME,
       lambda g, out, x, negative_slope: where(x > 0, g, g * negative_slope), **_NN)
def leaky_relu(input, negative_slope=0.01):
    """``x`` where positive, else ``negative_slope * x``."""
    return input, negative_slope


@unary(_f("select({1} * expm1_f({0}), {0}, {0} > 0.0)"), SAME,
       lambda g, out, x, alpha: where(x > 0, g, g * (out + alpha)), **_NN)
def elu(input, alpha=1.0):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return input, alpha


@unary(_f("select({1} * expm1_f({0} / {1}), {0}, {0} > 0.0)"), SAME,
       lambda g, out, x, alpha: where(x > 0, g, g * (out / alpha + 1.0)), method=False)
def celu(input, alpha=1.0):
    """``x`` where positive, else ``alpha * (exp(x / alpha) - 1)``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return input, alpha


@unary(_f(f"select({SELU_ALPHA * SELU_SCALE!r} * expm1_f({{0}}), {SELU_SCALE!r} * {{0}}, "
          "{0} > 0.0)"), SAME,
       lambda g, out, x: where(x > 0, g * SELU_SCALE, g * (out + SELU_ALPHA * SELU_SCALE)),
       node="EluBackward0", method=False)  # PyTorch's selu is a scaled elu
def selu(input):
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return (input,)


_CLAMP = "select(clamp({0}, {1}, {2}), {0}, isnan_f({0}))"  # NaN stays NaN, as PyTorch


@unary({"f32": _CLAMP, "i32": "clamp({0}, {1}, {2})"}, SAME,
       lambda g, out, x, min_val, max_val: where((x > min_val) & (x < max_val), g, 0.0), **_NN)
def hardtanh(input, min_val=-1.0, max_val=1.0):
    """``x`` clamped to ``[min_val, max_val]`` (gradient 0 at and past the bounds)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return input, min_val, max_val


@unary({"f32": "select({0}, {2}, {0} <= {1})", "i32": "select({0}, {2}, {0} <= {1})"}, SAME,
       lambda g, out, x, threshold, value: where(x <= threshold, 0.0, g), method=False)
def threshold(input, threshold, value):
    """``value`` where ``x <= threshold``, else ``x``."""
    return input, threshold, value


# the gradient of hardshrink and softshrink in one kernel (PyTorch's shrink backward); it is
# linear in the gradient, and the input gets no gradient through it
@binary(_f("select({0}, 0.0, abs({1}) <= {2})"), SAME,
        (lambda gg, out, g, x, lambd: _shrink_backward(gg, x, lambd),
         lambda gg, out, g, x, lambd: None), method=False, export=False)
def _shrink_backward(grad, input, lambd):
    return grad, input, lambd


@unary(_f("select({0}, 0.0, abs({0}) <= {1})"), SAME,
       lambda g, out, x, lambd: _shrink_backward(g, x, lambd), inplace=False)
def hardshrink(input, lambd=0.5):
    """0 where ``|x| <= lambd``, else ``x``."""
    return input, lambd


def _check_lambda(input, lambd):
    if lambd < 0:
        big = "65504" if input.dtype.name == "float16" else "3.40282e+38"
        raise RuntimeError(f"lambda must be in range [0, {big}] for input dtype "
                           f"{input.dtype.legacy_name}, but found {lambd:g}")


@unary(_f("select(select(select(0.0, {0} + {1}, {0} < -{1}), {0} - {1}, {0} > {1}), {0}, "
          "isnan_f({0}))"), SAME,
       lambda g, out, x, lambd: _shrink_backward(g, x, lambd), **_NN)
def softshrink(input, lambd=0.5):
    """``x`` moved ``lambd`` towards 0, and 0 within ``[-lambd, lambd]``."""
    if isinstance(input, Tensor) and isinstance(lambd, (int, float)):
        _check_lambda(input, lambd)
    return input, lambd


def _mish_grad(g, out, x):
    t = softplus(x).tanh()
    return g * (t + x * x.sigmoid() * (1.0 - t * t))


@unary(_f("{0} * tanh_f(softplus_f({0}, 1.0, 20.0))"), SAME, _mish_grad, **_NN)
def mish(input):
    """``x * tanh(softplus(x))``."""
    return (input,)


@unary(_f("{0} * clamp({0} + 3.0, 0.0, 6.0) / 6.0"), SAME,
       lambda g, out, x: where(x < -3.0, 0.0, where(x <= 3.0, g * (x / 3.0 + 0.5), g)), **_NN)
def hardswish(input):
    """``x * relu6(x + 3) / 6``."""
    return (input,)


@unary(_f("clamp({0} / 6.0 + 0.5, 0.0, 1.0)"), SAME,
       lambda g, out, x: where((x > -3.0) & (x < 3.0), g / 6.0, 0.0), **_NN)
def hardsigmoid(input):
    """``relu6(x + 3) / 6``."""
    return (input,)


@unary(_f("-softplus_f(-{0}, 1.0, 20.0)"), SAME, lambda g, out, x: g * (-x).sigmoid(),
       node="LogSigmoidBackward0", **_NN)  # PyTorch's op is log_sigmoid
def logsigmoid(input):
    """``log(sigmoid(x))``, computed stably as ``-softplus(-x)``."""
    return (input,)
