"""Dim-wise gather and scatter: index_select, gather, take_along_dim, scatter, scatter_add,
scatter_reduce, index_add, index_copy, index_fill, one_hot.

Each is one index_map kernel (index_kernels.py) with an ``IndexPlan``; forward and backward
are the two primitives of indexing.py (``IndexBackward0`` reads through a plan,
``IndexPutBackward0`` writes or adds through it), under PyTorch's grad_fn names. In-place
forms write straight into self when no gradient is recorded, else they go through the
differentiable out-of-place form.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import check_same_device
from ..tensor import Tensor, tensor_method
from . import index_kernels as ik
from . import value_range
from .copy import _check_inplace, _check_scalar_for, apply_inplace
from .creation import ones, ones_like, zeros, zeros_like
from .elementwise import where
from .indexing import INDEX_DTYPES, IndexBackward0, IndexPutBackward0
from .pointwise import broadcast_shapes


class IndexSelectBackward0(IndexBackward0):
    pass


class GatherBackward0(IndexBackward0):
    pass


class ScatterBackward0(IndexPutBackward0):
    pass


class ScatterAddBackward0(IndexPutBackward0):
    pass


class IndexAddBackward0(IndexPutBackward0):
    pass


class IndexCopyBackward0(IndexPutBackward0):
    pass


class IndexFillBackward0(IndexPutBackward0):
    pass


# ---- argument checks and plans -----------------------------------------------------------


def _check_index(op, index, dtypes="int32 or int64"):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype not in INDEX_DTYPES:
        raise RuntimeError(f"{op}(): Expected dtype {dtypes} for index")


def _dim_plan(op, input, dim, index):
    """Plan for index_select / index_add / index_copy / index_fill along ``dim``.

    Returns (plan, target): target is input, or its 1-D view when input is 0-d.
    """
    _check_index(op, index)
    check_same_device(op, (input, index))
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    d = input._wrap_dim(dim)
    target = input if input.ndim else input.reshape(1)
    if input.ndim == 0 and index.numel() > 1:
        raise RuntimeError(f"{op}(): Index to scalar can have only 1 value, got "
                           f"{index.numel()} value(s)")
    check = ik.bounds_check(f"{op}(): ", index, target.shape[d], d,
                            allow_negative=op.startswith("index_fill"))
    index = index.reshape(-1)
    shape = list(target.shape)
    shape[d] = index.shape[0]
    dim_map = [None if k == d else k for k in range(target.ndim)]
    return ik.IndexPlan(shape, dim_map, [ik.IndexTerm(index, d, d + 1, d, check=check)]), target


def _gather_plan(op, input, dim, index, src=None):
    """Plan for gather / scatter*: iteration over index's shape, index picks along ``dim``.

    Returns (plan, target): target is input, or its 1-D view when input is 0-d.
    """
    _check_index(op, index)
    check_same_device(op, (input, index, src))
    d = input._wrap_dim(dim)
    if index.ndim != input.ndim and not (input.ndim == 0 and index.numel() <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for k in range(input.ndim if index.numel() else 0):
        if (k != d and index.shape[k] > input.shape[k]) or (
                src is not None and index.shape[k] > src.shape[k]):
            tail = f" and to be smaller size than src {list(src.shape)}" if src is not None else ""
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(index.shape)} to be "
                f"smaller than self {list(input.shape)} apart from dimension {d}{tail}")
    target = input if input.ndim else input.reshape(1)
    check = ik.bounds_check(f"{op}(): ", index, target.shape[d], d, allow_negative=False)
    n = index.ndim
    dim_map = [None if k == d or input.ndim == 0 else k for k in range(n)]
    plan = ik.IndexPlan(index.shape, dim_map, [ik.IndexTerm(index, 0, n, d, check=check)])
    return plan, target


def _src_values(src, index):
    """The part of ``src`` that scatter reads: its leading ``index.shape`` block."""
    if tuple(src.shape) == tuple(index.shape):
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


def _check_same_dtype(op, self, src):
    if isinstance(src, Tensor) and src.dtype is not self.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")


# ---- gathers -----------------------------------------------------------------------------


@tensor_method()
def index_select(input, dim, index):
    """The slices of input along ``dim`` at ``index`` (a 1-D int tensor)."""
    if input.ndim == 0 and isinstance(index, Tensor) and index.numel() == 0:
        raise RuntimeError("index_select(): Index to scalar can have only 1 value, got 0 "
                           "value(s)")
    plan, target = _dim_plan("index_select", input, dim, index)
    out = IndexSelectBackward0.apply(target, plan)
    return out if input.ndim else out.reshape(())  # a 0-d input gives a 0-d result


@tensor_method()
def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` (for dim=0): values picked along dim."""
    if isinstance(index, Tensor) and index.numel() == 0:
        # PyTorch accepts any empty index (even a float one, of any rank): an empty result
        input._wrap_dim(dim)
        return input.reshape(-1)[:0].reshape(index.shape)
    plan, target = _gather_plan("gather", input, dim, index)
    return GatherBackward0.apply(target, plan)


@tensor_method()
def take_along_dim(input, indices, dim=None):
    """Values of input at ``indices`` along ``dim`` (both broadcast apart from dim); with a dim,
    negative indices count from the end, as in PyTorch."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise RuntimeError(
            f"torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} "
            f"dimensions for indices")
    d = input._wrap_dim(dim)
    a, b = list(input.shape), list(indices.shape)
    a[d] = b[d] = 1
    shape = list(broadcast_shapes(a, b))
    in_shape, ix_shape = list(shape), list(shape)
    in_shape[d], ix_shape[d] = input.shape[d], indices.shape[d]
    indices = _wrap_negative(indices, input.shape[d])
    return gather(input.expand(in_shape), d, indices.expand(ix_shape))


def _wrap_negative(indices, n):
    _check_index("take_along_dim", indices)
    return where(indices < 0, indices + n, indices)


# ---- scatters ------------------------------------------------------------------------------


def _inplace_put(self, target, plan, values, mode, functional):
    """Write into self (through ``target``, its view) directly, or through ``functional()``
    when autograd records."""
    _check_inplace(self)
    if is_grad_enabled() and (self.requires_grad or (
            isinstance(values, Tensor) and values.requires_grad)):
        return apply_inplace(self, functional())
    ik.scatter_into(target, plan, values, mode)
    self._storage.version += 1
    return self


def _scatter_mode(reduce):
    if reduce is None:
        return "store"
    modes = {"add": "add", "multiply": "mul"}
    if reduce not in modes:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    return modes[reduce]


def _scatter_args(op, input, dim, index, src, value):
    """(plan, target, values) of a scatter: src's leading block, or a scalar value."""
    if src is None and value is None:
        raise TypeError(f"{op}() missing 1 required argument: 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    plan, target = _gather_plan(op, input, dim, index, src)
    if src is not None:
        _check_same_dtype(op, input, src)
        return plan, target, _src_values(src, index)
    if isinstance(value, Tensor):
        value = value.item()
    return plan, target, _check_scalar_for(input.dtype, value)


@tensor_method()
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with ``src`` (or the scalar ``value``) written at ``index`` along dim.

    ``reduce='add'|'multiply'`` combines instead (repeated indices accumulate).
    """
    plan, target, values = _scatter_args("scatter", input, dim, index, src, value)
    mode = _scatter_mode(reduce)
    if mode == "mul":  # not differentiable, as in PyTorch
        return ik.scatter_into(target.clone(), plan, values, "mul").reshape(input.shape)
    cls = ScatterBackward0 if mode == "store" else ScatterAddBackward0
    return cls.apply(target, values, plan, mode).reshape(input.shape)


@tensor_method()
def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    plan, target, values = _scatter_args("scatter_", self, dim, index, src, value)
    return _inplace_put(self, target, plan, values, _scatter_mode(reduce),
                        lambda: scatter(self, dim, index, src, value, reduce=reduce))


@tensor_method()
def scatter_add(input, dim, index, src):
    """A copy of input with ``src`` added at ``index`` along dim (repeats accumulate)."""
    plan, target, values = _scatter_args("scatter_add", input, dim, index, src, None)
    return ScatterAddBackward0.apply(target, values, plan, "add").reshape(input.shape)


@tensor_method()
def scatter_add_(self, dim, index, src):
    plan, target, values = _scatter_args("scatter_add_", self, dim, index, src, None)
    return _inplace_put(self, target, plan, values, "add",
                        lambda: scatter_add(self, dim, index, src))


def _reduce_identity(reduce, dtype):
    """The value a reduction starts from (written first when include_self=False)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.is_floating_point:
        lo, hi = float("-inf"), float("inf")
    elif dtype is dt.bool_:
        lo, hi = False, True
    elif dtype is dt.uint8:
        lo, hi = 0, 255
    else:
        lo, hi = dt.INT32_MIN, dt.INT32_MAX
    return lo if reduce == "amax" else hi


_REDUCE_MODES = {"sum": "add", "mean": "add", "prod": "mul", "amax": "amax", "amin": "amin"}


def _scatter_reduce_raw(input, target, plan, src, reduce, include_self):
    out = target.clone()
    if not include_self:
        ik.scatter_into(out, plan, _reduce_identity(reduce, input.dtype), "store")
    ik.scatter_into(out, plan, src, _REDUCE_MODES[reduce])
    if reduce == "mean":
        count = (ones if include_self else zeros)(out.shape, device=input.device)
        ik.scatter_into(count, plan, 1.0, "add")
        out = out / count.clamp(min=1.0)
        if not input.dtype.is_floating_point:
            out = out.floor().to(input.dtype)
    return out.reshape(input.shape)


class ScatterReduceBackward0(Function):
    @staticmethod
    def forward(ctx, input, dim, index, src, reduce, include_self):
        plan, target = _gather_plan("scatter_reduce", input, dim, index, src)
        out = _scatter_reduce_raw(input, target, plan, src, reduce, include_self)
        ctx.args = (dim, reduce, include_self)
        ctx.save_for_backward(input, src, out, index)
        return out

    @staticmethod
    def backward(ctx, g):
        input, src, out, index = ctx.saved_tensors
        dim, reduce, include_self = ctx.args
        input, src, out, index = input.detach(), src.detach(), out.detach(), index.detach()
        if reduce == "sum":
            g_in, g_src = g, g.gather(dim, index)
        elif reduce == "mean":
            n = (ones_like(g) if include_self else zeros_like(g)).scatter_add(
                dim, index, ones_like(src))
            g_in = g / n.masked_fill(n == 0, 1.0)
            g_src = g_in.gather(dim, index)
        elif reduce in ("amax", "amin"):
            value = out.gather(dim, index)
            self_is = (input == out).to(g.dtype)
            if not include_self:
                self_is = self_is.scatter(dim, index, 0.0)
            src_is = (src == value).to(g.dtype)
            n = self_is.scatter_add(dim, index, src_is)
            share = g / n.masked_fill(n == 0, 1.0)  # ties share the gradient evenly
            g_in = self_is * share
            g_src = src_is * share.gather(dim, index)
        else:  # prod, with zeros handled as in PyTorch's scatter_reduce_backward
            masked_in = input.masked_fill(input == 0, 1.0)
            g_in = g * masked_in.scatter_reduce(dim, index, src, "prod",
                                                include_self=include_self) / masked_in
            src_zero = src == 0
            zeros_per = zeros_like(input).scatter_add(dim, index, src_zero.to(g.dtype))
            single = src_zero & (zeros_per.gather(dim, index) == 1)
            masked_src_result = input.scatter_reduce(dim, index, src.masked_fill(single, 1.0),
                                                     "prod", include_self=include_self)
            g_src = where(single, (g * masked_src_result).gather(dim, index),
                          (g * out).gather(dim, index) / src.masked_fill(src_zero, 1.0))
        if not include_self:
            g_in = g_in.scatter(dim, index, 0.0)
        return g_in, None, None, g_src, None, None


@tensor_method()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into a copy of input at ``index`` along dim.

    ``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin'; with ``include_self=False`` the
    values of input at scattered positions are left out of the reduction. Gradients follow
    PyTorch (amax/amin: ties share evenly).
    """
    if reduce not in _REDUCE_MODES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    _check_same_dtype("scatter_reduce", input, src)
    plan, target = _gather_plan("scatter_reduce", input, dim, index, src)
    src = _src_values(src, index)
    if not (is_grad_enabled() and (input.requires_grad or src.requires_grad)):
        return _scatter_reduce_raw(input, target, plan, src, reduce, include_self)
    return ScatterReduceBackward0.apply(input, dim, index, src, reduce, include_self)


@tensor_method()
def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    # NOTE: the backward reads the old self, which the in-place write below replaces
    old = self.clone() if is_grad_enabled() and self.requires_grad else self
    return apply_inplace(self, scatter_reduce(old, dim, index, src, reduce,
                                              include_self=include_self))


# ---- index_add / index_copy / index_fill ---------------------------------------------------


def _index_source(op, input, plan, source):
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    _check_same_dtype(op, input, source)
    check_same_device(op, (input, source))
    if tuple(source.shape) == tuple(plan.shape):
        return source
    if input.ndim <= 1 and source.ndim <= 1 and source.numel() == ik.prod(plan.shape):
        return source.reshape(plan.shape)
    raise RuntimeError(
        f"{op}(): Source/destination tensor must have same slice shapes. Destination slice "
        f"shape: {list(plan.shape)} and source slice shape: {list(source.shape)}")


@tensor_method()
def index_add(input, dim, index, source, *, alpha=1):
    """A copy of input with ``alpha * source`` added at ``index`` along dim."""
    plan, target = _dim_plan("index_add", input, dim, index)
    source = _index_source("index_add", input, plan, source)
    if alpha != 1:
        source = source * alpha
    return IndexAddBackward0.apply(target, source, plan, "add").reshape(input.shape)


@tensor_method()
def index_add_(self, dim, index, source, *, alpha=1):
    plan, target = _dim_plan("index_add_", self, dim, index)
    values = _index_source("index_add_", self, plan, source)
    if alpha != 1:
        values = values * alpha
    return _inplace_put(self, target, plan, values, "add",
                        lambda: index_add(self, dim, index, source, alpha=alpha))


@tensor_method()
def index_copy(input, dim, index, source):
    """A copy of input with the slices at ``index`` along dim replaced by source's."""
    plan, target = _dim_plan("index_copy", input, dim, index)
    values = _index_source("index_copy", input, plan, source)
    return IndexCopyBackward0.apply(target, values, plan, "store").reshape(input.shape)


@tensor_method()
def index_copy_(self, dim, index, source):
    plan, target = _dim_plan("index_copy_", self, dim, index)
    values = _index_source("index_copy_", self, plan, source)
    return _inplace_put(self, target, plan, values, "store",
                        lambda: index_copy(self, dim, index, source))


def _fill_value(op, input, value):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value.ndim} dimension(s).")
        value = value.item()
    return _check_scalar_for(input.dtype, value)


@tensor_method()
def index_fill(input, dim, index, value):
    """A copy of input with the slices at ``index`` along dim set to ``value``."""
    if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
        # a 0-d value tensor gets the gradient of every filled element: where(mask, value, .)
        _fill_value("index_fill_", input, value)  # its checks
        mask = index_fill(zeros(input.shape, dtype=dt.bool_, device=input.device), dim, index,
                          True)
        return where(mask, value.to(input.dtype), index_fill(input, dim, index, 0))
    plan, target = _dim_plan("index_fill", input, dim, index)
    value = _fill_value("index_fill_", input, value)
    return IndexFillBackward0.apply(target, value, plan, "store").reshape(input.shape)


@tensor_method()
def index_fill_(self, dim, index, value):
    plan, target = _dim_plan("index_fill_", self, dim, index)
    value = _fill_value("index_fill_", self, value)
    return _inplace_put(self, target, plan, value, "store",
                        lambda: index_fill(self, dim, index, value))


# ---- one_hot -------------------------------------------------------------------------------


def one_hot(tensor, num_classes=-1):
    """``torch.nn.functional.one_hot``: int64 [*, num_classes] with a 1 at each class index.

    With num_classes=-1 the output's size depends on the values, so their range is read back
    (as PyTorch does) unless it is known (value_range.py); otherwise a class value out of
    range raises at once when known, else at the next host readback.
    """
    if not isinstance(tensor, Tensor) or tensor.dtype is not dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return Tensor._empty((*tensor.shape, num_classes), dt.int64, tensor.device)
    known = ik.index_range(tensor) if num_classes == -1 else value_range.exact(tensor)
    if num_classes == -1:
        num_classes = known[1] + 1
    if known is not None and known[0] < 0:
        raise RuntimeError("Class values must be non-negative.")
    if known is not None and known[1] >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = zeros((*tensor.shape, num_classes), dtype=dt.int64, device=tensor.device)
    check = ik.BoundsCheck(f"one_hot(): class value {{value}} is out of range for num_classes="
                           f"{num_classes} (class values must be non-negative and smaller than "
                           "num_classes)", allow_negative=False, error=RuntimeError)
    n = tensor.ndim
    plan = ik.IndexPlan(tensor.shape, range(n), [ik.IndexTerm(tensor, 0, n, n, check=check)])
    return value_range.note(ik.scatter_into(out, plan, 1, "store"), 0, 1)
