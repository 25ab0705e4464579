"""softmax / log_softmax / logsumexp against numpy: values, gradients, dims, layouts, edge cases."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch.ops import softmax as softmax_ops


def np_logsumexp(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    return x - np_logsumexp(x, axis, keepdims=True)


@pytest.mark.parametrize("shape,dim", [((4, 9), 1), ((4, 8), -1), ((5, 6, 7), 1),
                                       ((5, 6, 7), 0), ((3, 65), -1), ((7,), 0)])
def test_softmax_log_softmax(shape, dim):
    check_op([shape], lambda x: x.softmax(dim), ref=lambda x: np_softmax(x, dim))
    check_op([shape], lambda x: torch.log_softmax(x, dim), ref=lambda x: np_log_softmax(x, dim))


def test_module_functions_and_dtype_argument():
    x = torch.randn(3, 5)
    assert_close(softmax_ops.softmax(x, 1), np_softmax(x.numpy(), 1), atol=1e-6)
    assert_close(softmax_ops.log_softmax(x, 0), np_log_softmax(x.numpy(), 0), atol=1e-5)
    i = torch.tensor([[1, 2], [3, 5]])
    assert_close(torch.softmax(i, 1, dtype=torch.float32), np_softmax(np.array(
        [[1.0, 2.0], [3.0, 5.0]]), 1), atol=1e-6)
    with pytest.raises(RuntimeError, match="softmax.*not implemented for 'Long'"):
        i.softmax(1)


def test_softmax_large_logits_and_infinities():
    x = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    ref = np_softmax(x.numpy().astype(np.float64), 1)
    assert_close(x.softmax(1), ref, atol=1e-6)
    assert_close(x.log_softmax(1), np_log_softmax(x.numpy().astype(np.float64), 1), atol=1e-4)
    inf = float("inf")
    t = torch.tensor([[-inf, 0.0, -inf, 1.0], [-inf, -inf, -inf, -inf], [0.0, 0.0, 0.0, 0.0]])
    s = t.softmax(1).numpy()
    assert_close(s[0], np_softmax(np.array([-np.inf, 0, -np.inf, 1.0]), 0), atol=1e-6)
    assert np.isnan(s[1]).all()
    assert_close(s[2], np.full(4, 0.25))
    assert t.logsumexp(1)[1].item() == -inf


def test_softmax_strided_and_noncontiguous_rows():
    a = np.random.default_rng(0).standard_normal((6, 10, 12)).astype(np.float32)
    t = torch.tensor(a)
    for tv, av in [(t[:, ::2, 1:], a[:, ::2, 1:]), (t.permute(2, 0, 1), a.transpose(2, 0, 1)),
                   (t[1:5, :, 3], a[1:5, :, 3])]:
        for dim in range(av.ndim):
            out = tv.softmax(dim)
            assert out.is_contiguous()
            assert_close(out, np_softmax(av, dim), atol=1e-6)
            assert_close(tv.log_softmax(dim), np_log_softmax(av, dim), atol=1e-5)


def test_softmax_long_rows_past_loop_limit():
    a = np.random.default_rng(1).standard_normal((2, 70003)).astype(np.float32)
    t = torch.tensor(a)
    assert_close(t.softmax(1), np_softmax(a.astype(np.float64), 1), atol=1e-9, rtol=1e-4)
    assert_close(t.log_softmax(-1), np_log_softmax(a.astype(np.float64), 1), atol=1e-4)
    assert_close(t.t().softmax(0), np_softmax(a.astype(np.float64), 1).T, atol=1e-9, rtol=1e-4)
    assert_close(t.logsumexp(1), np_logsumexp(a.astype(np.float64), 1), atol=1e-4)


def test_softmax_empty_0d_and_half():
    assert torch.zeros(0, 3).softmax(1).shape == (0, 3)
    assert torch.zeros(3, 0).log_softmax(1).shape == (3, 0)
    s = torch.tensor(3.0, requires_grad=True)
    y = s.softmax(0)
    assert y.item() == 1.0 and s.log_softmax(-1).item() == 0.0
    y.backward()
    assert s.grad.item() == 0.0
    h = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16)
    assert h.softmax(0).dtype == torch.float16
    assert_close(h.softmax(0), np_softmax(np.array([1.0, 2.0, 3.0]), 0), atol=1e-3)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_double_backward(name):
    # d/dt <v, grad f(x + t u)> at t=0 by central differences == <grad of <v, grad f>, u>
    f = getattr(torch, name)
    w, v, u = torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8)
    x = torch.randn(3, 8, requires_grad=True)
    (g,) = torch.autograd.grad((f(x, 1) * w).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad((g * v).sum(), x)
    eps, firsts = 1e-2, []
    for sign in (1, -1):
        xs = (x.detach() + sign * eps * u).requires_grad_()
        firsts.append(torch.autograd.grad((f(xs, 1) * w).sum(), xs)[0])
    fd = ((firsts[0] - firsts[1]) * v).sum().item() / (2 * eps)
    assert fd == pytest.approx((gg * u).sum().item(), rel=1e-2, abs=1e-3)


def test_fused_backward_long_rows_and_views():
    x = torch.randn(2, 70003, requires_grad=True)
    w = torch.randn(2, 70003)
    y = x.softmax(1)
    (y * w).sum().backward()
    yn, wn = y.detach().numpy().astype(np.float64), w.numpy()
    assert_close(x.grad, yn * (wn - (wn * yn).sum(1, keepdims=True)), atol=1e-7, rtol=1e-3)
    check_op([(6, 5, 4)], lambda x: x.permute(2, 0, 1).log_softmax(1),
             ref=lambda x: np_log_softmax(x.transpose(2, 0, 1), 1))


@pytest.mark.parametrize("dim,keepdim", [(1, False), (-1, True), ((0, 2), False), (0, True)])
def test_logsumexp(dim, keepdim):
    check_op([(3, 4, 5)], lambda x: torch.logsumexp(x, dim, keepdim=keepdim),
             ref=lambda x: np_logsumexp(x, dim, keepdims=keepdim))


def test_logsumexp_int_and_empty():
    assert torch.tensor([0, 0, 0]).logsumexp(0).item() == pytest.approx(np.log(3))
    assert torch.zeros(0, 3).logsumexp(0).tolist() == [-float("inf")] * 3
