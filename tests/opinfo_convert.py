"""Torch sample inputs to wgtorch, and torch results compared with wgtorch's.

One converter (:class:`Converter`) turns everything an OpInfo sample can hold into its
wgtorch equivalent: tensors (values, dtype, requires_grad and layout: expanded, permuted and
sliced strides are rebuilt as the same kind of view), nested lists/tuples/dicts, dtypes,
devices, sizes, memory formats, layouts and torch functions passed as arguments. It
remembers which wgtorch tensor stands for which torch tensor, so that gradients can be
paired afterwards.

Two exceptions say why a sample is not checked: :class:`CannotRepresent` for what DESIGN.md
rules out (float64, complex, sparse/nested/quantized tensors) and :class:`Missing` for what
wgtorch lacks (a dtype such as bfloat16, ``wgtorch.channels_last``, an op passed as an
argument). Everything else is compared by :func:`compare`, which raises :class:`Mismatch`
(:func:`compare_structure` for random values, :func:`tie_tolerant` for indices among ties).
"""

import functools
import types

import numpy as np
import torch

import wgtorch


class CannotRepresent(Exception):
    """The sample needs what wgtorch rules out by design (float64, complex, sparse...)."""


class Missing(Exception):
    """The sample needs something wgtorch does not have yet."""


class Mismatch(Exception):
    """wgtorch's result differs from torch's (values, dtype, shape or structure)."""


DTYPES = {
    torch.float32: wgtorch.float32,
    torch.float16: wgtorch.float16,
    torch.int32: wgtorch.int32,
    torch.int64: wgtorch.int64,
    torch.bool: wgtorch.bool,
    torch.uint8: wgtorch.uint8,
}
UNREPRESENTABLE = {
    torch.float64: "float64",
    torch.complex32: "complex",
    torch.complex64: "complex",
    torch.complex128: "complex",
    torch.qint8: "quantized",
    torch.quint8: "quantized",
    torch.qint32: "quantized",
    torch.quint4x2: "quantized",
}
WG_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}  # wgtorch dtype -> torch dtype
NAMESPACES = {  # torch module -> the wgtorch attribute path that mirrors it
    "torch": "",
    "torch.functional": "",
    "torch._C._VariableFunctions": "",
    "torch.nn.functional": "nn.functional",
    "torch._C._nn": "nn.functional",
    "torch._C._linalg": "linalg",
    "torch.linalg": "linalg",
    "torch._C._special": "special",
    "torch.special": "special",
    "torch._C._fft": "fft",
    "torch.fft": "fft",
}


def wg_dtype(d):
    """The wgtorch dtype for a torch dtype."""
    if d in DTYPES:
        return DTYPES[d]
    if d in UNREPRESENTABLE:
        raise CannotRepresent(f"{UNREPRESENTABLE[d]} dtype ({d})")
    raise Missing(f"dtype {d}")


def resolve(path, root=wgtorch):
    """``root.a.b.c`` for ``path='a.b.c'``, or :class:`Missing` naming the first absent part."""
    obj = root
    done = root.__name__ if isinstance(root, types.ModuleType) else root.__qualname__
    for part in filter(None, path.split(".")):
        if not hasattr(obj, part):
            raise Missing(f"{done}.{part}")
        obj = getattr(obj, part)
        done = f"{done}.{part}"
    return obj


def wg_callable(fn):
    """The wgtorch function standing for a torch function (an op's variant or a function
    given as an argument)."""
    if isinstance(fn, functools.partial):  # F.relu with inplace=True bound
        convert = Converter()
        return functools.partial(wg_callable(fn.func), *convert(fn.args),
                                 **convert(fn.keywords))
    if isinstance(fn, torch.nn.Module):
        raise Missing(f"module argument {type(fn).__name__}")
    name = getattr(fn, "__name__", None)
    owner = getattr(fn, "__objclass__", None)
    module = getattr(fn, "__module__", None) or "torch"
    if owner is not None and issubclass(owner, torch._C.TensorBase) or module == "torch._tensor":
        return resolve(name, wgtorch.Tensor)  # torch.Tensor.add, Tensor.__rsub__
    if module in NAMESPACES and name:
        return resolve(f"{NAMESPACES[module]}.{name}")
    if isinstance(fn, types.FunctionType) and module.startswith("torch.testing"):
        return rebind(fn)
    if module.startswith("torch"):
        raise Missing(f"callable argument {module}.{name}")
    return fn  # a plain Python callable: operator.add, a lambda of the sample's own


def wg_wrapper_set_seed(op, *args, **kwargs):
    """torch's ``wrapper_set_seed`` for a rebound function: seed wgtorch's generator."""
    wgtorch.manual_seed(42)
    return op(*args, **kwargs)


def rebind(fn, torch_module=wgtorch, wrapper=wg_wrapper_set_seed):
    """A copy of a Python function from torch's test suite that sees ``torch_module`` as
    ``torch`` (and ``wrapper`` as ``wrapper_set_seed``): op_db's lambdas such as
    ``lambda x, n: torch.polygamma(n, x)`` then call wgtorch. Defaults and closure cells are
    converted too."""
    conv = Converter() if torch_module is wgtorch else (lambda v: v)
    scope = dict(fn.__globals__)
    scope.update(torch=torch_module, wrapper_set_seed=wrapper)
    if torch_module is wgtorch:
        scope.update(F=wgtorch.nn.functional, nn=wgtorch.nn)
    closure = None
    if fn.__closure__:
        closure = tuple(types.CellType(conv(c.cell_contents)) for c in fn.__closure__)
    defaults = conv(fn.__defaults__) if fn.__defaults__ else fn.__defaults__
    new = types.FunctionType(fn.__code__, scope, fn.__name__, defaults, closure)
    new.__kwdefaults__ = conv(fn.__kwdefaults__) if fn.__kwdefaults__ else fn.__kwdefaults__
    return new


class Converter:
    """Turns a torch sample's contents into wgtorch's; ``pairs`` maps each converted torch
    tensor (by id) to its wgtorch tensor."""

    def __init__(self, fill_gaps=True):
        self.pairs = {}
        self.fill_gaps = fill_gaps

    def __call__(self, obj):
        if isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        if isinstance(obj, torch.Size):
            return wgtorch.Size(obj)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
            return tuple(self(v) for v in obj)
        if isinstance(obj, (list, tuple)):
            return type(obj)(self(v) for v in obj)
        if isinstance(obj, dict):
            return {k: self.keyword(k, v) for k, v in obj.items()}
        if isinstance(obj, torch.dtype):
            return wg_dtype(obj)
        if isinstance(obj, torch.device):
            return self.device(obj)
        if isinstance(obj, torch.memory_format):
            return resolve(str(obj).replace("torch.", ""))
        if isinstance(obj, torch.layout):
            if obj is not torch.strided:
                raise CannotRepresent(f"layout {obj}")
            return resolve("strided")
        if isinstance(obj, torch.Generator):
            raise Missing("torch.Generator argument")
        if isinstance(obj, (bool, int, float, str, slice, type(None), type(Ellipsis))):
            return obj
        if isinstance(obj, complex):
            raise CannotRepresent("complex scalar")
        if isinstance(obj, np.ndarray):
            return obj
        if callable(obj):
            return wg_callable(obj)
        raise Missing(f"argument of type {type(obj).__name__}")

    def keyword(self, key, value):
        if key == "device" and isinstance(value, str):
            return self.device(torch.device(value))
        return self(value)

    @staticmethod
    def device(d):
        # NOTE: torch's samples live on its CPU; their counterparts live on wgtorch's default
        # (GPU) device, so a sample's device="cpu" means that device here.
        if d.type != "cpu":
            raise Missing(f"device {d}")
        return wgtorch.device("wgpu")

    def tensor(self, t):
        if id(t) in self.pairs:
            return self.pairs[id(t)]
        if t.layout != torch.strided:
            raise CannotRepresent(f"{t.layout} tensor")
        if t.is_nested:
            raise CannotRepresent("nested tensor")
        if t.is_quantized:
            raise CannotRepresent("quantized tensor")
        dtype = wg_dtype(t.dtype)
        out = self._strided_like(t.detach().resolve_neg().resolve_conj(), dtype)
        if t.requires_grad:
            out = out.detach().requires_grad_(True)
        self.pairs[id(t)] = out
        return out

    def _strided_like(self, t, dtype):
        """A wgtorch tensor with ``t``'s values and, where it can be rebuilt with views,
        ``t``'s strides (expanded dims, permutations and steps over a padded base)."""
        values = t.numpy()
        if t.numel() <= 1 or t.is_contiguous():
            return wgtorch.tensor(values, dtype=dtype)
        expanded = [d for d in range(t.ndim) if t.stride(d) == 0 and t.shape[d] > 1]
        if expanded:
            index = tuple(slice(0, 1) if d in expanded else slice(None) for d in range(t.ndim))
            return self._strided_like(t[index], dtype).expand(t.shape)
        order = sorted(range(t.ndim), key=lambda d: -t.stride(d))  # outermost first
        shape = [t.shape[d] for d in order]
        strides = [t.stride(d) for d in order]
        base_shape, steps, inner = [], [], 1
        for size, stride in zip(reversed(shape), reversed(strides)):
            if size == 1:
                stride = inner
            if stride % inner:
                return wgtorch.tensor(values, dtype=dtype)  # no views rebuild it: plain copy
            step = stride // inner
            base_shape.append(size * step)
            steps.append(step)
            inner *= size * step
        base_shape.reverse()
        steps.reverse()
        base = np.zeros(base_shape, dtype=values.dtype)
        if self.fill_gaps and values.dtype.kind == "f":
            base.fill(np.nan)  # a kernel reading outside the view sees NaN, not a good value
        index = tuple(slice(None, None, s) for s in steps)
        base[index] = np.transpose(values, order)
        view = wgtorch.tensor(base, dtype=dtype)[index]
        inverse = [order.index(d) for d in range(t.ndim)]
        return view.permute(*inverse)


def to_numpy(t):
    return t.detach().numpy() if isinstance(t, wgtorch.Tensor) else np.asarray(t)


def compare(expected, actual, rtol, atol, where="output"):
    """Raise :class:`Mismatch` where ``actual`` (wgtorch) differs from ``expected`` (torch)."""
    if isinstance(expected, torch.Tensor):
        _compare_tensor(expected, actual, rtol, atol, where)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            raise Mismatch(f"{where}: expected a sequence of {len(expected)}, got "
                           f"{_describe(actual)}")
        for k, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, rtol, atol, f"{where}[{k}]")
    elif isinstance(expected, torch.dtype):
        if actual != wg_dtype(expected):
            raise Mismatch(f"{where}: expected {expected}, got {actual}")
    elif isinstance(expected, bool) or expected is None:
        if actual is not expected and actual != expected:
            raise Mismatch(f"{where}: expected {expected!r}, got {_describe(actual)}")
    elif isinstance(expected, (int, float)):
        if isinstance(actual, wgtorch.Tensor) or not isinstance(actual, (int, float)):
            raise Mismatch(f"{where}: expected Python {type(expected).__name__} "
                           f"{expected!r}, got {_describe(actual)}")
        if not _close(np.float64(expected), np.float64(actual), rtol, atol):
            raise Mismatch(f"{where}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, torch.device):
        pass  # devices differ by design (see Converter.device)
    else:
        if actual != expected:
            raise Mismatch(f"{where}: expected {expected!r}, got {_describe(actual)}")


def _describe(x):
    if isinstance(x, wgtorch.Tensor):
        return f"tensor {tuple(x.shape)} {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def _close(e, a, rtol, atol):
    return bool(np.all(np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)))


def _compare_tensor(expected, actual, rtol, atol, where):
    if not isinstance(actual, wgtorch.Tensor):
        raise Mismatch(f"{where}: expected a tensor, got {_describe(actual)}")
    if expected.layout != torch.strided or expected.is_complex():
        raise CannotRepresent(f"{where} is a {expected.layout} {expected.dtype} tensor")
    want = wg_dtype(expected.dtype)
    if actual.dtype != want:
        raise Mismatch(f"{where}: dtype {actual.dtype}, expected {want}")
    if tuple(actual.shape) != tuple(expected.shape):
        raise Mismatch(f"{where}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    e = expected.detach().resolve_neg().numpy()
    a = to_numpy(actual)
    if e.dtype.kind in "biu":
        bad = a != e
    else:
        e64, a64 = e.astype(np.float64), a.astype(np.float64)
        bad = ~np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        k = np.flatnonzero(bad)
        first = np.unravel_index(k[0], e.shape) if e.ndim else ()
        err = ""
        if e.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                err = f", max abs error {np.nanmax(np.abs(a64 - e64)):.3g}"
        raise Mismatch(f"{where}: {k.size} of {e.size} values differ{err}; first at "
                       f"{tuple(int(i) for i in first)}: got {a[first]!r}, expected {e[first]!r}")


def flat_tensors(x):
    """The tensors in a (nested) result, in order."""
    if isinstance(x, (torch.Tensor, wgtorch.Tensor)):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in flat_tensors(v)]
    return []


def compare_structure(expected, actual, where):
    """For random ops: the same structure, dtypes and shapes (values are not comparable)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, wgtorch.Tensor):
            raise Mismatch(f"{where}: expected a tensor, got {type(actual).__name__}")
        if actual.dtype != wg_dtype(expected.dtype) or tuple(actual.shape) != expected.shape:
            raise Mismatch(f"{where}: {tuple(actual.shape)} {actual.dtype}, expected "
                           f"{tuple(expected.shape)} {expected.dtype}")
    elif isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            raise Mismatch(f"{where}: expected a sequence of {len(expected)}")
        for k, (e, a) in enumerate(zip(expected, actual)):
            compare_structure(e, a, f"{where}[{k}]")


# Ops returning indices that torch may pick among ties: (index output position, or None for
# the whole output; position of the dim argument; default dim, None: no dim, one index).
INDEX_OUTPUTS = {
    "sort": (1, 0, -1), "argsort": (None, 0, -1), "topk": (1, 1, -1), "kthvalue": (1, 1, -1),
    "mode": (1, 0, -1), "median": (1, 0, None), "nanmedian": (1, 0, None), "max": (1, 0, None),
    "min": (1, 0, None),
}


def tie_tolerant(op, sample, expected, actual):
    """For ops in ``INDEX_OUTPUTS``: the indices replaced by the input values they pick, so
    that either of two equal elements is accepted (dtype and shape still checked first)."""
    spec = INDEX_OUTPUTS.get(op.name)
    if spec is None or not isinstance(sample.input, torch.Tensor) or sample.input.ndim == 0:
        return expected, actual
    pos, dim_at, default = spec
    dim = sample.kwargs.get("dim", sample.args[dim_at] if len(sample.args) > dim_at else default)
    pick = (lambda out: out) if pos is None else (lambda out: out[pos])
    try:
        e_idx, a_idx = pick(expected), pick(actual)
    except (TypeError, IndexError):
        return expected, actual
    if (not isinstance(dim, int) or isinstance(dim, bool) or not isinstance(a_idx, wgtorch.Tensor)
            or tuple(a_idx.shape) != tuple(e_idx.shape) or a_idx.dtype != wg_dtype(e_idx.dtype)):
        return expected, actual  # compare() reports what is wrong
    x = sample.input.detach()
    a_idx = torch.from_numpy(a_idx.numpy().astype(np.int64))
    if ((a_idx < 0) | (a_idx >= x.shape[dim])).any():
        return expected, actual
    keep = e_idx.ndim == x.ndim

    def values(idx):
        idx = idx if keep else idx.unsqueeze(dim)
        v = torch.take_along_dim(x, idx, dim)
        return v if keep else v.squeeze(dim)

    e_val, a_val = values(e_idx), wgtorch.tensor(values(a_idx).numpy())
    if pos is None:
        return e_val, a_val
    return (*expected[:pos], e_val, *expected[pos + 1:]), (*actual[:pos], a_val,
                                                             *actual[pos + 1:])
