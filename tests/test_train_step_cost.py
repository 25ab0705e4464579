"""What a training step costs on the GPU timeline: dispatches, submits and host readbacks.

Counted with the runtime's counters (never timed). A step of the benchmark models must not
wait on the host, and the fast paths (gradients made in their parameter's layout, fused
kernels) must keep their dispatch counts.
"""

import numpy as np

import wgtorch as torch
from wgtorch import nn
from wgtorch.backend import get_runtime

from helpers import assert_close


def _count(fn):
    rt = get_runtime()
    torch.synchronize()
    d, s, r = rt.dispatch_count, rt.submit_count, rt.read_count
    fn()
    return rt.dispatch_count - d, rt.submit_count - s, rt.read_count - r


def test_linear_weight_grad_is_made_in_the_weights_layout():
    lin = nn.Linear(6, 5)
    x = torch.randn(4, 6)
    g = torch.randn(4, 5)
    out = lin(x)
    # root gradient, x^T g (one product), the bias sum: no transposing copy for weight.grad
    dispatches, _, _ = _count(lambda: out.backward(g))
    assert dispatches <= 2
    assert lin.weight.grad.is_contiguous()
    assert_close(lin.weight.grad, g.numpy().T @ x.numpy())
    assert_close(lin.bias.grad, g.numpy().sum(0))


def test_transposed_operand_gets_a_transposed_gradient():
    a_t = torch.randn(5, 3).requires_grad_()  # a = a_t.t() is (3, 5) stored column-major
    b = torch.randn(5, 4, requires_grad=True)
    g = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    (a_t.t() @ b).backward(torch.tensor(g))
    assert a_t.grad.is_contiguous()
    assert_close(a_t.grad, (g @ b.detach().numpy().T).T)
    assert_close(b.grad, a_t.detach().numpy() @ g)


def test_relu_backward_is_one_kernel():
    x = torch.randn(7, 9, requires_grad=True)
    y = torch.relu(x)
    g = torch.randn(7, 9)
    dispatches, _, _ = _count(lambda: y.backward(g))
    assert dispatches == 1
    assert_close(x.grad, np.where(y.detach().numpy() > 0, g.numpy(), 0.0))


def test_no_zeros_kernel_for_gradients_of_indices_and_weights():
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    pooled = nn.functional.max_pool2d(x, 2)
    g = torch.ones(2, 3, 3, 3)
    dispatches, _, _ = _count(lambda: pooled.backward(g))
    assert dispatches == 1  # the pooling backward only
    logits = torch.randn(5, 4, requires_grad=True)
    rows = nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3, 0]), reduction="none")
    g = torch.ones(5)
    dispatches, _, _ = _count(lambda: rows.backward(g))
    assert dispatches == 1  # the fused cross-entropy backward only
