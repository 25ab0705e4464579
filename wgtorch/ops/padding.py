"""``pad`` (``torch.nn.functional.pad``): constant, reflect, replicate and circular modes.

Constant padding fills a new tensor and copies the input into its interior (negative pads
crop); its gradient is the same op with the pads negated. The other modes are one gather
through the index_map kernel, with a host-made (cached) source index per padded dim; their
gradient adds back through the same plan, so edge elements that several outputs read get
every contribution.
"""

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from . import index_kernels as ik
from .copy import copy_into
from .creation import full
from .indexing import IndexBackward0
from .shape import host_index
from .views import basic_view

MODES = ("constant", "reflect", "replicate", "circular")


def _pairs(input, pad):
    """[(dim, left, right)] from PyTorch's last-dim-first pad list."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    pairs = [(input.ndim - 1 - k, pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)]
    for d, left, right in pairs:
        if input.shape[d] + left + right < 0:
            raise RuntimeError(
                f"The input size {input.shape[d]}, plus negative padding {left} and {right} "
                f"resulted in a negative output size, which is invalid. Check dimension {d} of "
                f"your input.")
    return pairs


class ConstantPadNdBackward0(Function):
    @staticmethod
    def forward(ctx, x, pairs, value):
        ctx.pairs = pairs
        shape = list(x.shape)
        src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for d, left, right in pairs:
            n = x.shape[d]
            shape[d] = n + left + right
            src[d] = slice(max(-left, 0), n - max(-right, 0))
            dst[d] = slice(max(left, 0), max(left, 0) + max(n - max(-left, 0) - max(-right, 0),
                                                            0))
        out = full(shape, value, dtype=x.dtype, device=x.device)
        region = basic_view(out, tuple(dst))
        if region.numel():
            copy_into(region, basic_view(x, tuple(src)))
        return out

    @staticmethod
    def backward(ctx, g):
        negated = [(d, -left, -right) for d, left, right in ctx.pairs]
        return ConstantPadNdBackward0.apply(g, negated, 0), None, None


class PadBackward0(IndexBackward0):
    pass


def _source_index(mode, n, left, right):
    j = np.arange(n + left + right) - left
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j > n - 1, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    # circular, as PyTorch: negative pads crop first, then the cropped range wraps around
    start, stop = max(-left, 0), n - max(-right, 0)
    kept = max(stop - start, 1)
    return (np.arange(n + left + right) - max(left, 0)) % kept + start


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left_last, right_last, left_prev, ...)``.

    ``mode``: 'constant' (with ``value``, default 0; negative pads crop), 'reflect',
    'replicate' or 'circular' (the last 1 to 3 dims).

    Example: ``pad(x, (1, 1, 2, 0), value=-1.0)`` pads the last dim by 1 on each side and the
    one before by 2 at the start.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be Tensor, not {type(input).__name__}")
    if mode not in MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    pairs = _pairs(input, pad)
    if mode == "constant":
        return ConstantPadNdBackward0.apply(input, pairs, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pairs) > 3:
        raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are "
                                  "supported for now")
    shape, dim_map, terms = list(input.shape), list(range(input.ndim)), []
    for d, left, right in pairs:
        n = input.shape[d]
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {d} of input "
                f"{list(input.shape)}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0 and left + right > 0:
            raise RuntimeError(f"padding (replicate) of an empty dimension {d}")
        shape[d] = n + left + right
        dim_map[d] = None
        index = host_index(("pad", mode, n, left, right), _source_index, input.device)
        terms.append(ik.IndexTerm(index, d, d + 1, d))
    return PadBackward0.apply(input, ik.IndexPlan(shape, dim_map, terms))
