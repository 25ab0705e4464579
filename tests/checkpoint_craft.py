"""Hand-made checkpoints for the load tests: a tiny protocol-2 pickle assembler and a zip
writer that can declare any sizes (what an attacker controls), so the tests can say exactly
which bytes a hostile file holds."""

import io
import struct
import zipfile
import zlib

PROTO = b"\x80\x02"
STOP = b"."


def glob(module, name):
    """GLOBAL module.name"""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(s):
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def integer(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def tup(*items):
    return b"(" + b"".join(items) + b"t"


def dct(**items):
    return b"}(" + b"".join(text(k) + v for k, v in items.items()) + b"u"


def call(func, *args):
    """REDUCE: func(*args)"""
    return func + tup(*args) + b"R"


def build(obj, dict_state=b"N", slot_state=None):
    """BUILD obj with (dict_state, slot_state) or dict_state alone."""
    state = dict_state if slot_state is None else tup(dict_state, slot_state)
    return obj + state + b"b"


def storage(key="0", numel=4, kind="FloatStorage"):
    """BINPERSID ("storage", torch.<kind>, key, "cpu", numel)"""
    return tup(text("storage"), glob("torch", kind), text(key), text("cpu"), integer(numel)) + b"Q"


def tensor(size, stride, offset=0, key="0", numel=4, kind="FloatStorage"):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())"""
    return call(glob("torch._utils", "_rebuild_tensor_v2"), storage(key, numel, kind),
                integer(offset), tup(*map(integer, size)), tup(*map(integer, stride)), b"\x89",
                call(glob("collections", "OrderedDict")))


def pickle_bytes(*ops):
    return PROTO + b"".join(ops) + STOP


def checkpoint(pkl, records=None):
    """A zip laid out as torch.save lays it out, with ``records`` (key -> bytes) as storages."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", b"little")
        for key, data in (records if records is not None else {"0": bytes(16)}).items():
            zf.writestr("archive/data/" + key, data)
        zf.writestr("archive/version", b"3\n")
    return out.getvalue()


def zip_with_declared_sizes(entries):
    """A zip of ``(name, payload, method, declared_size, crc)`` entries, written by hand: the
    headers say ``declared_size`` whatever the payload holds."""
    out, central = io.BytesIO(), []
    for name, payload, method, declared, crc in entries:
        raw = name.encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 33, crc,
                              len(payload), declared, len(raw), 0) + raw + payload)
        central.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 33, crc,
                                   len(payload), declared, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))
    return out.getvalue()


def zeros_deflate_bomb(nbytes, chunk=1 << 20):
    """A raw deflate stream that inflates to ``nbytes`` zero bytes (nbytes a multiple of
    chunk), built in ~50 ms: a full flush after each chunk makes every chunk's bytes equal."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * (nbytes // chunk) + c.flush()


def bomb_checkpoint(declared=3 << 30, numel=4):
    """The issue's file: a 3 MB zip whose storage record inflates to 3 GiB, for a storage of
    ``numel`` float32 elements. The CRC is 0: a reader that inflates before checking sizes
    has spent the memory before the CRC is compared."""
    pkl = pickle_bytes(tensor((numel,), (1,), numel=numel))
    return zip_with_declared_sizes([
        ("archive/data.pkl", pkl, 0, len(pkl), zlib.crc32(pkl)),
        ("archive/byteorder", b"little", 0, 6, zlib.crc32(b"little")),
        ("archive/data/0", zeros_deflate_bomb(declared), 8, declared, 0),
        ("archive/version", b"3\n", 0, 2, zlib.crc32(b"3\n")),
    ])


def library_state():
    """What a hostile load could change in wgtorch: every dtype's fields, the attribute dicts of
    Tensor, Size, device, Parameter and dtype, the default dtype, the safe-globals list, and the
    dicts of the modules that loading goes through (values compared by identity)."""
    import importlib
    import types
    from collections import Counter, OrderedDict

    import wgtorch
    from wgtorch import _torch_pickle, _weights_only, dtypes, serialization

    # NOTE: by module name: wgtorch.tensor and wgtorch.device are also a function and a class
    tensor = importlib.import_module("wgtorch.tensor")
    device_module = importlib.import_module("wgtorch.device")

    snap = {("dtype", d.name): tuple(getattr(d, s) for s in type(d).__slots__)
            for d in dtypes.ALL}
    for cls in (wgtorch.Tensor, wgtorch.Size, wgtorch.device, wgtorch.nn.Parameter, dtypes.dtype,
                OrderedDict, Counter, set, tensor.Storage):
        snap[cls.__qualname__] = {k: id(v) for k, v in vars(cls).items()}
    for module in (wgtorch, dtypes, device_module, serialization, _torch_pickle, _weights_only,
                   tensor, wgtorch.nn.functional):
        # NOTE: __warningregistry__ is the warnings machinery's bookkeeping, not state
        snap[module.__name__] = {k: id(v) for k, v in vars(module).items()
                                 if not isinstance(v, types.ModuleType)
                                 and k != "__warningregistry__"}
    snap["default_dtype"] = wgtorch.get_default_dtype()
    snap["safe_globals"] = wgtorch.serialization.get_safe_globals()
    snap["grad_enabled"] = wgtorch.is_grad_enabled()
    return snap
