"""Known value ranges of integer tensors, and the rule for when a bad index raises.

A tensor's values usually live only on the GPU, and reading them back to the host makes the
host wait for every op recorded before (DESIGN.md: no training step may wait on a readback the
user did not ask for). So wgtorch remembers, per storage, a range of its values wherever that
is known for free:

- exact (the min and max of the values): host uploads (``wgtorch.tensor``, ``arange``,
  ``randperm``, index lists; numpy's min/max at upload), ``full``/``zeros``/``ones``, and
  copies/casts of such a tensor;
- bounds (every value lies within): ``randint`` ([low, high)), the indices of
  ``argmax``/``argmin``/``max``/``min``/``sort``/``topk`` ([0, size of the dim)),
  ``nonzero``, and gathers (``index_select``, ``gather``, ``x[idx]``...) of a tensor with
  known bounds; bool and uint8 tensors always have them.

An in-place change bumps the storage's version counter, which drops the range; a scatter into
a fresh result (which bumps nothing) drops it with ``forget``.

The rule for out-of-range indices (index_select, gather, scatter*, index_add/copy/fill, take,
put_, ``x[idx]``, ``x[idx] = v``, one_hot):

1. The index tensor's exact range is known: a bad index raises IndexError at the op, with
   PyTorch's message (an index uploaded from Python or numpy, the common case).
2. Otherwise (an index computed on the GPU): the kernel checks every index itself, clamps a
   bad one (never reading or writing outside the tensor) and flags the error on the GPU; the
   IndexError is raised at the next host readback (``.item()``, ``.numpy()``, ``print``,
   ``wgtorch.synchronize()``...), naming the op, as CUDA reports a device-side assert. No
   readback is added to check an index, so a training loop never waits for one.

The kernel check runs in case 1 too, which also catches a range made stale by an in-place
write that forgot to bump the version counter.
"""

import weakref

from .. import dtypes as dt

_INT_DTYPES = (dt.int32, dt.int64)
_DTYPE_BOUNDS = {dt.bool_: (0, 1), dt.uint8: (0, 255)}
_RANGES = weakref.WeakKeyDictionary()  # Storage -> (version, lo, hi, exact)


def note(t, lo, hi, exact=False):
    """Record that every value of ``t`` lies in [lo, hi] (``exact``: lo and hi occur).

    ``t`` must be all of its storage (a fresh result); anything else is ignored. Returns t.
    """
    if t.dtype in _INT_DTYPES and _whole(t):
        _RANGES[t._storage] = (t._storage.version, int(lo), int(hi), exact)
    return t


def forget(t):
    """Drop the range of ``t``'s storage: for a write that does not bump its version (a
    kernel writing into a fresh result, e.g. a scatter into a clone)."""
    _RANGES.pop(t._storage, None)


def note_values(t, values):
    """Record the exact range of ``t`` from the host array of values it was uploaded from."""
    if t.dtype in _INT_DTYPES and values.size:
        note(t, values.min(), values.max(), exact=True)
    return t


def derive(out, src, same_values=False):
    """``out`` holds values taken from ``src`` (a gather, or with ``same_values`` a copy or a
    cast of all of src): it inherits src's range. Returns out."""
    if out.dtype in _INT_DTYPES and not src.dtype.is_floating_point:
        rng = exact(src) if same_values else None
        if rng is not None:
            note(out, *rng, exact=True)
        else:
            rng = bounds(src)
            if rng is not None:
                note(out, *rng)
    return out


def _whole(t):
    """Whether ``t`` holds each element of its storage exactly once, in order."""
    return t._offset == 0 and t.numel() == t._storage.numel and t.is_contiguous()


def _entry(t):
    entry = _RANGES.get(t._storage)
    if entry is None or entry[0] != t._storage.version:
        return None
    return entry


def bounds(t):
    """(lo, hi) with every value of ``t`` in [lo, hi], or None when unknown. No GPU work."""
    rng = _DTYPE_BOUNDS.get(t.dtype)
    if rng is not None:
        return rng
    entry = _entry(t) if t.dtype in _INT_DTYPES else None
    return None if entry is None else (entry[1], entry[2])


def magnitude(t):
    """The largest ``abs(value)`` that ``t`` may hold, or None when unknown."""
    rng = bounds(t)
    return None if rng is None else max(-rng[0], rng[1])


def exact(t):
    """(min, max) of ``t``'s values when known exactly, else None. No GPU work."""
    if t.dtype not in _INT_DTYPES or not _whole(t):
        return None
    entry = _entry(t)
    return None if entry is None or not entry[3] else (entry[1], entry[2])
