import copy

import pytest

import wgtorch as torch


def test_deepcopy_leaf_copies_storage_and_grad():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y._storage is not x._storage
    assert y.tolist() == x.tolist() and y.grad.tolist() == [2.0, 4.0, 6.0]
    y.data.add_(1.0)
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_deepcopy_non_leaf_is_refused():
    x = torch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x)


def test_data_setter_takes_device_and_dtype():
    a = torch.ones(2)
    a.data = torch.zeros(3, dtype=torch.int32, device="cpu")
    assert a.device == torch.device("cpu") and a.dtype is torch.int32 and a.shape == (3,)
