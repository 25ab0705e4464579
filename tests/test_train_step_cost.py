"""What a training step costs on the GPU timeline: dispatches, submits and host readbacks.

Counted with the runtime's counters (never timed). A step of the benchmark models must not
wait on the host, and the fast paths (gradients made in their parameter's layout, fused
kernels) must keep their dispatch counts.
"""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch import nn
from wgtorch.backend import get_runtime


def _count(fn, *args):
    """(dispatches, submits, host reads) that ``fn(*args)`` records."""
    return _counted(fn, *args)[1:]


def _counted(fn, *args):
    """``fn(*args)`` and the dispatches, submits and host reads it records."""
    rt = get_runtime()
    torch.synchronize()
    d, s, r = rt.dispatch_count, rt.submit_count, rt.read_count
    result = fn(*args)
    return result, rt.dispatch_count - d, rt.submit_count - s, rt.read_count - r


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


def test_conv_layers_of_the_benchmark_cnn_forward_and_gradients():
    # the CNN benchmark's shapes: K = 9 and K = 72 (the tiled matmul's masked K tail), column
    # rows of 676 and 121 (121 is read from 16-byte aligned rows that im2col pads)
    rng = np.random.default_rng(3)
    for n, c, o, size in ((4, 1, 8, 28), (8, 8, 16, 13)):
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = rng.standard_normal((o, c, 3, 3)).astype(np.float32)
        b = rng.standard_normal(o).astype(np.float32)
        tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
        out = nn.functional.conv2d(tx, tw, tb)
        s = size - 2
        g = rng.standard_normal((n, o, s, s)).astype(np.float32)
        ref = np.zeros((n, o, s, s))
        dx, dw = np.zeros(x.shape), np.zeros(w.shape)
        for i in range(3):
            for j in range(3):
                patch = x[:, :, i:i + s, j:j + s]  # (N, C, S, S)
                ref += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
                dw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, patch)
                dx[:, :, i:i + s, j:j + s] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
        assert_close(out, ref + b[None, :, None, None], atol=1e-4)
        out.backward(torch.tensor(g))
        assert_close(tw.grad, dw, atol=1e-3)
        assert_close(tb.grad, g.sum((0, 2, 3)), atol=1e-3)
        assert_close(tx.grad, dx, atol=1e-3)


def _log_softmax(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


def test_cross_entropy_mean_is_one_kernel_each_way():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    t = rng.integers(0, 10, size=64)
    w = rng.uniform(0.5, 2.0, size=10).astype(np.float32)
    tx, tt, tw = torch.tensor(x, requires_grad=True), torch.tensor(t), torch.tensor(w)
    loss, dispatches, _, _ = _counted(nn.functional.cross_entropy, tx, tt, tw)
    assert dispatches == 1  # rows, their weights and the mean in one kernel
    wt = w[t]
    assert loss.shape == ()
    assert_close(loss, -(_log_softmax(x)[np.arange(64), t] * wt).sum() / wt.sum())
    g = torch.tensor(2.0)
    dispatches, _, _ = _count(lambda: loss.backward(g))
    assert dispatches == 1
    ref = (np.exp(_log_softmax(x)) - np.eye(10)[t]) * (2.0 * wt / wt.sum())[:, None]
    assert_close(tx.grad, ref)


def test_cross_entropy_fused_mean_double_backward_and_empty_batch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.integers(0, 4, size=6)
    w = rng.uniform(0.5, 2.0, size=4).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    loss = nn.functional.cross_entropy(tx, torch.tensor(t), torch.tensor(w))
    (gx,) = torch.autograd.grad(loss, tx, create_graph=True)
    wt = w[t]
    p = np.exp(_log_softmax(x))
    assert_close(gx, (p - np.eye(4)[t]) * (wt / wt.sum())[:, None])
    (ggx,) = torch.autograd.grad(gx[:, 0].sum(), tx)  # d/dx of sum_r p[r, 0] * w_r / W
    coef = (wt / wt.sum())[:, None]
    assert_close(ggx, coef * p[:, :1] * (np.eye(4)[0] - p))
    empty = nn.functional.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64))
    assert np.isnan(empty.item())
    total = nn.functional.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64),
                                        reduction="sum")
    assert total.item() == 0.0


def test_cross_entropy_reductions_past_the_fused_budget(monkeypatch):
    import importlib

    ce = importlib.import_module("wgtorch.nn.functional.cross_entropy")

    rng = np.random.default_rng(6)
    x = torch.tensor(rng.standard_normal((130, 5)).astype(np.float32))
    t = torch.tensor(rng.integers(0, 5, size=130))
    probs = torch.tensor(rng.uniform(size=(130, 5)).astype(np.float32))
    fused = [nn.functional.cross_entropy(x, target, reduction=r).item()
             for target in (t, probs) for r in ("mean", "sum")]
    monkeypatch.setattr(ce, "FUSED_REDUCE_MAX", 10)  # row losses, then ordinary sums
    unfused = [nn.functional.cross_entropy(x, target, reduction=r).item()
               for target in (t, probs) for r in ("mean", "sum")]
    np.testing.assert_allclose(fused, unfused, rtol=1e-5)


def test_per_channel_reductions_read_in_place():
    # NCHW reduced over (0, 2, 3) and (N, C, L) over (0, 2): the reduced dims form two strided
    # groups around the kept channel dim, read in place (no copy): one dispatch each
    rng = np.random.default_rng(7)
    for shape, dims in (((4, 3, 5, 6), (0, 2, 3)), ((5, 3, 7), (0, 2)), ((3, 4, 9, 8), (0, 2, 3)),
                        ((2, 3, 1030), (0, 2)), ((70, 2, 40), (0, 2))):
        a = rng.standard_normal(shape).astype(np.float32)
        t = torch.tensor(a)
        total, dispatches, _, _ = _counted(t.sum, dims)
        assert_close(total, a.astype(np.float64).sum(dims), atol=1e-3, msg=str(shape))
        assert_close(t.mean(dims, keepdim=True), a.mean(dims, keepdims=True), atol=1e-4)
        assert_close(t.var(dims), a.var(dims, ddof=1), atol=1e-3, rtol=1e-3)
        assert_close(t.amax(dims), a.max(dims))
        # (longer rows take a second pass, and so do GPUs, to keep many invocations busy)
        if np.prod([shape[d] for d in dims]) <= 1024 and get_runtime().is_cpu_adapter:
            assert dispatches == 1, shape
    ints = rng.integers(-50, 50, size=(3, 4, 6))
    assert_close(torch.tensor(ints).sum((0, 2)), ints.sum((0, 2)))
    # a view: NHWC storage seen as NCHW (the reduced dims are N, H, W; C is innermost)
    nhwc = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    view = torch.tensor(nhwc).permute(0, 3, 1, 2)
    assert_close(view.sum((0, 2, 3)), nhwc.sum((0, 1, 2)), atol=1e-4)


def _ref_batch_norm(x, w=None, b=None):
    dims = (0, *range(2, x.ndim))
    mean = x.mean(dims, keepdims=True)
    y = (x - mean) / np.sqrt(((x - mean) ** 2).mean(dims, keepdims=True) + 1e-5)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(shape)
    return y + b.reshape(shape) if b is not None else y


def test_batch_norm_training_is_fused():
    bn = nn.BatchNorm2d(8)
    x = torch.randn(16, 8, 12, 12, requires_grad=True)
    g = torch.randn(16, 8, 12, 12)
    y, dispatches, _, _ = _counted(bn, x)
    # statistics (one pass on CPU adapters, two on GPUs), normalisation, running statistics,
    # and 2 for num_batches_tracked += 1
    assert dispatches <= (5 if get_runtime().is_cpu_adapter else 6)
    dispatches, _, _ = _count(y.backward, g)
    assert dispatches == 2  # per-channel sums, input gradient (weight/bias grads: the sums)
    assert_close(y, _ref_batch_norm(x.detach().numpy()), atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 3, 4, 5), (5, 4, 7), (3, 2, 40, 40), (2, 2, 70, 70)])
def test_batch_norm_training_values_and_gradients(shape):
    # (3, 2, 40, 40): a channel spans two chunks of partial sums; (2, 2, 70, 70): a row spans
    # two segments of the elementwise kernels
    c = shape[1]
    check_op([shape, (c,), (c,)],
             lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, training=True),
             ref=_ref_batch_norm,
             layouts=("contiguous",) if len(shape) == 4 else ("contiguous", "strided"))
    check_op([shape], lambda x: nn.functional.batch_norm(x, None, None, training=True),
             ref=_ref_batch_norm, layouts=("contiguous",))


def test_batch_norm_running_stats_and_double_backward():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32) * 2 + 1
    rm, rv = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 2.0, 0.5])
    xt = torch.tensor(x, requires_grad=True)
    w = torch.tensor([1.5, -0.5, 2.0], requires_grad=True)
    y = nn.functional.batch_norm(xt, rm, rv, w, None, training=True, momentum=0.3)
    mean, var = x.mean((0, 2)), x.var((0, 2))
    m = x.size // 3
    assert_close(rm, 0.7 * np.array([0.5, -1.0, 2.0]) + 0.3 * mean, atol=1e-5)
    assert_close(rv, 0.7 * np.array([1.0, 2.0, 0.5]) + 0.3 * var * m / (m - 1), atol=1e-4)
    assert_close(y, _ref_batch_norm(x, w.detach().numpy()), atol=1e-4)
    # second order: d/dx of sum(dL/dx * x) with L = sum(y^2)/2, against the composite path
    (gx,) = torch.autograd.grad((y * y).sum() / 2, xt, create_graph=True)
    (ggx,) = torch.autograd.grad((gx * xt).sum(), xt)
    x2 = torch.tensor(x, requires_grad=True)
    mean2 = x2.mean((0, 2), keepdim=True)
    y2 = (x2 - mean2) / (((x2 - mean2) ** 2).mean((0, 2), keepdim=True) + 1e-5).sqrt()
    y2 = y2 * w.detach().view(1, 3, 1)
    (gx2,) = torch.autograd.grad((y2 * y2).sum() / 2, x2, create_graph=True)
    (ggx2,) = torch.autograd.grad((gx2 * x2).sum(), x2)
    assert_close(gx, gx2.detach().numpy(), atol=1e-4)
    assert_close(ggx, ggx2.numpy(), atol=1e-3)


@pytest.mark.parametrize("kind,kwargs", [("LSTM", {}), ("GRU", {"bidirectional": True}),
                                         ("RNN", {"nonlinearity": "relu"}),
                                         ("LSTM", {"proj_size": 4, "bidirectional": True})])
def test_recurrent_layers_cost_two_dispatches_per_time_step(kind, kwargs):
    # each time step adds exactly two dispatches per layer and direction, forward and
    # backward (the hidden-projection matmul and one fused cell kernel / gate-gradient
    # kernel), and nothing waits on the host
    directions = 2 if kwargs.get("bidirectional") else 1
    costs = []
    for steps in (6, 11):
        model = getattr(nn, kind)(8, 8, num_layers=2, **kwargs)
        x = torch.randn(steps, 4, 8)
        model(x)  # compile the kernels first
        (out, _), forward, _, forward_reads = _counted(model, x)
        loss = out.sum()
        backward, _, backward_reads = _count(loss.backward)
        assert forward_reads == backward_reads == 0
        costs.append((forward, backward))
    extra_steps = 11 - 6
    per_step = 2 * 2 * directions * extra_steps  # two dispatches, two layers
    assert costs[1][0] - costs[0][0] == per_step
    assert costs[1][1] - costs[0][1] == per_step
    # and the rest is a few per layer-direction (projections, weight gradients, final states)
    assert costs[0][0] <= 2 * directions * (2 * 6 + 8)
    assert costs[0][1] <= 2 * directions * (2 * 6 + 12)


def test_lstm_training_step_never_reads_back():
    model = nn.LSTM(8, 16, num_layers=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(10, 3, 8), torch.randn(10, 3, 16)

    def step():
        opt.zero_grad()
        out, _ = model(x)
        loss = nn.functional.mse_loss(out, y)
        loss.backward()
        opt.step()
        return loss

    first = step().item()
    _, dispatches, _, reads = _counted(step)
    assert reads == 0
    assert dispatches <= 2 * (2 * 2 * 10 + 10) + 16
    assert step().item() < first  # and it learns
