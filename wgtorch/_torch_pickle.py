"""Pickling in PyTorch's vocabulary without torch: wgtorch objects written as the globals
``torch.load`` expects, and those globals read back as wgtorch objects.

Used by ``wgtorch.serialization`` (which owns the zip archive around the pickle) and by
``wgtorch._weights_only`` (the restricted unpickler, which calls the rebuilds below).
"""

import _compat_pickle
import codecs
import functools
import pickle
import reprlib
from collections import Counter, OrderedDict

import numpy as np

from . import dtypes as dt
from .device import CPU, GPU, as_device, device
from .tensor import MAX_NUMEL, Size, Tensor, prod

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
#
# Everything below meets values from the file: each rebuild checks its arguments before it
# allocates anything, and raises InvalidCheckpoint (the loader adds the file's name).


class InvalidCheckpoint(RuntimeError):
    """The file describes something impossible: a negative size, a view outside its storage,
    a record whose size disagrees with what refers to it..."""


class StorageType:
    """What ``torch.FloatStorage`` (etc.) unpickles to: how the storage's bytes are laid out."""

    def __init__(self, name):
        self.name = name
        self.file_dtype, self.dtype = STORAGE_TYPES[name]
        self.itemsize = 2 if self.file_dtype == "bfloat16" else np.dtype(self.file_dtype).itemsize

    def __repr__(self):
        return f"torch.{self.name}"

    def decode(self, raw, numel, big_endian=False):
        """The first ``numel`` elements of ``raw`` as a numpy array wgtorch can upload
        (float64 and bfloat16 become float32)."""
        order = ">" if big_endian else "<"
        if self.file_dtype == "bfloat16":
            bits = np.frombuffer(raw, dtype=order + "u2", count=numel).astype(np.uint32)
            return (bits << 16).view(np.float32)
        array = np.frombuffer(raw, dtype=np.dtype(self.file_dtype).newbyteorder(order),
                              count=numel)
        if self.file_dtype is np.float64:
            with np.errstate(over="ignore"):  # beyond float32's range: inf, as documented
                return array.astype(np.float32)
        return array


class LoadedStorage:
    """A storage read from the archive, uploaded to the GPU when the loader asks for its tensor
    (right after ``map_location`` has chosen where it goes; the host copy is then dropped).

    ``map_location`` callables receive it; ``.cpu()``, ``.cuda()`` and ``.to(device)`` pick
    where its tensors go."""

    def __init__(self, array, dtype, location, storage_type):
        self.array, self.dtype, self.location = array, dtype, location
        self.storage_type, self.numel = storage_type, len(array)
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
            self.array = None  # NOTE: at most one storage's bytes on the host at a time
        return self.uploaded


def _ascii(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def load_storage(archive, pid):
    """The storage a persistent id ``("storage", torch.XStorage, key, location, numel)``
    names, read from ``archive`` after checking the id."""
    if not (isinstance(pid, tuple) and len(pid) == 5 and _ascii(pid[0]) == "storage"):
        raise InvalidCheckpoint(f"unsupported persistent id {reprlib.repr(pid)}")
    _, storage_type, key, location, numel = pid
    key, location = _ascii(key), _ascii(location)
    if not isinstance(storage_type, StorageType):
        raise InvalidCheckpoint(f"unsupported storage type {reprlib.repr(storage_type)}")
    if type(key) is not str or type(location) is not str:
        raise InvalidCheckpoint(f"a storage's key and location must be strings, got "
                                f"{reprlib.repr(key)} and {reprlib.repr(location)}")
    if type(numel) is not int or numel < 0:
        raise InvalidCheckpoint(f"storage {key} declares {reprlib.repr(numel)} elements")
    return archive.storage(storage_type, key, location, numel)


def _int_tuple(what, values):
    values = tuple(values) if isinstance(values, (tuple, list, Size)) else None
    if values is None or not all(type(v) is int for v in values):
        raise InvalidCheckpoint(f"a tensor's {what} must be a tuple of ints")
    return values


def check_view(storage, offset, size, stride):
    """Refuse a view (offset, size, stride) that does not lie inside ``storage``."""
    size, stride = _int_tuple("size", size), _int_tuple("stride", stride)
    if type(offset) is not int or len(size) != len(stride):
        raise InvalidCheckpoint(f"a tensor has {len(size)} sizes, {len(stride)} strides and "
                                f"offset {reprlib.repr(offset)}")
    geometry = f"size {list(size)}, stride {list(stride)} and offset {offset}"
    if min(size, default=0) < 0 or min(stride, default=0) < 0 or offset < 0:
        raise InvalidCheckpoint(f"a tensor with {geometry}: sizes, strides and offsets must "
                                "not be negative")
    numel = prod(size)
    if numel > MAX_NUMEL:
        raise InvalidCheckpoint(f"a tensor with {geometry} has {numel} elements, more than "
                                f"wgtorch's limit of {MAX_NUMEL} per tensor")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if (last >= storage.numel) if numel else (offset > storage.numel):
        raise InvalidCheckpoint(f"a tensor with {geometry} does not fit its storage of "
                                f"{storage.numel} elements")
    return size, stride


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    # NOTE: backward hooks and metadata are not restored (PyTorch does not save hooks either)
    if not isinstance(storage, LoadedStorage):
        raise InvalidCheckpoint(f"a tensor's storage must come from the archive, got "
                                f"{type(storage).__name__}")
    if type(requires_grad) is not bool:
        raise InvalidCheckpoint(f"requires_grad must be a bool, got {reprlib.repr(requires_grad)}")
    size, stride = check_view(storage, storage_offset, size, stride)
    t = storage.tensor()._view_of(size, stride, storage_offset)
    t._base = None  # a loaded tensor is a leaf of its own, like PyTorch's
    if requires_grad and t.dtype.is_floating_point:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def parameter_class():
    from .nn.parameter import Parameter  # NOTE: imported late: nn imports this package

    return Parameter


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    if not isinstance(data, Tensor) or type(requires_grad) is not bool:
        raise InvalidCheckpoint("_rebuild_parameter expects a tensor and a bool, got "
                                f"{type(data).__name__} and {type(requires_grad).__name__}")
    return parameter_class()(data, requires_grad)


def _set_obj_state(obj, state):
    """A loaded tensor's extra attributes (what PyTorch saves from its ``__dict__``): only new
    names; one that would replace an attribute wgtorch gives every tensor is refused."""
    if isinstance(state, tuple):
        if len(state) != 2:
            raise InvalidCheckpoint(f"Invalid serialized state: {reprlib.repr(state)}")
        parts = state
    else:
        parts = (state, None)
    for part in parts:
        if not part:
            continue
        if not isinstance(part, dict):
            raise InvalidCheckpoint(f"Invalid serialized state: {reprlib.repr(state)}")
        for k, v in part.items():
            if type(k) is not str or hasattr(type(obj), k) or k in vars(obj):
                raise InvalidCheckpoint(f"the file sets the attribute {reprlib.repr(k)} of a "
                                        "loaded tensor, which would replace wgtorch's own")
            setattr(obj, k, v)
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_obj_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in TENSOR_REBUILDS or not isinstance(args, tuple):
        what = getattr(func, "__name__", type(func).__name__)
        raise InvalidCheckpoint(f"_rebuild_from_type_v2 can only call a tensor rebuild "
                                f"function, got {what}")
    ret = func(*args)
    parameter = parameter_class()
    if new_type is parameter and type(ret) is not parameter:
        ret = parameter(ret, ret.requires_grad)
    elif new_type is not Tensor and new_type is not type(ret):
        raise InvalidCheckpoint(f"wgtorch cannot rebuild a tensor of type "
                                f"{reprlib.repr(new_type)}")
    return _set_obj_state(ret, state) if state else ret


def set_legacy_tensor_state(tensor, state):
    """BUILD on a Tensor/Parameter: PyTorch's ``Tensor.__setstate__`` for its
    ``(requires_grad, _, backward_hooks)`` form (hooks are not restored)."""
    if not (isinstance(state, tuple) and len(state) == 3 and type(state[0]) is bool):
        raise InvalidCheckpoint("wgtorch reads only the (requires_grad, _, hooks) form of a "
                                f"tensor's legacy state, got {reprlib.repr(state)}")
    tensor.requires_grad_(state[0])


def _torch_device(type_, index=None):
    if not isinstance(type_, str) or not (index is None or type(index) is int):
        raise InvalidCheckpoint(f"torch.device({reprlib.repr(type_)}, {reprlib.repr(index)})")
    return device(type_) if index is None else device(type_, index)


def _torch_size(sizes=()):
    return Size(_int_tuple("Size", sizes))


def _bytearray(source=b"", *args):
    if isinstance(source, int):  # NOTE: bytearray(n) allocates n bytes the file does not hold
        raise InvalidCheckpoint("the file calls bytearray(n), which allocates memory it does "
                                "not hold")
    return bytearray(source, *args)


TENSOR_REBUILDS = (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter,
                   _rebuild_parameter_with_state)

# Allowed by PyTorch's weights_only loader, but with no wgtorch equivalent (a clear error).
KNOWN_UNSUPPORTED = {f"torch._utils._rebuild_{name}" for name in (
    "qtensor", "tensor_v3", "sparse_tensor", "meta_tensor_no_storage", "nested_tensor",
    "wrapper_subclass", "device_tensor_from_numpy", "device_tensor_from_cpu_tensor")}
KNOWN_UNSUPPORTED |= {f"torch.{name}" for name in (
    "complex32", "complex64", "complex128", "uint16", "uint32", "uint64", "float8_e4m3fn",
    "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8", "qint32",
    "UntypedStorage", "storage.UntypedStorage", "storage.TypedStorage", "ComplexFloatStorage",
    "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage")}
KNOWN_UNSUPPORTED.add("torch.serialization._get_layout")

# NEWOBJ never builds these (an uninitialised wgtorch Tensor is not a tensor).
NO_NEWOBJ = (Tensor,)
# PyTorch's canonical dtype names (str(dtype)); aliases such as torch.float are not globals
CANONICAL_DTYPES = ("float32", "float16", "int64", "int32", "bool", "uint8", "float64",
                    "bfloat16", "int16", "int8")


@functools.lru_cache(maxsize=1)
def weights_only_globals():
    """PyTorch's default weights_only allow-list, ``"module.name" -> wgtorch object``."""
    table = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch.nn.parameter.Parameter": parameter_class(),
        "torch.Size": _torch_size,
        "torch.Tensor": Tensor,
        "torch.device": _torch_device,
        "_codecs.encode": codecs.encode,
        "builtins.bytearray": _bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    table.update({f"torch._utils.{f.__name__}": f for f in TENSOR_REBUILDS})
    table.update({f"torch.{name}": StorageType(name) for name in STORAGE_TYPES})
    table.update({f"torch.{name}": TORCH_DTYPES[name] for name in CANONICAL_DTYPES})
    return table


def _torch_globals():
    """PyTorch's globals that a trusted (``weights_only=False``) checkpoint may name, mapped to
    wgtorch's equivalents: the weights_only table plus aliases and full classes."""
    table = {tuple(k.rsplit(".", 1)): v for k, v in weights_only_globals().items()}
    table.update({("torch", name): d for name, d in TORCH_DTYPES.items()})
    table[("torch", "Size")] = Size
    table[("builtins", "frozenset")] = frozenset
    table[("builtins", "bytearray")] = bytearray
    return table


class Unpickler(pickle.Unpickler):
    """The unrestricted unpickler (``weights_only=False``, trusted files only): PyTorch's
    globals map to wgtorch's, any other global is imported; storages come from the archive."""

    def __init__(self, file, archive, encoding="utf-8"):
        super().__init__(file, encoding=encoding)
        self.archive = archive
        self.table = _torch_globals()

    def find_class(self, module, name):
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self.table.get((module, name))
        if found is not None:
            return found
        if module == "torch" or module.startswith("torch."):
            return _wgtorch_global(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return load_storage(self.archive, pid)


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
