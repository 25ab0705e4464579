"""Autograd engine and Tensor autograd API: PyTorch's semantics, checked against numpy.

In-place/view semantics are in test_autograd_inplace.py, custom Functions, hooks and grad
modes in test_autograd_function.py, gradcheck, higher order, dispatch counts and memory in
test_autograd_higher.py.
"""

import warnings

import numpy as np
import pytest
from helpers import assert_close

import wgtorch as torch

RNG = np.random.default_rng(4)


def rand(*shape, requires_grad=True):
    return torch.tensor(RNG.uniform(-1, 1, shape), dtype=torch.float32,
                        requires_grad=requires_grad)


# ---- requires_grad, grad_fn, is_leaf -------------------------------------------------------


def test_requires_grad_on_creation_and_requires_grad_():
    assert torch.tensor([1.0, 2.0], requires_grad=True).requires_grad
    assert torch.zeros(2, 3, requires_grad=True).requires_grad
    assert torch.randn(4, requires_grad=True).is_leaf
    x = torch.ones(3)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf


def test_requires_grad_errors():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        torch.ones(3, dtype=torch.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        torch.tensor([1, 2], requires_grad=True)
    y = rand(3) * 2
    y.requires_grad_(True)  # a non-leaf already requires grad: allowed
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        y.requires_grad = False


def test_grad_fn_names_and_next_functions():
    a, b = rand(3), rand(3)
    y = a * b
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    assert y.grad_fn.name() == "MulBackward0" and type(y.grad_fn).__name__ == "MulBackward0"
    (na, ia), (nb, ib) = y.grad_fn.next_functions
    assert na.name() == "AccumulateGrad" and na.variable is a and ia == 0
    assert nb.variable is b and ib == 0
    s = y.sum()
    assert s.grad_fn.name() == "SumBackward1"
    assert s.grad_fn.next_functions == ((y.grad_fn, 0),)  # only tensor arguments have edges
    assert (a + 1).grad_fn.name() == "AddBackward0"
    assert a.exp().grad_fn.name() == "ExpBackward0"
    assert (a * rand(3, requires_grad=False)).grad_fn.next_functions[1] == (None, 0)
    # the same leaf gives the same AccumulateGrad node while a graph holds it
    assert (a * 2).grad_fn.next_functions[0][0] is na
    assert a.is_leaf and not y.is_leaf and a.grad_fn is None
    assert repr(y).endswith("grad_fn=<MulBackward0>)")


def test_no_graph_without_requires_grad():
    x = rand(3, requires_grad=False)
    y = (x * 2).exp().sum()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_integer_outputs_have_no_grad():
    x = rand(4)
    for out in ((x * 2).long(), x.argmax(), x > 0, (x * 3).int(), x.sum() > 0):
        assert not out.requires_grad and out.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        (x * 2).long().sum().backward()


# ---- backward values ------------------------------------------------------------------


def test_backward_matches_numpy():
    a, b = rand(3, 4), rand(3, 4)
    (a * b + a.exp() * b.sin()).sum().backward()
    A, B = a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64)
    assert_close(a.grad, B + np.exp(A) * np.sin(B))
    assert_close(b.grad, A + np.exp(A) * np.cos(B))


def test_gradient_accumulates_across_backward_calls():
    x = rand(5)
    (x * 3).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    X = x.detach().numpy()
    assert_close(x.grad, 3 + 2 * X)
    assert_close(first, np.full(5, 3.0))  # the old .grad tensor is not changed in place
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, np.full(5, 3.0))


def test_same_tensor_used_twice_accumulates():
    x = rand(4)
    (x * x + x + x.exp() * x).sum().backward()
    X = x.detach().numpy().astype(np.float64)
    assert_close(x.grad, 2 * X + 1 + np.exp(X) * (X + 1))


@pytest.mark.parametrize("sa, sb",
                         [((3, 1), (4,)), ((1,), (2, 3)), ((), (2, 3)), ((2, 1, 3), (4, 1))])
def test_broadcasting_is_summed_back_to_input_shape(sa, sb):
    a, b = rand(*sa), rand(*sb)
    G = RNG.standard_normal(np.broadcast_shapes(sa, sb))
    (a * b * torch.tensor(G, dtype=torch.float32)).sum().backward()
    A, B = a.detach().numpy(), b.detach().numpy()
    axes_a = tuple(range(G.ndim - len(sa)))
    ga = (G * B).sum(axis=axes_a)
    ga = ga.sum(axis=tuple(k for k, n in enumerate(sa) if n == 1), keepdims=True) if sa else ga
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert_close(a.grad, ga.reshape(sa), atol=1e-4)
    gb = (G * A).sum(axis=tuple(range(G.ndim - len(sb))))
    gb = gb.sum(axis=tuple(k for k, n in enumerate(sb) if n == 1), keepdims=True)
    assert_close(b.grad, gb.reshape(sb), atol=1e-4)


def test_grad_shape_dtype_and_layout():
    x = rand(3, 4)
    x.sum().backward()  # SumBackward gives an expanded (stride 0) gradient: .grad is dense
    assert x.grad.shape == (3, 4) and x.grad.dtype == torch.float32
    assert x.grad.is_contiguous() and x.grad.stride() == (4, 1)
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    h = torch.ones(3, dtype=torch.float16, requires_grad=True)
    (h.float() * 2).sum().backward()
    assert h.grad.dtype == torch.float16
    assert_close(h.grad, np.full(3, 2.0))
    t = rand(4, 3).t()  # a non-contiguous leaf
    t = t.detach().requires_grad_()
    (t * 2).sum().backward()
    assert t.grad.shape == (3, 4)


def test_grads_of_different_leaves_are_not_aliased():
    x, y = rand(3), rand(3)
    (x + y).sum().backward()  # AddBackward passes the same gradient to both
    x.grad.mul_(5)
    assert_close(y.grad, np.ones(3))
    g = torch.ones(3)
    z = rand(3)
    z.view(3).backward(g)  # the user's gradient reaches the leaf unchanged
    z.grad.zero_()
    assert_close(g, np.ones(3))


def test_multiple_roots():
    x = rand(3)
    y1, y2 = x * 2, x.exp()
    g1, g2 = rand(3, requires_grad=False), rand(3, requires_grad=False)
    torch.autograd.backward([y1, y2], [g1, g2])
    assert_close(x.grad, 2 * g1.numpy() + np.exp(x.detach().numpy()) * g2.numpy())
    x.grad = None
    torch.autograd.backward([y1.sum(), (y1 * y1).sum()])  # one root depends on another's graph
    assert_close(x.grad, 2 + 8 * x.detach().numpy())


def test_backward_of_a_leaf_and_of_a_non_scalar_with_gradient():
    x = torch.ones(1, requires_grad=True)
    x.backward()
    assert_close(x.grad, np.ones(1))
    y = rand(2, 3)
    g = rand(2, 3, requires_grad=False)
    (y * 3).backward(g)
    assert_close(y.grad, 3 * g.numpy())


def test_backward_errors():
    x = rand(3)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"torch.Size\(\[2\]\) and output\[0\] has a shape of "
                                           r"torch.Size\(\[3\]\)"):
        (x * 2).backward(torch.ones(2))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does "
                                           "not have a grad_fn"):
        torch.ones(1).backward()
    with pytest.raises(RuntimeError, match="element 1 of tensors does not require grad"):
        torch.autograd.backward([x.sum(), torch.ones(())])


def test_second_backward_needs_retain_graph():
    x = rand(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    X = x.detach().numpy().astype(np.float64)
    assert_close(x.grad, 2 * np.exp(X) * (X + 1))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        _ = y.grad_fn.next_functions[0][0].saved_tensors


def test_second_backward_through_nodes_that_saved_nothing_is_allowed():
    x = rand(3)
    s = (x + 1).sum()  # AddBackward0 and SumBackward1 save no tensor, as in PyTorch
    s.backward()
    s.backward()
    assert_close(x.grad, np.full(3, 2.0))


def test_saved_tensors_are_freed_by_backward():
    x = rand(3)
    y = x.exp()
    node = y.grad_fn
    assert any(t is not None for t in node.saved_tensors)
    y.sum().backward()
    assert node._saved == ()


# ---- .grad of non-leaves, retain_grad, detach ----------------------------------------------


def test_non_leaf_grad_is_none_with_warning_unless_retained():
    x = rand(3)
    y = x * 2
    z = y * 3
    z.retain_grad()
    assert z.retains_grad and not y.retains_grad
    (z * z).sum().backward()
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(z.grad, 2 * z.detach().numpy())
        assert x.grad is not None
    x.retain_grad()  # no-op on a leaf
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad"):
        torch.ones(2).retain_grad()


def test_retained_grad_accumulates_across_backward_calls():
    x = rand(3)
    y = x * 2
    y.retain_grad()
    s = (y * 3).sum()
    s.backward(retain_graph=True)
    s.backward()
    assert_close(y.grad, np.full(3, 6.0))
    assert_close(x.grad, np.full(3, 12.0))


def test_detach_shares_data_and_version():
    x = rand(3)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d._base is None
    d.zero_()  # visible through y, and bumps the shared version counter
    assert_close(y.detach(), np.zeros(3))
    e = x.exp()
    e.detach().add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()


def test_detach_():
    x = rand(3)
    y = x * 2
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad
    v = (x * 2)[1:]
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        v.detach_()


def test_grad_setter_checks():
    x = rand(2)
    x.grad = torch.ones(2)
    assert_close(x.grad, np.ones(2))
    with pytest.raises(RuntimeError, match=r"assign a gradient of size '\[3\]' to a tensor of"):
        x.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="assign a gradient with dtype"):
        x.grad = torch.ones(2, dtype=torch.int64)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        x.grad = 3
    del x.grad
    assert x.grad is None


# ---- autograd.grad and backward(inputs=) ---------------------------------------------------


def test_autograd_grad_leaves_dot_grad_alone():
    x, y = rand(3), rand(3)
    gx, gy = torch.autograd.grad((x * y).sum(), [x, y])
    assert_close(gx, y.detach().numpy())
    assert_close(gy, x.detach().numpy())
    assert x.grad is None and y.grad is None
    (g,) = torch.autograd.grad(x * 2, x, torch.full((3,), 3.0))
    assert_close(g, np.full(3, 6.0))


def test_autograd_grad_with_respect_to_non_leaf():
    x = rand(3)
    y = x * 2
    z = (y * y).sum()
    (gy,) = torch.autograd.grad(z, y)
    assert_close(gy, 2 * y.detach().numpy())
    assert x.grad is None


def test_autograd_grad_allow_unused_and_materialize():
    x, y = rand(3), rand(3)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="The differentiated Tensor at index 1 appears to not "
                                           "have been used in the graph"):
        torch.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = torch.autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gy is None
    assert_close(gx, np.full(3, 2.0))
    gx, gy = torch.autograd.grad(out, [x, y], materialize_grads=True)
    assert_close(gy, np.zeros(3))
    assert_close(gx, np.full(3, 2.0))
    with pytest.raises(ValueError, match="Expected allow_unused to be True or not passed"):
        torch.autograd.grad(out, [x], materialize_grads=True, allow_unused=False)


def test_autograd_grad_errors():
    x = rand(3)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require"):
        torch.autograd.grad((x * 2).sum(), [torch.ones(3)])
    with pytest.raises(RuntimeError, match="grad requires non-empty inputs"):
        torch.autograd.grad((x * 2).sum(), [])
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        torch.autograd.grad(torch.ones(()), [x])


def test_autograd_grad_runs_only_what_leads_to_inputs():
    x, y = rand(3), rand(3)
    calls = []
    hy = y.exp()
    hy.register_hook(lambda g: calls.append("y-branch"))
    out = (x * 2).sum() + hy.sum()
    torch.autograd.grad(out, x)
    assert calls == []  # the y branch does not lead to x: not run


def test_backward_with_inputs():
    x, y = rand(3), rand(3)
    z = x * 2
    (z * y).sum().backward(inputs=[x])
    assert_close(x.grad, 2 * y.detach().numpy())
    assert y.grad is None
    w = (z * 3).sum()
    w.backward(inputs=[z])  # a non-leaf input gets its .grad; the leaf behind it does not
    assert_close(z.grad, np.full(3, 3.0))
    assert_close(x.grad, 2 * y.detach().numpy())
    with pytest.raises(RuntimeError, match="`inputs` argument to `backward\\(\\)` cannot be empty"):
        (x * 2).sum().backward(inputs=[])


def test_none_gradient_flows_through():
    class Cut(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return None

    x, y = rand(3), rand(3)
    (Cut.apply(x * 2) + y).sum().backward()
    assert x.grad is None  # MulBackward0 got no gradient: skipped, nothing reaches x
    assert_close(y.grad, np.ones(3))
    z = rand(3)
    (Cut.apply(z * 2) + z * 3).sum().backward()  # None on one path, a gradient on the other
    assert_close(z.grad, np.full(3, 3.0))
