"""Advanced indexing: ``x[idx]``, ``x[mask]``, ``x[:, i, j]``, ``x[idx] = v``, index_put_,
nonzero/argwhere, masked_fill/masked_select, take.

Two primitives carry every gather/scatter through an ``IndexPlan`` (index_kernels.py):
``IndexBackward0`` reads x through the plan; its backward adds the gradient back through the
same plan (``IndexPutBackward0`` with mode 'add', so repeated indices accumulate), and
``IndexPutBackward0``'s backward reads through the plan again. gather, index_select, take,
roll, pad... are these primitives with other plans (subclasses give them PyTorch's
``grad_fn`` names).

Semantics follow PyTorch: integers in a key select first (basic indexing), then the index
tensors (int or bool; lists become tensors) broadcast together; their dims replace the
indexed dims in place when those are adjacent, else go first. A bool mask of k dims
indexes k dims through ``nonzero`` (which reads the count back, as PyTorch does).
Out-of-range indices raise IndexError and are never read through: indices from Python lists,
and tensors whose values are known on the host, raise at the op; any other index tensor is
checked by the kernel, which reports it at the next host readback (see value_range.py).
"""

import numpy as np

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import check_same_device
from ..tensor import Tensor, tensor_method
from . import index_kernels as ik
from . import value_range
from .copy import _check_inplace, _check_scalar_for, _record_inplace, apply_inplace
from .copy import copy_into, fill_value
from .elementwise import where
from .pointwise import broadcast_shapes
from .reduce import sum_to
from .views import basic_getitem, basic_view, is_basic_index

INDEX_DTYPES = (dt.int32, dt.int64)
_BAD_INDEX_DTYPE = "tensors used as indices must be long, int, byte or bool tensors"

# ---- primitives ----------------------------------------------------------------------------


class IndexBackward0(Function):
    """``x`` read through ``plan`` (a new tensor of ``plan.shape``)."""

    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan, ctx.shape = plan, x.shape
        ctx.save_for_backward(*plan.indices)
        return ik.gather(x, plan)

    @staticmethod
    def backward(ctx, g):
        _ = ctx.saved_tensors  # NOTE: raises if an index was modified in place since
        base = g.new_zeros(ctx.shape)
        return IndexPutBackward0.apply(base, g, ctx.plan, "add"), None


class IndexPutBackward0(Function):
    """A copy of ``base`` with ``values`` written (mode 'store') or added ('add') through
    ``plan``; ``values`` is a tensor broadcastable to ``plan.shape`` or a Python scalar."""

    @staticmethod
    def forward(ctx, base, values, plan, mode):
        ctx.plan, ctx.mode = plan, mode
        ctx.values_shape = values.shape if isinstance(values, Tensor) else None
        ctx.save_for_backward(*plan.indices)
        out = base.clone()
        return ik.scatter_into(out, plan, values, mode)

    @staticmethod
    def backward(ctx, g):
        _ = ctx.saved_tensors  # the version check of the saved indices
        plan, needs = ctx.plan, ctx.needs_input_grad
        g_base = g_values = None
        if needs[0]:
            g_base = g if ctx.mode == "add" else IndexPutBackward0.apply(g, 0.0, plan, "store")
        if len(needs) > 1 and needs[1]:
            g_values = sum_to(IndexBackward0.apply(g, plan), ctx.values_shape)
        return g_base, g_values, None, None


# ---- parsing a key ---------------------------------------------------------------------------


class _Adv:
    """One index tensor of a key: it indexes dim ``dim`` of the basic-indexed tensor."""

    __slots__ = ("checked", "dim", "index", "orig_dim")

    def __init__(self, index, dim, checked, orig_dim):
        self.index, self.dim, self.checked, self.orig_dim = index, dim, checked, orig_dim


def _as_index(item, device):
    """A key item as a Tensor (lists and numpy arrays are uploaded), plus host range."""
    if isinstance(item, Tensor):
        return item, None
    a = np.asarray(item)
    if a.dtype == object:
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                         "Variables are valid indices")
    if a.dtype.kind == "b":
        return Tensor._from_numpy(a, dt.bool_, device), None
    if a.size == 0:
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise IndexError(_BAD_INDEX_DTYPE)
    rng = (int(a.min()), int(a.max())) if a.size else (0, -1)
    return Tensor._from_numpy(np.clip(a, dt.INT32_MIN, dt.INT32_MAX), dt.int64, device), rng


def _is_tensor_like(item):
    return isinstance(item, (Tensor, list, tuple, range, np.ndarray))


def _scalar_index(t):
    """A 0-d integer tensor's value: known on the host when it was uploaded, else read back
    (PyTorch reads it too: such an index selects, giving a view)."""
    rng = value_range.exact(t)
    return rng[0] if rng is not None else t.item()


def _normalize_item(k):
    if isinstance(k, range):
        return list(k)
    if isinstance(k, np.bool_):
        return bool(k)
    if isinstance(k, Tensor) and k.ndim == 0 and k.dtype in INDEX_DTYPES:
        return _scalar_index(k)
    if isinstance(k, np.ndarray) and k.dtype == np.uint8:
        return k.astype(bool)  # PyTorch reads a byte array as a mask, as a uint8 tensor
    return k


def _normalize_key(key):
    """The index forms PyTorch accepts, as those ``_parse`` reads: a ``range`` is a list, a
    0-d integer tensor an int (so ``x[t]`` is a view, as PyTorch's select), a numpy bool
    scalar a bool, a numpy uint8 array a mask."""
    if isinstance(key, tuple):
        return tuple(_normalize_item(k) for k in key)
    return _normalize_item(key)


def _check_index_device(x, index):
    if index.device != x.device and index.device.type != "cpu":
        raise RuntimeError("indices should be either on cpu or on the same device as the "
                           f"indexed tensor ({x.device})")


def _parse(x, key):
    """Split a key into a basic key (for a view) and the index tensors that follow it."""
    if not isinstance(key, tuple):
        key = (key,)
    items, host_ranges = [], []
    for k in key:
        if isinstance(k, bool):
            items.append(Tensor._from_numpy(np.array(k), dt.bool_, x.device))
            host_ranges.append(None)
        elif _is_tensor_like(k):
            t, rng = _as_index(k, x.device)
            _check_index_device(x, t)
            if t.dtype is dt.uint8:
                t = t.bool()
            if t.dtype is not dt.bool_ and t.dtype not in INDEX_DTYPES:
                raise IndexError(_BAD_INDEX_DTYPE)
            items.append(t)
            host_ranges.append(rng)
        else:
            items.append(k)
            host_ranges.append(None)

    def consumed(k):
        if k is None or k is Ellipsis:
            return 0
        if isinstance(k, Tensor) and k.dtype is dt.bool_:
            return k.ndim
        return 1

    used = sum(consumed(k) for k in items)
    if used > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    if sum(k is Ellipsis for k in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    basic, adv, ydim, xdim = [], [], 0, 0
    for k, rng in zip(items, host_ranges):
        if k is Ellipsis:
            basic.extend([slice(None)] * (x.ndim - used))
            ydim += x.ndim - used
            xdim += x.ndim - used
        elif k is None:
            basic.append(None)
            ydim += 1
        elif isinstance(k, Tensor) and k.dtype is dt.bool_:
            if k.ndim == 0:  # a scalar mask adds a dim of size 1 and indexes it
                basic.append(None)
                adv.append(_Adv(k.reshape(1), ydim, True, xdim))
                ydim += 1
                continue
            basic.extend([slice(None)] * k.ndim)
            adv.append(_Adv(k, ydim, True, xdim))
            ydim += k.ndim
            xdim += k.ndim
        elif isinstance(k, Tensor):
            basic.append(slice(None))
            checked = rng is not None
            if checked:
                n = x.shape[xdim]
                bad = ik.out_of_bounds(rng[0], rng[1], n)
                if bad is not None:
                    raise IndexError(
                        f"index {bad} is out of bounds for dimension {xdim} with size {n}")
            adv.append(_Adv(k, ydim, checked, xdim))
            ydim += 1
            xdim += 1
        else:
            basic.append(k)
            if isinstance(k, slice):
                ydim += 1
            xdim += 1
    return tuple(basic), adv


def _check_mask_shape(y, mask, dim):
    for j, n in enumerate(mask.shape):
        if dim + j >= y.ndim or y.shape[dim + j] != n:
            raise IndexError(
                f"The shape of the mask {list(mask.shape)} at index {j} does not match the "
                f"shape of the indexed tensor {list(y.shape)} at index {dim + j}")


def _expand_masks(y, adv):
    """Bool masks become int index tensors (columns of nonzero)."""
    out = []
    for a in adv:
        if a.index.dtype is not dt.bool_:
            out.append(a)
            continue
        mask = a.index
        _check_mask_shape(y, mask, a.dim)
        coords = ik.nonzero_coords(mask)
        for j in range(mask.ndim):
            out.append(_Adv(coords[:, j], a.dim + j, True, a.orig_dim + j))
    return out


def _term(index, block_rank, pos, dim, check):
    """An IndexTerm for ``index`` broadcast over the block dims [pos, pos + block_rank)."""
    shape = (1,) * (block_rank - index.ndim) + tuple(index.shape)
    real = [k for k, n in enumerate(shape) if n != 1]
    a, b = (real[0], real[-1] + 1) if real else (0, 0)
    view = index.reshape(shape[a:b])
    return ik.IndexTerm(view, pos + a, pos + b, dim, check=check)


def _plan(y, adv):
    """The IndexPlan reading ``y`` through the (int) index tensors ``adv``."""
    checks = [None if a.checked else ik.bounds_check("", a.index, y.shape[a.dim], a.orig_dim)
              for a in adv]
    try:
        block = broadcast_shapes(*(a.index.shape for a in adv))
    except RuntimeError:
        shapes = ", ".join(str(list(a.index.shape)) for a in adv)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together "
                         f"with shapes {shapes}") from None
    dims = [a.dim for a in adv]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    pos = dims[0] if adjacent else 0
    rest = [d for d in range(y.ndim) if d not in dims]
    before = [d for d in rest if d < pos] if adjacent else []
    after = [d for d in rest if d not in before]
    shape = [y.shape[d] for d in before] + list(block) + [y.shape[d] for d in after]
    dim_map = before + [None] * len(block) + after
    terms = [_term(a.index, len(block), pos, a.dim, c) for a, c in zip(adv, checks)]
    return ik.IndexPlan(shape, dim_map, terms)


def _combine_terms(y, adv):
    """More index tensors than one kernel takes: fold them into one over flattened dims."""
    dims = [a.dim for a in adv]
    rest = [d for d in range(y.ndim) if d not in dims]
    moved = y.permute(*dims, *rest)
    sizes = [y.shape[d] for d in dims]
    flat = moved.reshape(-1, *moved.shape[len(dims):])
    linear = 0
    for a, n in zip(adv, sizes):
        linear = linear * n + a.index.remainder(n)
    out = flat[linear]
    nb = out.ndim - len(rest)
    if dims == list(range(dims[0], dims[0] + len(dims))):  # adjacent: block back in place
        lead = [d for d in rest if d < dims[0]]
        perm = list(range(nb, nb + len(lead))) + list(range(nb)) + list(
            range(nb + len(lead), out.ndim))
        out = out.permute(*perm)
    return out


def _index_key_parts(x, key, grad):
    """(y, adv): the basic-indexed view of x (with autograd when ``grad``) and the index
    tensors that apply to it (masks not yet expanded)."""
    basic, adv = _parse(x, key)
    if all(isinstance(k, slice) and k == slice(None) for k in basic):
        return x, adv
    return (basic_getitem(x, basic) if grad else basic_view(x, basic)), adv


def _legacy_tuple(key):
    """PyTorch (to 2.13) reads a short list holding sequences, slices, None or Ellipsis as a
    tuple: ``x[[[0, 1], [2, 3]]]`` is ``x[[0, 1], [2, 3]]``."""
    if isinstance(key, list) and len(key) < 32 and any(
            isinstance(k, (Tensor, list, tuple, range, slice, np.ndarray)) or k is None
            or k is Ellipsis for k in key):
        return tuple(key)
    return key


def advanced_getitem(x, key):
    """``x[key]`` for keys with index tensors, lists or masks (a gather kernel)."""
    key = _normalize_key(_legacy_tuple(key))
    if is_basic_index(key):
        return basic_getitem(x, key)
    y, adv = _index_key_parts(x, key, True)
    adv = _expand_masks(y, adv)
    if len(adv) > ik.MAX_TERMS:
        # NOTE: folding the indices into one (remainder) would hide a bad index from the
        # kernel's check, so this rare path reads their ranges back
        for a in adv:
            if not a.checked:
                lo, hi = ik.index_range(a.index)
                n = y.shape[a.dim]
                bad = ik.out_of_bounds(lo, hi, n)
                if bad is not None:
                    raise IndexError(f"index {bad} is out of bounds for dimension {a.orig_dim} "
                                     f"with size {n}")
        _plan(y, adv)  # broadcast checks
        return _combine_terms(y, adv)
    return IndexBackward0.apply(y, _plan(y, adv))


# ---- writing ----------------------------------------------------------------------------------


def _as_value(value, dtype, device):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float)):
        return _check_scalar_for(dtype, value)
    return Tensor._from_numpy(np.asarray(value), dtype, device)


def _put(x, key, value, mode, op):
    """``x[key] = value`` (mode 'store') or ``+=`` (mode 'add') in place, with autograd."""
    _check_inplace(x)
    value = _as_value(value, x.dtype, x.device)
    check_same_device(op, (x, value))
    grad = is_grad_enabled() and (x.requires_grad or (
        isinstance(value, Tensor) and value.requires_grad))
    y, adv = _index_key_parts(x, key, grad)
    if not adv:
        raise IndexError(f"{op}: no index tensors in the key")
    if _masked_write(y, adv, value, mode, grad):
        return x
    adv = _expand_masks(y, adv)
    if len(adv) > ik.MAX_TERMS:
        raise RuntimeError(f"wgtorch: {op} with more than {ik.MAX_TERMS} index tensors is not "
                           "supported")
    plan = _plan(y, adv)
    if isinstance(value, Tensor):
        try:
            shape = broadcast_shapes(value.shape, plan.shape)
        except RuntimeError:
            shape = None
        if shape != tuple(plan.shape):
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast "
                f"to indexing result of shape {list(plan.shape)}")
        if value.dtype is not x.dtype:
            value = value.to(x.dtype)
    if grad:
        apply_inplace(y, IndexPutBackward0.apply(y, value, plan, mode))
    else:
        ik.scatter_into(y, plan, value, mode)
        y._storage.version += 1
    return x


def _masked_write(y, adv, value, mode, grad):
    """``y[mask] = value`` as ``where`` (no nonzero, no readback) when value broadcasts over
    the dims after the mask. Returns False when the general path must run."""
    if len(adv) != 1 or adv[0].index.dtype is not dt.bool_ or mode != "store":
        return False
    mask, dim = adv[0].index, adv[0].dim
    trailing = tuple(y.shape[dim + mask.ndim:])
    if isinstance(value, Tensor):
        shape = list(value.shape)
        while shape and shape[0] == 1:
            shape.pop(0)
        if len(shape) > len(trailing) or broadcast_shapes(shape, trailing) != trailing:
            return False
        value = value.to(y.dtype)
    _check_mask_shape(y, mask, dim)
    new = where(mask.reshape(tuple(mask.shape) + (1,) * len(trailing)), value, y)
    if grad:
        apply_inplace(y, new)
    else:
        copy_into(y, new)
        y._storage.version += 1
    return True


def advanced_setitem(x, key, value):
    """``x[key] = value`` for keys with index tensors, lists or masks (a scatter kernel)."""
    key = _normalize_key(_legacy_tuple(key))
    if is_basic_index(key):
        return setitem(x, key, value)
    _put(x, key, value, "store", "index_put_")


@tensor_method("__getitem__")
def getitem(self, key):
    """Basic indexing (ints, slices with steps, None, ...) gives a view; tensor and list
    indices are advanced indexing (a gather kernel)."""
    if is_basic_index(key):
        return basic_getitem(self, key)
    return advanced_getitem(self, key)


@tensor_method("__setitem__")
def setitem(self, key, value):
    """``self[key] = value``: basic keys write through a view, advanced keys scatter."""
    if not is_basic_index(key):
        advanced_setitem(self, key, value)
        return
    target = basic_view(self, key)
    if self._base is None or self._view_version is not None:
        target._view_version = target._storage.version  # a differentiable view of the base
    _check_inplace(target, value)
    if isinstance(value, Tensor):
        copy_into(target, value)
        _record_inplace(target, value if value.dtype.is_floating_point else None)
    else:
        fill_value(target, value)
        _record_inplace(target, None)


@tensor_method()
def index_put_(self, indices, values, accumulate=False):
    """``self[indices] = values`` (or ``+=`` with accumulate=True), in place.

    ``indices``: a tuple of index tensors (None for a dim taken whole).
    """
    if isinstance(values, Tensor) and values.dtype is not self.dtype:
        raise RuntimeError(
            f"Index put requires the source and destination dtypes match, got "
            f"{self.dtype.name.capitalize()} for the destination and "
            f"{values.dtype.name.capitalize()} for the source.")
    key = tuple(slice(None) if i is None else i for i in indices)
    return _put(self, key, values, "add" if accumulate else "store", "index_put_")


@tensor_method()
def index_put(input, indices, values, accumulate=False):
    """Out-of-place ``index_put_``: a copy of input with values written at indices."""
    return input.clone().index_put_(indices, values, accumulate)


# ---- nonzero and masks ----------------------------------------------------------------------


@tensor_method()
def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero elements: [n, ndim] int64, or a tuple of ndim 1-D tensors.

    Reads the count back from the GPU (the output's size depends on it).
    """
    coords = ik.nonzero_coords(input.detach())
    if not as_tuple:
        return coords
    if input.ndim == 0:
        return (coords.reshape(-1),)
    return tuple(coords[:, j] for j in range(input.ndim))


@tensor_method()
def argwhere(input):
    """``nonzero(input)``: [n, ndim] indices of the nonzero elements."""
    return nonzero(input)


# ---- take / put ---------------------------------------------------------------------------


class TakeBackward0(IndexBackward0):
    pass


@tensor_method()
def take(input, index):
    """``input.flatten()[index]``: elements at flat indices, in index's shape."""
    if not isinstance(index, Tensor) or index.dtype not in INDEX_DTYPES:
        got = index.dtype.name if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {got}")
    flat = input.reshape(-1)
    check = ik.bounds_check("take(): ", index, flat.shape[0], 0)
    plan = ik.IndexPlan(index.shape, (None,) * index.ndim,
                        [ik.IndexTerm(index, 0, index.ndim, 0, check=check)])
    return TakeBackward0.apply(flat, plan)


@tensor_method()
def put_(self, index, source, accumulate=False):
    """``self.flatten()[index] = source`` (``+=`` with accumulate), in place."""
    if not self.is_contiguous():
        raise RuntimeError("put_(): wgtorch needs a contiguous self")
    if index.dtype not in INDEX_DTYPES:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got "
                           f"{index.dtype.name}")
    flat = self.view(-1)
    ik.bounds_check("put_(): ", index, flat.shape[0], 0)  # raises now when it can
    _put(flat, index.reshape(-1), source.reshape(-1), "add" if accumulate else "store", "put_")
    return self


@tensor_method()
def put(input, index, source, accumulate=False):
    """Out-of-place ``put_``: a copy of input with ``source`` written at flat ``index``."""
    return input.clone().put_(index, source, accumulate)
