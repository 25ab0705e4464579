"""Tensor creation: from data, filled, ranges and random.

Host data (``tensor``, ``arange``, ``linspace``, ``eye``) is built with numpy and uploaded
once; filled and random tensors are written by a kernel on the GPU.

numpy float64 *data* is stored as float32 (PyTorch code often passes ``np.random.randn``
arrays); asking for ``dtype=float64`` explicitly is an error that names float32.
"""

import numbers

import numpy as np

from .. import dtypes as dt
from ..autograd.grad_mode import is_grad_enabled
from ..device import as_device
from ..tensor import Tensor, tensor_method
from . import random as rnd
from . import value_range
from .copy import _cast, _check_inplace, _record_inplace, copy_into, fill_value
from .naming import named


def _size_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(size)}: {list(size)}"
        )
    return size


def fill_scalar(t, value):
    """Fill a fresh tensor with ``value``; an integer tensor's range is then known."""
    fill_value(t, value)
    if t.numel() and not t.dtype.is_floating_point:
        value_range.note(t, int(value), int(value), exact=True)
    return t


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data):
    """PyTorch's dtype for Python/numpy data: bool, int64, or the default float."""
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        if data.dtype == np.float64:
            return dt.get_default_dtype()
        return dt.from_numpy_dtype(data.dtype)
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, bool):
        return dt.bool_
    if isinstance(data, numbers.Integral):
        return dt.int64
    if isinstance(data, numbers.Real):
        return dt.get_default_dtype()
    if isinstance(data, (list, tuple)):
        found = [_infer_dtype(x) for x in data]
        if not found:
            return dt.get_default_dtype()
        best = found[0]
        for f in found[1:]:
            if f.kind != best.kind:
                best = dt.result_type(*[_probe(x) for x in (best, f)])
            else:
                best = dt.promote(best, f)
        return best
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _probe(d):
    return {"b": True, "i": 1, "f": 1.0}[d.kind]


def _to_numpy(data):
    if isinstance(data, Tensor):
        return data.detach().numpy()
    if isinstance(data, (list, tuple)) and any(isinstance(x, (Tensor, list, tuple)) for x in data):
        return np.array([_to_numpy(x) for x in data])
    return np.asarray(data)


@tensor_method("_tensor")
def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, numpy arrays...)."""
    dtype = dt.as_dtype(dtype) if dtype is not None else _infer_dtype(data)
    array = _to_numpy(data)
    if array.dtype == object:
        raise TypeError(f"tensor(): could not convert data of type {type(data).__name__}")
    if array.dtype.kind == "c":
        raise TypeError("wgtorch has no complex dtypes")
    t = Tensor._from_numpy(array, dtype, as_device(device))
    return _finish(t, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` itself when it already is a tensor of that dtype/device, else a copy."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, dtype=None, device=None, copy=None, requires_grad=False):
    return _finish(as_tensor(obj, dtype=dtype, device=device), requires_grad)


def from_numpy(ndarray):
    """A tensor with a copy of the numpy array's data (GPU memory cannot alias host memory)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return tensor(ndarray)


def _new(size, dtype, device):
    return Tensor._empty(size, dt.as_dtype(dtype) if dtype is not None else
                         dt.get_default_dtype(), as_device(device))


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None,
          pin_memory=False, out=None):
    """An uninitialised tensor (its memory may hold old values)."""
    return _finish(_new(_size_arg(size), dtype, device), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it by default)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    t = _new(_size_arg((size,)), dtype or dt.result_type(fill_value), device)
    fill_scalar(t, fill_value)
    return _finish(t, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    t = _new(_size_arg(size), dtype, device)
    fill_scalar(t, 0)
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    t = _new(_size_arg(size), dtype, device)
    fill_scalar(t, 1)
    return _finish(t, requires_grad)


def _like(maker):
    def like(input, dtype=None, device=None, requires_grad=False, memory_format=None, **kw):
        return maker(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                     requires_grad=requires_grad, **kw)

    return named(like, maker.__name__ + "_like", __name__,
                 doc=f"``{maker.__name__}`` with the shape (and dtype, device) of ``input``.")


empty_like = _like(empty)
zeros_like = _like(zeros)
ones_like = _like(ones)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, **kw):
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


@tensor_method()
def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


@tensor_method()
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    return zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


@tensor_method()
def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


@tensor_method()
def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                 requires_grad=requires_grad)


@tensor_method()
def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = dt.int64 if all(isinstance(v, int) for v in vals) else dt.get_default_dtype()
    dtype = dt.as_dtype(dtype)
    n = int(np.ceil((end - start) / step))
    data = start + np.arange(n, dtype=np.float64) * step
    return _finish(Tensor._from_numpy(data, dtype, as_device(device)), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    data = np.linspace(float(start), float(end), int(steps))
    return _finish(Tensor._from_numpy(data, dt.as_dtype(dtype or dt.get_default_dtype()),
                                      as_device(device)), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    data = np.logspace(float(start), float(end), int(steps), base=base)
    return _finish(Tensor._from_numpy(data, dt.as_dtype(dtype or dt.get_default_dtype()),
                                      as_device(device)), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    data = np.eye(n, n if m is None else m)
    return _finish(Tensor._from_numpy(data, dt.as_dtype(dtype or dt.get_default_dtype()),
                                      as_device(device)), requires_grad)


# ---- random ----------------------------------------------------------------------------


_DIST_NAMES = {rnd.UNIFORM: "uniform", rnd.NORMAL: "normal"}


def _check_float_dist(dist, dtype):
    if dist in _DIST_NAMES and not dtype.is_floating_point:
        raise NotImplementedError(
            f'"{_DIST_NAMES[dist]}" not implemented for \'{dtype.legacy_name}\' (a '
            "floating point dtype is needed)"
        )


def _check_int_bounds(op, lo, hi, dtype):
    """PyTorch's "from/to - 1 is out of bounds" check, against the values wgtorch can hold
    (integers are 32-bit words on the GPU) and the random kernel can draw (a span < 2**32)."""
    low, high = {dt.bool_: (0, 1), dt.uint8: (0, 255)}.get(dtype, (dt.INT32_MIN, dt.INT32_MAX))
    where = dtype.name if dtype in (dt.bool_, dt.uint8) else (
        f"wgtorch's {dtype.name} (integers are kept as 32-bit on the GPU: {low}..{high})")
    if not low <= lo <= high:
        raise RuntimeError(f"{op}: from is out of bounds for {where} (from={lo})")
    if not low <= hi - 1 <= high:
        raise RuntimeError(f"{op}: to - 1 is out of bounds for {where} (to={hi})")
    if hi - lo > 2**32 - 1:
        raise RuntimeError(f"{op}: the range [{lo}, {hi}) spans {hi - lo} values; wgtorch draws "
                           "from at most 2**32 - 1")


def _random(size, dist, lo, hi, dtype, device, generator, requires_grad):
    dtype = dt.as_dtype(dtype) if dtype is not None else dt.get_default_dtype()
    _check_float_dist(dist, dtype)
    if dist == rnd.INTEGER:
        _check_int_bounds("randint", lo, hi, dtype)
    native = dt.int32 if dist == rnd.INTEGER else dt.float32
    t = Tensor._empty(size, native, as_device(device))
    rnd.fill_random(t, dist, lo, hi, generator)
    if dtype is not native:
        t = _cast(t, dtype)
    if dist == rnd.INTEGER:
        value_range.note(t, lo, hi - 1)
    return _finish(t, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1) (Philox on the GPU)."""
    return _random(_size_arg(size), rnd.UNIFORM, 0.0, 1.0, dtype, device, generator,
                   requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal (Philox + Box-Muller on the GPU)."""
    return _random(_size_arg(size), rnd.NORMAL, 0.0, 1.0, dtype, device, generator,
                   requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and isinstance(high, (tuple, list)):  # the randint(high, size) form
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing 1 required positional argument: 'size'")
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    return _random(_size_arg((size,)), rnd.INTEGER, low, high, dtype or dt.int64, device,
                   generator, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False, **kw):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, **kw):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, **kw):
    return randint(low, high, input.shape, dtype=dtype or input.dtype,
                   device=device or input.device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1: random keys drawn on the GPU, ordered on the host."""
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    keys = Tensor._empty((n,), dt.float32, as_device(device))
    rnd.fill_random(keys, rnd.UNIFORM, 0.0, 1.0, generator)
    order = np.argsort(keys.numpy(), kind="stable")
    return Tensor._from_numpy(order, dt.as_dtype(dtype or dt.int64), as_device(device))


def _fill_inplace(self, dist, lo, hi, generator):
    _check_inplace(self)
    _check_float_dist(dist, self.dtype)
    if dist == rnd.INTEGER:
        _check_int_bounds("random_", lo, hi, self.dtype)
    native = dt.int32 if dist == rnd.INTEGER else dt.float32
    fresh = Tensor._empty(self.shape, native, self.device)
    rnd.fill_random(fresh, dist, lo, hi, generator)
    copy_into(self, fresh)
    _record_inplace(self, None)
    return self


@tensor_method()
def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _fill_inplace(self, rnd.UNIFORM, a, b, generator)


@tensor_method()
def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _check_std("normal_", std)
    return _fill_inplace(self, rnd.NORMAL, mean, std, generator)


def _check_std(op, std):
    if not isinstance(std, Tensor) and not std >= 0.0:  # NOTE: NaN fails too, as in PyTorch
        raise RuntimeError(f"{op} expects std >= 0.0, but found std {std}")


@tensor_method()
def random_(self, from_=0, to=None, *, generator=None):
    if to is None:  # the dtype's range, as PyTorch (2**24 for floats: exact integers)
        default = {dt.bool_: 2, dt.uint8: 256}.get(self.dtype, dt.INT32_MAX + 1)
        from_, to = 0, (2**24 if self.dtype.is_floating_point else default)
    return _fill_inplace(self, rnd.INTEGER, from_, to, generator)


@tensor_method()
def bernoulli_(self, p=0.5, *, generator=None):
    u = rand(self.shape, device=self.device, generator=generator)
    return self.copy_(u < p)


@tensor_method()
def bernoulli(input, p=None, *, generator=None):
    u = rand(input.shape, device=input.device, generator=generator)
    out = (u < (input if p is None else p)).to(input.dtype)
    # as PyTorch: the sample is differentiable in input, with a zero gradient
    return out + input * 0.0 if input.requires_grad and is_grad_enabled() else out


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers with ``size``."""
    _check_std("normal", std)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = ref.shape if size is None else size
        return randn(shape, generator=generator, device=ref.device) * std + mean
    return _random(_size_arg((size,)), rnd.NORMAL, mean, std, dtype, device, generator,
                   requires_grad)


def _check_probabilities(probs, replacement):
    """PyTorch's checks (and wording, which differs with and without replacement)."""
    if replacement:
        if not (probs >= 0).all():  # NOTE: NaN fails this too, as in PyTorch
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        if not np.isfinite(probs).all():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry = infinity or NaN)")
    elif not (np.isfinite(probs).all() and (probs >= 0).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")


@tensor_method()
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample indices from rows of non-negative weights (the draw happens on the host)."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.legacy_name}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    probs = input.detach().float().numpy().astype(np.float64)
    _check_probabilities(probs, replacement)
    rows = probs.reshape(-1, probs.shape[-1])
    if rows.shape[0] == 0:
        return Tensor._from_numpy(np.zeros(probs.shape[:-1] + (num_samples,), np.int64),
                                  dt.int64, input.device)
    # one uniform per draw with replacement, one key per category without
    u = rand(rows.shape[0], max(num_samples, 1) if replacement else rows.shape[1],
             generator=generator).numpy()
    out = []
    for r, w in enumerate(rows):
        if w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            cdf = np.cumsum(w) / w.sum()
            out.append(np.minimum(np.searchsorted(cdf, u[r, :num_samples], side="right"),
                                  len(w) - 1))
        else:  # zero-weight categories come last, as in PyTorch
            keys = np.log(u[r] + 1e-30) / np.maximum(w, 1e-30)
            keys[w <= 0] = -np.inf
            out.append(np.argsort(-keys, kind="stable")[:num_samples])
    res = np.stack(out).reshape(probs.shape[:-1] + (num_samples,))
    return Tensor._from_numpy(res, dt.int64, input.device)
