"""The safetensors format, read and written directly (the ``safetensors`` package is optional).

A file is: an 8-byte little-endian header length N, N bytes of JSON
``{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
"__metadata__": {"key": "value"}}`` (padded with spaces to a multiple of 8), then the tensors'
bytes, C-contiguous and little-endian, at those offsets from the end of the header.

Tensors that share storage are written as separate copies (safetensors has no views).
F64 and BF16 load as float32, I8/I16/U16 as int32, U32/U64 as int64 (values must fit in
wgtorch's 32-bit integer storage); with ``device=None`` tensors go to the GPU device.
"""

import io
import json
import os
import reprlib
import struct

import numpy as np

from . import dtypes as dt
from .device import GPU, as_device
from .tensor import MAX_NUMEL, Tensor, prod

__all__ = ["save", "save_file", "load", "load_file"]

# safetensors dtype -> (numpy dtype in the file, wgtorch dtype)
FILE_DTYPES = {
    "F32": ("<f4", dt.float32), "F16": ("<f2", dt.float16), "I64": ("<i8", dt.int64),
    "I32": ("<i4", dt.int32), "U8": ("u1", dt.uint8), "BOOL": ("?", dt.bool_),
    "F64": ("<f8", dt.float32), "BF16": ("<u2", dt.float32), "I16": ("<i2", dt.int32),
    "I8": ("i1", dt.int32), "U16": ("<u2", dt.int32), "U32": ("<u4", dt.int64),
    "U64": ("<u8", dt.int64),
}
NAMES = {dt.float32: "F32", dt.float16: "F16", dt.int64: "I64", dt.int32: "I32",
         dt.uint8: "U8", dt.bool_: "BOOL"}
MAX_HEADER = 100_000_000


def save(tensors, metadata=None):
    """The safetensors bytes of ``tensors`` (a dict of name -> Tensor)."""
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of tensors, got {type(tensors).__name__}")
    if metadata is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError("safetensors metadata must be a dict of str to str")
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__}")
        if not isinstance(t, Tensor):
            raise TypeError(f"{name!r} is a {type(t).__name__}, not a Tensor")
        data = t.detach().numpy().astype(np.dtype(FILE_DTYPES[NAMES[t.dtype]][0])).tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` (a dict of name -> Tensor) to ``filename`` in safetensors format.

    Example::

        wgtorch.serialization.save_safetensors(model.state_dict(), "model.safetensors")
    """
    data = save(tensors, metadata)
    with open(filename, "wb") as f:
        f.write(data)


def _corrupt(where, why):
    return RuntimeError(f"{where}: invalid safetensors file: {why}")


def _read_header(f, size, where):
    """The header of the safetensors file ``f`` (``size`` bytes long), validated as the
    safetensors package validates it: tensors tile the data region exactly, each holding
    ``prod(shape) * itemsize`` bytes. Returns (entries sorted by offset, metadata)."""
    head = f.read(8)
    if len(head) < 8:
        raise _corrupt(where, "shorter than its 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", head)
    if n > min(MAX_HEADER, size - 8):
        raise _corrupt(where, f"header length {n} exceeds the file (truncated or not safetensors)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _corrupt(where, f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _corrupt(where, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not (isinstance(metadata, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    )):
        raise _corrupt(where, "__metadata__ must be a JSON object of strings")
    entries = [_entry(name, info, where) for name, info in header.items()]
    entries.sort(key=lambda e: e[3])
    end = 0
    for name, dtype_name, shape, begin, stop in entries:
        nbytes = prod(shape) * np.dtype(FILE_DTYPES[dtype_name][0]).itemsize
        if begin != end or stop - begin != nbytes:
            raise _corrupt(where, f"tensor {name!r} has data offsets [{begin}, {stop}] that do "
                                  f"not match its shape {list(shape)} ({nbytes} bytes) at byte "
                                  f"{end} of the data")
        end = stop
    if end != size - 8 - n:
        raise _corrupt(where, f"the tensors cover {end} bytes but the file holds "
                              f"{size - 8 - n} data bytes (truncated?)")
    return entries, metadata


def _entry(name, info, where):
    """(name, dtype name, shape, begin, end) of one header entry, or a clear error."""
    try:
        dtype_name, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if dtype_name not in FILE_DTYPES:
            if not isinstance(dtype_name, str):
                raise TypeError
            raise _corrupt(where, f"tensor {name!r} has dtype {dtype_name!r}, of which wgtorch "
                                  "has no equivalent")
        if not all(type(v) is int and v >= 0 for v in (*shape, begin, end)):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise _corrupt(where, f"bad header entry for {name!r}: {reprlib.repr(info)}") from None
    if prod(shape) > MAX_NUMEL:
        raise _corrupt(where, f"tensor {name!r} of shape {list(shape)} has more than "
                              f"wgtorch's limit of {MAX_NUMEL} elements")
    return name, dtype_name, shape, begin, end


def load(data, device=None, *, where="<bytes>"):
    """The dict of tensors in safetensors ``data`` (bytes)."""
    return _load(io.BytesIO(data), len(data), device, where)


def _load(f, size, device, where):
    entries, _ = _read_header(f, size, where)
    device = GPU if device is None else as_device(device)
    data_start = f.tell()
    out = {}
    for name, dtype_name, shape, begin, end in entries:
        f.seek(data_start + begin)
        raw = f.read(end - begin)
        if len(raw) != end - begin:
            raise _corrupt(where, f"tensor {name!r} is cut short (truncated?)")
        file_dtype, dtype = FILE_DTYPES[dtype_name]
        array = np.frombuffer(raw, dtype=file_dtype).reshape(shape)
        if dtype_name == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        try:
            out[name] = Tensor._from_numpy(array, dtype, device)
        except RuntimeError as exc:  # int64 values beyond wgtorch's storage, too large...
            raise RuntimeError(f"{where}: tensor {name!r}: {exc}") from None
    return out


def load_file(filename, device=None):
    """Load every tensor of a safetensors file as a dict of name -> Tensor (read one tensor
    at a time: the host never holds the whole file).

    Example::

        model.load_state_dict(wgtorch.serialization.load_safetensors("model.safetensors"))
    """
    with open(filename, "rb") as f:
        return _load(f, os.fstat(f.fileno()).st_size, device, os.fspath(filename))


def load_metadata(filename):
    """The ``__metadata__`` dict of a safetensors file (empty when it has none)."""
    with open(filename, "rb") as f:
        return dict(_read_header(f, os.fstat(f.fileno()).st_size, os.fspath(filename))[1])
