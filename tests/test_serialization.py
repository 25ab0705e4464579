"""Checkpoints: PyTorch's zip format both ways (golden files written by real PyTorch, see
tests/data/make_golden.py), safetensors, map_location, weights_only and damaged files."""

import importlib.util
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close

DATA = os.path.join(os.path.dirname(__file__), "data")
EXPECTED = np.load(os.path.join(DATA, "golden_expected.npz"))


def golden(name):
    return os.path.join(DATA, name)


def test_load_pytorch_tensors():
    obj = torch.load(golden("torch_tensors.pt"))
    dtypes = {"int64": torch.int64, "float32": torch.float32, "float16": torch.float16,
              "bool": torch.bool, "uint8": torch.uint8, "int32": torch.int32,
              "float64": torch.float32}  # float64 loads as float32 (documented)
    for key, t in obj.items():
        if not isinstance(t, torch.Tensor):
            continue
        expected = EXPECTED[f"tensors/{key}"]
        assert t.dtype is dtypes.get(key, torch.float32), key
        assert t.device == torch.device("cpu") and tuple(t.shape) == expected.shape, key
        assert np.array_equal(t.detach().numpy(), expected.astype(t.dtype.np_dtype)), key
    assert obj["noncontig"].stride() == (1, 6) and not obj["noncontig"].is_contiguous()
    assert obj["sliced"].stride() == (6, 2) and obj["sliced"].storage_offset() == 6
    assert obj["view"]._storage is obj["base"]._storage and obj["view"].storage_offset() == 2
    assert type(obj["param"]).__name__ == "Parameter" and obj["param"].requires_grad
    assert obj["nested"]["list"] == [1, 2.5, "s", None, (1, 2)]
    assert np.array_equal(obj["nested"]["t"].numpy(), EXPECTED["tensors/nested.t"])


def test_load_pytorch_model_state_dict():
    sd = torch.load(golden("torch_model_state.pt"), map_location="cpu")
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sd._metadata[""] == {"version": 1}
    for key, t in sd.items():
        assert t.device == torch.device("cpu") and not t.requires_grad
        assert_close(t, EXPECTED[f"model/{key}"], atol=0, rtol=0)


def test_round_trip_keeps_values_dtypes_views_and_objects():
    base = torch.arange(12, dtype=torch.float32)
    obj = {
        "f32": torch.randn(3, 4), "f16": torch.tensor([1.5, -2.25], dtype=torch.float16),
        "i64": torch.tensor([-(2**31), 2**31 - 1]), "i32": torch.tensor([7], dtype=torch.int32),
        "bool": torch.tensor([True, False]), "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "t": torch.randn(4, 5).t(), "base": base, "view": base[3:9].view(2, 3),
        "scalar": torch.tensor(2.0), "empty": torch.zeros(0, 2), "grad": torch.ones(2,
                                                                                 requires_grad=True),
        "meta": [torch.float16, torch.device("cuda"), torch.Size([2, 3]), b"\x00\xff", {1, 2},
                 (1, None, "x"), 3.25],
    }
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    out = torch.load(buf)
    for key, t in obj.items():
        if isinstance(t, torch.Tensor):
            got = out[key]
            assert got.dtype is t.dtype and got.shape == t.shape and got.stride() == t.stride()
            assert np.array_equal(got.detach().numpy(), t.detach().numpy()), key
    assert out["view"]._storage is out["base"]._storage and out["view"].storage_offset() == 3
    assert out["grad"].requires_grad and out["grad"].is_leaf
    assert out["meta"] == [torch.float16, torch.device("cuda"), torch.Size([2, 3]), b"\x00\xff",
                           {1, 2}, (1, None, "x"), 3.25]
    assert isinstance(out["meta"][2], torch.Size)


def test_archive_layout_matches_pytorch(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(3)}, path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[0] == "model/data.pkl" and "model/data/0" in names
        assert zf.read("model/version") == b"3\n" and zf.read("model/byteorder") == b"little"
        info = zf.getinfo("model/data/0")
        assert info.compress_type == zipfile.ZIP_STORED
        assert np.frombuffer(zf.read("model/data/0"), "<f4").tolist() == [1.0, 1.0, 1.0]
    with open(path, "rb") as f:  # record data is 64-byte aligned, as PyTorch writes it
        raw = f.read()
    assert raw.index(np.ones(3, "<f4").tobytes()) % 64 == 0


def test_optimizer_state_dict_through_a_file(tmp_path):
    p = torch.randn(4, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01, amsgrad=True)
    p.grad = torch.ones(4)
    opt.step()
    torch.save({"optim": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    ckpt = torch.load(tmp_path / "ckpt.pt")
    assert ckpt["epoch"] == 3
    q = p.detach().clone().requires_grad_()
    opt2 = torch.optim.Adam([q])
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.state[q]["step"] == 1.0 and opt2.param_groups[0]["amsgrad"]
    p.grad, q.grad = torch.ones(4), torch.ones(4)
    opt.step()
    opt2.step()
    assert_close(q, p.detach().numpy(), atol=0, rtol=0)


def test_map_location():
    path = golden("torch_model_state.pt")
    assert torch.load(path)["0.bias"].device == torch.device("cpu")  # where it was saved
    assert torch.load(path, map_location="cpu")["0.bias"].device == torch.device("cpu")
    assert torch.load(path, map_location=torch.device("cuda"))["0.bias"].device.type == "wgpu"
    assert torch.load(path, map_location={"cpu": "cpu"})["0.bias"].device.type == "cpu"
    seen = []
    sd = torch.load(path, map_location=lambda storage, loc: seen.append(loc) or storage.cpu())
    assert seen and set(seen) == {"cpu"} and sd["0.bias"].device.type == "cpu"
    assert torch.load(path, map_location=lambda s, loc: s)["0.bias"].device.type == "cpu"


class Custom:
    def __init__(self, value):
        self.value = value


def test_weights_only():
    buf = io.BytesIO()
    torch.save({"obj": Custom(5), "t": torch.ones(1)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError,
                       match="Weights only load failed.*test_serialization.Custom"):
        torch.load(buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=False)["obj"].value == 5
    torch.serialization.add_safe_globals([Custom])
    try:
        buf.seek(0)
        assert torch.load(buf)["obj"].value == 5
    finally:
        torch.serialization.clear_safe_globals()


def _saved_bytes():
    buf = io.BytesIO()
    torch.save({"a": torch.arange(100, dtype=torch.float32), "b": [1, 2]}, buf)
    return buf.getvalue()


def _rewrite(raw, change):
    """A copy of a checkpoint with ``change(name, data) -> data or None (drop)`` applied."""
    src, out = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("damage, match", [
    (lambda raw: raw[: len(raw) // 2], "not a valid zip archive.*truncated or corrupted"),
    (lambda raw: raw[:-10], "truncated or corrupted"),
    (lambda raw: b"hello world" * 10, "not a valid zip archive"),
    (lambda raw: b"", "not a valid zip archive"),
    (lambda raw: b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19" + b"\0" * 30,
     "legacy \\(pre-1.6\\) format"),
    (lambda raw: _rewrite(raw, lambda n, d: None if n.endswith("data/0") else d),
     "has no record 'archive/data/0'"),
    (lambda raw: _rewrite(raw, lambda n, d: d[:40] if n.endswith("data/0") else d),
     "storage 0: record size \\(40 bytes\\) does not match expected size \\(400 bytes"),
    (lambda raw: _rewrite(raw, lambda n, d: d[: len(d) // 2] if n.endswith("data.pkl") else d),
     "corrupted checkpoint: cannot unpickle archive/data.pkl"),
    (lambda raw: _rewrite(raw, lambda n, d: None if n.endswith("data.pkl") else d),
     "not a PyTorch checkpoint"),
    (lambda raw: raw.replace(np.arange(100, dtype="<f4").tobytes()[:8], b"\x01" * 8),
     "corrupted checkpoint.*CRC"),
])
def test_damaged_files_raise_a_clear_error(tmp_path, damage, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(damage(_saved_bytes()))
    with pytest.raises(RuntimeError, match=match) as info:
        torch.load(path)
    assert "bad.pt" in str(info.value)


def test_int64_values_outside_int32_raise():
    raw = _rewrite(_saved_bytes(), lambda n, d: d)
    buf = io.BytesIO()
    torch.save({"x": torch.zeros(2, dtype=torch.int64)}, buf)
    raw = _rewrite(buf.getvalue(), lambda n, d: np.array([2**40, 1], "<i8").tobytes()
                   if n.endswith("data/0") else d)
    with pytest.raises(RuntimeError, match="does not fit in wgtorch's int64 storage"):
        torch.load(io.BytesIO(raw))


# ---- real PyTorch reads what wgtorch writes ----------------------------------------------------

TORCH_CHECK = """
import sys, numpy as np, torch
obj = torch.load(sys.argv[1], map_location="cpu")  # wgtorch wrote GPU tensors as cuda:0
ref = np.load(sys.argv[2])
for k, v in ref.items():
    t = obj[k]
    assert str(t.dtype) == "torch." + str(v.dtype).replace("bool", "bool"), (k, t.dtype, v.dtype)
    assert np.array_equal(t.numpy(), v), k
assert obj["view"].untyped_storage().data_ptr() == obj["base"].untyped_storage().data_ptr()
assert obj["t"].stride() == (1, 4)
opt = torch.optim.Adam([torch.zeros(4, requires_grad=True)])
opt.load_state_dict(obj["optim"])
opt.param_groups[0]["params"][0].grad = torch.ones(4)
opt.step()
assert float(opt.state[opt.param_groups[0]["params"][0]]["step"]) == 2.0
print("torch ok")
"""


def _torch_python():
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return os.environ.get("WGTORCH_TORCH_PYTHON")  # a Python with torch, e.g. /tmp/torchvenv


@pytest.mark.skipif(_torch_python() is None, reason="needs PyTorch (or WGTORCH_TORCH_PYTHON)")
def test_pytorch_loads_wgtorch_files(tmp_path):
    base = torch.arange(12, dtype=torch.float32)
    obj = {"f32": torch.randn(3, 4), "f16": torch.tensor([1.5, -2.25], dtype=torch.float16),
           "int64": torch.tensor([-5, 2**31 - 1]), "bool": torch.tensor([True, False]),
           "uint8": torch.tensor([3, 255], dtype=torch.uint8), "t": torch.randn(5, 4).t(),
           "base": base, "view": base[2:8]}
    p = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adam([p])
    p.grad = torch.ones(4)
    opt.step()
    torch.save({**obj, "optim": opt.state_dict()}, tmp_path / "w.pt")
    np.savez(tmp_path / "ref.npz", **{k: v.numpy() for k, v in obj.items()})
    result = subprocess.run([_torch_python(), "-c", TORCH_CHECK, str(tmp_path / "w.pt"),
                             str(tmp_path / "ref.npz")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "torch ok" in result.stdout, result.stderr


# ---- safetensors -------------------------------------------------------------------------


def test_safetensors_round_trip_and_format(tmp_path):
    tensors = {"w": torch.randn(3, 4), "h": torch.tensor([0.5, 1.5], dtype=torch.float16),
               "i": torch.tensor([1, -2]), "m": torch.tensor([True, False]),
               "b": torch.tensor([9], dtype=torch.uint8), "t": torch.randn(4, 3).t()}
    path = tmp_path / "x.safetensors"
    torch.save_file(tensors, path, metadata={"format": "pt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header["__metadata__"] == {"format": "pt"}
    assert header["w"]["dtype"] == "F32" and header["w"]["shape"] == [3, 4]
    assert header["i"]["dtype"] == "I64" and header["m"]["dtype"] == "BOOL"
    loaded = torch.load_file(path)
    assert set(loaded) == set(tensors)
    for k, t in tensors.items():
        assert loaded[k].dtype is t.dtype and np.array_equal(loaded[k].numpy(), t.numpy()), k
    assert torch.serialization.load_safetensors(path, device="cpu")["w"].device.type == "cpu"
    from wgtorch._safetensors import load_metadata

    assert load_metadata(path) == {"format": "pt"}


def test_safetensors_written_by_the_package():
    loaded = torch.serialization.load_safetensors(golden("torch_tensors.safetensors"))
    dtypes = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.float32,
              "i64": torch.int64, "bool": torch.bool, "u8": torch.uint8}
    for k, t in loaded.items():
        assert t.dtype is dtypes[k]
        assert np.array_equal(t.numpy(), EXPECTED[f"safetensors/{k}"].astype(t.dtype.np_dtype)), k


@pytest.mark.skipif(importlib.util.find_spec("safetensors") is None,
                    reason="the optional safetensors package is not installed")
def test_safetensors_package_reads_our_files(tmp_path):
    from safetensors.numpy import load_file

    torch.save_file({"a": torch.arange(6).view(2, 3), "b": torch.ones(2)}, tmp_path / "x.st")
    out = load_file(str(tmp_path / "x.st"))
    assert out["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and out["b"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("damage, match", [
    (lambda raw: raw[:4], "shorter than its 8-byte header"),
    (lambda raw: raw[:-3], "the tensors cover 16 bytes but the file holds 13 data bytes"),
    (lambda raw: struct.pack("<Q", 10**12) + raw[8:], "header length"),
    (lambda raw: raw[:8] + b"\xff" * (len(raw) - 8), "the header is not JSON"),
])
def test_damaged_safetensors(tmp_path, damage, match):
    path = tmp_path / "bad.safetensors"
    torch.save_file({"w": torch.ones(4)}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(RuntimeError, match=match):
        torch.load_file(path)


def test_safetensors_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="not a Tensor"):
        torch.save_file({"w": [1, 2]}, tmp_path / "x")
    with pytest.raises(TypeError, match="metadata must be a dict of str to str"):
        torch.save_file({"w": torch.ones(1)}, tmp_path / "x", metadata={"a": 1})
