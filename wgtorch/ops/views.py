"""View ops: new shape/strides/offset over the same storage, no kernel.

view/reshape, permute/transpose, expand and basic indexing are the differentiable view
primitives; squeeze, unsqueeze, flatten, narrow, chunk, split, unbind... are built on them.
"""

import numbers

import numpy as np

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import MAX_NUMEL, Tensor, contiguous_strides, prod, tensor_method
from .copy import copy_into
from .pointwise import broadcast_strides
from .reduce import sum_to

# ---- shape arithmetic -------------------------------------------------------------------


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def infer_shape(shape, numel, op="view"):
    """Resolve one -1 in ``shape``; RuntimeError when it cannot hold ``numel`` elements."""
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[shape.index(-1)] = numel // known
    if any(s < 0 for s in shape) or prod(shape) != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def view_strides(old_shape, old_stride, new_shape):
    """Strides for viewing (old_shape, old_stride) as new_shape, or None if impossible."""
    if prod(old_shape) == 0:
        return contiguous_strides(new_shape)
    old = [(n, s) for n, s in zip(old_shape, old_stride) if n != 1]
    new_stride = [0] * len(new_shape)
    oi, ni = 0, 0
    while ni < len(new_shape):
        if new_shape[ni] == 1:
            new_stride[ni] = 1
            ni += 1
            continue
        if oi >= len(old):
            return None
        # take a chunk of old dims that is contiguous, matching a chunk of new dims
        chunk_n, chunk_st = old[oi][0], old[oi][1]
        oi += 1
        while oi < len(old) and old[oi - 1][1] == old[oi][0] * old[oi][1]:
            chunk_n *= old[oi][0]
            chunk_st = old[oi][1]
            oi += 1
        acc = chunk_n
        group = []
        while ni < len(new_shape) and acc > 1:
            if new_shape[ni] != 1:
                if acc % new_shape[ni]:
                    return None
                acc //= new_shape[ni]
            group.append(ni)
            ni += 1
        if acc != 1:
            return None
        st = chunk_st
        for k in reversed(group):
            new_stride[k] = st
            st *= new_shape[k]
    if oi != len(old):
        return None
    return tuple(new_stride)


# ---- primitives ------------------------------------------------------------------------


class ViewBackward0(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        strides = view_strides(x.shape, x._stride, shape)
        if strides is None:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            )
        return x._view_of(shape, strides, x._offset)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class PermuteBackward0(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x._view_of(tuple(x.shape[d] for d in dims), tuple(x._stride[d] for d in dims),
                          x._offset)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for k, d in enumerate(ctx.dims):
            inverse[d] = k
        return g.permute(*inverse), None


class ExpandBackward0(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x._view_of(shape, tuple(broadcast_strides(x, shape)), x._offset)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shape), None


class SliceScatterBackward0(Function):
    """zeros(in_shape) with ``g`` written into the region ``plan`` selects (slicing's backward)."""

    @staticmethod
    def forward(ctx, g, in_shape, plan):
        ctx.plan = plan
        out = g.new_zeros(in_shape)
        copy_into(out._view_of(*_basic_geometry(out, plan)), g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return SliceBackward0.apply(gg, ctx.plan), None, None


# ---- basic indexing --------------------------------------------------------------------


def _expand_key(x, key):
    """Normalise an index to a list of int / slice / None over all dims of ``x``."""
    if not isinstance(key, tuple):
        key = (key,)
    n_ellipsis = sum(k is Ellipsis for k in key)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > x.ndim:
        raise IndexError(
            f"too many indices for tensor of dimension {x.ndim}"
        )
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (x.ndim - used))
        else:
            out.append(k)
    if not n_ellipsis:
        out.extend([slice(None)] * (x.ndim - used))
    return out


def is_basic_index(key):
    items = key if isinstance(key, tuple) else (key,)
    return all(
        k is None or k is Ellipsis or isinstance(k, slice)
        or (isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)))
        or (hasattr(k, "__index__") and not isinstance(k, (Tensor, list, tuple, bool))
            and not hasattr(k, "shape"))
        for k in items
    )


def _basic_geometry(x, plan):
    shape, stride, offset, dim = [], [], x._offset, 0
    for k in plan:
        if k is None:
            shape.append(1)
            stride.append(0)
            continue
        n, st = x.shape[dim], x._stride[dim]
        if isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, _ = slice(k.start, k.stop, step).indices(n)
            length = max(0, -(-(stop - start) // step))
            shape.append(length)
            stride.append(st * step)
            if length:
                offset += start * st
        else:
            i = int(k)
            if not -n <= i < n:
                raise IndexError(
                    f"index {i} is out of bounds for dimension {dim} with size {n}"
                )
            offset += (i % n) * st
        dim += 1
    return tuple(shape), tuple(stride), offset


class SliceBackward0(Function):
    @staticmethod
    def forward(ctx, x, plan):
        ctx.in_shape, ctx.plan = x.shape, plan
        return x._view_of(*_basic_geometry(x, plan))

    @staticmethod
    def backward(ctx, g):
        return SliceScatterBackward0.apply(g, ctx.in_shape, ctx.plan), None


def basic_getitem(x, key):
    return SliceBackward0.apply(x, tuple(_expand_key(x, key)))


def basic_view(x, key):
    """The view ``x[key]`` for a basic key, without recording autograd."""
    return x._view_of(*_basic_geometry(x, _expand_key(x, key)))


# ---- public view ops -------------------------------------------------------------------


@tensor_method()
def view(self, *shape):
    """A view with a new shape (one dim may be -1); the data is not copied."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        return _view_dtype(self, shape[0])
    shape = infer_shape(_shape_arg(shape), self.numel())
    if shape == tuple(self.shape):
        return ViewBackward0.apply(self, shape) if self.requires_grad else self._view_of(
            shape, self._stride, self._offset)
    return ViewBackward0.apply(self, shape)


# dtypes whose 32-bit storage words can be reinterpreted as each other (see dtypes.py)
_BITCASTABLE = {("float32", "int32"), ("int32", "float32"), ("bool", "uint8"), ("uint8", "bool")}


def _view_dtype(self, dtype):
    """``view(dtype)``: the same storage words read as another dtype of the same size."""
    dtype = dt.as_dtype(dtype)
    if dtype is self.dtype:
        return self._view_of(self.shape, self._stride, self._offset)
    if (self.dtype.name, dtype.name) not in _BITCASTABLE:
        raise RuntimeError(
            f"wgtorch: view({dtype}) of a {self.dtype} tensor is not supported: every dtype is "
            "stored as one 32-bit word, so only float32<->int32 and bool<->uint8 can be "
            "reinterpreted; use .to(dtype) to convert values"
        )
    if self.requires_grad:
        raise RuntimeError("wgtorch: view(dtype) of a tensor that requires grad is not supported")
    out = self._view_of(self.shape, self._stride, self._offset)
    out.dtype = dtype
    return out


@tensor_method()
def reshape(input, *shape):
    """Like view, copying only when the strides do not allow a view."""
    shape = infer_shape(_shape_arg(shape), input.numel())
    if view_strides(input.shape, input._stride, shape) is None:
        input = input.contiguous()
    return ViewBackward0.apply(input, shape)


@tensor_method()
def view_as(self, other):
    return self.view(other.shape)


@tensor_method()
def reshape_as(self, other):
    return self.reshape(other.shape)


@tensor_method()
def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
        )
    dims = tuple(input._wrap_dim(d) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return PermuteBackward0.apply(input, dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    dims = list(range(input.ndim))
    a, b = input._wrap_dim(dim0), input._wrap_dim(dim1)
    if dims:  # a 0-d tensor's dims 0 and -1 are its (absent) only dim: nothing to swap
        dims[a], dims[b] = dims[b], dims[a]
    return PermuteBackward0.apply(input, tuple(dims))


swapaxes = swapdims = transpose


@tensor_method()
def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input if input.ndim < 2 else transpose(input, 0, 1)


def _reversed_dims(self):
    """``x.T``: all dims reversed."""
    return self.permute(*reversed(range(self.ndim)))


Tensor.T = property(_reversed_dims)


def _matrix_transpose(self):
    if self.ndim < 2:
        raise RuntimeError(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D "
            "tensor."
        )
    return self.transpose(-2, -1)


Tensor.mT = property(_matrix_transpose)
Tensor.H = property(_reversed_dims)  # no complex dtypes: the adjoint is the transpose
Tensor.mH = property(_matrix_transpose)


@tensor_method()
def movedim(input, source, destination):
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [input._wrap_dim(d) for d in src]
    dst = [input._wrap_dim(d) for d in dst]
    rest = [d for d in range(input.ndim) if d not in src]
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    order = [o if o is not None else next(it) for o in order]
    return input.permute(*order)


moveaxis = tensor_method("moveaxis")(movedim)


@tensor_method()
def expand(self, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError(
            f"expand({self.type()}{{{list(self.shape)}}}, size={list(sizes)}): the number of "
            f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions "
            f"in the tensor ({self.ndim})"
        )
    pad = len(sizes) - self.ndim
    shape = []
    for k, s in enumerate(sizes):
        cur = self.shape[k - pad] if k >= pad else 1
        if s == -1:
            if k < pad:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        if cur != 1 and cur != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {k}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(self.shape)}"
            )
        shape.append(s)
    shape = tuple(shape)
    if shape == tuple(self.shape):
        return self
    if prod(shape) > MAX_NUMEL:  # NOTE: a view costs nothing, but no kernel could index it
        raise RuntimeError(
            f"expand: the expanded size {list(shape)} has {prod(shape)} elements, more than "
            f"wgtorch's limit of {MAX_NUMEL} per tensor (kernels index elements with 32-bit "
            "integers)"
        )
    return ExpandBackward0.apply(self, shape)


@tensor_method()
def expand_as(self, other):
    return self.expand(other.shape)


@tensor_method()
def broadcast_to(input, shape):
    return input.expand(*shape)


@tensor_method()
def unsqueeze(input, dim):
    dim = input._wrap_dim(dim, input.ndim + 1)
    shape = list(input.shape)
    shape.insert(dim, 1)
    return input.reshape(shape)


@tensor_method()
def squeeze(input, dim=None):
    if dim is None:
        dims = [k for k, s in enumerate(input.shape) if s == 1]
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [input._wrap_dim(d) for d in dims] if input.ndim else []
    shape = [s for k, s in enumerate(input.shape) if not (k in dims and s == 1)]
    return input.reshape(shape) if len(shape) != input.ndim else input.view(input.shape)


@tensor_method()
def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return input.reshape(1)
    a, b = input._wrap_dim(start_dim), input._wrap_dim(end_dim)
    if a > b:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape[:a] + (prod(input.shape[a : b + 1]),) + input.shape[b + 1 :]
    return input.reshape(shape)


@tensor_method()
def ravel(input):
    return input.reshape(-1)


@tensor_method()
def unflatten(input, dim, sizes):
    d = input._wrap_dim(dim)
    sizes = infer_shape(tuple(sizes), input.shape[d])
    return input.reshape(input.shape[:d] + sizes + input.shape[d + 1 :])


@tensor_method()
def narrow(input, dim, start, length):
    d = input._wrap_dim(dim)
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({n})."
        )
    key = [slice(None)] * input.ndim
    key[d] = slice(start, start + length)
    return input[tuple(key)]


@tensor_method()
def select(input, dim, index):
    d = input._wrap_dim(dim)
    key = [slice(None)] * input.ndim
    key[d] = index
    return input[tuple(key)]


@tensor_method()
def split(tensor, split_size_or_sections, dim=0):
    d = tensor._wrap_dim(dim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got {n}")
        sizes = [min(step, n - s) for s in range(0, n, step)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(tensor.narrow(d, start, s))
        start += s
    return tuple(out)


@tensor_method()
def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input.shape[input._wrap_dim(dim)]
    size = -(-n // chunks) if n else 0
    return split(input, size, dim) if size else (input,)


@tensor_method()
def unbind(input, dim=0):
    d = input._wrap_dim(dim)
    return tuple(input.select(d, i) for i in range(input.shape[d]))


@tensor_method()
def tensor_split(input, indices_or_sections, dim=0):
    """Sections (an int or 0-d tensor: sizes differing by at most one) or split indices (a
    list or 1-D tensor: chunks ``input[i_k:i_k+1]`` along dim, Python slice rules)."""
    d = input._wrap_dim(dim)
    n = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        if indices_or_sections.dtype.is_floating_point or indices_or_sections.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {indices_or_sections.ndim} dims")
        as_list = indices_or_sections.tolist()
        indices_or_sections = as_list if indices_or_sections.ndim else int(as_list)
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        return split(input, sizes, d)
    bounds = [int(i) for i in indices_or_sections]
    lead = (slice(None),) * d
    return tuple(basic_getitem(input, (*lead, slice(start, stop)))
                 for start, stop in zip([0, *bounds], [*bounds, None]))
