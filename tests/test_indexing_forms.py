"""Every index form PyTorch accepts, in reads and writes, compared with torch 2.13: range,
lists, tuples of lists, numpy integer/bool/uint8 arrays and scalars, 0-d tensors, tensors as
Python sequence indices (``__index__``), mixed with slices, None and Ellipsis."""

import warnings

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close

reference = pytest.importorskip("torch")

BASE = np.arange(60, dtype=np.float32).reshape(3, 4, 5)


def keys(lib):
    """The same keys built with ``lib`` (wgtorch or torch) where a key holds tensors."""
    t = lib.tensor
    return {
        "range": range(2),
        "range_step": (slice(None), range(3, 0, -2)),
        "range_and_list": (range(2), [1, 3]),
        "list": [2, 0],
        "list_bools": [True, False, True],
        "tuple_of_lists": ([0, 2], [1, 3]),
        "list_of_lists_legacy": [[0, 2], [1, 3]],
        "np_int64": np.array([2, 1, 1]),
        "np_int32_2d": (slice(None), np.array([[0], [3]], dtype=np.int32)),
        "np_bool": np.array([True, False, True]),
        "np_bool_2d": np.array([[True, False, True, False]] * 3),
        "np_uint8_mask": np.array([1, 0, 1], dtype=np.uint8),
        "np_scalar": np.int64(1),
        "np_scalar_mix": (np.int32(2), slice(1, 3), np.int64(-1)),
        "zero_d": t(1),
        "zero_d_mix": (t(2), [0, 3]),
        "zero_d_bool": t(True),
        "tensor": t([[0, 1], [2, 2]]),
        "tensor_neg": (slice(None), t([-1, 0])),
        "ellipsis_none": (Ellipsis, None, t([0, 4])),
        "none_list_slice": (None, [0, 1], slice(1, 3)),
        "slice_np_slice": (slice(1, None), np.array([0, 3]), slice(None, None, 2)),
        "separated": ([0, 2], slice(None), [4, 1]),
        "bool_tensor": t([True, False, True]),
        "mask_and_index": (t([True, False, True]), slice(None), [0, 4]),
    }


NAMES = sorted(keys(torch))


def _pair():
    return torch.tensor(BASE.copy()), reference.tensor(BASE.copy())


@pytest.mark.parametrize("name", NAMES)
def test_read_matches_pytorch(name):
    ours, ref = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation of list-as-tuple keys
        expected = ref[keys(reference)[name]]
    got = ours[keys(torch)[name]]
    assert tuple(got.shape) == tuple(expected.shape)
    assert_close(got, expected.numpy(), atol=0, rtol=0)


# PyTorch 2.13 refuses a numpy uint8 mask in writes (masked_fill_ wants bool); wgtorch reads
# it as the mask it is in reads
@pytest.mark.parametrize("name", [n for n in NAMES if n != "np_uint8_mask"])
def test_write_matches_pytorch(name):
    ours, ref = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref[keys(reference)[name]] = -1.0
        shape = ref[keys(reference)[name]].shape
        ref[keys(reference)[name]] += reference.arange(float(np.prod(shape[-1:] or (1,))))
    ours[keys(torch)[name]] = -1.0
    ours[keys(torch)[name]] += torch.arange(float(np.prod(shape[-1:] or (1,))))
    assert_close(ours, ref.numpy(), atol=0, rtol=0)


@pytest.mark.parametrize("name", ["range", "tuple_of_lists", "np_int64", "zero_d_mix",
                                  "separated"])
def test_gradient_through_each_form(name):
    x = torch.tensor(BASE.copy(), requires_grad=True)
    r = reference.tensor(BASE.copy(), requires_grad=True)
    x[keys(torch)[name]].sum().backward()
    r[keys(reference)[name]].sum().backward()
    assert_close(x.grad, r.grad.numpy(), atol=0, rtol=0)


def test_zero_d_index_is_a_view_like_pytorchs_select():
    x = torch.tensor(BASE.copy())
    row = x[torch.tensor(1)]
    row += 100
    assert_close(x[1], BASE[1] + 100)


def test_tensors_index_python_sequences():
    classes = ["plane", "car", "bird"]
    t = torch.tensor([2, 0])
    assert [classes[i] for i in t] == ["bird", "plane"]
    assert classes[torch.tensor(1)] == "car" and list(range(5))[torch.tensor(3)] == 3
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        classes[torch.tensor(1.0)]


def test_bad_forms_raise_pytorchs_errors():
    x = torch.tensor(BASE.copy())
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or "
                                         "bool tensors"):
        x[torch.tensor(1.5)]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[range(6)]
    with pytest.raises(IndexError, match="out of bounds"):
        x[torch.tensor(7)]
    assert_close(x, BASE)  # nothing written
