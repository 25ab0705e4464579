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
- ``weights_only`` defaults to True, as in PyTorch 2.6+: the restricted unpickler of
  ``wgtorch._weights_only`` accepts what PyTorch's accepts (containers, numbers, strings,
  tensors, dtypes, devices and sizes; extend it with ``add_safe_globals``) and can neither
  run code nor change any object but the ones it creates. ``weights_only=False`` unpickles
  anything: only for trusted files.
- Sizes are checked before anything is read: a storage record must hold exactly the
  ``numel * element size`` bytes its persistent id declares, fit one GPU storage binding, and
  every tensor must lie inside its storage with sizes, strides and offset >= 0 and at most
  ``MAX_NUMEL`` elements. Storages are read in chunks and uploaded one at a time, so the
  host holds about one storage's bytes (twice, while it is uploaded), never the file.
- A file that is not a zip archive, misses a record, has a bad checksum, declares impossible
  sizes or cannot be unpickled raises ``RuntimeError`` naming the file and the problem; one
  that asks for more than ``weights_only`` allows raises ``pickle.UnpicklingError``
  ("Weights only load failed ...").

Safetensors files are read and written by ``save_safetensors``/``load_safetensors`` (module
``wgtorch._safetensors``; the optional ``safetensors`` package is not needed).
"""

import io
import os
import pickle
import random
import reprlib
import struct
import zipfile

import numpy as np

from . import _weights_only
from . import dtypes as dt
from ._safetensors import load_file, save_file
from ._torch_pickle import LoadedStorage, Pickler, Unpickler, load_storage
from ._weights_only import add_safe_globals, clear_safe_globals, get_safe_globals
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

SMALL_RECORD = 64  # bytes: the most a format marker (byteorder...) may declare
MAX_PICKLE_RATIO = 64  # a data.pkl inflating more than this is a zip bomb, not a checkpoint
CHUNK = 1 << 20  # storages are read in chunks of this many bytes
UNSAFE_MESSAGE = ("Re-running `load` with `weights_only=False` will likely succeed, but it can "
                  "result in arbitrary code execution. Do it only if you got the file from a "
                  "trusted source.")
# what reading a damaged archive or pickle can raise (RuntimeErrors are named separately)
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
           IndexError, TypeError, AttributeError, struct.error, OverflowError, MemoryError,
           pickle.UnpicklingError)


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
            f"cannot restore a storage saved on device {reprlib.repr(location)}: wgtorch has "
            "one adapter ('cuda:0') and 'cpu'; pass map_location (e.g. map_location='cuda') to "
            "choose where it goes") from None


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
    """The records of one checkpoint zip, read only after their declared sizes are checked,
    with the errors that name the file."""

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
            self.big_endian = self.read_small("byteorder").strip() == b"big"
        self.storages = {}

    def info(self, record):
        try:
            return self.zf.getinfo(self.prefix + record)
        except KeyError:
            raise _CheckpointError(
                f"{self.name}: the checkpoint has no record {self.prefix + record!r} "
                "(the file is truncated or corrupted)"
            ) from None

    def open_pickle(self):
        """A buffered reader over data.pkl, which is unpickled as it streams; refused when
        compressed and declaring an implausible expansion.

        NOTE: unpickling can take ~100 bytes of objects per pickle byte (an EMPTY_LIST opcode
        is one byte), in PyTorch too; this bounds the pickle, hence that, by the file."""
        info = self.info("data.pkl")
        if info.compress_type != zipfile.ZIP_STORED and (
            info.file_size > MAX_PICKLE_RATIO * max(info.compress_size, 1024)
        ):
            raise _CheckpointError(
                f"{self.name}: record {info.filename!r} declares {info.file_size} bytes from "
                f"{info.compress_size} compressed bytes (a zip bomb, not a checkpoint)"
            )
        return io.BufferedReader(self.zf.open(info), 1 << 16)

    def read_small(self, record):
        info = self.info(record)
        if info.file_size > SMALL_RECORD:
            raise _CheckpointError(f"{self.name}: record {info.filename!r} declares "
                                   f"{info.file_size} bytes; at most {SMALL_RECORD} expected")
        return self.zf.read(info)

    def _read_exact(self, info, nbytes):
        data = bytearray(nbytes)
        view, got = memoryview(data), 0
        with self.zf.open(info) as f:
            while got < nbytes:
                chunk = f.read(min(CHUNK, nbytes - got))
                if not chunk:
                    raise EOFError(f"record {info.filename!r} ends after {got} bytes")
                view[got : got + len(chunk)] = chunk
                got += len(chunk)
        return data

    def persistent_load(self, pid):
        return load_storage(self, pid)

    def storage(self, storage_type, key, location, numel):
        """Storage ``key``: its record's declared size must be ``numel`` elements of
        ``storage_type`` (checked before a byte is read), then it is read and uploaded."""
        found = self.storages.get(key)
        if found is not None:
            if (found.storage_type.name, found.numel) != (storage_type.name, numel):
                raise _CheckpointError(
                    f"{self.name}: storage {key} is referred to as {found.numel} elements of "
                    f"{found.storage_type.name} and as {numel} elements of {storage_type.name}"
                )
            return found
        nbytes = numel * storage_type.itemsize
        info = self.info("data/" + key)
        if info.file_size != nbytes:
            raise _CheckpointError(
                f"{self.name}: storage {key}: record size ({info.file_size} bytes) does not match "
                f"expected size ({nbytes} bytes = {numel} elements * {storage_type.itemsize} "
                f"bytes/element) for {storage_type.name} (truncated or corrupted file)"
            )
        limit = get_runtime().max_binding_bytes
        if numel * ELEMENT_BYTES > limit:
            raise _CheckpointError(
                f"{self.name}: storage {key} has {numel} elements ({numel * ELEMENT_BYTES} bytes "
                f"on the GPU), more than this adapter's largest storage binding ({limit} bytes)"
            )
        if self.map_location is None:
            _saved_device(location)  # an unknown tag fails before the record is read
        array = storage_type.decode(self._read_exact(info, nbytes), numel, self.big_endian)
        found = LoadedStorage(array, storage_type.dtype, location, storage_type)
        found.device = (_resolve_device(self.map_location, found, location)
                        or _saved_device(location))
        found.tensor()  # uploaded now, so the next record's bytes replace these on the host
        self.storages[key] = found
        return found


def _open(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), os.fspath(f), True
    name = getattr(f, "name", None) or "<file object>"
    if not (hasattr(f, "seekable") and f.seekable()):
        return io.BytesIO(f.read()), str(name), True
    return f, str(name), False


def _open_zip(fileobj, name):
    start = fileobj.tell()
    head = fileobj.read(len(LEGACY_MAGIC))
    fileobj.seek(start)
    try:
        return zipfile.ZipFile(fileobj)
    except (*_DAMAGE, NotImplementedError) as exc:
        if head == LEGACY_MAGIC:
            raise RuntimeError(
                f"{name}: this checkpoint uses PyTorch's legacy (pre-1.6) format, which "
                "wgtorch does not read; re-save it with torch.save in a recent PyTorch"
            ) from None
        raise RuntimeError(
            f"{name}: cannot read the checkpoint: not a valid zip archive ({exc}); the "
            "file is truncated or corrupted, or was not written by torch.save"
        ) from None


def _unpickle(archive, weights_only, pickle_module, encoding):
    with archive.open_pickle() as data_pkl:
        if weights_only:
            return _weights_only.load(data_pkl, archive.persistent_load, encoding=encoding)
        if pickle_module is not None and pickle_module is not pickle:
            raise RuntimeError("wgtorch.load supports only the standard pickle module")
        return Unpickler(data_pkl, archive, encoding=encoding).load()


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load an object saved by ``torch.save`` or ``wgtorch.save`` from ``f`` (a path or a binary
    file object). Tensors land on the device they were saved from unless ``map_location``
    says otherwise (see the module docstring).

    ``weights_only=True`` (the default) builds only what PyTorch's weights-only loader builds
    (containers, numbers, strings, tensors, dtypes, devices, sizes and the globals allowed
    with ``add_safe_globals``); anything else raises ``pickle.UnpicklingError`` ("Weights only
    load failed ..."). A damaged or impossible file raises ``RuntimeError`` naming the file.

    Example::

        model.load_state_dict(wgtorch.load("model.pt", map_location="cuda"))
    """
    weights_only = True if weights_only is None else weights_only
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if weights_only:
        _weights_only.user_allowed_globals()  # a malformed add_safe_globals entry raises here
    encoding = pickle_load_args.get("encoding", "utf-8")
    fileobj, name, owns = _open(f)
    try:
        with _open_zip(fileobj, name) as zf:
            archive = None
            try:
                archive = _Archive(zf, name, map_location)
                return _unpickle(archive, weights_only, pickle_module, encoding)
            except _weights_only.WeightsOnlyError as exc:
                raise pickle.UnpicklingError(
                    f"Weights only load failed. {name}: {exc} {UNSAFE_MESSAGE}") from None
            except _CheckpointError:
                raise
            except RuntimeError as exc:  # impossible sizes, int64 values that do not fit ...
                raise RuntimeError(f"{name}: {exc}") from None
            except _DAMAGE as exc:
                what = "its records" if archive is None else f"{archive.prefix}data.pkl"
                raise RuntimeError(f"{name}: corrupted checkpoint: cannot unpickle {what} "
                                   f"({type(exc).__name__}: {exc})") from None
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
