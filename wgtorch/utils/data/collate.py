"""Collation: a list of samples -> one batch, with PyTorch's ``default_collate`` rules.

Tensors are stacked, numpy arrays and numbers become tensors, and tuples, lists, dicts and
namedtuples are collated field by field (strings stay lists). What differs from PyTorch:

- Host data (numpy arrays, numbers) is stacked with numpy and uploaded once per field.
  Python floats collate to float32 (wgtorch has no float64).
- Samples that are views of one tensor (``data[i]`` rows, the usual ``Dataset`` over a GPU
  tensor) are gathered with one ``index_select`` kernel instead of a stack of B copies; a
  ``GatheredSamples`` batch (``TensorDataset.__getitems__``) is already collated.
- Inside a worker process, which has no GPU, a value that would become a tensor is left as
  a ``HostTensor`` (its numpy data); the main process uploads it (``upload``).
"""

import collections.abc
import copy
import re

import numpy as np

from ...autograd.grad_mode import is_grad_enabled
from ...ops import creation
from ...tensor import Tensor
from .dataset import GatheredSamples, gather_rows
from .worker import get_worker_info

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


class HostTensor:
    """A tensor's data still on the host (made in a worker process); ``upload`` sends it."""

    def __init__(self, array):
        self.array = array

    def __repr__(self):
        return f"HostTensor(shape={self.array.shape}, dtype={self.array.dtype})"


def _as_tensor(array):
    """``array`` as a GPU tensor, or as a HostTensor inside a worker process."""
    if get_worker_info() is not None:
        if array.dtype == np.float64:  # float64 data becomes float32 anyway: send half
            array = array.astype(np.float32)
        return HostTensor(array)
    return creation.as_tensor(array)


def _map_structure(fn, data):
    """``fn`` applied to every leaf of nested dicts, namedtuples, tuples and lists."""
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        items = {key: _map_structure(fn, data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(items)
                return clone
            return type(data)(items)
        except TypeError:  # the mapping type cannot be copied or built from a dict
            return items
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(_map_structure(fn, d) for d in data))
    if isinstance(data, tuple):
        return tuple(_map_structure(fn, d) for d in data)
    if isinstance(data, list):
        return [_map_structure(fn, d) for d in data]
    return fn(data)


def upload(data):
    """``data`` with every HostTensor replaced by a tensor on the GPU (one upload each)."""
    return _map_structure(lambda x: creation.as_tensor(x.array) if isinstance(x, HostTensor)
                          else x, data)


def _check_equal_shapes(shapes):
    first = shapes[0]
    for i, shape in enumerate(shapes):
        if tuple(shape) != tuple(first):
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                f"and {list(shape)} at entry {i}"
            )


def _gather_views(batch):
    """The stack of ``batch`` as one index_select, when every sample is a view of one
    storage with the same shape and strides (``data[i]`` for rows i); else None."""
    first = batch[0]
    storage, stride = first._storage, first._stride
    for t in batch:
        if (t._storage is not storage or t._stride != stride or t.dtype is not first.dtype
                or t.device != first.device or (t.requires_grad and is_grad_enabled())):
            return None
    offsets = np.fromiter((t._offset for t in batch), dtype=np.int64, count=len(batch))
    base = int(offsets.min())
    deltas = offsets - base
    numel = first.numel()
    # Rows of a contiguous block when possible, so the gather reads a contiguous source.
    if first.is_contiguous() and numel and not (deltas % numel).any():
        step = numel
    else:
        step = int(np.gcd.reduce(deltas)) or 1
    rows = deltas // step
    # (R, *sample shape): every sample is a row of this view of the shared storage.
    source = first._view_of((int(rows.max()) + 1, *first.shape), (step, *stride), base)
    return gather_rows(source, rows)


def collate_tensor_fn(batch, *, collate_fn_map=None):
    _check_equal_shapes([t.shape for t in batch])
    gathered = _gather_views(batch)
    if gathered is not None:
        return gathered
    import wgtorch  # NOTE: late import: wgtorch/__init__.py imports this package

    return wgtorch.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    _check_equal_shapes([a.shape for a in batch])
    return _as_tensor(np.stack(batch))


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    return _as_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return _as_tensor(np.asarray(batch, dtype=np.float32))


def collate_int_fn(batch, *, collate_fn_map=None):
    return _as_tensor(np.asarray(batch))  # int64, or bool when every element is a bool


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` by the type of its first element: ``collate_fn_map`` maps a type
    (or tuple of types) to a function ``f(batch, *, collate_fn_map)`` for leaves; mappings,
    namedtuples and sequences are collated element-wise."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        fields = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                  for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(fields)
                return clone
            return elem_type(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(list(s), collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        elem_size = len(elem)
        if not all(len(e) == elem_size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [list(s) for s in zip(*batch)]
        fields = [collate(s, collate_fn_map=collate_fn_map) for s in transposed]
        if isinstance(elem, tuple):
            return fields  # PyTorch returns a list for tuples (backwards compatibility)
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, f in enumerate(fields):
                    clone[i] = f
                return clone
            return elem_type(fields)
        except TypeError:
            return fields
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Collate a list of samples into a batch, as ``torch.utils.data.default_collate``.

    Example::

        default_collate([(np.zeros(3), 0), (np.ones(3), 1)])
        # [tensor of shape (2, 3), tensor([0, 1])]
    """
    if isinstance(batch, GatheredSamples):
        return list(batch.fields)
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Numpy arrays and numpy scalars in ``data`` (nested) become tensors; nothing is
    batched. The DataLoader's collate function when automatic batching is off."""

    def convert(x):
        if isinstance(x, np.ndarray) and np_str_obj_array_pattern.search(x.dtype.str) is None:
            return _as_tensor(x)
        if isinstance(x, (np.bool_, np.number)):
            return _as_tensor(np.asarray(x))
        return x

    return _map_structure(convert, data)
