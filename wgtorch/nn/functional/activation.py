"""Activation functions (``F.relu``, ``F.leaky_relu``, ``F.elu``, ``F.mish``...).

Activations with a WGSL expression of their own are elementwise primitives declared with the
same table factory as ``wgtorch/ops/elementwise.py`` (one fused kernel forward; backward rules
in wgtorch ops, so second-order gradients work). The rest are one-liners on primitives.
"""

from ...ops import elementwise as ew
from ...ops import elementwise_args as ewa
from ...ops import softmax as _softmax_ops
from ...ops.copy import apply_inplace

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _primitive(name, expr, grad, n_operands):
    """An elementwise Function over ``n_operands`` (the tensor, then scalar parameters)."""
    return ew._make_function(name, {"f32": expr}, ew.FLOAT, grad, n_operands)


def _maybe_inplace(input, result, inplace):
    return apply_inplace(input, result) if inplace else result


_LeakyRelu = _primitive(
    "leaky_relu", "select({0} * {1}, {0}, {0} > 0.0)",
    lambda g, out, x, slope: ew.where(x > 0, g, g * slope), 2)
_Elu = _primitive(
    "elu", "select({1} * expm1_f({0}), {0}, {0} > 0.0)",
    lambda g, out, x, alpha: ew.where(x > 0, g, g * (out + alpha)), 2)
_Celu = _primitive(
    "celu", "select({1} * expm1_f({0} / {1}), {0}, {0} > 0.0)",
    lambda g, out, x, alpha: ew.where(x > 0, g, g * (out / alpha + 1.0)), 2)
_Selu = _primitive(
    "selu", f"select({_SELU_ALPHA * _SELU_SCALE!r} * expm1_f({{0}}), {_SELU_SCALE!r} * {{0}}, "
    "{0} > 0.0)",
    lambda g, out, x: ew.where(x > 0, g * _SELU_SCALE, g * (out + _SELU_ALPHA * _SELU_SCALE)), 1)
_Hardsigmoid = _primitive(
    "hardsigmoid", "clamp({0} / 6.0 + 0.5, 0.0, 1.0)",
    lambda g, out, x: ew.where((x > -3.0) & (x < 3.0), g / 6.0, 0.0), 1)
_Hardswish = _primitive(
    "hardswish", "{0} * clamp({0} + 3.0, 0.0, 6.0) / 6.0",
    lambda g, out, x: ew.where(x < -3.0, 0.0, ew.where(x <= 3.0, g * (x / 3.0 + 0.5), g)), 1)
_Mish = _primitive(
    "mish", "{0} * tanh_f(softplus_f({0}, 1.0, 20.0))",
    lambda g, out, x: _mish_grad(g, x), 1)
_Hardtanh = _primitive(
    "hardtanh", "clamp({0}, {1}, {2})",
    lambda g, out, x, lo, hi: ew.where((x > lo) & (x < hi), g, 0.0), 3)
_Threshold = _primitive(
    "threshold", "select({2}, {0}, {0} > {1})",
    lambda g, out, x, th, value: ew.where(x > th, g, 0.0), 3)


def _mish_grad(g, x):
    t = ewa.softplus(x).tanh()
    return g * (t + x * x.sigmoid() * (1.0 - t * t))


def relu(input, inplace=False):
    """max(x, 0)."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(input, _LeakyRelu.apply(input, float(negative_slope)), inplace)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _maybe_inplace(input, _Elu.apply(input, float(alpha)), inplace)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _maybe_inplace(input, _Celu.apply(input, float(alpha)), inplace)


def selu(input, inplace=False):
    return _maybe_inplace(input, _Selu.apply(input), inplace)


def gelu(input, approximate="none"):
    """Gaussian error linear unit: exact (erf) or ``approximate='tanh'``."""
    return ewa.gelu(input, approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _maybe_inplace(input, ew.silu(input), inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, _Mish.apply(input), inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(input, _Hardswish.apply(input), inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _maybe_inplace(input, _Hardsigmoid.apply(input), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if not input.dtype.is_floating_point:  # PyTorch truncates the bounds to the dtype
        return _maybe_inplace(input, input.clamp(int(min_val), int(max_val)), inplace)
    return _maybe_inplace(input, _Hardtanh.apply(input, float(min_val), float(max_val)), inplace)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def threshold(input, threshold, value, inplace=False):
    """x if x > threshold else value."""
    if not input.dtype.is_floating_point:  # PyTorch truncates both to the dtype
        return _maybe_inplace(input, ew.where(input > int(threshold), input, int(value)),
                              inplace)
    return _maybe_inplace(input, _Threshold.apply(input, float(threshold), float(value)), inplace)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    return ewa.softplus(input, beta, threshold)


def softsign(input):
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    return input - input.tanh()


def logsigmoid(input):
    """log(sigmoid(x)), computed stably as -softplus(-x)."""
    return -ewa.softplus(-input)


def hardshrink(input, lambd=0.5):
    return ew.where(input.abs() > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(
            f"lambda must be greater or equal to 0, but found to be {lambd}."
        )
    return ew.where(input > lambd, input - lambd, ew.where(input < -lambd, input + lambd, 0.0))


def prelu(input, weight):
    """x if x > 0 else weight * x; ``weight`` has 1 or C (channel dim 1) elements."""
    if weight.numel() == 1:
        weight = weight.reshape(())  # the result keeps input's shape, 0-d included
    else:
        if input.ndim == 0 or weight.numel() != input.shape[min(1, input.ndim - 1)]:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {weight.numel()} and channel size = "
                f"{input.shape[1] if input.ndim > 1 else 1}."
            )
        if input.ndim >= 2:
            weight = weight.reshape(-1, *([1] * (input.ndim - 2)))
    return ew.where(input > 0, input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a random slope in [lower, upper) per element while training."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ...ops.creation import rand

    slope = rand(input.shape, device=input.device) * (upper - lower) + lower
    return _maybe_inplace(input, ew.where(input >= 0, input, input * slope), inplace)


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % input.ndim} is size "
            f"{input.shape[dim]}"
        )
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (one fused kernel)."""
    # NOTE: one frame more than torch.softmax's, so the implicit-dim warning names our caller
    return _softmax_ops.softmax(input, dim, dtype, _stacklevel=_stacklevel + 1)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably (one fused kernel)."""
    return _softmax_ops.log_softmax(input, dim, dtype, _stacklevel=_stacklevel + 1)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_ops.implicit_dim("softmin", input.ndim, _stacklevel)
    return softmax(-input, dim, dtype=dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Samples from the Gumbel-softmax distribution (straight-through when ``hard``)."""
    from ...ops.creation import rand

    u = rand(logits.shape, device=logits.device)
    gumbels = -(-(u + eps).log() + eps).log()
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = (y_soft.detach() * 0).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft

