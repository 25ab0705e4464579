"""Custom autograd Functions, tensor hooks and grad modes, with PyTorch's API and errors."""

import threading

import numpy as np
import pytest
from helpers import assert_close

import wgtorch as torch
from wgtorch.autograd import Function

RNG = np.random.default_rng(11)


def rand(*shape, requires_grad=True):
    return torch.tensor(RNG.uniform(-1, 1, shape), dtype=torch.float32,
                        requires_grad=requires_grad)


# ---- Function ---------------------------------------------------------------------------


class ScaledExp(Function):
    """exp(x) * k with a Python number k: saves its output, returns None for k."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.grad_enabled_in_forward = torch.is_grad_enabled()
        y = x.exp() * k
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y, None


def test_function_forward_backward_and_grad_fn():
    x = rand(4)
    y = ScaledExp.apply(x, 3.0)
    assert y.requires_grad and not y.is_leaf
    assert y.grad_fn.name() == "ScaledExpBackward"
    assert repr(y.grad_fn).startswith("<ScaledExpBackward object at 0x")
    assert y.grad_fn.next_functions == ((x.grad_fn or x._get_accumulator(), 0),)
    assert y.grad_fn.grad_enabled_in_forward is False  # forward does not record
    assert y.grad_fn.needs_input_grad == (True, False)
    y.sum().backward()
    assert_close(x.grad, 3 * np.exp(x.detach().numpy()), atol=1e-5)
    assert torch.autograd.gradcheck(lambda t: ScaledExp.apply(t, 2.0), (rand(3),))


def test_function_without_inputs_requiring_grad():
    y = ScaledExp.apply(rand(3, requires_grad=False), 2.0)
    assert not y.requires_grad and y.grad_fn is None
    with torch.no_grad():
        assert ScaledExp.apply(rand(3), 2.0).grad_fn is None


class MulAdd(Function):
    """x * y + z with needs_input_grad deciding which gradients are computed."""

    @staticmethod
    def forward(ctx, x, y, z, tag):
        ctx.save_for_backward(x, y)
        ctx.tag = tag
        return x * y + z

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        gz = g if ctx.needs_input_grad[2] else None
        return gx, gy, gz, None


def test_needs_input_grad_and_non_tensor_args():
    x, y, z = rand(3), rand(3, requires_grad=False), rand(3)
    out = MulAdd.apply(x, y, z, "a string")
    assert out.grad_fn.needs_input_grad == (True, False, True, False)
    assert out.grad_fn.tag == "a string"
    assert len(out.grad_fn.next_functions) == 3  # one edge per tensor argument
    assert out.grad_fn.next_functions[1] == (None, 0)
    out.sum().backward()
    assert_close(x.grad, y.numpy())
    assert_close(z.grad, np.ones(3))
    assert y.grad is None


def test_saved_tensor_modified_after_save_is_detected():
    x, y = rand(3), rand(3)
    a = x * 1
    out = MulAdd.apply(a, y, y, None)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


class TwoOutputs(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


def test_multiple_outputs_one_unused_gets_zeros():
    x = rand(3)
    p, q = TwoOutputs.apply(x)
    assert p.grad_fn is q.grad_fn and p.output_nr == 0 and q.output_nr == 1
    p.sum().backward()  # q's gradient is materialized as zeros
    assert_close(x.grad, np.full(3, 2.0))


def test_set_materialize_grads_false_gives_none():
    seen = []

    class Fn(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append(g2)
            return g1 * 2

    x = rand(3)
    Fn.apply(x)[0].sum().backward()
    assert seen == [None]


def test_mark_non_differentiable():
    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = (x > 0).long()
            ctx.mark_non_differentiable(idx)
            return x * 1, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            assert g_idx is not None and g_idx.dtype == torch.int64  # zeros, as PyTorch
            return g

    x = rand(4)
    y, idx = SortWithIndex.apply(x)
    assert y.requires_grad and not idx.requires_grad
    y.sum().backward()
    assert_close(x.grad, np.ones(4))


def test_mark_dirty_inplace_function():
    class Double_(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    a = rand(3)
    y = a * 1
    v = y._version
    z = Double_.apply(y)
    assert z is y and y.grad_fn.name() == "Double_Backward" and y._version > v
    y.sum().backward()
    assert_close(a.grad, np.full(3, 2.0))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in "
                                           "an in-place operation"):
        Double_.apply(rand(3))


def test_returned_input_is_an_alias():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = rand(3)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn.name() == "IdentityBackward"
    y.sum().backward()
    assert_close(x.grad, np.full(3, 5.0))


def test_function_gradient_count_and_shape_errors():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    class GradForNumber(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:1]

    class Broadcast(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.expand(2, 3) * 1.0  # summed back to x's shape by the engine

    x = rand(3)
    with pytest.raises(RuntimeError, match=r"function TooFewBackward returned an incorrect number "
                                           r"of gradients \(expected 2, got 1\)"):
        TooFew.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="returned a gradient different than None at position "
                                           "2, but the corresponding forward input was not a"):
        GradForNumber.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"Function BadShapeBackward returned an invalid "
                                           r"gradient at index 0 - got \[1\] but expected shape "
                                           r"compatible with \[3\]"):
        BadShape.apply(x).sum().backward()
    Broadcast.apply(x).sum().backward()
    assert_close(x.grad, np.full(3, 2.0))


def test_once_differentiable_and_double_backward_of_function():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x = rand(3)
    (g,) = torch.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert_close(gg, 6 * x.detach().numpy(), atol=1e-5)

    class CubeOnce(Cube):
        backward = staticmethod(torch.autograd.once_differentiable(Cube.backward))

    v = torch.ones(3, requires_grad=True)  # as in PyTorch, only grads requiring grad count
    (g,) = torch.autograd.grad(CubeOnce.apply(x), x, v, create_graph=True)
    assert_close(g, 3 * x.detach().numpy() ** 2, atol=1e-5)
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was "
                                           "marked with @once_differentiable"):
        g.sum().backward()
    (g,) = torch.autograd.grad(CubeOnce.apply(x).sum(), x)
    assert not g.requires_grad


# ---- hooks ------------------------------------------------------------------------------


def test_hook_on_leaf_modifies_grad_and_can_be_removed():
    x = rand(3)
    handle = x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert_close(x.grad, np.full(3, 20.0))
    (g,) = torch.autograd.grad((x * 2).sum(), x)  # hooks apply to autograd.grad too
    assert_close(g, np.full(3, 20.0))
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert_close(x.grad, np.full(3, 2.0))


def test_hooks_on_non_leaf_run_in_order_and_change_upstream():
    x = rand(3)
    y = x * 2
    order = []
    y.register_hook(lambda g: order.append(1))  # returning None keeps the gradient
    h = y.register_hook(lambda g: order.append(2) or g * 10)
    y.retain_grad()
    (y * 3).sum().backward()
    assert order == [1, 2]
    assert_close(x.grad, np.full(3, 60.0))
    assert_close(y.grad, np.full(3, 30.0))  # retain_grad sees the hooked gradient
    h.remove()
    x.grad = None
    (x * 2 * 3).sum().backward()
    assert_close(x.grad, np.full(3, 6.0))


def test_hook_errors_and_handle_context_manager():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        torch.ones(3).register_hook(lambda g: g)
    x = rand(3)
    with x.register_hook(lambda g: g * 0):
        (x * 1).sum().backward()
    assert_close(x.grad, np.zeros(3))
    x.grad = None
    (x * 1).sum().backward()
    assert_close(x.grad, np.ones(3))


def test_post_accumulate_grad_hook_and_node_hooks():
    x = rand(3)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    y = x * 2
    y.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0] * 3,))
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0] + 1,))
    y.sum().backward()
    assert_close(x.grad, np.full(3, 7.0))
    assert len(seen) == 1
    assert_close(seen[0], np.full(3, 7.0))


# ---- grad modes -------------------------------------------------------------------------


def test_no_grad_enable_grad_nesting():
    x = rand(3)
    with torch.no_grad():
        assert not (x * 2).requires_grad and not torch.is_grad_enabled()
        with torch.enable_grad():
            assert (x * 2).requires_grad
            with torch.no_grad():
                assert not (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad and torch.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = rand(3)

    @torch.no_grad()
    def f():
        return x * 2

    @torch.no_grad
    def f_bare():
        return x * 2

    @torch.enable_grad()
    def g():
        return x * 2

    @torch.set_grad_enabled(False)
    def h():
        return torch.is_grad_enabled()

    @torch.inference_mode()
    def i():
        return x * 2

    @torch.inference_mode
    def i_bare():
        return torch.is_inference_mode_enabled()

    assert not f().requires_grad and not f_bare().requires_grad
    with torch.no_grad():
        assert g().requires_grad
    assert torch.is_grad_enabled()  # the decorator did not switch recording off
    assert h() is False and torch.is_grad_enabled()
    assert not i().requires_grad and i().is_inference()
    assert i_bare() and not torch.is_inference_mode_enabled()
    assert f.__name__ == "f"


def test_decorated_generator_runs_each_step_in_mode():
    x = rand(3)

    @torch.no_grad()
    def gen():
        for _ in range(2):
            yield (x * 2).requires_grad, torch.is_grad_enabled()

    steps = []
    for item in gen():
        steps.append(item)
        assert torch.is_grad_enabled()  # between steps the caller's mode holds
    assert steps == [(False, False), (False, False)]


def test_set_grad_enabled_as_function_and_context():
    x = rand(3)
    prev = torch.set_grad_enabled(False)
    try:
        assert not torch.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    assert "set_grad_enabled(mode=False)" in repr(prev)
    with torch.set_grad_enabled(False):
        assert not torch.is_grad_enabled()
        with torch.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


def test_grad_mode_is_restored_after_exception():
    with pytest.raises(ValueError), torch.no_grad():
        raise ValueError("boom")
    assert torch.is_grad_enabled()


def test_grad_mode_is_per_thread():
    x = rand(3)
    results = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with torch.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    results["main"] = (x * 2).requires_grad  # the other thread's no_grad does not leak here
    release.set()
    t.join()
    assert results["main"]


def test_inference_mode():
    x = rand(3)
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad and y.is_inference()
        with torch.inference_mode(False):
            assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert not torch.is_inference_mode_enabled() and not x.is_inference()
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        (y * x).sum().backward()
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside "
                                           "InferenceMode"):
        y.add_(1)
    assert_close((y + x).sum().requires_grad, True)  # add saves nothing: allowed, as PyTorch
