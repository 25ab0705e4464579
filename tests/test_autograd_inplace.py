"""Autograd through in-place ops and views, as PyTorch: CopySlices, regenerated views,
version counters and their errors. Expected gradients are worked out with numpy."""

import numpy as np
import pytest
from helpers import assert_close

import wgtorch as torch

RNG = np.random.default_rng(7)


def rand(*shape, requires_grad=True):
    return torch.tensor(RNG.uniform(-1, 1, shape), dtype=torch.float32,
                        requires_grad=requires_grad)


def np_of(t):
    return t.detach().numpy().astype(np.float64)


# ---- setitem ----------------------------------------------------------------------------


def test_setitem_tensor_into_non_leaf():
    a, b = rand(3), torch.tensor(5.0, requires_grad=True)
    x = a * 2
    x[0] = b
    assert x.grad_fn.name() == "CopySlices"
    G = RNG.standard_normal(3)
    (x * torch.tensor(G, dtype=torch.float32)).sum().backward()
    assert_close(a.grad, 2 * G * np.array([0, 1, 1]))
    assert_close(b.grad, G[0])
    assert_close(x, np.r_[5.0, 2 * np_of(a)[1:]])


def test_setitem_number_gives_zero_gradient_in_the_region():
    a = rand(2, 4)
    x = a * 3
    x[:, 1:3] = 0.5
    x.sum().backward()
    expected = np.full((2, 4), 3.0)
    expected[:, 1:3] = 0
    assert_close(a.grad, expected)


def test_setitem_broadcast_value_and_strided_region():
    a, b = rand(4, 5), rand(5)
    x = a.clone()
    x[1:4:2] = b  # rows 1 and 3 <- b (broadcast over 2 rows)
    G = RNG.standard_normal((4, 5))
    (x * torch.tensor(G, dtype=torch.float32)).sum().backward()
    mask = np.ones((4, 5))
    mask[[1, 3]] = 0
    assert_close(a.grad, G * mask)
    assert_close(b.grad, G[1] + G[3], atol=1e-5)


def test_setitem_into_tensor_without_grad_gives_it_history():
    b = torch.tensor(3.0, requires_grad=True)
    x = torch.zeros(3)
    v = x[:2]  # a view made before the write also gets the new history
    x[1] = b * 2
    assert x.requires_grad and not x.is_leaf and x.grad_fn.name() == "CopySlices"
    assert v.requires_grad
    (v * torch.tensor([10.0, 100.0])).sum().backward()
    assert_close(b.grad, 200.0)


def test_setitem_into_leaf_requiring_grad_is_an_error():
    a = rand(3)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being "
                                           "used in an in-place operation"):
        a[0] = 5.0
    assert_close(a.detach().numpy()[0] != 5.0, True)  # refused before anything was written
    with torch.no_grad():
        a[0] = 5.0
    assert_close(a.detach()[0], 5.0)


# ---- in-place ops on views ---------------------------------------------------------------


def test_inplace_on_view_updates_base_history():
    a = rand(3)
    x = a * 1
    v = x[1:]
    v.mul_(2)
    assert x.grad_fn.name() == "CopySlices"
    assert v.grad_fn.name() == "AsStridedBackward0"  # regenerated from the base
    assert v.grad_fn.next_functions == ((x.grad_fn, 0),)
    G = np.array([1.0, 10.0, 100.0])
    (x * torch.tensor(G, dtype=torch.float32)).sum().backward()
    assert_close(a.grad, G * np.array([1, 2, 2]))
    a.grad = None
    x = a * 1
    v = x[1:]
    v.mul_(2)
    (v * torch.tensor(G[1:], dtype=torch.float32)).sum().backward()
    assert_close(a.grad, np.r_[0, 2 * G[1:]])


def test_view_is_regenerated_after_base_is_modified():
    a = rand(3)
    x = a * 2
    v = x[1:]
    x.mul_(3)
    assert v.grad_fn.name() == "AsStridedBackward0"
    v.sum().backward()
    assert_close(a.grad, np.array([0.0, 6.0, 6.0]))


def test_inplace_on_one_view_seen_by_overlapping_view():
    a = rand(4)
    x = a * 1
    v1, v2 = x[1:], x[:3]
    v1.mul_(5)  # changes x[1], x[2] that v2 also sees
    G = np.array([1.0, 10.0, 100.0])
    (v2 * torch.tensor(G, dtype=torch.float32)).sum().backward()
    assert_close(a.grad, np.array([1.0, 50.0, 500.0, 0.0]))
    assert_close(v2, np_of(a)[:3] * np.array([1, 5, 5]))


def test_inplace_on_transposed_2d_view():
    a, c = rand(3, 4), rand(3)
    x = a * 3
    x.t()[1].add_(c * c)  # column 1 of x += c^2
    G = RNG.standard_normal((3, 4))
    (x * torch.tensor(G, dtype=torch.float32)).sum().backward()
    assert_close(a.grad, G * 3, atol=1e-5)
    assert_close(c.grad, G[:, 1] * 2 * np_of(c), atol=1e-5)


def test_inplace_on_view_of_expanded_base():
    a = rand(1, 3)
    x = a.expand(4, 3).clone()
    x[2].mul_(0.0)
    x.sum().backward()
    assert_close(a.grad, np.full((1, 3), 3.0))


def test_view_of_view_of_leaf_inplace_is_an_error():
    a = rand(4, 4)
    v = a[1:][:, 2]
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        v.add_(1)


def test_inplace_into_expanded_view_is_refused():
    x = torch.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.copy_(torch.ones(2, 3))
    x.fill_(2.0)  # one value for every element: allowed, as in PyTorch
    assert_close(x, np.full((2, 3), 2.0))


def test_view_retain_grad_and_hook_after_base_write():
    a = rand(3)
    x = a * 1
    v = x[:2]
    v.retain_grad()
    x.mul_(2)
    (v * 3).sum().backward()
    assert_close(v.grad, np.full(2, 3.0))
    assert_close(a.grad, np.array([6.0, 6.0, 0.0]))


# ---- in-place ops on non-views -----------------------------------------------------------


def test_inplace_ops_on_non_leaf():
    a, b = rand(3), rand(3)
    y = a * 1
    y.mul_(3)
    y.add_(b * b)
    y += 1
    y *= a
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    A, B = np_of(a), np_of(b)
    assert_close(a.grad, 6 * A + B * B + 1, atol=1e-5)
    assert_close(b.grad, 2 * B * A, atol=1e-5)


def test_inplace_relu_after_linear_layer():
    x, w, bias = rand(4, 3, requires_grad=False), rand(3, 2), rand(2)
    h = x @ w + bias if hasattr(torch, "matmul") else (x[:, :, None] * w).sum(1) + bias
    h.relu_()  # saves its result; the add before it saved nothing: allowed, as in PyTorch
    h.sum().backward()
    X, W, Bb = np_of(x), np_of(w), np_of(bias)
    mask = (X @ W + Bb > 0).astype(np.float64)
    assert_close(w.grad, X.T @ mask, atol=1e-5)
    assert_close(bias.grad, mask.sum(0), atol=1e-5)


def test_zero_fill_and_copy_give_pytorch_gradients():
    a = rand(3)
    x = a * 2
    x.zero_()
    assert x.requires_grad and x.grad_fn.name() == "CopyBackwards"
    x.sum().backward()
    assert_close(a.grad, np.zeros(3))  # zeros, not None: PyTorch's ZeroBackward0
    a.grad = None
    b = torch.tensor(4.0, requires_grad=True)
    x = a * 2
    x.fill_(b)
    (x * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert_close(b.grad, 6.0)
    assert_close(a.grad, np.zeros(3))
    c = torch.tensor([7.0], requires_grad=True)
    x = a * 1
    x.copy_(c)  # broadcast source
    x.sum().backward()
    assert_close(c.grad, [3.0])
    h = torch.ones(3, dtype=torch.float16, requires_grad=True)
    y = torch.zeros(3)
    y.copy_(h)  # cast source: its gradient comes back as float16
    (y * 2).sum().backward()
    assert h.grad.dtype == torch.float16
    assert_close(h.grad, np.full(3, 2.0))


def test_leaf_inplace_errors_and_no_grad():
    a = rand(3)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        a.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        a.zero_()
    before = a._version
    with torch.no_grad():
        a.mul_(2)
    assert a._version == before + 1 and a.is_leaf and a.requires_grad


def test_inplace_moves_retain_grad():
    a = rand(3)
    y = a * 2
    y.retain_grad()
    y.add_(1)
    y.sum().backward()
    assert_close(y.grad, np.ones(3))


# ---- modified saved tensors --------------------------------------------------------------


def test_modifying_saved_output_is_detected():
    a = rand(3)
    y = a.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient computation "
                                           r"has been modified by an inplace operation: "
                                           r"\[torch.cuda.FloatTensor \[3\]\], which is output 0 "
                                           r"of ExpBackward0, is at version 1; expected version 0"):
        y.sum().backward()


def test_modifying_saved_input_is_detected():
    a = rand(3)
    y = a * 1
    z = y.sin()  # saves its input y
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*which is output 0 of "
                                           "MulBackward0, is at version 1; expected version 0"):
        z.sum().backward()


def test_modifying_saved_leaf_under_no_grad_is_detected():
    w = rand(3)
    out = (w * w).sum()
    with torch.no_grad():
        w.sub_(0.1)  # an optimizer step before backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_inplace_on_tensor_not_saved_is_fine():
    a = rand(3)
    y = a * 2  # MulBackward0 by a number saves nothing it needs later
    y.add_(1)
    z = y + 0
    y.mul_(0)
    z.sum().backward()
    assert_close(a.grad, np.full(3, 2.0))


def test_inplace_ops_that_read_their_input_in_backward():
    a, lo = rand(5), rand(5)
    y = a * 1
    y.sin_()  # SinBackward0 needs the old y: it keeps a copy, as PyTorch does
    y.pow_(3)
    y.clamp_(min=lo * 0.1)  # tensor bound: saves y too
    y.sum().backward()
    A, L = np_of(a), np_of(lo)
    inner = np.sin(A) ** 3
    keep = (inner > 0.1 * L).astype(np.float64)
    assert_close(y, np.maximum(inner, 0.1 * L), atol=1e-6)
    assert_close(a.grad, keep * 3 * np.sin(A) ** 2 * np.cos(A), atol=1e-5)
    assert_close(lo.grad, 0.1 * (1 - keep), atol=1e-6)


def test_view_of_non_contiguous_base_written_in_place_refuses_backward():
    b = torch.ones(3, 2).t().detach()  # a non-contiguous tensor that is not a view
    v = b[0]
    src = torch.ones(2, 3, requires_grad=True)
    b.copy_(src * 2)
    assert v.requires_grad
    with pytest.raises(RuntimeError, match="view of a non-contiguous tensor that was modified"):
        v.sum().backward()
    b.sum().backward()  # the base itself is fine
    assert_close(src.grad, np.full((2, 3), 2.0))
    with pytest.raises(RuntimeError, match="in-place writes into a view of a non-contiguous"):
        b[0] = src[0, :2]
