"""Activation functions (``F.relu``, ``F.leaky_relu``, ``F.elu``, ``F.mish``...).

The activations with a kernel of their own are rows of the elementwise table
(``wgtorch/ops/activation.py``: one fused kernel forward, backward rules in wgtorch ops, so
second-order gradients work); here they get PyTorch's ``inplace=`` flags. The rest are
one-liners on primitives.
"""

from ...ops import activation as act
from ...ops import softmax as _softmax_ops
from ...ops.copy import apply_inplace
from ...ops.creation import rand
from ...ops.elementwise import where
from ...ops.elementwise_args import gelu, softplus  # noqa: F401  (F.gelu, F.softplus)


def _maybe_inplace(input, result, inplace):
    return apply_inplace(input, result) if inplace else result


def relu(input, inplace=False):
    """max(x, 0)."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(input, act.leaky_relu(input, negative_slope), inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _maybe_inplace(input, act.elu(input, alpha), inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    return _maybe_inplace(input, act.celu(input, alpha), inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _maybe_inplace(input, act.selu(input), inplace)


def selu_(input):
    return selu(input, inplace=True)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _maybe_inplace(input, input.silu(), inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, act.mish(input), inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(input, act.hardswish(input), inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _maybe_inplace(input, act.hardsigmoid(input), inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]."""
    return _maybe_inplace(input, act.hardtanh(input, min_val, max_val), inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def threshold(input, threshold, value, inplace=False):
    """value where x <= threshold, else x."""
    return _maybe_inplace(input, act.threshold(input, threshold, value), inplace)


def threshold_(input, threshold, value):
    return apply_inplace(input, act.threshold(input, threshold, value))


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softsign(input):
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    return input - input.tanh()


logsigmoid = act.logsigmoid
hardshrink = act.hardshrink
softshrink = act.softshrink


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
    return where(input > 0, input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a random slope in [lower, upper) per element while training."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slope = rand(input.shape, device=input.device) * (upper - lower) + lower
    return _maybe_inplace(input, where(input >= 0, input, input * slope), inplace)


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
    u = rand(logits.shape, device=logits.device)
    gumbels = -(-(u + eps).log() + eps).log()
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = (y_soft.detach() * 0).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
