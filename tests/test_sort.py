"""sort/argsort/topk/kthvalue/median/unique against numpy: values, indices, gradients."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch

NAN = float("nan")


def stable_argsort(a, axis, descending=False):
    return np.argsort(-a if descending else a, axis=axis, kind="stable")


@pytest.mark.parametrize("shape,dim", [((5, 37), 1), ((5, 37), 0), ((3, 4, 6), 1),
                                       ((64,), 0), ((65,), -1), ((1, 1), 0)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_values_and_indices(shape, dim, descending):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for t in (torch.tensor(a), torch.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1)))
              .transpose(0, -1)):
        values, indices = t.sort(dim, descending=descending)
        order = stable_argsort(a, dim, descending)
        assert values.is_contiguous() and indices.dtype == torch.int64
        assert np.array_equal(indices.numpy(), order)
        assert np.array_equal(values.numpy(), np.take_along_axis(a, order, dim))
        assert np.array_equal(torch.argsort(t, dim, descending=descending).numpy(), order)


def test_sort_stable_ties_ints_bools_and_nan():
    x = torch.tensor([3, 1, 3, 2, 1, 3])
    s = x.sort(stable=True)
    assert s.values.tolist() == [1, 1, 2, 3, 3, 3] and s.indices.tolist() == [1, 4, 3, 0, 2, 5]
    assert x.sort(descending=True).indices.tolist() == [0, 2, 5, 3, 1, 4]
    assert "torch.return_types.sort" in repr(s)
    f = torch.tensor([1.0, NAN, 0.0, NAN, -1.0, float("-inf")])
    asc, desc = f.sort(), f.sort(descending=True)
    assert asc.indices.tolist() == [5, 4, 2, 0, 1, 3]
    assert desc.indices.tolist() == [1, 3, 0, 2, 4, 5]
    b = torch.tensor([True, False, True, False])
    assert b.sort().values.tolist() == [False, False, True, True]
    assert b.sort().indices.tolist() == [1, 3, 0, 2]
    u = torch.tensor([200, 3, 255], dtype=torch.uint8)
    assert u.sort(descending=True).values.tolist() == [255, 200, 3]
    i = torch.tensor([[5, -7], [-2**31, 2**31 - 1]], dtype=torch.int32)
    assert i.sort(1).values.tolist() == [[-7, 5], [-2**31, 2**31 - 1]]


def test_sort_long_rows_and_edges():
    a = np.random.default_rng(1).random((3, 5000)).astype(np.float32)
    t = torch.tensor(a)
    assert np.array_equal(t.sort(1).values.numpy(), np.sort(a, 1))
    assert np.array_equal(t.t().argsort(0).numpy(), stable_argsort(a, 1).T)
    assert torch.zeros(0, 3).sort(0).values.shape == (0, 3)
    assert torch.zeros(3, 0).sort(1).indices.shape == (3, 0)
    s = torch.tensor(5.0).sort()
    assert s.values.item() == 5.0 and s.indices.item() == 0
    assert torch.tensor([[2.0, 1.0], [0.0, 3.0]]).msort().tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.zeros(2, 3).sort(2)


def test_sort_gradients():
    check_op([(4, 9)], lambda x: x.sort(1).values, ref=lambda x: np.sort(x, 1))
    check_op([(4, 9)], lambda x: x.sort(0, descending=True).values,
             ref=lambda x: -np.sort(-x, 0))
    x = torch.randn(6, requires_grad=True)
    w = torch.arange(6.0)
    (g,) = torch.autograd.grad((x.sort().values * w).sum(), x, create_graph=True)
    order = x.detach().argsort().numpy()
    expected = np.zeros(6)
    expected[order] = np.arange(6.0)
    assert_close(g, expected)
    y = torch.randn(6, requires_grad=True)  # second order through the scatter/gather pair
    (gy,) = torch.autograd.grad((y.sort().values * x).sum(), y, create_graph=True)
    (gx,) = torch.autograd.grad((gy * w).sum(), x)
    assert_close(gx, w.numpy()[y.detach().argsort().numpy()])


@pytest.mark.parametrize("largest", [True, False])
def test_topk(largest):
    a = np.random.default_rng(2).standard_normal((5, 11)).astype(np.float32)
    t = torch.tensor(a)
    for dim, k in ((1, 3), (0, 5), (-1, 0), (1, 11)):
        res = t.topk(k, dim, largest=largest)
        order = np.take(stable_argsort(a, dim, largest), np.arange(k), axis=dim)
        assert type(res).__name__ == "topk"
        assert np.array_equal(res.indices.numpy(), order)
        assert np.array_equal(res.values.numpy(), np.take_along_axis(a, order, dim))
    check_op([(4, 9)], lambda x: x.topk(3, 0, largest=largest).values,
             ref=lambda x: (-np.sort(-x, 0) if largest else np.sort(x, 0))[:3])
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        t.topk(12)


def test_kthvalue_and_median():
    a = np.random.default_rng(3).standard_normal((5, 9)).astype(np.float32)
    t = torch.tensor(a)
    med = t.median(1)
    assert_close(med.values, np.sort(a, 1)[:, 4])
    assert np.array_equal(med.indices.numpy(), stable_argsort(a, 1)[:, 4])
    assert t.median(0, keepdim=True).values.shape == (1, 9)
    assert torch.tensor([[4.0, 1.0, 3.0, 2.0]]).median().item() == 2.0  # lower median
    check_op([(4, 9)], lambda x: x.median(1).values, ref=lambda x: np.sort(x, 1)[:, 4])
    check_op([(6, 4)], lambda x: x.kthvalue(2, 0).values, ref=lambda x: np.sort(x, 0)[1])
    k = torch.tensor([5.0, 1.0, 3.0]).kthvalue(2)
    assert k.values.item() == 3.0 and k.indices.item() == 2
    m = torch.tensor([1.0, NAN, 0.0, NAN]).median(0)
    assert np.isnan(m.values.item()) and m.indices.item() == 1
    assert np.isnan(torch.zeros(0).median().item())
    with pytest.raises(IndexError, match=r"median\(\): Expected reduction dim 0"):
        torch.zeros(0, 3).median(0)
    with pytest.raises(RuntimeError, match="kthvalue.*out of range"):
        torch.zeros(3).kthvalue(4)


def test_unique():
    x = torch.tensor([3.0, 1.0, 3.0, 2.0, NAN, NAN])
    values, inverse, counts = x.unique(return_inverse=True, return_counts=True)
    assert values.tolist()[:3] == [1.0, 2.0, 3.0] and np.isnan(values.numpy()[3:]).all()
    assert inverse.tolist() == [2, 0, 2, 1, 3, 4] and counts.tolist() == [1, 1, 2, 1, 1]
    a = np.random.default_rng(4).integers(-20, 20, size=(7, 300))
    t = torch.tensor(a)
    u, inv, cnt = torch.unique(t, return_inverse=True, return_counts=True)
    eu, einv, ecnt = np.unique(a, return_inverse=True, return_counts=True)
    assert np.array_equal(u.numpy(), eu) and np.array_equal(cnt.numpy(), ecnt)
    assert inv.shape == (7, 300) and np.array_equal(inv.numpy().ravel(), einv.ravel())
    assert torch.tensor([True, False, True]).unique().tolist() == [False, True]
    assert torch.tensor(4).unique().tolist() == [4]
    e, ei = torch.zeros(0).unique(return_inverse=True)
    assert e.shape == (0,) and ei.shape == (0,)
    with pytest.raises(NotImplementedError, match="dim"):
        t.unique(dim=0)
