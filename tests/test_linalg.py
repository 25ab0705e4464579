"""Matrix products against numpy: shapes, strides, broadcasting, long K, gradients, errors."""

import numpy as np
import pytest

import wgtorch as torch
from tests.helpers import as_noncontiguous, assert_close, check_op

RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 65, 129), (65, 7, 1), (1, 129, 7),
                                   (33, 64, 17)])
def test_mm_odd_sizes(m, k, n):
    a, b = rand(m, k), rand(k, n)
    assert_close(torch.tensor(a) @ torch.tensor(b), a @ b, atol=1e-4)
    assert_close(torch.mm(torch.tensor(a), torch.tensor(b)), a @ b, atol=1e-4)


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_mm_transposed_operands(ta, tb):
    a, b = rand(9, 13), rand(13, 6)
    x = as_noncontiguous(a) if ta else torch.tensor(a)
    y = as_noncontiguous(b) if tb else torch.tensor(b)
    assert_close(x @ y, a @ b, atol=1e-4)


def test_mm_sliced_operands():
    a, b = rand(10, 20), rand(30, 12)
    x = torch.tensor(a)[1::2, 3:17]
    y = torch.tensor(b)[5:19, ::3]
    assert_close(x @ y, a[1::2, 3:17] @ b[5:19, ::3], atol=1e-4)


@pytest.mark.parametrize("sa,sb", [
    ((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((2, 3, 5), (5,)), ((5,), (2, 5, 4)),
    ((2, 3, 5), (5, 4)), ((3, 5), (2, 5, 4)), ((2, 1, 3, 5), (4, 5, 2)), ((4, 2, 3, 5), (2, 5, 6)),
])
def test_matmul_promotion_and_broadcast(sa, sb):
    a, b = rand(*sa), rand(*sb)
    out = torch.tensor(a) @ torch.tensor(b)
    assert_close(out, np.matmul(a, b), atol=1e-4)


def test_bmm_and_grad_fn_names():
    a, b = rand(4, 3, 5), rand(4, 5, 2)
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    out = torch.bmm(x, y)
    assert_close(out, a @ b, atol=1e-4)
    assert out.grad_fn.name() == "BmmBackward0"
    assert torch.mm(x[0], y[0]).grad_fn.name() == "MmBackward0"


def test_long_k_past_loop_limit():
    # lavapipe stops loops after 65,535 iterations: K is split over dispatches
    a, b = rand(3, 70001), rand(70001, 2)
    assert_close(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b, atol=2e-2,
                 rtol=1e-3)


def test_large_matmul():
    a, b = rand(1024, 1024), rand(1024, 64)  # 2^20 elements in a
    assert_close(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b, atol=2e-3,
                 rtol=1e-3)


def test_empty_dims():
    assert_close(torch.zeros(3, 0) @ torch.zeros(0, 4), np.zeros((3, 4)))
    assert (torch.zeros(0, 5) @ torch.zeros(5, 4)).shape == (0, 4)
    assert (torch.zeros(2, 0, 5) @ torch.zeros(2, 5, 4)).shape == (2, 0, 4)
    assert_close(torch.dot(torch.zeros(0), torch.zeros(0)), np.float32(0))


def test_linear():
    x, w, b = rand(2, 3, 5), rand(4, 5), rand(4)
    from wgtorch.ops.linalg import linear

    assert_close(linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)), x @ w.T + b,
                 atol=1e-4)
    assert_close(linear(torch.tensor(x), torch.tensor(w)), x @ w.T, atol=1e-4)
    assert_close(linear(torch.tensor(x[0, 0]), torch.tensor(w), torch.tensor(b)),
                 x[0, 0] @ w.T + b, atol=1e-4)


def test_gradients():
    check_op([(4, 5), (5, 3)], lambda a, b: a @ b)
    check_op([(2, 4, 5), (5, 3)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(2, 1, 4, 5), (3, 5, 2)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(5,), (5, 3)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(5,), (5,)], lambda a, b: torch.dot(a, b), ref=np.dot)


def test_linear_gradients():
    from wgtorch.ops.linalg import linear

    check_op([(6, 5), (4, 5), (4,)], linear, ref=lambda x, w, b: x @ w.T + b)


def test_second_order():
    a, b = rand(3, 4), rand(4, 2)
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    (gx,) = torch.autograd.grad(((x @ y) ** 2).sum(), x, create_graph=True)
    gx.sum().backward()
    # sum(gx) = 2 p^T y y^T q with p = x^T 1, q = 1, so d/dy = 2 (p (y^T q)^T + q (y^T p)^T)
    p, q = a.T @ np.ones(3), np.ones(4)
    expected = 2 * (np.outer(p, b.T @ q) + np.outer(q, b.T @ p))
    assert_close(y.grad, expected, atol=1e-3)


def test_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        torch.ones(2, 3) @ torch.ones(4, 5)
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        torch.mm(torch.ones(3), torch.ones(3, 3))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        torch.bmm(torch.ones(3, 3), torch.ones(3, 3, 3))
    with pytest.raises(RuntimeError, match="Expected size for first two dimensions of batch2"):
        torch.ones(2, 2, 3) @ torch.ones(2, 4, 5)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        torch.ones(2, 2, 3) @ torch.ones(3, 3, 5)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        torch.matmul(torch.tensor(1.0), torch.ones(3))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        torch.ones(3) @ torch.ones(4)
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        torch.mv(torch.ones(2, 3), torch.ones(4))
    with pytest.raises(RuntimeError, match="expected mat1 and mat2 to have the same dtype"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.int64)
