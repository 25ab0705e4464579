"""Pickling in PyTorch's vocabulary without torch: wgtorch objects written as the globals
``torch.load`` expects, and those globals read back as wgtorch objects.

Used by ``wgtorch.serialization`` (which owns the zip archive around the pickle).
"""

import _compat_pickle
import codecs
import pickle
from collections import Counter, OrderedDict

import numpy as np

from . import dtypes as dt
from .device import CPU, GPU, as_device
from .tensor import Size, Tensor

# PyTorch's legacy storage classes: name -> (numpy dtype in the file, wgtorch dtype)
STORAGE_TYPES = {
    "FloatStorage": (np.float32, dt.float32),
    "HalfStorage": (np.float16, dt.float16),
    "LongStorage": (np.int64, dt.int64),
    "IntStorage": (np.int32, dt.int32),
    "BoolStorage": (np.bool_, dt.bool_),
    "ByteStorage": (np.uint8, dt.uint8),
    "DoubleStorage": (np.float64, dt.float32),
    "BFloat16Storage": ("bfloat16", dt.float32),
    "ShortStorage": (np.int16, dt.int32),
    "CharStorage": (np.int8, dt.int32),
}
STORAGE_NAME = {d: name for name, (_, d) in list(STORAGE_TYPES.items())[:6]}
TORCH_DTYPES = {
    "float32": dt.float32, "float": dt.float32, "float16": dt.float16, "half": dt.float16,
    "int64": dt.int64, "long": dt.int64, "int32": dt.int32, "int": dt.int32, "bool": dt.bool_,
    "uint8": dt.uint8, "float64": dt.float32, "double": dt.float32, "bfloat16": dt.float32,
    "int16": dt.int32, "short": dt.int32, "int8": dt.int32,
}


class TorchGlobal:
    """A reference to a global of PyTorch, pickled as GLOBAL without importing torch."""

    __slots__ = ("module", "name")
    _cache = {}

    def __new__(cls, module, name):
        obj = cls._cache.get((module, name))
        if obj is None:
            obj = cls._cache[(module, name)] = object.__new__(cls)
            obj.module, obj.name = module, name
        return obj

    def __call__(self, *args):  # pickle requires reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for pickling")


class StorageRef:
    """One storage in the file: its key, dtype and element count (pickled as a persistent id)."""

    __slots__ = ("key", "dtype", "numel", "storage")

    def __init__(self, key, dtype, storage):
        self.key, self.dtype, self.numel, self.storage = key, dtype, storage.numel, storage


class Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes wgtorch tensors, dtypes, devices and sizes as PyTorch's.

    NOTE: the pure-Python pickler, because the C one insists on importing every GLOBAL it
    writes, and ``torch`` is not installed."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # (id(storage), dtype name) -> StorageRef

    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", TorchGlobal("torch", STORAGE_NAME[obj.dtype]), obj.key, "cpu",
                    obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if type(obj).__name__ == "Parameter":
                return (TorchGlobal("torch._utils", "_rebuild_parameter"),
                        (obj.detach(), obj.requires_grad, OrderedDict()))
            key = (id(obj._storage), obj.dtype.name)
            ref = self.storages.get(key)
            if ref is None:
                ref = self.storages[key] = StorageRef(str(len(self.storages)), obj.dtype,
                                                       obj._storage)
            return (TorchGlobal("torch._utils", "_rebuild_tensor_v2"),
                    (ref, obj._offset, tuple(obj.shape), tuple(obj._stride), obj.requires_grad,
                     OrderedDict()))
        if isinstance(obj, Size):
            return (TorchGlobal("torch", "Size"), (tuple(obj),))
        return NotImplemented

    def save_torch_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    def save_dtype(self, obj):
        self.save(TorchGlobal("torch", obj.name))

    def save_device(self, obj):
        args = ("cpu",) if obj.type == "cpu" else ("cuda", 0)
        self.save_reduce(TorchGlobal("torch", "device"), args, obj=obj)

    dispatch[TorchGlobal] = save_torch_global
    dispatch[dt.dtype] = save_dtype
    dispatch[type(GPU)] = save_device


# ---- reading -------------------------------------------------------------------------------


class StorageType:
    """What ``torch.FloatStorage`` (etc.) unpickles to: how the storage's bytes are laid out."""

    def __init__(self, name):
        self.name = name
        self.file_dtype, self.dtype = STORAGE_TYPES[name]
        self.itemsize = 2 if self.file_dtype == "bfloat16" else np.dtype(self.file_dtype).itemsize

    def decode(self, raw, numel, big_endian=False):
        """The first ``numel`` elements of ``raw`` as a numpy array wgtorch can upload
        (float64 and bfloat16 become float32)."""
        order = ">" if big_endian else "<"
        if self.file_dtype == "bfloat16":
            bits = np.frombuffer(raw, dtype=order + "u2", count=numel).astype(np.uint32)
            return (bits << 16).view(np.float32)
        array = np.frombuffer(raw, dtype=np.dtype(self.file_dtype).newbyteorder(order),
                              count=numel)
        return array.astype(np.float32) if self.file_dtype is np.float64 else array


class LoadedStorage:
    """A storage read from the archive; uploaded to the GPU once, when a tensor uses it.

    ``map_location`` callables receive it; ``.cpu()``, ``.cuda()`` and ``.to(device)`` pick
    where its tensors go."""

    def __init__(self, array, dtype, location):
        self.array, self.dtype, self.location = array, dtype, location
        self.device = None  # None: the default device
        self.uploaded = None

    def cpu(self):
        self.device = CPU
        return self

    def cuda(self, device=None, non_blocking=False):
        self.device = GPU
        return self

    def to(self, device, non_blocking=False):
        self.device = as_device(device)
        return self

    def tensor(self):
        if self.uploaded is None:
            self.uploaded = Tensor._from_numpy(self.array, self.dtype, self.device or GPU)
        return self.uploaded


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    base = storage.tensor()
    size, stride = tuple(size), tuple(stride)
    capacity = base._storage.numel
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))  # if not empty
    out_of_bounds = last >= capacity if all(size) else storage_offset > capacity
    if storage_offset < 0 or min(stride, default=0) < 0 or out_of_bounds:
        raise pickle.UnpicklingError(
            f"a tensor of size {list(size)}, stride {list(stride)} and offset {storage_offset} "
            f"does not fit its storage of {capacity} elements"
        )
    t = base._view_of(size, stride, storage_offset)
    t._base = None  # a loaded tensor is a leaf of its own, like PyTorch's
    if requires_grad and t.dtype.is_floating_point:
        t.requires_grad_(True)
    return t


def _parameter_class():
    from .nn.parameter import Parameter  # NOTE: imported late: nn imports this package

    return Parameter


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return _parameter_class()(data, requires_grad)


def _set_obj_state(obj, state):
    dict_state, slots_state = state if isinstance(state, tuple) else (state, None)
    for part in (dict_state, slots_state):
        for k, v in (part or {}).items():
            setattr(obj, k, v)
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_obj_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    ret = func(*args)
    if new_type is not None and new_type is not type(ret) and new_type.__name__ == "Parameter":
        ret = new_type(ret, ret.requires_grad)
    return _set_obj_state(ret, state) if state else ret


def _torch_device(type_, index=None):
    return as_device(type_)


def _torch_globals():
    """PyTorch's globals that a checkpoint may name, mapped to wgtorch's equivalents."""
    table = {
        ("collections", "OrderedDict"): OrderedDict,
        ("collections", "Counter"): Counter,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Size"): Size,
        ("torch", "Tensor"): Tensor,
        ("torch", "device"): _torch_device,
        ("_codecs", "encode"): codecs.encode,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "complex"): complex,
    }
    table.update({("torch", name): StorageType(name) for name in STORAGE_TYPES})
    table.update({("torch", name): d for name, d in TORCH_DTYPES.items()})
    table[("torch.nn.parameter", "Parameter")] = _parameter_class()
    return table


_safe_globals = {}  # "module.name" -> object, added by add_safe_globals


def add_safe_globals(safe_globals):
    """Allow these functions/classes (or ``(obj, "module.name")`` pairs) in ``weights_only``
    loads, as ``torch.serialization.add_safe_globals`` does."""
    for entry in safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        _safe_globals[name or f"{obj.__module__}.{obj.__qualname__}"] = obj


def get_safe_globals():
    """The user-allowed globals for ``weights_only`` loads, as they were added."""
    def default_name(obj):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"

    return [obj if name == default_name(obj) else (obj, name)
            for name, obj in _safe_globals.items()]


def _allowed_wgtorch_twin(module, name):
    """wgtorch's object for PyTorch's ``module.name`` when the user allowed that object (an
    allow-list names ``torch.nn.modules.linear.Linear``, which is ``wgtorch.nn.Linear``)."""
    if not (module == "torch" or module.startswith("torch.")):
        return None
    try:
        twin = _wgtorch_global(module, name)
    except pickle.UnpicklingError:
        return None
    return twin if any(twin is obj for obj in _safe_globals.values()) else None


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    _safe_globals.clear()


class UnsupportedGlobal(pickle.UnpicklingError):
    """A ``weights_only`` load met a global outside the allowed set."""


class Unpickler(pickle.Unpickler):
    """Unpickles data.pkl: PyTorch's globals map to wgtorch's; storages come from the archive."""

    def __init__(self, file, archive, weights_only):
        super().__init__(file)
        self.archive = archive
        self.weights_only = weights_only
        self.table = _torch_globals()

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self.table.get((module, name))
        if found is not None:
            return found
        if f"{module}.{name}" in _safe_globals:
            return _safe_globals[f"{module}.{name}"]
        allowed = _allowed_wgtorch_twin(module, name)  # torch.nn.modules.linear.Linear...
        if allowed is not None:
            return allowed
        if self.weights_only:
            raise UnsupportedGlobal(
                f"Weights only load failed. Unsupported global: GLOBAL {module}.{name} was not "
                "an allowed global by default. If you trust the file, load it with "
                "weights_only=False, or allow this global with "
                f"wgtorch.serialization.add_safe_globals([{name}])."
            )
        if module == "torch" or module.startswith("torch."):
            return _wgtorch_global(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] not in ("storage", b"storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return self.archive.storage(storage_type, str(key), str(location), int(numel))


def _wgtorch_global(module, name):
    """``torch.x.y.Name`` (a full-object pickle, weights_only=False) as wgtorch's same name."""
    import importlib

    candidates = ["wg" + module] + (["wgtorch.nn"] if module.startswith("torch.nn.") else [])
    if module == "torch._C._nn":  # F.gelu, F.hardtanh... are builtins of torch._C._nn
        candidates = ["wgtorch.nn.functional"]
    for candidate in candidates:
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"the checkpoint needs {module}.{name}, which wgtorch lacks")
