"""Triangles and diagonals: tril/triu (one ``tri.wgsl`` dispatch), diagonal (a strided view),
diag_embed and diag (zeros plus one copy into the diagonal view).

diagonal and diag_embed are each other's gradient, so both are differentiable to any order.
"""

from ..autograd.function import Function
from ..tensor import tensor_method
from . import index_kernels as ik
from .copy import copy_into
from .creation import zeros

# ---- tril / triu ----------------------------------------------------------------------------


class TrilBackward0(Function):
    upper = False

    @classmethod
    def forward(cls, ctx, x, diagonal):
        ctx.diagonal = diagonal
        return ik.tri(x, diagonal, cls.upper)

    @classmethod
    def backward(cls, ctx, g):
        return cls.apply(g, ctx.diagonal), None


class TriuBackward0(TrilBackward0):
    upper = True


def _tri(op, cls, input, diagonal):
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
    return cls.apply(input, int(diagonal))


@tensor_method()
def tril(input, diagonal=0):
    """The lower triangle (col - row <= diagonal) of the last two dims; zeros elsewhere."""
    return _tri("tril", TrilBackward0, input, diagonal)


@tensor_method()
def triu(input, diagonal=0):
    """The upper triangle (col - row >= diagonal) of the last two dims; zeros elsewhere."""
    return _tri("triu", TriuBackward0, input, diagonal)


# ---- diagonals ------------------------------------------------------------------------------


def _diagonal_geometry(t, offset, dim1, dim2):
    """(shape, stride, offset) of the diagonal view of ``t``."""
    n1, n2 = t.shape[dim1], t.shape[dim2]
    s1, s2 = t._stride[dim1], t._stride[dim2]
    if offset >= 0:
        length, start = max(0, min(n1, n2 - offset)), offset * s2
    else:
        length, start = max(0, min(n1 + offset, n2)), -offset * s1
    keep = [k for k in range(t.ndim) if k not in (dim1, dim2)]
    shape = tuple(t.shape[k] for k in keep) + (length,)
    stride = tuple(t._stride[k] for k in keep) + (s1 + s2,)
    return shape, stride, t._offset + (start if length else 0)


class DiagonalBackward0(Function):
    """The diagonal view; its gradient is written into the diagonal of zeros."""

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.args, ctx.shape = (offset, dim1, dim2), x.shape
        return x._view_of(*_diagonal_geometry(x, offset, dim1, dim2))

    @staticmethod
    def backward(ctx, g):
        return DiagEmbedBackward0.apply(g, ctx.shape, *ctx.args), None, None, None


class DiagEmbedBackward0(Function):
    """zeros(shape) with ``x`` copied into its diagonal (offset, dim1, dim2)."""

    @staticmethod
    def forward(ctx, x, shape, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        out = zeros(shape, dtype=x.dtype, device=x.device)
        copy_into(out._view_of(*_diagonal_geometry(out, offset, dim1, dim2)), x)
        return out

    @staticmethod
    def backward(ctx, g):
        return DiagonalBackward0.apply(g, *ctx.args), None, None, None, None


def _diag_dims(input, offset, dim1, dim2, ndim):
    d1, d2 = input._wrap_dim(dim1, ndim), input._wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return int(offset), d1, d2


@tensor_method()
def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the diagonal over (dim1, dim2), appended as the last dim."""
    return DiagonalBackward0.apply(input, *_diag_dims(input, offset, dim1, dim2, input.ndim))


@tensor_method()
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Tensors whose (dim1, dim2) diagonals hold the last dim of input (zeros elsewhere)."""
    offset, d1, d2 = _diag_dims(input, offset, dim1, dim2, input.ndim + 1)
    n = input.shape[-1] + abs(offset) if input.ndim else 1 + abs(offset)
    rest = iter(input.shape[:-1])
    shape = [n if k in (d1, d2) else next(rest) for k in range(input.ndim + 1)]
    return DiagEmbedBackward0.apply(input.reshape(1) if input.ndim == 0 else input,
                                    tuple(shape), offset, d1, d2)


@tensor_method()
def diag(input, diagonal=0):
    """1-D -> a 2-D matrix with input on a diagonal; 2-D -> a copy of that diagonal."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return input.diagonal(diagonal).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
