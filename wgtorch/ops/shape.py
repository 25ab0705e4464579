"""Shape and combination ops: cat/stack (+ h/v/d/column_stack), repeat, tile,
repeat_interleave, flip, roll, meshgrid, broadcast_tensors, Tensor.unfold.
(tril/triu and the diagonal ops are in diagonals.py.)

Each is one kernel launch per output or a view. cat is one block copy per input into its
slice of the output (``block_copy.wgsl``); flip and roll go through the index_map kernel
(flip with negative strides, roll with a cached host-made index per rolled dim).
repeat/tile/repeat_interleave are composites of views and one copy, so their gradients come
from those primitives.
"""

import numpy as np

from .. import dtypes as dt
from ..autograd.function import Function
from ..device import check_same_device
from ..tensor import Size, Tensor, prod, tensor_method
from . import index_kernels as ik
from .copy import copy_, copy_into
from .creation import arange, zeros
from .indexing import IndexBackward0, IndexPutBackward0
from .pointwise import broadcast_shapes as _broadcast_shapes
from .views import basic_view

# ---- host-made index tensors ------------------------------------------------------------

_HOST_INDEX = {}


def host_index(key, make, device):
    """An int64 tensor of index values ``make(*key[1:])`` made on the host, cached by ``key``.

    roll, pad and unfold reuse the same few index vectors step after step.
    """
    full_key = (key, device)
    t = _HOST_INDEX.get(full_key)
    if t is None:
        if len(_HOST_INDEX) >= 256:
            _HOST_INDEX.clear()
        values = np.asarray(make(*key[1:]), np.int64)
        t = _HOST_INDEX[full_key] = Tensor._from_numpy(values, dt.int64, device)
    return t


# ---- cat / stack ----------------------------------------------------------------------------


def _tensor_list(op, tensors):
    tensors = list(tensors)
    if not tensors:  # NOTE: PyTorch's cat raises ValueError here, its stack RuntimeError
        error = ValueError if op == "torch.cat" else RuntimeError
        raise error(f"{op}(): expected a non-empty list of Tensors")
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not "
                            f"{type(t).__name__}")
    return tensors


class CatBackward0(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        check_same_device("cat", tensors)
        skip = [t.ndim == 1 and t.shape[0] == 0 for t in tensors]  # legacy: ignored
        used = [t for t, s in zip(tensors, skip) if not s]
        ref = used[0] if used else tensors[0]
        d = ref._wrap_dim(dim)
        for k, t in enumerate(tensors):
            if skip[k]:
                continue
            if t.ndim != ref.ndim:
                raise RuntimeError(f"Tensors must have same number of dimensions: got "
                                   f"{ref.ndim} and {t.ndim}")
            for j in range(ref.ndim):
                if j != d and t.shape[j] != ref.shape[j]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {d}. Expected size "
                        f"{ref.shape[j]} but got size {t.shape[j]} for tensor number {k} in the "
                        f"list.")
        shape = list(ref.shape)
        if used:
            shape[d] = sum(t.shape[d] for t in used)
        out = Tensor._empty(shape, dt.result_type(*tensors), ref.device)
        ctx.dim, ctx.spans, start = d, [], 0
        for t, s in zip(tensors, skip):
            if s or not t.shape[d]:
                ctx.spans.append(None)
                continue
            if t.dtype is out.dtype and t.is_contiguous() and t._storage is not out._storage:
                inner = prod(shape[d + 1:])  # one [outer, n * inner] block per input
                ik.block_copy(t, out, prod(shape[:d]), t.shape[d] * inner, shape[d] * inner,
                              start * inner)
            else:
                key = [slice(None)] * len(shape)
                key[d] = slice(start, start + t.shape[d])
                copy_into(basic_view(out, tuple(key)), t)
            ctx.spans.append((start, t.shape[d]))
            start += t.shape[d]
        return out

    @staticmethod
    def backward(ctx, g):
        grads = [None if span is None else g.narrow(ctx.dim, *span) for span in ctx.spans]
        return (None, *grads)


def cat(tensors, dim=0, *, out=None):
    """Concatenate tensors along an existing ``dim`` (one copy kernel per input).

    Example: ``wgtorch.cat([a, b], dim=1)``.
    """
    tensors = _tensor_list("torch.cat", tensors)
    if any(t.ndim == 0 for t in tensors):
        k = next(k for k, t in enumerate(tensors) if t.ndim == 0)
        raise RuntimeError(f"zero-dimensional tensor (at position {k}) cannot be concatenated")
    result = CatBackward0.apply(dim, *tensors)
    return _to_out(result, out)


concat = concatenate = cat


def _to_out(result, out):
    if out is None:
        return result
    if tuple(out.shape) != tuple(result.shape):
        out.data = Tensor._empty(result.shape, out.dtype, out.device)
    return copy_(out, result)


def stack(tensors, dim=0, *, out=None):
    """Join tensors of one shape along a new ``dim``."""
    tensors = _tensor_list("stack", tensors)
    for k, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                f"entry 0 and {list(t.shape)} at entry {k}")
    d = tensors[0]._wrap_dim(dim, tensors[0].ndim + 1)
    return _to_out(cat([t.unsqueeze(d) for t in tensors], d), out)


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim (one tensor in, one out; else a tuple)."""
    return _atleast(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    """Each tensor viewed with at least 2 dims (a 1-D tensor becomes a row)."""
    return _atleast(tensors, lambda t: t.reshape(1, -1) if t.ndim < 2 else t)


def atleast_3d(*tensors):
    """Each tensor viewed with at least 3 dims: 1-D (n) -> (1, n, 1), 2-D (m, n) -> (m, n, 1)."""
    def lift(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t

    return _atleast(tensors, lift)


def _atleast(tensors, lift):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(lift(t) for t in tensors[0])
    out = tuple(lift(t) for t in tensors)
    return out[0] if len(out) == 1 else out


def hstack(tensors, *, out=None):
    """Concatenate column-wise (dim 1; dim 0 for 1-D tensors)."""
    tensors = atleast_1d(*_tensor_list("hstack", tensors))
    tensors = tensors if isinstance(tensors, tuple) else (tensors,)
    return _to_out(cat(tensors, 0 if tensors[0].ndim == 1 else 1), out)


def vstack(tensors, *, out=None):
    """Concatenate row-wise (1-D tensors become rows)."""
    tensors = atleast_2d(*_tensor_list("vstack", tensors))
    return _to_out(cat(tensors if isinstance(tensors, tuple) else (tensors,), 0), out)


row_stack = vstack


def dstack(tensors, *, out=None):
    """Concatenate depth-wise (along dim 2, after atleast_3d)."""
    tensors = atleast_3d(*_tensor_list("dstack", tensors))
    return _to_out(cat(tensors if isinstance(tensors, tuple) else (tensors,), 2), out)


def column_stack(tensors, *, out=None):
    """Stack 0-d/1-D tensors as columns, concatenate 2-D ones along dim 1."""
    tensors = _tensor_list("column_stack", tensors)
    cols = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors]
    return _to_out(cat(cols, 1), out)


# ---- repeat / tile / repeat_interleave ------------------------------------------------------


@tensor_method()
def repeat(self, *sizes):
    """Tile self ``sizes[d]`` times along each dim (one copy kernel)."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    inter = [v for n in shape for v in (1, n)]
    expanded = [v for r, n in zip(sizes, shape) for v in (r, n)]
    tiled = self.reshape(inter).expand(expanded).contiguous()  # (r0, n0, r1, n1, ...)
    return tiled.reshape([r * n for r, n in zip(sizes, shape)])


@tensor_method()
def tile(input, dims):
    """``repeat`` with ``dims`` padded by leading 1s to the tensor's rank."""
    dims = tuple(dims)
    return input.repeat((1,) * (input.ndim - len(dims)) + dims)


@tensor_method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (an int, or a tensor of per-element counts).

    With a tensor of counts the counts are read back to the host (the output's size depends
    on them). ``repeat_interleave(counts)`` alone gives ``arange(len).repeat_interleave``.
    """
    if repeats is None:
        counts = input
        return arange(counts.shape[0], device=counts.device).repeat_interleave(counts)
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = input._wrap_dim(dim)
    n = input.shape[d] if input.ndim else 1
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.item())
    if isinstance(repeats, int):
        if repeats < 0:
            raise RuntimeError("repeats can not be negative")
        shape = list(input.shape)
        expanded = shape[:d + 1] + [repeats] + shape[d + 1:]
        return input.unsqueeze(d + 1).expand(expanded).reshape(
            shape[:d] + [n * repeats] + shape[d + 1:])
    if repeats.ndim != 1 or repeats.dtype not in (dt.int32, dt.int64):
        raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim int tensor")
    if repeats.shape[0] != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {repeats.shape[0]} and input.size({d}) = {n}")
    counts = repeats.numpy()
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    index = Tensor._from_numpy(np.repeat(np.arange(n), counts), dt.int64, input.device)
    return input.index_select(d, index)


# ---- flip / roll --------------------------------------------------------------------------


def _dims_arg(op, input, dims):
    dims = [dims] if isinstance(dims, int) else list(dims)
    dims = [input._wrap_dim(d) for d in dims]
    for d in dims:
        if dims.count(d) > 1:
            raise RuntimeError(f"dims has duplicates, original flip dims size={len(dims)}, but "
                               f"unique flip dims size={len(set(dims))}" if op == "flip" else
                               f"{op}: dim {d} appears multiple times in the list of dims")
    return dims


class FlipBackward0(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        strides = [-s if d in dims else s for d, s in enumerate(x._stride)]
        base = x._offset + sum((x.shape[d] - 1) * x._stride[d] for d in dims if x.shape[d])
        plan = ik.IndexPlan(x.shape, range(x.ndim), [])
        return ik.gather(x, plan, strides, base)

    @staticmethod
    def backward(ctx, g):
        return FlipBackward0.apply(g, ctx.dims), None


@tensor_method()
def flip(input, dims):
    """Reverse the order of elements along ``dims`` (a copy, as in PyTorch)."""
    return FlipBackward0.apply(input, _dims_arg("flip", input, dims))


@tensor_method()
def fliplr(input):
    """Flip dim 1 (left/right)."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


@tensor_method()
def flipud(input):
    """Flip dim 0 (up/down)."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


class RollBackward0(IndexBackward0):
    pass


@tensor_method()
def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` circularly (one gather kernel for all dims)."""
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    dims = [input._wrap_dim(d) for d in dims]
    terms, moved = [], set()
    for s, d in zip(shifts, dims):
        n = input.shape[d]
        if n == 0 or s % n == 0 or d in moved:
            continue
        moved.add(d)
        s = int(s) % n
        index = host_index(("roll", n, s), lambda n, s: (np.arange(n) - s) % n, input.device)
        terms.append(ik.IndexTerm(index, d, d + 1, d))
    if not terms:
        return input.clone()
    if len(terms) > ik.MAX_TERMS:
        first = roll(input, shifts[:ik.MAX_TERMS], dims[:ik.MAX_TERMS])
        return roll(first, shifts[ik.MAX_TERMS:], dims[ik.MAX_TERMS:])
    dim_map = [None if d in moved else d for d in range(input.ndim)]
    return RollBackward0.apply(input, ik.IndexPlan(input.shape, dim_map, terms))


# ---- broadcasting and grids ---------------------------------------------------------------


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (RuntimeError when they do not)."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    return Size(_broadcast_shapes(*shapes))


def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = _broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids (expanded views) from 1-D tensors; ``indexing='xy'`` swaps the first
    two output dims, as numpy does."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    flat = [t.reshape(-1) for t in tensors]
    order = list(range(len(flat)))
    if indexing == "xy" and len(flat) >= 2:
        order[0], order[1] = 1, 0
    shape = [flat[k].shape[0] for k in order]
    grids = []
    for k, t in enumerate(flat):
        view = [1] * len(flat)
        view[order.index(k)] = -1
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)


# ---- unfold (sliding windows as a view) ---------------------------------------------------


class UnfoldBackward0(Function):
    """Windows of ``size`` every ``step`` along ``dim``, as a view (the last dim walks a
    window); windows may overlap, so the gradient is added back through an index plan."""

    @staticmethod
    def forward(ctx, x, dim, size, step):
        n = x.shape[dim] if x.ndim else 1
        count = (n - size) // step + 1
        ctx.args, ctx.shape = (dim, size, step, count), x.shape
        if x.ndim == 0:
            return x._view_of((size,), (0,), x._offset)
        shape = list(x.shape)
        stride = list(x._stride)
        shape[dim], stride[dim] = count, x._stride[dim] * step
        return x._view_of(tuple(shape) + (size,), tuple(stride) + (x._stride[dim],), x._offset)

    @staticmethod
    def backward(ctx, g):
        dim, size, step, count = ctx.args
        if not ctx.shape:
            return g.sum().reshape(()), None, None, None
        ndim = len(ctx.shape)
        starts = host_index(("unfold_starts", count, step), lambda n, k: np.arange(n) * k,
                            g.device)
        within = host_index(("unfold_within", size), np.arange, g.device)
        dim_map = [None if k == dim else k for k in range(ndim)] + [None]
        plan = ik.IndexPlan(g.shape, dim_map, [ik.IndexTerm(starts, dim, dim + 1, dim),
                                               ik.IndexTerm(within, ndim, ndim + 1, dim)])
        base = zeros(ctx.shape, dtype=g.dtype, device=g.device)
        return IndexPutBackward0.apply(base, g, plan, "add"), None, None, None


@tensor_method()
def unfold(self, dimension, size, step):
    """A view of all windows of ``size`` elements every ``step`` along ``dimension``."""
    d = self._wrap_dim(dimension)
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    return UnfoldBackward0.apply(self, d, int(size), int(step))


__all__ = [
    "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cat",
    "column_stack", "concat", "concatenate", "dstack", "flip", "fliplr", "flipud", "hstack",
    "meshgrid", "repeat_interleave", "roll", "row_stack", "stack", "tile", "vstack",
]
