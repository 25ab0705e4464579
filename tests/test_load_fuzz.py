"""Fuzzing ``load`` (issue 17): thousands of damaged variants of valid checkpoints (written by
wgtorch, the golden files written by torch 2.13, safetensors files), seeded, each load under a
time limit. Every variant must: raise only RuntimeError or pickle.UnpicklingError (never
another exception, a crash or a hang), leave wgtorch's state as it was, and never yield a
silently wrong result. What "silently wrong" means depends on what the damage touched:

- Raw byte flips, truncations and rewritten zip headers of a PyTorch checkpoint: zipfile
  checks the CRC-32 of every record it reads (data.pkl, byteorder, each storage), so such a
  variant either fails or loads exactly the original object, values included (a flip in
  bytes nobody reads: padding, the version record, unused header fields).
- Records rewritten with a valid CRC (mutated pickle opcodes, storages resized, replaced or
  dropped): the variant is a well-formed file describing something else, so the reference is
  real torch 2.13 (``weights_only=True``) reading the same bytes. When both load, structure
  and values must agree; wgtorch must never load a file torch refuses; files torch loads and
  wgtorch refuses may only hit a documented wgtorch limit (``WGTORCH_LIMITS``).
- safetensors has no checksum, so a flip inside the data region changes values (as it does
  for the safetensors package and for PyTorch, which checksums no tensor data either): there
  only the structure (keys, shapes, dtypes) must be the original. A header flip that still
  loads must change the structure or give the original values exactly; mutated headers are
  compared with the safetensors package when it is installed.
"""

import io
import json
import pickle
import pickletools
import random
import signal
import struct
import time
import warnings
import zipfile
from collections import Counter, OrderedDict

import numpy as np
import pytest

import checkpoint_craft as cc
import wgtorch as torch
from wgtorch import _safetensors

DATA = "tests/data/"
SEED = 17
TIME_LIMIT_S = 10  # per load: a hang fails the test instead of stalling it
ALLOWED = (RuntimeError, pickle.UnpicklingError)
# torch loads it, wgtorch refuses it: a limit of wgtorch's, said in the message
WGTORCH_LIMITS = ("does not fit in wgtorch's", "more than wgtorch's limit", "largest storage",
                  "wgtorch has no equivalent", "referred to as", "must be a bool",
                  "only the (requires_grad", "Unsupported operand 0", "rebuild a tensor of type")


class LoadTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise LoadTimeout


def _dtype_name(dtype):
    """The wgtorch dtype a torch dtype loads as (float64 -> float32 ...)."""
    name = str(dtype).replace("torch.", "")
    return {"float64": "float32", "bfloat16": "float32", "int16": "int32", "int8": "int32",
            "uint16": "int32", "uint32": "int64", "uint64": "int64"}.get(name, name)


def _global_names():
    """id(object) -> "module.name" for the globals either library's weights-only load may
    return bare (an uncalled GLOBAL)."""
    from wgtorch import _torch_pickle

    names = {id(v): k for k, v in _torch_pickle.weights_only_globals().items()}
    real = _real_torch()
    if real is not None:
        from torch._weights_only_unpickler import _get_allowed_globals

        names.update({id(v): k for k, v in _get_allowed_globals().items()})
    return names


def _describe(obj, depth=0):
    """A comparable picture of a loaded object (wgtorch's or torch's): types, structure,
    tensor dtypes/shapes/strides and values (float64/bfloat16 as float32, int8/16 as int32, as
    wgtorch loads them)."""
    if depth > 50:
        return "..."
    if type(obj).__name__ == "dtype":
        return ("dtype", _dtype_name(obj))
    if id(obj) in GLOBAL_NAMES and not isinstance(obj, (int, str, bool)):
        return ("global", GLOBAL_NAMES[id(obj)])
    kind = type(obj).__name__
    if kind == "LoadedStorage":  # a storage the file returns bare (torch: a TypedStorage)
        return ("Storage", _dtype_name(obj.dtype), obj.numel,
                _describe(obj.tensor(), depth + 1)[-1])
    if kind == "TypedStorage":
        import torch as real

        t = real.empty(0, dtype=obj.dtype).set_(obj)
        return ("Storage", _dtype_name(obj.dtype), obj.size(), _describe(t, depth + 1)[-1])
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "stride"):
        name = _dtype_name(obj.dtype)
        values = obj.detach().cpu()
        values = values.float().numpy() if name == "float32" else values.numpy()
        if name == "bool":  # any nonzero byte is True (torch keeps the byte, wgtorch a 1)
            values = np.ascontiguousarray(values).view(np.uint8) != 0
        return ("Parameter" if kind == "Parameter" else "Tensor", name, tuple(obj.shape),
                tuple(obj.stride()), obj.storage_offset(), bool(obj.requires_grad),
                values.astype(np.dtype(name.replace("bool", "bool_"))).tobytes())
    if kind == "Size":
        return ("Size", tuple(obj))
    if kind == "device":
        return ("device", obj.type.replace("wgpu", "cpu").replace("cuda", "cpu"))
    if isinstance(obj, (dict, OrderedDict, Counter)):
        items = tuple((_describe(k, depth + 1), _describe(v, depth + 1)) for k, v in obj.items())
        if kind == "dict":  # NOTE: the safetensors package does not keep the file's order
            items = tuple(sorted(items, key=repr))
        meta = _describe(getattr(obj, "_metadata", None), depth + 1)
        return (kind, items, meta)
    if isinstance(obj, (list, tuple)):
        return (kind, tuple(_describe(v, depth + 1) for v in obj))
    if isinstance(obj, (set, frozenset)):
        return (kind, tuple(sorted(repr(_describe(v, depth + 1)) for v in obj)))
    if isinstance(obj, float):
        return ("float", repr(obj))
    return (kind, repr(obj))


def _difference(a, b, path="obj"):
    """Where two descriptions first differ (for the failure message)."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r:.300} != {b!r:.300}"


def _structure(described):
    """The described object without tensor values (keys, shapes, dtypes)."""
    if isinstance(described, tuple) and described and described[0] in ("Tensor", "Parameter"):
        return described[:-1]
    if isinstance(described, tuple):
        return tuple(_structure(x) for x in described)
    return described


class Fuzzer:
    """Loads variants and checks the rules above; counts what happened."""

    def __init__(self):
        self.counts = Counter()
        self.real = _real_torch()
        self.state = cc.library_state()

    def load(self, data, kind, **kw):
        """("ok", object) or ("error", exception); anything else fails the test."""
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "st":
                    return "ok", _safetensors.load(data)
                return "ok", torch.load(io.BytesIO(data), **kw)
        except LoadTimeout:
            pytest.fail(f"a load took more than {TIME_LIMIT_S} s: {data[:64]!r}")
        except ALLOWED as exc:
            return "error", exc
        except Exception as exc:  # the failure this test exists for
            raise AssertionError(f"load raised {type(exc).__name__}: {exc}") from exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def check_state(self):
        now = cc.library_state()
        changed = {k: (self.state[k], now[k]) for k in now if now[k] != self.state.get(k)}
        for k, (a, b) in changed.items():
            if isinstance(a, dict):
                changed[k] = {n: (a.get(n), b.get(n)) for n in set(a) | set(b)
                              if a.get(n) != b.get(n)}
        assert not changed, f"a load changed wgtorch's state: {changed}"

    def same_or_error(self, data, kind, original, mutator):
        """For damage that checksums catch: an error, or exactly the original."""
        status, got = self.load(data, kind)
        self.counts[f"{mutator}:{status}"] += 1
        if status == "ok":
            got = _describe(got)
            assert got == original, f"{mutator}: loaded {_difference(got, original)}"

    def like_reference(self, data, kind, reference_load, mutator, **kw):
        """For a well-formed file describing something else: agree with the reference
        (``reference_load(data)``, torch's or the safetensors package's load)."""
        status, got = self.load(data, kind, **kw)
        if reference_load is None:  # torch / safetensors not installed: the other rules only
            self.counts[f"{mutator}:{status}"] += 1
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected, ref_status = _describe(reference_load(data)), "ok"
        except Exception as exc:
            expected, ref_status = exc, "error"
        self.counts[f"{mutator}:{status}/ref-{ref_status}"] += 1
        if status == "ok":
            assert ref_status == "ok", f"{mutator}: wgtorch loaded a file the reference " \
                                       f"refuses ({expected!r})"
            got = _describe(got)
            assert got == expected, f"{mutator}: not the reference: {_difference(got, expected)}"
        elif ref_status == "ok":
            assert any(limit in str(got) for limit in WGTORCH_LIMITS), \
                f"{mutator}: refused a file torch loads: {got}"


def _real_torch():
    try:
        import torch as real
    except ImportError:
        return None
    return real


GLOBAL_NAMES = _global_names()


# ---- seeds ---------------------------------------------------------------------------------


def _wgtorch_checkpoint():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    base = torch.arange(12, dtype=torch.float32)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim": opt.state_dict(), "view": base[2:8],
                "base": base, "t": torch.randn(3, 4).t(), "i": torch.tensor([-5, 7]),
                "b": torch.tensor([True, False]), "h": torch.tensor([0.5], dtype=torch.float16),
                "meta": [torch.Size([2, 3]), torch.device("cpu"), torch.int32, {1, 2}, 2.5]},
               buf)
    return buf.getvalue()


def _safetensors_file():
    tensors = {"w": torch.randn(4, 3), "i": torch.tensor([1, -2, 3]),
               "u": torch.tensor([7, 255], dtype=torch.uint8), "e": torch.zeros(0, 2)}
    return _safetensors.save(tensors, {"format": "pt"})


def _seeds():
    with open(DATA + "torch_tensors.pt", "rb") as f:
        golden = f.read()
    with open(DATA + "torch_model_state.pt", "rb") as f:
        model = f.read()
    with open(DATA + "torch_optim_state.pt", "rb") as f:
        optim = f.read()
    with open(DATA + "torch_tensors.safetensors", "rb") as f:
        golden_st = f.read()
    return [("wgtorch.pt", _wgtorch_checkpoint(), "pt"), ("torch_tensors.pt", golden, "pt"),
            ("torch_model_state.pt", model, "pt"), ("torch_optim_state.pt", optim, "pt"),
            ("golden.safetensors", golden_st, "st"), ("wgtorch.safetensors",
                                                      _safetensors_file(), "st")]


# ---- mutators ------------------------------------------------------------------------------


def flip_bytes(rng, data):
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 4, 8))):
        i = rng.randrange(len(out))
        out[i] = (out[i] + rng.randrange(1, 256)) % 256
    return bytes(out), i


def truncate(rng, data):
    return data[: rng.randrange(len(data))]


def _u16(data, at, value):
    data[at : at + 2] = struct.pack("<H", value & 0xFFFF)


def _u32(data, at, value):
    data[at : at + 4] = struct.pack("<I", value & 0xFFFFFFFF)


def _central_entries(data):
    """Offsets of the central directory entries, walked from the end record."""
    eocd = data.rindex(b"PK\x05\x06")
    count, at = struct.unpack("<H", data[eocd + 10 : eocd + 12])[0], data[eocd + 16 : eocd + 20]
    at = struct.unpack("<I", at)[0]
    entries = []
    for _ in range(count):
        entries.append(at)
        name_len, extra_len, comment_len = struct.unpack("<3H", data[at + 28 : at + 34])
        at += 46 + name_len + extra_len + comment_len
    return eocd, entries


def rewrite_zip_header(rng, data):
    """Rewrite one field of a local header, a central directory entry or the end record."""
    out = bytearray(data)
    eocd, centrals = _central_entries(data)
    central = rng.choice(centrals)
    local = struct.unpack("<I", data[central + 42 : central + 46])[0]
    value = rng.choice((0, 1, 2**32 - 1, 2**31, rng.randrange(2**32), rng.randrange(64)))
    name, at, width = rng.choice((
        ("local flags", local + 6, 2), ("local method", local + 8, 2),
        ("local crc", local + 14, 4), ("local csize", local + 18, 4),
        ("local size", local + 22, 4), ("local name len", local + 26, 2),
        ("local extra len", local + 28, 2), ("central flags", central + 8, 2),
        ("central method", central + 10, 2), ("central crc", central + 16, 4),
        ("central csize", central + 20, 4), ("central size", central + 24, 4),
        ("central name len", central + 28, 2), ("central extra len", central + 30, 2),
        ("central offset", central + 42, 4), ("eocd count", eocd + 10, 2),
        ("eocd cd size", eocd + 12, 4), ("eocd cd offset", eocd + 16, 4),
    ))
    if rng.random() < 0.5:  # near the true value: off by one, doubled
        old = int.from_bytes(data[at : at + width], "little")
        value = rng.choice((old + 1, old - 1, old * 2, old + 4096))
    (_u16 if width == 2 else _u32)(out, at, value)
    return bytes(out)


def _records(data):
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [(name, zf.read(name)) for name in zf.namelist()]


def _zip(records):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, payload in records:
            zf.writestr(name, payload)
    return out.getvalue()


PROTOCOL2_OPCODES = sorted({op.code.encode("latin-1")[0] for op in pickletools.opcodes
                            if op.proto <= 2})


def mutate_pickle(rng, pkl):
    """One opcode-level change: replace an opcode, change an argument byte, drop, repeat or
    insert an opcode."""
    ops = [pos for _, _, pos in pickletools.genops(pkl)] + [len(pkl)]
    k = rng.randrange(len(ops) - 1)
    start, end = ops[k], ops[k + 1]
    choice = rng.randrange(5)
    if choice == 0:
        op = bytes([rng.choice(PROTOCOL2_OPCODES)])
        return pkl[:start] + op + pkl[start + 1 :]
    if choice == 1 and end - start > 1:
        i = rng.randrange(start + 1, end)
        return pkl[:i] + bytes([rng.randrange(256)]) + pkl[i + 1 :]
    if choice == 2:
        return pkl[:start] + pkl[end:]
    if choice == 3:
        return pkl[:end] + pkl[start:end] + pkl[end:]
    return pkl[:start] + bytes([rng.choice(PROTOCOL2_OPCODES)]) + pkl[start:]


def rewrite_records(rng, data):
    """data.pkl with a mutated opcode, or one storage resized, replaced or dropped; every
    CRC valid."""
    records = _records(data)
    if rng.random() < 0.7:
        return _zip([(n, mutate_pickle(rng, p) if n.endswith("data.pkl") else p)
                     for n, p in records])
    storages = [i for i, (n, _) in enumerate(records) if "/data/" in n]
    i = rng.choice(storages)
    name, payload = records[i]
    change = rng.randrange(4)
    if change == 0:
        payload = payload[: rng.randrange(len(payload) + 1)]
    elif change == 1:
        payload = payload + bytes(rng.randrange(1, 64))
    elif change == 2:
        payload = bytes(rng.randrange(256) for _ in payload)
    else:
        return _zip(records[:i] + records[i + 1 :])
    records[i] = (name, payload)
    return _zip(records)


def mutate_safetensors_header(rng, data):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    name = rng.choice([k for k in header if k != "__metadata__"])
    entry = header[name]
    field = rng.choice(("dtype", "shape", "data_offsets", "drop", "metadata"))
    if field == "dtype":
        entry["dtype"] = rng.choice(("F32", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F64",
                                     "I8", "U64", "F8_E4M3", "X", 3))
    elif field in ("shape", "data_offsets") and entry[field]:
        i = rng.randrange(len(entry[field]))
        entry[field][i] = rng.choice((0, -1, 2**40, entry[field][i] + 1, entry[field][i] - 1,
                                      "2", 1.5, None))
    elif field == "drop":
        del header[name]
    else:
        header["__metadata__"] = rng.choice(({"a": 1}, [], "x", {"k": "v"}))
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


# ---- the test ------------------------------------------------------------------------------


# wgtorch saves GPU tensors as "cuda:0", which this CPU-only torch refuses to restore; both
# libraries load the "records" variants with this map (other tags restore as saved, checked)
CPU_MAP = {"cuda:0": "cpu", "cuda": "cpu"}


def _torch_reference(real):
    def load(data):
        return real.load(io.BytesIO(data), weights_only=True, map_location=dict(CPU_MAP))

    return load


def _safetensors_reference(real):
    try:
        from safetensors.torch import load
    except ImportError:
        return None
    return load


COUNTS = {"flip": 900, "truncate": 250, "zip_header": 500, "records": 900, "st_flip": 500,
          "st_header": 300, "st_truncate": 100}


def test_fuzzed_checkpoints_fail_cleanly_and_never_load_something_else():
    rng = random.Random(SEED)
    fuzz = Fuzzer()
    start = time.perf_counter()
    seeds = _seeds()
    pt = [(name, data) for name, data, kind in seeds if kind == "pt"]
    st = [(name, data) for name, data, kind in seeds if kind == "st"]
    originals = {}
    for name, data, kind in seeds:
        status, obj = fuzz.load(data, kind)
        assert status == "ok", (name, obj)
        originals[name] = _describe(obj)
    fuzz.state = cc.library_state()  # after the first loads (lazy imports, caches)
    torch_ref = _torch_reference(fuzz.real) if fuzz.real else None
    for _ in range(COUNTS["flip"]):
        name, data = rng.choice(pt)
        fuzz.same_or_error(flip_bytes(rng, data)[0], "pt", originals[name], "flip")
    for _ in range(COUNTS["truncate"]):
        name, data = rng.choice(pt)
        fuzz.same_or_error(truncate(rng, data), "pt", originals[name], "truncate")
    for _ in range(COUNTS["zip_header"]):
        name, data = rng.choice(pt)
        fuzz.same_or_error(rewrite_zip_header(rng, data), "pt", originals[name], "zip_header")
    fuzz.check_state()
    for _ in range(COUNTS["records"]):
        name, data = rng.choice(pt)
        fuzz.like_reference(rewrite_records(rng, data), "pt", torch_ref, "records",
                            map_location=dict(CPU_MAP))
    fuzz.check_state()
    for _ in range(COUNTS["st_flip"]):
        name, data = rng.choice(st)
        variant, at = flip_bytes(rng, data)
        status, got = fuzz.load(variant, "st")
        fuzz.counts[f"st_flip:{status}"] += 1
        if status == "ok":
            data_start = 8 + struct.unpack("<Q", data[:8])[0]
            same_structure = _structure(_describe(got)) == _structure(originals[name])
            if at < data_start and same_structure:
                assert _describe(got) == originals[name], "a header flip changed values only"
    st_ref = _safetensors_reference(fuzz.real) if fuzz.real else None
    for _ in range(COUNTS["st_header"]):
        name, data = rng.choice(st)
        fuzz.like_reference(mutate_safetensors_header(rng, data), "st", st_ref, "st_header")
    for _ in range(COUNTS["st_truncate"]):
        name, data = rng.choice(st)
        fuzz.same_or_error(truncate(rng, data), "st", originals[name], "st_truncate")
    fuzz.check_state()
    x = torch.arange(5, dtype=torch.float32)
    assert (x * 2).sum().item() == 20.0 and x.dtype.is_floating_point
    total = sum(fuzz.counts.values())
    assert total == sum(COUNTS.values())
    elapsed = time.perf_counter() - start
    print(f"\n{total} variants in {elapsed:.1f} s: {dict(sorted(fuzz.counts.items()))}")
    loaded = sum(v for k, v in fuzz.counts.items() if ":ok" in k)
    assert loaded > 0 and total - loaded > 0  # both outcomes were exercised
