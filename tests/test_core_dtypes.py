"""dtypes: PyTorch's type promotion, the 32-bit storage policy (dtypes.py) and its errors,
and each op over each dtype it supports."""

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close

ALL = [torch.float32, torch.float16, torch.int32, torch.int64, torch.bool, torch.uint8]


def _t(values, dtype):
    return torch.tensor(values, dtype=dtype)


# (operands, expected result dtype) with PyTorch's rules: dimensioned tensors > 0-d tensors >
# Python scalars, unless a lower group is of a higher category (bool < integer < float).
PROMOTION = [
    (lambda: _t([1, 2], torch.int64) + 1.5, torch.float32),
    (lambda: 1.5 + _t([1, 2], torch.int64), torch.float32),
    (lambda: _t([1, 2], torch.int64) * torch.tensor(2.5), torch.float32),
    (lambda: _t([1, 2], torch.int32) + torch.tensor(2), torch.int32),
    (lambda: _t([1, 2], torch.int32) + 2, torch.int32),
    (lambda: _t([1, 2], torch.int32) + _t([2], torch.int64), torch.int64),
    (lambda: _t([1, 2], torch.uint8) + _t([1], torch.int32), torch.int32),
    (lambda: _t([1, 2], torch.uint8) + torch.tensor(-3), torch.uint8),
    (lambda: _t([True, False], torch.bool) + 1, torch.int64),
    (lambda: _t([True, False], torch.bool) * 2.5, torch.float32),
    (lambda: _t([True, False], torch.bool) + _t([True, True], torch.bool), torch.bool),
    (lambda: _t([True], torch.bool) + _t([3], torch.uint8), torch.uint8),
    (lambda: _t([1, 2], torch.float16) + _t([1, 2], torch.int64), torch.float16),
    (lambda: _t([1, 2], torch.float16) + torch.tensor(1.5), torch.float16),
    (lambda: _t([1, 2], torch.float16) + _t([1.5], torch.float32), torch.float32),
    (lambda: _t([1, 2], torch.int32) + _t([1.5], torch.float16), torch.float16),
    (lambda: _t([1, 2], torch.int64) / 2, torch.float32),
    (lambda: _t([1, 2], torch.int64) // 2, torch.int64),
    (lambda: _t([1, 2], torch.int64).exp(), torch.float32),
    (lambda: _t([1, 2], torch.int64).sqrt(), torch.float32),
    (lambda: _t([1, 2], torch.int64).abs(), torch.int64),
    (lambda: _t([1, 2], torch.uint8).neg(), torch.uint8),
    (lambda: _t([1, 2], torch.float16).sigmoid(), torch.float16),
    (lambda: _t([1, 2], torch.int64) < 1.5, torch.bool),
    (lambda: torch.tensor(1) + torch.tensor(2.0), torch.float32),
    (lambda: torch.tensor(True) + torch.tensor(2), torch.int64),
]


@pytest.mark.parametrize("make,expected", PROMOTION)
def test_promotion(make, expected):
    assert make().dtype is expected


def test_result_type_and_promote_types():
    assert torch.result_type(_t([1], torch.int32), 1.0) is torch.float32
    assert torch.result_type(_t([1], torch.int32), torch.tensor(5)) is torch.int32
    assert torch.promote_types(torch.int32, torch.float16) is torch.float16
    assert torch.promote_types(torch.bool, torch.uint8) is torch.uint8


def test_promoted_values():
    assert (_t([1, 2], torch.int64) + 1.5).tolist() == [2.5, 3.5]
    assert (_t([1, 2, 3], torch.int64) * torch.tensor(2.5)).tolist() == [2.5, 5.0, 7.5]
    assert (_t([True, False], torch.bool) + 1).tolist() == [2, 1]
    assert (_t([True, False], torch.bool) + _t([True, True], torch.bool)).tolist() == [True,
                                                                                       True]


def test_uint8_wraps_modulo_256():
    assert (_t([250, 3], torch.uint8) + 10).tolist() == [4, 13]
    assert (_t([5], torch.uint8) - 10).tolist() == [251]
    assert (_t([200], torch.uint8) * 2).tolist() == [144]
    assert (_t([200], torch.uint8) + _t([100], torch.uint8)).tolist() == [44]
    assert (-_t([1, 0], torch.uint8)).tolist() == [255, 0]
    assert (_t([200], torch.uint8) // 3).tolist() == [66]
    assert (_t([200], torch.uint8) % 7).tolist() == [4]
    out = _t([7], torch.uint8) / 2
    assert out.dtype is torch.float32 and out.tolist() == [3.5]


def test_int32_arithmetic_wraps_inside_kernels():
    # documented in dtypes.py: values are 32-bit on the GPU
    out = _t([2**31 - 1], torch.int32) + 1
    assert out.tolist() == [-(2**31)]


def test_int64_out_of_int32_range_is_an_upload_error():
    for bad in ([2**40], [-(2**31) - 1], np.array([2**31], dtype=np.int64)):
        with pytest.raises(RuntimeError, match=r"does not fit in wgtorch's int64 storage.*"
                           r"32-bit"):
            torch.tensor(bad)
    with pytest.raises(RuntimeError, match="does not fit"):
        torch.tensor(2**33)
    with pytest.raises(RuntimeError, match="does not fit"):
        torch.tensor([1], dtype=torch.int32) + 2**40
    with pytest.raises(RuntimeError, match="does not fit"):
        torch.full((2,), 2**35, dtype=torch.int64)
    # the edges of the range are fine
    t = torch.tensor([2**31 - 1, -(2**31)])
    assert t.dtype is torch.int64 and t.tolist() == [2**31 - 1, -(2**31)]


def test_uint8_out_of_range_upload_is_an_error():
    with pytest.raises(RuntimeError, match="uint8"):
        torch.tensor([300], dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="uint8"):
        torch.tensor([-1], dtype=torch.uint8)


def test_float64_requests_name_float32():
    msg = "float64 is not supported.*float32"
    with pytest.raises(TypeError, match=msg):
        torch.zeros(3, dtype=torch.float64)
    with pytest.raises(TypeError, match=msg):
        torch.tensor([1.0], dtype=torch.double)
    with pytest.raises(TypeError, match=msg):
        torch.ones(2).to(torch.float64)
    with pytest.raises(TypeError, match=msg):
        torch.ones(2).double()
    with pytest.raises(TypeError, match=msg):
        torch.ones(2).to("float64")
    with pytest.raises(TypeError, match=msg):
        torch.tensor(np.zeros(2), dtype=np.float64)
    assert repr(torch.float64) == "torch.float64"


def test_float64_numpy_data_is_stored_as_float32():
    t = torch.tensor(np.array([0.1, 0.2]))
    assert t.dtype is torch.float32
    assert_close(t, np.array([0.1, 0.2], dtype=np.float32), atol=0, rtol=0)
    assert torch.from_numpy(np.arange(3.0)).dtype is torch.float32


def test_float16_rounds_on_every_write():
    x = _t([0.1, 1 / 3, 70000.0, 1e-8], torch.float16)
    with np.errstate(over="ignore"):
        half = np.array([0.1, 1 / 3, 70000.0, 1e-8], dtype=np.float16)
    np.testing.assert_array_equal(x.numpy(), half)
    assert x.numpy().dtype == np.float16
    y = x[:2] + _t([0.2, 0.2], torch.float16)
    expected = (np.array([0.1, 1 / 3], dtype=np.float16).astype(np.float32)
                + np.float16(0.2)).astype(np.float16)
    np.testing.assert_array_equal(y.numpy(), expected)
    big = _t([1000.0], torch.float16) * 100
    assert big.item() == float("inf")  # overflow to inf, as real half precision
    assert torch.tensor([1 / 3]).half().item() == float(np.float16(1 / 3))
    assert torch.tensor([1 / 3]).half().float().dtype is torch.float32


def test_numpy_dtypes_map():
    cases = [
        (np.float32, torch.float32), (np.float16, torch.float16), (np.int32, torch.int32),
        (np.int64, torch.int64), (np.bool_, torch.bool), (np.uint8, torch.uint8),
    ]
    for npd, expected in cases:
        t = torch.from_numpy(np.array([1, 0, 1], dtype=npd))
        assert t.dtype is expected
        assert t.numpy().dtype == np.dtype(npd)
    with pytest.raises(TypeError):
        torch.tensor(np.array([1 + 2j]))


def test_dtype_objects():
    assert torch.float is torch.float32 and torch.long is torch.int64 and torch.half is \
        torch.float16 and torch.int is torch.int32
    assert repr(torch.float32) == "torch.float32" and repr(torch.bool) == "torch.bool"
    assert torch.float32.is_floating_point and not torch.int64.is_floating_point
    assert torch.int64.itemsize == 8 and torch.uint8.itemsize == 1
    assert torch.get_default_dtype() is torch.float32


def test_set_default_dtype():
    try:
        torch.set_default_dtype(torch.float16)
        assert torch.tensor([1.5]).dtype is torch.float16
        assert torch.zeros(2).dtype is torch.float16
        assert (torch.tensor([1]) + 0.5).dtype is torch.float16
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)


# per-dtype: what each elementwise op gives for each dtype it accepts

PER_DTYPE_VALUES = {
    torch.float32: [1.5, -2.0, 0.0, 3.0],
    torch.float16: [1.5, -2.0, 0.0, 3.0],
    torch.int32: [1, -2, 0, 3],
    torch.int64: [1, -2, 0, 3],
    torch.uint8: [1, 2, 0, 3],
    torch.bool: [True, False, False, True],
}


@pytest.mark.parametrize("dtype", ALL, ids=[str(d) for d in ALL])
def test_ops_per_dtype(dtype):
    values = PER_DTYPE_VALUES[dtype]
    a = np.array(values, dtype=dtype.np_dtype)
    t = _t(values, dtype)
    assert t.dtype is dtype and t.numpy().dtype == a.dtype
    np.testing.assert_array_equal(t.numpy(), a)
    # comparisons and logical ops on every dtype
    np.testing.assert_array_equal((t == t).numpy(), np.ones(4, bool))
    np.testing.assert_array_equal((t > 0).numpy(), a > 0)
    np.testing.assert_array_equal(torch.logical_not(t).numpy(), np.logical_not(a))
    np.testing.assert_array_equal(t.isnan().numpy(), np.zeros(4, bool))
    # casts
    np.testing.assert_array_equal(t.float().numpy(), a.astype(np.float32))
    np.testing.assert_array_equal(t.bool().numpy(), a.astype(bool))
    # arithmetic keeps the dtype (bool: addition is logical or)
    if dtype is not torch.bool:
        out = t + t
        assert out.dtype is dtype
        np.testing.assert_array_equal(out.numpy(), (a + a).astype(a.dtype))
        out = t * t
        np.testing.assert_array_equal(out.numpy(), (a * a).astype(a.dtype))
        np.testing.assert_array_equal(t.abs().numpy(), np.abs(a))
        np.testing.assert_array_equal(torch.maximum(t, t[0]).numpy(), np.maximum(a, a[0]))
        np.testing.assert_array_equal(t.clamp(0, 2).numpy(), np.clip(a, 0, 2).astype(a.dtype))
        np.testing.assert_array_equal(t.sign().numpy(), np.sign(a))
    # float ops on integer dtypes give float32
    out = t.exp()
    assert out.dtype is (dtype if dtype.is_floating_point else torch.float32)
    assert_close(out, np.exp(a.astype(np.float64)), rtol=1e-3 if dtype is torch.float16 else
                 1e-5)
    out = t / 2
    assert out.dtype is (dtype if dtype.is_floating_point else torch.float32)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8, torch.bool])
def test_float_only_ops_refuse_gradients_for_integers(dtype):
    with pytest.raises(RuntimeError, match="floating point"):
        torch.zeros(2, dtype=dtype).requires_grad_()


def test_integer_ops_not_implemented_for_floats():
    with pytest.raises(NotImplementedError, match="bitwise_xor.*Float"):
        torch.ones(2) ^ torch.ones(2)
    with pytest.raises(NotImplementedError, match="bitwise_not.*Half"):
        torch.bitwise_not(torch.ones(2, dtype=torch.float16))


def test_casts_between_all_dtypes():
    values = [0.0, 1.0, 2.7, 200.0]
    src = np.array(values, dtype=np.float32)
    for dtype in ALL:
        t = torch.tensor(values).to(dtype)
        assert t.dtype is dtype
        expected = src.astype(dtype.np_dtype)
        np.testing.assert_array_equal(t.numpy(), expected)
        for other in ALL:
            if other is torch.uint8 or other is torch.bool:
                continue
            back = t.to(other)
            np.testing.assert_array_equal(back.numpy(), expected.astype(other.np_dtype))
    # truncation toward zero for float -> int
    assert torch.tensor([1.7, -1.7, 0.5, -0.5]).long().tolist() == [1, -1, 0, 0]
    assert torch.tensor([2, 0, -1]).bool().tolist() == [True, False, True]
    nan = float("nan")
    assert torch.tensor([nan, 0.0, -0.0]).bool().tolist() == [True, False, False]
