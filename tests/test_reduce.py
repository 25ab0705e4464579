"""Reductions against numpy: values, gradients, dims/keepdim, layouts, dtypes, edge cases."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch

# ---- sum / mean --------------------------------------------------------------------------


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (-1, True), (0, True),
                                         ((0, 2), False), ((2, 0), True), ((), False)])
def test_sum_mean_dims(dim, keepdim):
    np_dim = None if dim in (None, ()) else dim
    check_op([(3, 5, 7)], lambda x: x.sum(dim, keepdim=keepdim),
             ref=lambda x: x.sum(axis=np_dim, keepdims=keepdim))
    check_op([(3, 5, 7)], lambda x: x.mean(dim, keepdim=keepdim),
             ref=lambda x: x.mean(axis=np_dim, keepdims=keepdim))


def test_sum_odd_and_vector_sizes():
    for n in (1, 3, 63, 64, 65, 1000, 1027):
        check_op([(n,)], lambda x: x.sum(), ref=np.sum, layouts=("contiguous",))
    check_op([(13, 130)], lambda x: torch.sum(x, 1), ref=lambda x: x.sum(1))


def test_sum_strided_views():
    a = np.random.default_rng(1).standard_normal((6, 8, 10)).astype(np.float32)
    t = torch.tensor(a)
    views = [
        (t[:, ::2, 1:], a[:, ::2, 1:]),
        (t.permute(2, 0, 1), a.transpose(2, 0, 1)),
        (t[1:5, :, 3], a[1:5, :, 3]),
        (t.transpose(0, 2)[::3], a.transpose(2, 1, 0)[::3]),
    ]
    for tv, av in views:
        for dim in (None, 0, 1, -1, (0, 1), (0, -1)):
            if isinstance(dim, int) and dim >= av.ndim:
                continue
            assert_close(tv.sum(dim), av.sum(axis=dim), atol=1e-4)
            assert_close(tv.amax(dim if dim is not None else ()), av.max(axis=dim))


def test_sum_large_and_stable():
    # past lavapipe's 65,535-iteration loop limit, and >= 2^20 elements
    assert torch.ones(10**7).sum().item() == 1e7
    a = np.random.default_rng(2).random((1 << 20) + 3).astype(np.float32)
    assert_close(torch.tensor(a).sum(), a.astype(np.float64).sum(), rtol=1e-5)
    rows = np.random.default_rng(3).standard_normal((3, 70001)).astype(np.float32)
    t = torch.tensor(rows)
    assert_close(t.sum(1), rows.astype(np.float64).sum(1), atol=1e-2, rtol=1e-5)
    assert_close(t.t().sum(0), rows.astype(np.float64).sum(1), atol=1e-2, rtol=1e-5)
    assert_close(t.amax(1), rows.max(1))
    assert (t.argmin(1).numpy() == rows.argmin(1)).all()
    assert_close(t.mean(), rows.astype(np.float64).mean(), atol=1e-6)


def test_sum_dtypes():
    b = torch.tensor([[True, False, True], [True, True, False]])
    assert b.sum().dtype == torch.int64 and b.sum().item() == 4
    assert b.sum(0).tolist() == [2, 1, 1]
    i = torch.tensor([[1, -2, 3], [4, 5, -6]], dtype=torch.int32)
    assert i.sum().dtype == torch.int64 and i.sum(1).tolist() == [2, 3]
    assert i.sum(dtype=torch.float32).dtype == torch.float32
    u = torch.tensor([200, 100], dtype=torch.uint8)
    assert u.sum().item() == 300
    h = torch.tensor([1.5, 2.25], dtype=torch.float16)
    assert h.sum().dtype == torch.float16 and h.sum().item() == 3.75
    assert i.mean(dtype=torch.float32).item() == pytest.approx(5 / 6)
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype.*Got: Long"):
        torch.tensor([1, 2]).mean()


def test_sum_empty_and_0d():
    assert torch.zeros(0).sum().item() == 0
    assert torch.zeros(0, 3).sum(0).tolist() == [0, 0, 0]
    assert torch.zeros(3, 0).sum(1).tolist() == [0, 0, 0]
    assert torch.zeros(0, 3).sum(1).shape == (0,)
    assert np.isnan(torch.zeros(0).mean().item())
    s = torch.tensor(2.5, requires_grad=True)
    for out in (s.sum(), s.sum(0), s.sum(-1, keepdim=True), s.mean(), s.amax(), s.max()):
        assert out.shape == () and out.item() == 2.5
    s.sum(0).backward()
    assert s.grad.item() == 1.0


def test_bad_dims():
    x = torch.zeros(2, 3)
    for fn in (lambda: x.sum(2), lambda: x.mean(-3), lambda: x.amax(5), lambda: x.max(2),
               lambda: x.argmax(2), lambda: x.logsumexp(2), lambda: x.softmax(2)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            fn()
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times"):
        x.sum((1, -1))


# ---- max / min / amax / amin / argmax / argmin -----------------------------------------------


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False), (2, True)])
def test_max_min_dim(dim, keepdim):
    for name in ("max", "min"):
        def ref_v(x, name=name):
            return getattr(np, name)(x, axis=dim, keepdims=keepdim)

        check_op([(4, 5, 6)], lambda x, name=name: getattr(x, name)(dim, keepdim).values,
                 ref=ref_v)
        a = np.random.default_rng(4).standard_normal((4, 5, 6)).astype(np.float32)
        res = getattr(torch.tensor(a), name)(dim, keepdim=keepdim)
        values, indices = res
        idx = getattr(np, "arg" + name)(a, axis=dim)
        if keepdim:
            idx = np.expand_dims(idx, dim)
        assert indices.dtype == torch.int64 and (indices.numpy() == idx).all()
        assert res.values is values and res.indices is indices
        assert type(res).__name__ == name and "torch.return_types." + name in repr(res)


def test_max_gradient_goes_to_returned_index_and_ties():
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0]  # first of equal values
    values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]
    x.grad = None
    x.amax(1).sum().backward()  # amax splits the gradient evenly among ties
    assert x.grad.tolist() == [[0, 0.5, 0.5], [0.5, 0.5, 0]]
    x.grad = None
    x.max().backward()
    assert x.grad.tolist() == [[0, 0.5, 0.5], [0, 0, 0]]
    x.grad = None
    x.min().backward()
    assert x.grad.tolist() == [[0, 0, 0], [0, 0, 1]]


@pytest.mark.parametrize("dim", [None, (), 0, (0, 2), -1])
def test_amax_amin(dim):
    np_dim = None if dim in (None, ()) else dim
    d = () if dim is None else dim
    check_op([(3, 4, 5)], lambda x: x.amax(d), ref=lambda x: x.max(axis=np_dim))
    check_op([(3, 4, 5)], lambda x: torch.amin(x, d, keepdim=True),
             ref=lambda x: x.min(axis=np_dim, keepdims=True))


def test_max_forms():
    a = np.random.default_rng(5).standard_normal((3, 70)).astype(np.float32)
    t = torch.tensor(a)
    assert t.max().item() == a.max() and torch.min(t).item() == a.min()
    assert_close(torch.max(t, torch.zeros(70)), np.maximum(a, 0))
    assert_close(t.min(torch.zeros(3, 1)), np.minimum(a, 0))
    assert_close(torch.max(t, other=torch.zeros(70)), np.maximum(a, 0))
    assert_close(torch.max(t, dim=1, keepdim=True).values, a.max(1, keepdims=True))
    assert torch.argmax(t).item() == a.argmax()
    assert torch.argmin(t, dim=0, keepdim=True).tolist() == [a.argmin(0).tolist()]
    assert torch.argmax(t, keepdim=True).shape == (1, 1)
    it = torch.tensor([[3, -7, 9], [9, 2, -7]], dtype=torch.int64)
    assert it.max().item() == 9 and it.amin(1).tolist() == [-7, -7]
    assert it.argmax(1).tolist() == [2, 0] and it.argmin(1).tolist() == [1, 2]
    assert it.max(0).values.dtype == torch.int64
    b = torch.tensor([False, True, True])
    assert b.max().item() is True and b.argmax().item() == 1
    u = torch.tensor([5, 250, 7], dtype=torch.uint8)
    assert u.max().item() == 250 and u.argmin().item() == 0


def test_max_nan_and_inf():
    nan, inf = float("nan"), float("inf")
    t = torch.tensor([[1.0, nan, 3.0], [-inf, -inf, -inf], [inf, 2.0, inf]])
    assert np.isnan(t.amax(1)[0].item()) and np.isnan(t.amin(1)[0].item())
    assert t.argmax(1).tolist() == [1, 0, 0]
    assert t.argmin(1).tolist() == [1, 0, 1]
    assert t.amax(1)[1].item() == -inf and t.max(1).values[2].item() == inf


def test_max_empty_errors():
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        torch.zeros(0).max()
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 0 to have non-zero"):
        torch.zeros(0, 3).max(0)
    with pytest.raises(IndexError, match=r"amin\(\): Expected reduction dim 0"):
        torch.zeros(0, 3).amin(0)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        torch.zeros(0, 3).argmax()
    assert torch.zeros(0, 3).amax(1).shape == (0,)
    v, i = torch.tensor(4.0).max(0)
    assert v.item() == 4.0 and i.item() == 0


# ---- prod, all, any, count_nonzero -----------------------------------------------------------


def test_prod_forward():
    check_op([(4, 6)], lambda x: x.prod(1), ref=lambda x: x.prod(1), grad=False, low=0.5,
             high=1.5)
    check_op([(4, 6)], lambda x: x.prod(), ref=np.prod, grad=False, low=0.5, high=1.5)
    assert torch.tensor([[2, 3], [4, -5]]).prod(0).tolist() == [8, -15]
    assert torch.tensor([[2, 3], [4, -5]]).prod().dtype == torch.int64
    assert torch.zeros(0).prod().item() == 1.0


def test_all_any_count_nonzero():
    a = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    t = torch.tensor(a)
    assert t.all(1).tolist() == [False, True, False] and t.any(1).tolist() == [True, True, False]
    assert t.all().item() is False and t.any().item() is True
    assert t.all(0, keepdim=True).shape == (1, 3)
    assert torch.all(t.t() >= 0).item() is True
    assert t.count_nonzero().item() == 5 and t.count_nonzero(0).tolist() == [1, 2, 2]
    assert t.count_nonzero((0, 1)).dtype == torch.int64
    assert torch.zeros(0).all().item() is True and torch.zeros(0).any().item() is False
    u = torch.tensor([1, 2], dtype=torch.uint8)
    assert u.all().dtype == torch.uint8
    big = torch.ones(100000)
    assert big.all().item() is True and (big - 1).any().item() is False


def test_prod_gradients_with_zeros():
    check_op([(4, 6)], lambda x: x.prod(1), ref=lambda x: x.prod(1))
    for a in ([[1.5, 0.0, 2.0, 0.0], [2.0, 3.0, -1.0, 0.5]], [[1.5, 0.0, 2.0, 3.0], [0.0, 1.0, 0.0, 2.0]]):
        a = np.array(a)
        check_op(None, lambda x: x.prod(1), ref=lambda x: np.prod(x, 1), inputs=[a])
        check_op(None, lambda x: x.prod(), ref=np.prod, inputs=[a], layouts=("contiguous",))
    check_op([(3, 4)], lambda x: x.prod(-2, keepdim=True), ref=lambda x: x.prod(0, keepdims=True))


# ---- var / std / norm --------------------------------------------------------------------


@pytest.mark.parametrize("dim", [None, 1, (0, 2), -1])
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std(dim, correction):
    check_op([(3, 4, 5)], lambda x: x.var(dim, correction=correction),
             ref=lambda x: np.var(x, axis=dim, ddof=correction))
    check_op([(3, 4, 5)], lambda x: torch.std(x, dim, correction=correction, keepdim=True),
             ref=lambda x: np.std(x, axis=dim, ddof=correction, keepdims=True))


def test_var_legacy_arguments_and_means():
    check_op([(6, 7)], lambda x: x.var(1, unbiased=False), ref=lambda x: np.var(x, axis=1))
    check_op([(6, 7)], lambda x: x.std(False), ref=np.std)
    check_op([(6, 7)], lambda x: x.var(0, True, True), ref=lambda x: np.var(x, 0, ddof=1,
                                                                                keepdims=True))
    check_op([(6, 7)], lambda x: sum(torch.std_mean(x, 0)) + torch.var_mean(x, 1)[1].sum(),
             ref=lambda x: np.std(x, 0, ddof=1) + x.mean(0) + x.mean(1).sum())
    var, mean = torch.var_mean(torch.tensor([[1.0, 2.0, 6.0]]), 1, keepdim=True)
    assert var.shape == mean.shape == (1, 1) and mean.item() == 3.0 and var.item() == 7.0
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="can't specify both unbiased and correction"):
        torch.zeros(3).var(0, unbiased=True, correction=1)
    assert np.isnan(torch.tensor([1.0]).var().item()) and torch.tensor([1.0]).var(False) == 0


def test_var_stable_and_large():
    a = (np.random.default_rng(6).random(1 << 21) + 1000).astype(np.float32)
    assert_close(torch.tensor(a).var(), a.astype(np.float64).var(ddof=1), rtol=1e-3)
    assert_close(torch.tensor(a).std(), a.astype(np.float64).std(ddof=1), rtol=1e-3)


_NORM_REFS = {
    1: lambda x, d: np.abs(x).sum(d), 2: lambda x, d: np.sqrt((x * x).sum(d)),
    "fro": lambda x, d: np.sqrt((x * x).sum(d)), 3: lambda x, d: (np.abs(x) ** 3).sum(d) ** (1 / 3),
    0.5: lambda x, d: (np.abs(x) ** 0.5).sum(d) ** 2, float("inf"): lambda x, d: np.abs(x).max(d),
    -float("inf"): lambda x, d: np.abs(x).min(d),
}


@pytest.mark.parametrize("p", list(_NORM_REFS))
def test_norm(p):
    check_op([(4, 9)], lambda x: x.norm(p, 1), ref=lambda x: _NORM_REFS[p](x, 1))
    check_op([(3, 4)], lambda x: torch.norm(x, p), ref=lambda x: _NORM_REFS[p](x, None))


def test_norm_edge_cases():
    from wgtorch.ops.stats import vector_norm

    assert torch.tensor([[3.0, 4.0]]).norm().item() == 5.0
    assert torch.tensor([0.0, 2.0, 0.0]).norm(0).item() == 1.0
    x = torch.zeros(3, requires_grad=True)
    x.norm().backward()
    assert x.grad.tolist() == [0, 0, 0]  # PyTorch's subgradient at 0
    assert vector_norm(torch.tensor([[3.0, 4.0]]), dim=1, keepdim=True).shape == (1, 1)
    assert torch.zeros(0).norm().item() == 0.0
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        torch.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match="nuclear"):
        torch.zeros(2, 2).norm("nuc")


# ---- cumsum / cumprod ----------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod(dim):
    check_op([(4, 5)], lambda x: x.cumsum(dim), ref=lambda x: np.cumsum(x, dim))
    check_op([(4, 5)], lambda x: torch.cumprod(x, dim), ref=lambda x: np.cumprod(x, dim))


def test_cumprod_gradient_with_zeros():
    a = np.array([[1.5, 0.0, 2.0, 0.0, 3.0], [2.0, 3.0, -1.0, 0.5, 0.0]])
    check_op(None, lambda x: x.cumprod(1), ref=lambda x: np.cumprod(x, 1), inputs=[a])


def test_cumsum_long_rows_dtypes_and_edges():
    a = np.random.default_rng(7).standard_normal((3, 70001)).astype(np.float32)
    t = torch.tensor(a)
    ref = np.cumsum(a.astype(np.float64), 1)
    assert_close(t.cumsum(1), ref, atol=2e-3)
    assert_close(t.t().cumsum(0), ref.T, atol=2e-3)
    assert torch.ones(1 << 20).cumsum(0)[-1].item() == 1 << 20
    assert torch.arange(5).cumsum(0).tolist() == [0, 1, 3, 6, 10]
    assert torch.tensor([True, False, True]).cumsum(0).dtype == torch.int64
    assert torch.tensor([2, 3, 4], dtype=torch.int32).cumprod(0).tolist() == [2, 6, 24]
    assert torch.tensor([1, 2]).cumsum(0, dtype=torch.float32).dtype == torch.float32
    assert torch.zeros(0, 3).cumsum(0).shape == (0, 3)
    assert torch.tensor(3.0).cumsum(0).item() == 3.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.zeros(2, 3).cumsum(2)


def test_cumsum_double_backward():
    x = torch.randn(5, requires_grad=True)
    (g,) = torch.autograd.grad((x.cumsum(0) ** 2).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    c = np.tril(np.ones((5, 5)))  # cumsum as a matrix: g = 2 C^T C x, so d(sum g)/dx = 2 C^T C 1
    assert_close(gg, 2 * c.T @ c @ np.ones(5))


def test_fused_dispatch_counts():
    rt = torch.get_runtime()
    x, big = torch.randn(64, 100), torch.ones(1 << 22)
    cases = [(lambda: x.sum(1), 1), (lambda: x.amax(0), 1), (lambda: x.var(1), 1),
             (lambda: x.norm(dim=1), 1), (lambda: x.softmax(1), 1), (lambda: x.max(1), 1),
             (lambda: big.sum(), 2)]
    for fn, expected in cases:
        before = rt.dispatch_count
        fn()
        assert 1 <= rt.dispatch_count - before <= expected + (0 if rt.is_cpu_adapter else 1)


def test_sum_over_tensors_with_a_zero_size_dim():
    import wgtorch as torch

    assert torch.zeros(3, 0).sum().item() == 0
    assert torch.zeros(3, 0).sum(1).tolist() == [0.0, 0.0, 0.0]
    assert torch.zeros(0, 3).t().sum(1).tolist() == [0.0, 0.0, 0.0]
    assert torch.zeros(2, 0, 3).sum((0, 2)).shape == (0,)
