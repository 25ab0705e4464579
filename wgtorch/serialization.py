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

- Devices, as PyTorch: ``save`` records each storage's device as PyTorch's location tag
  (``"cpu"`` for cpu tensors, ``"cuda:0"`` for the WebGPU device, whose alias is ``cuda``),
  and ``load`` restores every tensor on the device it was saved from (``"cuda"``/``"mps"``/
  ``"wgpu"`` tags: the WebGPU device) unless ``map_location`` says otherwise: a string or
  ``device`` (everything there), a dict of tags (``{"cuda:0": "cpu"}``; tags it lacks restore
  as saved), or a callable ``fn(storage, location)`` returning None (as saved), ``storage``
  (cpu, as PyTorch hands the callable a cpu storage), ``storage.cpu()``, ``storage.cuda()``
  or ``storage.to(device)``. So a checkpoint of GPU tensors needs ``map_location="cpu"`` in
  a PyTorch without CUDA, exactly as one saved from CUDA does.
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

import io
import os
import pickle
import random
import zipfile

import numpy as np

from . import dtypes as dt
from ._safetensors import load_file, save_file
from ._torch_pickle import (
    LoadedStorage, Pickler, UnsupportedGlobal, Unpickler, add_safe_globals, clear_safe_globals,
    get_safe_globals,
)
from .backend import get_runtime
from .device import CPU, GPU, as_device
from .tensor import ELEMENT_BYTES, Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "save_safetensors", "load_safetensors"]

save_safetensors = save_file
load_safetensors = load_file

DEFAULT_PROTOCOL = 2
STORAGE_ALIGNMENT = 64
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


# ---- writing -------------------------------------------------------------------------------


def _storage_bytes(ref):
    """The storage's elements in PyTorch's layout for its dtype (little-endian)."""
    raw = get_runtime().read(ref.storage.buffer, 0, ref.numel * ELEMENT_BYTES)
    words = np.frombuffer(raw, dtype=dt.STORAGE_NP[ref.dtype.wgsl])
    return words.astype(np.dtype(ref.dtype.np_dtype).newbyteorder("<")).tobytes()


class _LocatedPickler(Pickler):
    """The checkpoint pickler, writing each storage's device as PyTorch's location tag."""

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.devices = {}  # id(storage) -> the device of the tensors that use it

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            self.devices.setdefault(id(obj._storage), obj.device)
        return super().reducer_override(obj)

    def persistent_id(self, obj):
        pid = super().persistent_id(obj)
        if pid is not None and self.devices.get(id(obj.storage), CPU) == GPU:
            pid = pid[:3] + ("cuda:0",) + pid[4:]
        return pid


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
    pickler = _LocatedPickler(data_pkl, pickle_protocol)
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


class _CheckpointError(RuntimeError):
    """A problem with the file, already described with its name."""


def _saved_device(location):
    """The device a location tag names: ``"cpu"``, or the WebGPU device for ``"cuda"``,
    ``"cuda:0"``, ``"wgpu"``, ``"mps"`` (PyTorch's default_restore_location)."""
    if location == "cpu":
        return CPU
    try:
        return as_device(location)
    except (RuntimeError, ValueError):
        raise RuntimeError(
            f"cannot restore a storage saved on device {location!r}: wgtorch has one adapter "
            "('cuda:0') and 'cpu'; pass map_location (e.g. map_location='cuda') to choose where "
            "it goes") from None


def _resolve_device(map_location, storage, location):
    """Where a storage saved at ``location`` goes (None: where it was saved)."""
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        target = map_location.get(location)
        return None if target is None else as_device(target)
    if callable(map_location):
        result = map_location(storage, location)
        if result is None:
            return None
        if isinstance(result, LoadedStorage):
            return result.device or CPU  # NOTE: PyTorch hands the callable a cpu storage
        raise RuntimeError("map_location callables must return the storage they were given "
                           "(optionally moved with .cpu(), .cuda() or .to(device))")
    return as_device(map_location)


class _Archive:
    """The records of one checkpoint zip, with the errors that name the file."""

    def __init__(self, zf, name, map_location):
        self.zf, self.name, self.map_location = zf, name, map_location
        names = zf.namelist()
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pkl:
            torchscript = any(n.endswith("constants.pkl") for n in names)
            what = ("a TorchScript archive (use torch.jit in PyTorch)" if torchscript
                    else "a zip without data.pkl")
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
            if len(raw) < numel * storage_type.itemsize:
                raise _CheckpointError(
                    f"{self.name}: storage {key} holds {len(raw)} bytes but {numel} elements of "
                    f"{storage_type.name} need {numel * storage_type.itemsize} (truncated or "
                    "corrupted file)"
                )
            array = storage_type.decode(raw, numel, self.big_endian)
            found = LoadedStorage(array, storage_type.dtype, location)
            found.device = (_resolve_device(self.map_location, found, location)
                            or _saved_device(location))
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
    file object). Tensors land on the device they were saved from unless ``map_location``
    says otherwise (see the module docstring). ``weights_only=True`` (the default) refuses
    arbitrary objects.

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
            unpickler = Unpickler(io.BytesIO(archive.read("data.pkl")), archive, weights_only)
            try:
                return unpickler.load()
            except (UnsupportedGlobal, _CheckpointError):
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



class safe_globals:
    """Allow these globals in ``weights_only`` loads inside a ``with`` block only, as
    ``torch.serialization.safe_globals``.

    Example::

        with torch.serialization.safe_globals([MyConfig]):
            ckpt = torch.load("ckpt.pt")
    """

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self.before = get_safe_globals()
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        clear_safe_globals()
        add_safe_globals(self.before)
