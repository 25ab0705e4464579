"""Hostile checkpoints (issue 17): a default ``load`` (weights_only=True) can neither change
wgtorch nor run code, impossible sizes are refused before memory is spent, and what PyTorch's
weights-only loader accepts loads here too. Every crafted file is also given to real torch
2.13 in the same process (when installed), so "refused" and "accepted" are PyTorch's."""

import io
import os
import pickle
import tracemalloc
from collections import Counter, OrderedDict

import numpy as np
import pytest

import checkpoint_craft as cc
import wgtorch as torch
from checkpoint_craft import build, call, checkpoint, dct, glob, integer, pickle_bytes, text, tup
from helpers import assert_close


def _torch():
    try:
        import torch as real
    except ImportError:
        return None
    return real


def _load(data, **kw):
    return torch.load(io.BytesIO(data), **kw)


def _device_still_computes():
    x = torch.arange(6, dtype=torch.float32).view(2, 3)
    assert (x * 1.5 + 1).sum().item() == 28.5
    assert x.float().is_floating_point() and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert repr(torch.Size([2, 3])) == "torch.Size([2, 3])"


# ---- attacks on the library's own objects: refused as PyTorch refuses them --------------------

F32 = glob("torch", "float32")
SET = glob("builtins", "set")
STATE_ATTACKS = {
    # the 691-byte file: float32 computing as int32 for the rest of the process
    "build_float32_slots": build(F32, b"N", dct(is_floating_point=b"\x89", wgsl=text("i32"))),
    "build_float32_dict": build(F32, dct(wgsl=text("i32"))),
    "build_tensor_class": build(glob("torch", "Tensor"), b"N", dct(tolist=SET)),
    "build_size_class": build(glob("torch", "Size"), b"N", dct(__repr__=SET)),
    "build_parameter_class": build(glob("torch.nn.parameter", "Parameter"), b"N",
                                   dct(__repr__=SET)),
    "build_ordereddict_class": build(glob("collections", "OrderedDict"), b"N", dct(keys=SET)),
    "build_storage_type": build(glob("torch", "FloatStorage"), dct(itemsize=integer(1))),
    "build_rebuild_function": build(glob("torch._utils", "_rebuild_tensor_v2"),
                                    dct(__code__=SET)),
    "build_device_object": build(call(glob("torch", "device"), text("cpu")), b"N",
                                 dct(type=text("xla"))),
    "build_size_object": build(call(glob("torch", "Size"), tup(integer(2))), dct(numel=SET)),
    "build_set_object": build(call(SET, tup()), dct(add=SET)),
    "global_os_system": call(glob("os", "system"), text("true")),
    "global_builtins_eval": call(glob("builtins", "eval"), text("1")),
    "global_getattr": call(glob("builtins", "getattr"), F32, text("wgsl")),
    "global_wgtorch_module": glob("wgtorch.dtypes", "float32"),
    "global_alias_not_canonical": glob("torch", "float"),  # torch.float is not a global there
    "reduce_dtype_is_not_callable_allowed": call(glob("torch", "Size"), tup(text("x"))),
    "append_to_tuple": tup() + integer(1) + b"a",
    "setitem_on_list": b"]" + integer(1) + integer(2) + b"s",
    "persistent_id_not_storage": tup(text("module"), text("x")) + b"Q",
    "protocol_4_opcode": b"\x8c\x01x",  # SHORT_BINUNICODE: not in protocol 2
    "global_via_stack_global": text("os") + text("system") + b"\x93",
    "tensor_constructor": call(glob("torch", "Tensor"), integer(2**20)),
    "bytearray_of_size": call(glob("builtins", "bytearray"), integer(2**40)),
    "newobj_tensor": glob("torch", "Tensor") + tup() + b"\x81",
}
# loaded by PyTorch, refused here: they allocate memory the file does not hold (documented in
# wgtorch/_weights_only.py)
TORCH_ACCEPTS = {"tensor_constructor", "newobj_tensor", "bytearray_of_size"}
# PyTorch refuses these with another exception than UnpicklingError (its C types have no
# __dict__, or its Size rejects a str); here every refusal is an UnpicklingError or a
# RuntimeError naming the file
TORCH_OTHER_ERROR = {"build_device_object", "build_size_object", "build_set_object",
                     "reduce_dtype_is_not_callable_allowed"}


@pytest.mark.parametrize("name", sorted(STATE_ATTACKS))
def test_attacks_on_library_state_are_refused(name):
    data = checkpoint(pickle_bytes(STATE_ATTACKS[name]))
    before = cc.library_state()
    with pytest.raises((pickle.UnpicklingError, RuntimeError)) as info:
        _load(data)
    assert cc.library_state() == before
    assert "<file object>" in str(info.value)
    if name.startswith(("build_float32", "build_tensor", "build_size_class", "global_",
                        "build_parameter", "build_ordered", "append", "setitem", "persistent",
                        "protocol")):
        assert info.type is pickle.UnpicklingError
        assert str(info.value).startswith("Weights only load failed.")
    _device_still_computes()
    real = _torch()
    if real is not None and name not in TORCH_ACCEPTS and name != "bytearray_of_size":
        with pytest.raises(Exception) as torch_info:
            real.load(io.BytesIO(data), weights_only=True)
        if name not in TORCH_OTHER_ERROR:
            assert torch_info.type is pickle.UnpicklingError, torch_info.value


def test_allowlisting_never_opens_blocked_modules_or_wgtorch_objects():
    torch.serialization.add_safe_globals([os.system, (os.getcwd, "builtins.cwd")])
    try:
        before = cc.library_state()
        with pytest.raises(pickle.UnpicklingError, match="whose module os is blocked"):
            _load(checkpoint(pickle_bytes(call(glob("os", "system"), text("true")))))
        assert _load(checkpoint(pickle_bytes(call(glob("builtins", "cwd"))))) == os.getcwd()
        with pytest.raises(pickle.UnpicklingError, match="Can only build"):
            _load(checkpoint(pickle_bytes(STATE_ATTACKS["build_float32_slots"])))
        assert cc.library_state() == before
        assert torch.serialization.get_safe_globals() == [os.system, (os.getcwd, "builtins.cwd")]
    finally:
        torch.serialization.clear_safe_globals()
    assert torch.serialization.get_safe_globals() == []


def test_user_allowed_class_may_be_built_and_tuple_entries_are_checked():
    torch.serialization.add_safe_globals([(OrderedDict, "mymod.Config", "extra")])
    try:
        with pytest.raises(ValueError, match="Expected tuple of length 2"):
            _load(checkpoint(pickle_bytes(integer(1))))
    finally:
        torch.serialization.clear_safe_globals()


# ---- impossible structure: a RuntimeError naming the file, before memory is spent -----------


def _view(size, stride, offset=0, numel=4):
    return checkpoint(pickle_bytes(cc.tensor(size, stride, offset, numel=numel)),
                      {"0": bytes(4 * max(numel, 0))})


STRUCTURE_ATTACKS = {
    "negative_size": (_view((-5,), (1,)), "sizes, strides and offsets must not be negative"),
    "negative_stride": (_view((2, 2), (-1, 1)), "must not be negative"),
    "negative_offset": (_view((2,), (1,), offset=-1), "must not be negative"),
    "negative_numel": (_view((2,), (1,), numel=-4), "storage 0 declares -4 elements"),
    "view_past_the_end": (_view((4,), (1,), offset=2), "does not fit its storage of 4"),
    "strided_past_the_end": (_view((3,), (2,)), "does not fit its storage of 4"),
    "empty_view_offset_past_end": (_view((0,), (1,), offset=5), "does not fit its storage"),
    "size_stride_lengths_differ": (_view((2, 2), (1,)), "2 sizes, 1 strides"),
    "float_size": (checkpoint(pickle_bytes(
        call(glob("torch._utils", "_rebuild_tensor_v2"), cc.storage(), integer(0),
             tup(b"G" + np.float64(2.0).byteswap().tobytes()), tup(integer(1)), b"\x89",
             call(glob("collections", "OrderedDict"))))), "must be a tuple of ints"),
    "record_longer_than_declared": (checkpoint(pickle_bytes(cc.tensor((4,), (1,))),
                                               {"0": bytes(64)}),
                                    r"record size \(64 bytes\) does not match expected size "
                                    r"\(16 bytes = 4 elements \* 4 bytes/element\)"),
    "record_shorter_than_declared": (checkpoint(pickle_bytes(cc.tensor((4,), (1,))),
                                                {"0": bytes(8)}), "record size"),
    "huge_numel_tiny_record": (checkpoint(pickle_bytes(cc.tensor((4,), (1,), numel=2**40)),
                                          {"0": bytes(16)}), "record size"),
    "storage_declared_twice": (checkpoint(pickle_bytes(tup(
        cc.tensor((4,), (1,)), cc.tensor((8,), (1,), numel=8)))),
        "referred to as 4 elements of FloatStorage and as 8"),
    "missing_record": (checkpoint(pickle_bytes(cc.tensor((4,), (1,))), {}), "has no record"),
    "rebuild_device_object": (checkpoint(pickle_bytes(call(
        glob("torch._tensor", "_rebuild_from_type_v2"), glob("torch", "device"), b"N",
        tup(text("cpu")), dct(type=text("xla"))))), "can only call a tensor rebuild function"),
    "state_replaces_tensor_dtype": (checkpoint(pickle_bytes(call(
        glob("torch._tensor", "_rebuild_from_type_v2"), glob("torch._utils", "_rebuild_tensor_v2"),
        glob("torch", "Tensor"), cc.tensor((4,), (1,))[len(glob("torch._utils",
                                                                "_rebuild_tensor_v2")):-1],
        dct(dtype=glob("torch", "int32"))))), "would replace wgtorch's own"),
    "state_replaces_parameter_shape": (checkpoint(pickle_bytes(call(
        glob("torch._utils", "_rebuild_parameter_with_state"), cc.tensor((4,), (1,)), b"\x89",
        call(glob("collections", "OrderedDict")), dct(shape=tup(integer(9)))))),
        "would replace wgtorch's own"),
    "legacy_tensor_build": (checkpoint(pickle_bytes(build(cc.tensor((4,), (1,)), b"N",
                                                          dct(_offset=integer(100))))),
                            "legacy state"),
    "device_with_bad_type": (checkpoint(pickle_bytes(call(glob("torch", "device"),
                                                          text("nonsense")))), "Expected one of"),
}
# PyTorch loads these; wgtorch refuses them (a wgtorch limit, said in the message)
TORCH_LOADS = {"absurd_numel_expanded_view", "empty_view_offset_past_end"}
STRUCTURE_ATTACKS["absurd_numel_expanded_view"] = (_view((2**40,), (0,)),
                                                   "more than wgtorch's limit of 2147483647")


@pytest.mark.parametrize("name", sorted(STRUCTURE_ATTACKS))
def test_impossible_structure_is_refused_naming_the_file(tmp_path, name):
    data, match = STRUCTURE_ATTACKS[name]
    path = tmp_path / f"{name}.pt"
    path.write_bytes(data)
    before = cc.library_state()
    with pytest.raises(RuntimeError, match=match) as info:
        torch.load(path)
    assert str(path) in str(info.value)
    assert cc.library_state() == before
    _device_still_computes()
    real = _torch()
    if real is not None and name not in TORCH_LOADS:
        with pytest.raises(Exception):
            real.load(path, weights_only=True)


def test_a_3_gib_record_is_refused_before_it_is_inflated(tmp_path):
    """The issue's file: 3 MB on disk, a storage record that inflates to 3 GiB for a storage
    of 4 elements. Before: RSS 6.2 GB and it loaded. Python-level peak memory (tracemalloc)
    must stay far below one MiB-sized buffer."""
    path = tmp_path / "bomb.pt"
    path.write_bytes(cc.bomb_checkpoint(3 << 30))
    assert os.path.getsize(path) < 4 << 20
    _device_still_computes()
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match=r"record size \(3221225472 bytes\) does not match "
                                               r"expected size \(16 bytes"):
            torch.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak


def test_a_compressed_data_pkl_bomb_is_refused():
    pkl = cc.zeros_deflate_bomb(1 << 30)
    data = cc.zip_with_declared_sizes([("archive/data.pkl", pkl, 8, 1 << 30, 0)])
    with pytest.raises(RuntimeError, match="zip bomb"):
        _load(data)


@pytest.mark.parametrize("dtype, factor", [(torch.float32, 1.5), (torch.uint8, 1.5)])
def test_loading_peak_memory_stays_near_one_storage(dtype, factor):
    """Host memory while loading a checkpoint whose largest tensor has 8M elements (32 MiB in
    wgtorch's 4-byte storage): the file's bytes for one storage plus its upload array,
    never the whole file (Python allocations, measured with tracemalloc)."""
    n = 8 << 20
    buf = io.BytesIO()
    torch.save({"w": torch.ones(n, dtype=dtype), "b": torch.arange(10)}, buf)
    raw = buf.getvalue()
    del buf
    tracemalloc.start()
    try:
        out = torch.load(io.BytesIO(raw))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    gpu_bytes = 4 * n
    assert peak < factor * gpu_bytes + (1 << 20), (peak, gpu_bytes)
    assert out["w"].sum().item() == n and out["b"].tolist() == list(range(10))


# ---- what PyTorch's weights-only loader accepts loads here too ---------------------------------


def test_files_written_by_torch_with_every_allowed_kind_of_object(tmp_path):
    real = pytest.importorskip("torch")
    p = real.nn.Parameter(real.arange(4.0))
    p.tag = "decoder"
    t = real.arange(6, dtype=real.int32).view(2, 3)
    t.note = 3
    base = real.arange(12.0)
    obj = {
        "set": {1, 2}, "complex": 1 + 2j, "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"),
        "size": real.Size([2, 3]), "device": real.device("cpu"), "dtype": real.float16,
        "counter": Counter("aab"), "tuple": (1, None, 2.5), "bigint": 2**70, "neg": -5,
        "text": "é", "param": p, "tensor_attr": t,
        "f64": real.tensor([0.25, -1.5], dtype=real.float64),
        "bf16": real.tensor([1.5, -2.0], dtype=real.bfloat16),
        "i16": real.tensor([-3, 7], dtype=real.int16),
        "i8": real.tensor([-128, 127], dtype=real.int8), "empty": real.zeros(0, 3),
        "scalar": real.tensor(7), "view": base[2:8].view(2, 3), "base": base,
        "noncontig": real.arange(6.0).view(2, 3).t(), "state": real.nn.Linear(3, 2).state_dict(),
    }
    path = tmp_path / "all.pt"
    real.save(obj, path)
    real.load(path, weights_only=True)  # PyTorch accepts the file
    before = cc.library_state()
    out = torch.load(path)
    assert cc.library_state() == before
    for key in ("set", "complex", "bytes", "bytearray", "counter", "tuple", "bigint", "neg",
                "text"):
        assert out[key] == obj[key] and type(out[key]) is type(obj[key]), key
    assert out["size"] == torch.Size([2, 3]) and isinstance(out["size"], torch.Size)
    assert out["device"] == torch.device("cpu") and out["dtype"] is torch.float16
    assert type(out["param"]) is torch.nn.Parameter and out["param"].tag == "decoder"
    assert out["tensor_attr"].note == 3 and out["tensor_attr"].dtype is torch.int32
    for key in ("param", "tensor_attr", "f64", "bf16", "i16", "i8", "empty", "scalar", "view",
                "base", "noncontig"):
        expected = obj[key].detach().float().numpy()
        got = out[key].detach()
        assert tuple(got.shape) == tuple(obj[key].shape), key
        assert_close(got.float(), expected, atol=0, rtol=0)
    assert out["view"]._storage is out["base"]._storage and out["view"].storage_offset() == 2
    assert out["noncontig"].stride() == (1, 3)
    assert isinstance(out["state"], OrderedDict) and out["state"]._metadata[""] == {"version": 1}
    assert list(out["state"]) == ["weight", "bias"]


def test_wgtorch_files_load_in_torch_with_weights_only(tmp_path):
    real = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    path = tmp_path / "m.pt"
    torch.save({"model": model.state_dict(), "size": torch.Size([1, 2]), "dtype": torch.int64,
                "device": torch.device("cuda"), "set": {3}}, path)
    ref = real.load(path, weights_only=True, map_location="cpu")  # saved from "cuda:0"
    ours = torch.load(path)
    assert ref["size"] == real.Size([1, 2]) and ref["dtype"] is real.int64 and ref["set"] == {3}
    assert ours["size"] == torch.Size([1, 2]) and ours["dtype"] is torch.int64
    for key, value in ours["model"].items():
        assert np.array_equal(value.numpy(), ref["model"][key].numpy()), key
