"""Checkpoints: ``save``/``load`` in PyTorch's own zip format, without torch installed.

A file written by ``wgtorch.save`` loads with ``torch.load`` and the reverse. The format
(PyTorch >= 1.6): a zip archive (stored, not compressed) whose records live under one
top-level folder::

    archive/data.pkl        the object, pickled with protocol 2; each tensor is
                            torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
                            requires_grad, OrderedDict()) and each storage a persistent id
                            ("storage", torch.FloatStorage, "<key>", "cpu", numel)
    archive/data/<key>      the raw little-endian bytes of each storage
    archive/byteorder       "little";  archive/version  "3\\n"  (+ small format markers)

Tensors that share a storage (views) share it in the file and again after loading.

Decisions (documented here, as DESIGN.md asks):

- Devices. ``save`` records every tensor with PyTorch's ``"cpu"`` location so that the file
  loads in any PyTorch build. PyTorch's default device (cpu) corresponds to wgtorch's
  default device (the GPU), so ``load`` puts tensors on the GPU device unless ``map_location``
  says otherwise (``"cpu"``, ``"cuda"``, a ``device``, a dict of locations, or a callable
  ``fn(storage, location)`` returning ``storage``, ``storage.cpu()`` or ``storage.cuda()``).
- dtypes. float64 and bfloat16 tensors load as float32, int8/int16 as int32 (wgtorch has no
  such dtypes); int64 values must fit in int32 (wgtorch's int64 storage) or loading raises.
- ``weights_only`` defaults to True, as in PyTorch 2.6+: a restricted unpickler accepts only
  containers, numbers, strings, tensors, dtypes, devices and sizes (extend it with
  ``add_safe_globals``). ``weights_only=False`` unpickles anything: only for trusted files.
- A file that is not a zip archive, misses a record, has a bad checksum or cannot be
  unpickled raises ``RuntimeError`` naming the file and the problem.

Safetensors files are read and written by ``save_safetensors``/``load_safetensors`` (module
``wgtorch._safetensors``; the optional ``safetensors`` package is not needed).
"""

import _compat_pickle
import codecs
import io
import os
import pickle
import random
import zipfile
from collections import Counter, OrderedDict

import numpy as np

from . import dtypes as dt
from ._safetensors import load_file, save_file
from .device import CPU, GPU, as_device
from .backend import get_runtime
from .tensor import ELEMENT_BYTES, Size, Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "save_safetensors", "load_safetensors"]

save_safetensors = save_file
load_safetensors = load_file

DEFAULT_PROTOCOL = 2
STORAGE_ALIGNMENT = 64
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

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


# ---- writing -------------------------------------------------------------------------------


class _Global:
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


class _StorageRef:
    """One storage in the file: its key, dtype and element count (pickled as a persistent id)."""

    __slots__ = ("key", "dtype", "numel", "storage")

    def __init__(self, key, dtype, storage):
        self.key, self.dtype, self.numel, self.storage = key, dtype, storage.numel, storage


class _Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes wgtorch tensors, dtypes, devices and sizes as PyTorch's."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # (id(storage), dtype name) -> _StorageRef

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", _Global("torch", STORAGE_NAME[obj.dtype]), obj.key, "cpu",
                    obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if type(obj).__name__ == "Parameter":
                return (_Global("torch._utils", "_rebuild_parameter"),
                        (obj.detach(), obj.requires_grad, OrderedDict()))
            key = (id(obj._storage), obj.dtype.name)
            ref = self.storages.get(key)
            if ref is None:
                ref = self.storages[key] = _StorageRef(str(len(self.storages)), obj.dtype,
                                                       obj._storage)
            return (_Global("torch._utils", "_rebuild_tensor_v2"),
                    (ref, obj._offset, tuple(obj.shape), tuple(obj._stride), obj.requires_grad,
                     OrderedDict()))
        if isinstance(obj, Size):
            return (_Global("torch", "Size"), (tuple(obj),))
        return NotImplemented

    def save_torch_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    def save_dtype(self, obj):
        self.save(_Global("torch", obj.name))

    def save_device(self, obj):
        args = ("cpu",) if obj.type == "cpu" else ("cuda", 0)
        self.save_reduce(_Global("torch", "device"), args, obj=obj)

    dispatch[_Global] = save_torch_global
    dispatch[dt.dtype] = save_dtype
    dispatch[type(GPU)] = save_device


def _storage_bytes(ref):
    """The storage's elements in PyTorch's layout for its dtype (little-endian)."""
    raw = get_runtime().read(ref.storage.buffer, 0, ref.numel * ELEMENT_BYTES)
    words = np.frombuffer(raw, dtype=dt.STORAGE_NP[ref.dtype.wgsl])
    return words.astype(np.dtype(ref.dtype.np_dtype).newbyteorder("<")).tobytes()


def _archive_name(f):
    if isinstance(f, (str, os.PathLike)):
        stem = os.path.splitext(os.path.basename(os.fspath(f)))[0]
        if stem and stem.isprintable() and "/" not in stem:
            return stem
    return "archive"


def _write_record(zf, fileobj, name, data):
    """Write one stored record whose data starts on a STORAGE_ALIGNMENT boundary (as PyTorch's
    writer does, so that ``torch.load(mmap=True)`` can map it)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    try:
        start = fileobj.tell() + 30 + len(name.encode("utf-8")) + 4
        pad = -start % STORAGE_ALIGNMENT
        info.extra = b"FB" + pad.to_bytes(2, "little") + b"Z" * pad
    except (OSError, AttributeError):  # unseekable stream: alignment is optional
        pass
    zf.writestr(info, data)


def save(obj, f, pickle_module=None, pickle_protocol=DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False):
    """Save ``obj`` (tensors, state_dicts, nested containers, numbers...) to ``f`` (a path or
    a binary file object) in PyTorch's zip checkpoint format, loadable by ``torch.load``.

    Example::

        wgtorch.save(model.state_dict(), "model.pt")
        wgtorch.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
                     "checkpoint.pt")
    """
    if not _use_new_zipfile_serialization:
        raise RuntimeError("wgtorch.save writes only PyTorch's zip format "
                           "(_use_new_zipfile_serialization=True)")
    data_pkl = io.BytesIO()
    pickler = _Pickler(data_pkl, pickle_protocol)
    pickler.dump(obj)
    prefix = _archive_name(f) + "/"
    owns = isinstance(f, (str, os.PathLike))
    fileobj = open(f, "wb") if owns else f
    try:
        with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_STORED) as zf:
            _write_record(zf, fileobj, prefix + "data.pkl", data_pkl.getvalue())
            _write_record(zf, fileobj, prefix + ".format_version", b"1")
            _write_record(zf, fileobj, prefix + ".storage_alignment", str(STORAGE_ALIGNMENT))
            if not _disable_byteorder_record:
                _write_record(zf, fileobj, prefix + "byteorder", b"little")
            for ref in pickler.storages.values():
                _write_record(zf, fileobj, prefix + "data/" + ref.key, _storage_bytes(ref))
            _write_record(zf, fileobj, prefix + "version", b"3\n")
            serial = "".join(random.choice("0123456789") for _ in range(40))
            _write_record(zf, fileobj, prefix + ".data/serialization_id", serial)
    finally:
        if owns:
            fileobj.close()


# ---- reading -------------------------------------------------------------------------------


class _StorageType:
    """What ``torch.FloatStorage`` (etc.) unpickles to: the storage's dtype in the file."""

    def __init__(self, name):
        self.name = name
        self.file_dtype, self.dtype = STORAGE_TYPES[name]


class _LoadedStorage:
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


def _decode(raw, file_dtype, numel, big_endian):
    if file_dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype=">u2" if big_endian else "<u2").astype(np.uint32)
        return (bits << 16).view(np.float32)
    npd = np.dtype(file_dtype)
    if big_endian:
        npd = npd.newbyteorder(">")
    return np.frombuffer(raw, dtype=npd, count=numel)


def _resolve_device(map_location, storage, location):
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        target = map_location.get(location)
        return None if target is None else as_device(target)
    if callable(map_location):
        result = map_location(storage, location)
        if result is None or result is storage:
            return storage.device
        if isinstance(result, _LoadedStorage):
            return result.device
        raise RuntimeError("map_location callables must return the storage they were given "
                           "(optionally moved with .cpu(), .cuda() or .to(device))")
    return as_device(map_location)


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    base = storage.tensor()
    size, stride = tuple(size), tuple(stride)
    capacity = base._storage.numel
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if storage_offset < 0 or min(stride, default=0) < 0 or (
        all(size) and last >= capacity or storage_offset > capacity
    ):
        raise pickle.UnpicklingError(
            f"a tensor of size {list(size)}, stride {list(stride)} and offset {storage_offset} "
            f"does not fit its storage of {capacity} elements"
        )
    t = base._view_of(size, stride, storage_offset)
    t._base = None  # a loaded tensor is a leaf of its own, like PyTorch's
    if requires_grad and t.dtype.is_floating_point:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks):
    try:
        from .nn.parameter import Parameter
    except ImportError:  # nn not available: a leaf tensor with the same flag
        return data.detach().requires_grad_(requires_grad and data.dtype.is_floating_point)
    return Parameter(data, requires_grad)


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


def _parameter_class():
    from .nn.parameter import Parameter

    return Parameter


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
    table.update({("torch", name): _StorageType(name) for name in STORAGE_TYPES})
    table.update({("torch", name): d for name, d in TORCH_DTYPES.items()})
    try:
        table[("torch.nn.parameter", "Parameter")] = _parameter_class()
    except ImportError:
        pass
    return table


_safe_globals = {}  # "module.name" -> object, added by add_safe_globals


def add_safe_globals(safe_globals):
    """Allow these functions/classes (or ``(obj, "module.name")`` pairs) in ``weights_only``
    loads, as ``torch.serialization.add_safe_globals`` does."""
    for entry in safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        _safe_globals[name or f"{obj.__module__}.{obj.__qualname__}"] = obj


def get_safe_globals():
    """The user-allowed globals for ``weights_only`` loads."""
    return list(_safe_globals.values())


def clear_safe_globals():
    """Forget every global added with ``add_safe_globals``."""
    _safe_globals.clear()


class _UnsupportedGlobal(pickle.UnpicklingError):
    pass


class _CheckpointError(RuntimeError):
    """A problem with the file, already described with its name."""


class _Unpickler(pickle.Unpickler):
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
        if self.weights_only:
            raise _UnsupportedGlobal(
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
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return self.archive.storage(storage_type, str(key), str(location), int(numel))


def _wgtorch_global(module, name):
    """``torch.x.y.Name`` (a full-object pickle, weights_only=False) as wgtorch's same name."""
    import importlib

    for candidate in ("wg" + module, "wgtorch.nn" if module.startswith("torch.nn") else None,
                      "wgtorch"):
        if candidate is None:
            continue
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"the checkpoint needs {module}.{name}, which wgtorch lacks")


class _Archive:
    """The records of one checkpoint zip, with the errors that name the file."""

    def __init__(self, zf, name, map_location):
        self.zf, self.name, self.map_location = zf, name, map_location
        names = zf.namelist()
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pkl:
            what = ("a TorchScript archive (use torch.jit in PyTorch)"
                    if any(n.endswith("constants.pkl") for n in names) else "a zip without data.pkl")
            raise _CheckpointError(f"{name}: not a PyTorch checkpoint: it is {what}")
        self.prefix = min(pkl, key=len)[: -len("data.pkl")]
        self.big_endian = False
        if self.prefix + "byteorder" in names:
            self.big_endian = self.read("byteorder").strip() == b"big"
        self.storages = {}

    def read(self, record):
        try:
            return self.zf.read(self.prefix + record)
        except KeyError:
            raise _CheckpointError(
                f"{self.name}: the checkpoint has no record {self.prefix + record!r} "
                "(the file is truncated or corrupted)"
            ) from None

    def storage(self, storage_type, key, location, numel):
        found = self.storages.get(key)
        if found is None:
            raw = self.read("data/" + key)
            itemsize = 2 if storage_type.file_dtype == "bfloat16" else np.dtype(
                storage_type.file_dtype).itemsize
            if len(raw) < numel * itemsize:
                raise _CheckpointError(
                    f"{self.name}: storage {key} holds {len(raw)} bytes but {numel} elements of "
                    f"{storage_type.name} need {numel * itemsize} (truncated or corrupted file)"
                )
            array = _decode(raw[: numel * itemsize], storage_type.file_dtype, numel,
                            self.big_endian)
            if storage_type.file_dtype in (np.float64, "bfloat16"):
                array = array.astype(np.float32)
            found = _LoadedStorage(array, storage_type.dtype, location)
            found.device = _resolve_device(self.map_location, found, location)
            self.storages[key] = found
        return found


def _open(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), os.fspath(f), True
    name = getattr(f, "name", None) or "<file object>"
    if not (hasattr(f, "seekable") and f.seekable()):
        return io.BytesIO(f.read()), str(name), True
    return f, str(name), False


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by ``torch.save`` or ``wgtorch.save`` from ``f`` (a path or a binary
    file object). Tensors land on the GPU device unless ``map_location`` says otherwise (see
    the module docstring). ``weights_only=True`` (the default) refuses arbitrary objects.

    Example::

        model.load_state_dict(wgtorch.load("model.pt", map_location="cuda"))
    """
    weights_only = True if weights_only is None else weights_only
    fileobj, name, owns = _open(f)
    try:
        start = fileobj.tell()
        head = fileobj.read(len(LEGACY_MAGIC))
        fileobj.seek(start)
        try:
            zf = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            if head == LEGACY_MAGIC:
                raise RuntimeError(
                    f"{name}: this checkpoint uses PyTorch's legacy (pre-1.6) format, which "
                    "wgtorch does not read; re-save it with torch.save in a recent PyTorch"
                ) from None
            raise RuntimeError(
                f"{name}: cannot read the checkpoint: not a valid zip archive ({exc}); the "
                "file is truncated or corrupted, or was not written by torch.save"
            ) from None
        with zf:
            archive = _Archive(zf, name, map_location)
            unpickler = _Unpickler(io.BytesIO(archive.read("data.pkl")), archive, weights_only)
            try:
                return unpickler.load()
            except (_UnsupportedGlobal, _CheckpointError):
                raise
            except RuntimeError as exc:  # e.g. int64 values that do not fit wgtorch's storage
                raise RuntimeError(f"{name}: {exc}") from None
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                    KeyError, IndexError, TypeError, AttributeError,
                    pickle.UnpicklingError) as exc:
                raise RuntimeError(
                    f"{name}: corrupted checkpoint: cannot unpickle {archive.prefix}data.pkl "
                    f"({type(exc).__name__}: {exc})"
                ) from None
    except zipfile.BadZipFile as exc:  # a bad CRC or header while reading a record
        raise RuntimeError(f"{name}: corrupted checkpoint: {exc}") from None
    finally:
        if owns:
            fileobj.close()

