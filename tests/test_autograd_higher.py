"""gradcheck/gradgradcheck, second-order gradients, and what the backward pass costs: command
buffers, dispatches, host readbacks and memory."""

import gc

import numpy as np
import pytest
from helpers import assert_close

import wgtorch as torch
from wgtorch.autograd import gradcheck, gradgradcheck
from wgtorch.backend import get_runtime

RNG = np.random.default_rng(5)


def rand(*shape, requires_grad=True, scale=1.0):
    return torch.tensor(RNG.uniform(-scale, scale, shape), dtype=torch.float32,
                        requires_grad=requires_grad)


def np_of(t):
    return t.detach().numpy().astype(np.float64)


def needs(name):
    """Skip when another issue's op has not landed yet."""
    if not hasattr(torch, name):
        pytest.skip(f"wgtorch.{name} is not implemented yet")
    return getattr(torch, name)


# ---- gradcheck ----------------------------------------------------------------------------


def test_gradcheck_passes_for_correct_gradients():
    assert gradcheck(lambda a, b: a * b + a.tanh(), (rand(2, 3), rand(3)))
    assert gradcheck(lambda a, k: (a / k).exp(), (rand(4), 3.0))  # non-tensor argument
    assert gradcheck(lambda a: (a.sin(), a * 2), (rand(3),))  # tuple output


def test_gradcheck_catches_a_wrong_backward():
    class WrongSin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.sin()  # should be cos

    x = rand(3)
    assert gradcheck(WrongSin.apply, (x,), raise_exception=False) is False
    with pytest.raises(torch.autograd.GradcheckError,
                       match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(WrongSin.apply, (x,))


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x.detach()  # first derivative right, second lost

    x = rand(3)
    assert gradcheck(Square.apply, (x,))
    assert gradgradcheck(Square.apply, (x,), raise_exception=False) is False


# ---- second-order gradients ------------------------------------------------------------


@pytest.mark.parametrize("name, f, d1, d2", [
    ("tanh", lambda x: x.tanh(), lambda x: 1 - np.tanh(x) ** 2,
     lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    ("exp", lambda x: x.exp(), np.exp, np.exp),
    ("sigmoid", lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s),
     lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    ("mul", lambda x: x * x * x, lambda x: 3 * x * x, lambda x: 6 * x),
])
def test_second_derivative_elementwise(name, f, d1, d2):
    x = rand(5)
    (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    assert g.requires_grad
    assert_close(g, d1(np_of(x)), atol=1e-5)
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert_close(gg, d2(np_of(x)), atol=1e-4)
    assert gradgradcheck(lambda t: f(t), (rand(4),))


def test_second_derivative_of_product_cross_terms():
    x, y = rand(3), rand(3)
    gx, gy = torch.autograd.grad((x * y * y).sum(), [x, y], create_graph=True)
    (gyx,) = torch.autograd.grad(gx.sum(), y)  # d/dy of y^2 = 2y
    assert_close(gyx, 2 * np_of(y), atol=1e-5)
    (gxy,) = torch.autograd.grad(gy.sum(), x)  # d/dx of 2xy = 2y
    assert_close(gxy, 2 * np_of(y), atol=1e-5)
    assert gradgradcheck(lambda a, b: a * b * b, (rand(3), rand(3)))


def test_backward_create_graph_then_backward_again():
    x = rand(4)
    y = (x * x * x).sum()
    with pytest.warns(UserWarning, match="create a reference cycle"):
        y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    assert_close(x.grad, 6 * np_of(x), atol=1e-5)
    w = rand(2, 2)
    with pytest.warns(UserWarning):
        (w.view(4) * w.view(4)).sum().backward(create_graph=True)
    w.grad.detach_()  # what Optimizer.zero_grad does: .grad is never a view
    assert not w.grad.requires_grad


def test_second_order_matmul():
    needs("matmul")
    a, b = rand(3, 4), rand(4, 2)
    assert gradcheck(lambda p, q: p @ q, (a, b))
    assert gradgradcheck(lambda p, q: (p @ q).tanh(), (rand(2, 3), rand(3, 2)))
    # Hessian-vector product of sum((a @ b)^2) w.r.t. a: d/da [2 (a b) b^T] . v = 2 v b b^T
    (ga,) = torch.autograd.grad(((a @ b) * (a @ b)).sum(), a, create_graph=True)
    v = rand(3, 4, requires_grad=False)
    (hv,) = torch.autograd.grad((ga * v).sum(), a)
    B = np_of(b)
    assert_close(hv, 2 * v.numpy() @ B @ B.T, atol=1e-4)


def test_second_order_softmax():
    softmax = needs("softmax")
    x = rand(2, 5)
    assert gradcheck(lambda t: softmax(t, dim=-1), (x,))
    assert gradgradcheck(lambda t: softmax(t, dim=-1), (rand(2, 4),))
    w = rand(2, 5, requires_grad=False)
    (g,) = torch.autograd.grad((softmax(x, dim=1) * w).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad((g * g).sum(), x)
    X, W = np_of(x), w.numpy().astype(np.float64)

    def grad_sq_norm(X):  # sum of squares of the softmax vjp, for finite differences
        s = np.exp(X - X.max(1, keepdims=True))
        s /= s.sum(1, keepdims=True)
        g = s * (W - (s * W).sum(1, keepdims=True))
        return (g * g).sum()

    eps = 1e-6
    fd = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        d = np.zeros_like(X)
        d[idx] = eps
        fd[idx] = (grad_sq_norm(X + d) - grad_sq_norm(X - d)) / (2 * eps)
    assert_close(gg, fd, atol=1e-4)


# ---- cost of the backward pass ------------------------------------------------------------


def _mlp(x, params):
    h = x
    for k, (w, b) in enumerate(params):
        if hasattr(torch, "matmul"):
            h = h @ w + b
        else:
            h = (h[:, :, None] * w).sum(1) + b
        if k < len(params) - 1:
            h = h.tanh()
    return (h * h).mean()


def test_mlp_backward_is_gpu_only_and_batched():
    rt = get_runtime()
    x = rand(32, 16, requires_grad=False)
    params = [(rand(16, 16), rand(16)) for _ in range(3)]
    _mlp(x, params).backward()  # compile every kernel once
    for w, b in params:
        w.grad = b.grad = None
    loss = _mlp(x, params)
    rt.flush()
    reads = []
    real_read = rt.read
    rt.read = lambda *a: reads.append(a) or real_read(*a)
    try:
        submits, dispatches = rt.submit_count, rt.dispatch_count
        loss.backward()
        submits, dispatches = rt.submit_count - submits, rt.dispatch_count - dispatches
    finally:
        del rt.read
    assert reads == []  # no gradient (nor anything else) went to the host
    assert dispatches <= 40  # a handful of kernels per layer
    assert submits <= 1 + dispatches // 64  # recorded into the pending batch, not one per op
    for w, b in params:
        assert w.grad.shape == w.shape and b.grad.shape == b.shape
        assert np.isfinite(w.grad.numpy()).all()


def test_mlp_gradients_match_numpy():
    x = rand(8, 5, requires_grad=False)
    params = [(rand(5, 4), rand(4)), (rand(4, 3), rand(3))]
    _mlp(x, params).backward()
    X = np_of(x)
    (W1, B1), (W2, B2) = [(np_of(w), np_of(b)) for w, b in params]
    h1 = np.tanh(X @ W1 + B1)
    out = h1 @ W2 + B2
    d_out = 2 * out / out.size
    d_h1 = d_out @ W2.T * (1 - h1 * h1)
    assert_close(params[1][0].grad, h1.T @ d_out, atol=1e-5)
    assert_close(params[1][1].grad, d_out.sum(0), atol=1e-5)
    assert_close(params[0][0].grad, X.T @ d_h1, atol=1e-5)
    assert_close(params[0][1].grad, d_h1.sum(0), atol=1e-5)


def test_saved_tensors_released_with_the_graph_without_gc():
    x = rand(64, 32, requires_grad=False)
    params = [(rand(32, 32), rand(32)) for _ in range(3)]
    _mlp(x, params).backward()
    params[0][0].exp().sum().backward()  # compile every kernel before measuring
    for w, b in params:
        w.grad = b.grad = None
    gc.collect()
    gc.disable()  # prove that no reference cycle keeps the graph alive
    try:
        base = torch.memory_allocated()
        loss = _mlp(x, params)
        assert torch.memory_allocated() > base  # activations saved for backward
        del loss  # dropped without backward: the graph and its saved tensors go at once
        assert torch.memory_allocated() == base
        loss = _mlp(x, params)
        with_graph = torch.memory_allocated()
        loss.backward()  # frees the saved tensors; only loss and the .grad tensors remain
        grads = sum(w.grad.nbytes + b.grad.nbytes for w, b in params)
        assert torch.memory_allocated() < with_graph
        del loss
        assert torch.memory_allocated() <= base + grads + 4096  # + pool size-class rounding
        for w, b in params:
            w.grad = b.grad = None
        assert torch.memory_allocated() == base
        y = params[0][0].exp()
        y.retain_grad()
        y.register_hook(lambda g: g * 2)
        y.sum().backward(retain_graph=True)  # a retained graph lives until y goes
        del y
        params[0][0].grad = None
        assert torch.memory_allocated() == base
    finally:
        gc.enable()
