"""Storage: the GPU buffer behind a tensor and its views, and the host arrays uploaded into it.

Every dtype is one 32-bit word per element on the GPU (the table in dtypes.py), so a
storage of ``numel`` elements holds ``4 * numel`` bytes; ``to_storage_array`` turns numpy
data into those words, refusing values the storage cannot hold.
"""

import math

import numpy as np

from . import dtypes as dt
from .backend import get_runtime

ELEMENT_BYTES = 4  # every dtype is stored as one 32-bit word (the table in dtypes.py)
MAX_NUMEL = 2**31 - 1  # elements per tensor: kernels index elements with 32-bit integers


class Storage:
    """A GPU buffer holding ``numel`` elements, shared by a tensor and its views."""

    __slots__ = ("buffer", "numel", "version", "runtime", "__weakref__")

    def __init__(self, numel):
        self.runtime = get_runtime()
        self.buffer = self.runtime.alloc(numel * ELEMENT_BYTES)
        self.numel = numel
        self.version = 0

    def __del__(self):
        try:
            self.runtime.free(self.buffer)
        except Exception:  # interpreter shutdown
            pass


def contiguous_strides(shape):
    """Row-major strides of ``shape`` (a size-0 dim counts as 1)."""
    n = len(shape)
    if n <= 2:  # most tensors: no loop
        return () if n == 0 else (1,) if n == 1 else (max(shape[1], 1), 1)
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


prod = math.prod  # the number of elements of a shape (1 for ())


def to_storage_array(array, dtype):
    """numpy data as the dtype's 32-bit storage array, refusing values that would wrap."""
    if dtype is dt.float16:
        with np.errstate(over="ignore"):  # too large for half precision: inf, as in PyTorch
            return np.ascontiguousarray(array, dtype=np.float16).astype(np.float32)
    if dtype is dt.int64 or dtype is dt.int32:
        a = np.asarray(array)
        if a.size and a.dtype.kind in "iu" and (a.min() < dt.INT32_MIN or a.max() > dt.INT32_MAX):
            bad = a.max() if a.max() > dt.INT32_MAX else a.min()
            raise RuntimeError(
                f"value {int(bad)} does not fit in wgtorch's {dtype.name} storage: integers are "
                f"kept as 32-bit on the GPU (range {dt.INT32_MIN}..{dt.INT32_MAX})"
            )
        if a.dtype.kind == "f" and a.size and not np.all(np.isfinite(a)):
            raise RuntimeError(f"cannot convert non-finite values to {dtype.name}")
        return np.ascontiguousarray(a).astype(np.int32)
    if dtype is dt.uint8:
        a = np.asarray(array)
        if a.size and a.dtype.kind in "iu" and (a.min() < 0 or a.max() > 255):
            raise RuntimeError(f"value {int(a.max() if a.max() > 255 else a.min())} cannot be "
                               "converted to type uint8 without overflow")
        words = np.ascontiguousarray(a).astype(np.uint32)
        words &= 255  # in place: one storage-sized copy, not two
        return words
    if dtype is dt.bool_:
        return np.ascontiguousarray(array).astype(bool).astype(np.uint32)
    return np.ascontiguousarray(array, dtype=np.float32)
