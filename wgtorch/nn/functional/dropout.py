"""Dropout: masks drawn on the GPU by the Philox generator (``wgtorch.rand``).

One primitive does the work: ``x * (u >= p) / (1 - p)`` for uniforms ``u`` that broadcast
against ``x`` (same shape for ``dropout``, one per channel for ``dropout1d/2d/3d``). Its
backward applies the same mask to the gradient, through the same primitive, so it is
differentiable again.
"""

import warnings

from ...autograd.function import Function
from ...ops.copy import apply_inplace
from ...ops.creation import rand
from ...ops.pointwise import launch_map


class NativeDropoutBackward0(Function):
    @staticmethod
    def forward(ctx, x, u, p):
        ctx.save_for_backward(u)
        ctx.p = p
        scale = 1.0 / (1.0 - p)
        return launch_map("dropout", "select(0.0, {0} * {2}, {1} >= {3})", [x, u, scale, p],
                          ["f32"] * 4, x.dtype)

    @staticmethod
    def backward(ctx, g):
        (u,) = ctx.saved_tensors
        return NativeDropoutBackward0.apply(g, u, ctx.p), None, None


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        u = rand(mask_shape, device=input.device)
        out = NativeDropoutBackward0.apply(input, u, float(p))
    return apply_inplace(input, out) if inplace else out


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Example: ``F.dropout(x, 0.1, training=self.training)``.
    """
    return _dropout(input, p, training, inplace, tuple(input.shape))


def _feature_dropout(name, input, p, training, inplace, batched_ndim):
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(
            f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but received a "
            f"{input.ndim}D input. Note that {name} exists to provide channel-wise dropout on "
            "inputs with spatial dimensions."
        )
    lead = 2 if input.ndim == batched_ndim else 1  # (N, C) or (C,) get one draw each
    mask_shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _dropout(input, p, training, inplace, mask_shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    return _feature_dropout("dropout1d", input, p, training, inplace, 3)


def _deprecated_rank(name, input, spatial):
    warnings.warn(
        f"{name}: Received a {input.ndim}-D input to {name}, which is deprecated and will result "
        "in an error in a future release. To retain the behavior and silence this warning, "
        f"please use dropout instead. Note that {name} exists to provide channel-wise dropout "
        f"on inputs with {spatial} spatial dimensions, a channel dimension, and an optional "
        f"batch dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input. As in PyTorch 2.13, other ranks warn and
    draw one value per element of the first two dims (a 3-D input is read as (N, C, L))."""
    _check_p(p)
    if input.ndim not in (3, 4):
        _deprecated_rank("dropout2d", input, 2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _dropout(input, p, training, inplace, mask_shape)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input (other ranks warn, as in
    PyTorch 2.13, and are read as unbatched)."""
    _check_p(p)
    if input.ndim not in (4, 5):
        _deprecated_rank("dropout3d", input, 3)
    lead = 2 if input.ndim == 5 else 1
    mask_shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _dropout(input, p, training, inplace, mask_shape)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        alpha_p = -1.7580993408473766  # -SELU scale * alpha
        a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
        b = -a * alpha_p * p
        keep = (rand(tuple(input.shape), device=input.device) >= p).to(input.dtype)
        out = (input * keep + alpha_p * (1.0 - keep)) * a + b
    return apply_inplace(input, out) if inplace else out
