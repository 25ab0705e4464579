"""Losses against numpy references, forward and backward, every reduction."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F

RNG = np.random.default_rng(11)


def log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def ref_cross_entropy(x, t, weight=None, ignore_index=-100, ls=0.0, reduction="mean"):
    """PyTorch's formula: class dim 1, class-index targets, weight, ignore_index, smoothing."""
    c = x.shape[1]
    logp = log_softmax(x, 1)
    w = np.ones(c) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wt = w[safe] * valid
    nll = -picked * wt
    shape = [1, c] + [1] * (x.ndim - 2)
    smooth = -(logp * w.reshape(shape)).sum(1) * valid
    rows = (1 - ls) * nll + ls / c * smooth
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    return rows.sum() / wt.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_indices_weight_ignore_smoothing(reduction):
    t = RNG.integers(0, 5, size=7)
    t[2] = -1
    w = RNG.uniform(0.5, 2.0, size=5)
    tt = torch.tensor(t)
    wt = torch.tensor(w, dtype=torch.float32)
    check_op([(7, 5)], lambda x: F.cross_entropy(x, tt, weight=wt, ignore_index=-1,
                                                 label_smoothing=0.2, reduction=reduction),
             ref=lambda x: ref_cross_entropy(x, t, w, -1, 0.2, reduction), low=-3, high=3)


def test_cross_entropy_spatial_and_module():
    t = RNG.integers(0, 4, size=(2, 3, 5))
    tt = torch.tensor(t)
    check_op([(2, 4, 3, 5)], lambda x: nn.CrossEntropyLoss()(x, tt),
             ref=lambda x: ref_cross_entropy(x, t))
    check_op([(2, 4, 3)], lambda x: F.cross_entropy(x, tt[:, :, 0], reduction="none",
                                                    label_smoothing=0.1),
             ref=lambda x: ref_cross_entropy(x, t[:, :, 0], ls=0.1, reduction="none"))


def test_cross_entropy_probabilities():
    p = RNG.uniform(size=(6, 4))
    p /= p.sum(1, keepdims=True)
    w = RNG.uniform(0.5, 2.0, size=4)

    def ref(x, t, reduction="mean", ls=0.0, w=None):
        q = t * (1 - ls) + ls / t.shape[1]
        rows = -(log_softmax(x) * q * (1 if w is None else w)).sum(1)
        return rows.mean() if reduction == "mean" else rows

    check_op([(6, 4), (6, 4)], lambda x, t: F.cross_entropy(x, t, label_smoothing=0.3),
             ref=lambda x, t: ref(x, t, ls=0.3), inputs=[RNG.standard_normal((6, 4)), p])
    wt = torch.tensor(w, dtype=torch.float32)
    check_op([(6, 4)], lambda x: F.cross_entropy(x, torch.tensor(p, dtype=torch.float32),
                                                 weight=wt, reduction="none"),
             ref=lambda x: ref(x, p, "none", w=w))


def test_cross_entropy_unbatched_and_double_backward():
    check_op([(5,)], lambda x: F.cross_entropy(x, torch.tensor(3)),
             ref=lambda x: -log_softmax(x[None])[0, 3])
    # the gradient as a function of the logits, against numpy: softmax - onehot
    t = RNG.integers(0, 4, size=3)

    def grad_fn(x):
        return torch.autograd.grad(F.cross_entropy(x, torch.tensor(t), reduction="sum"), x,
                                   create_graph=True)[0]

    def ref_grad(x):
        return np.exp(log_softmax(x)) - np.eye(4)[t]

    check_op([(3, 4)], grad_fn, ref=ref_grad, layouts=("contiguous",))


def test_cross_entropy_errors():
    x = torch.randn(3, 5)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(4\)"):
        F.cross_entropy(x, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        F.cross_entropy(torch.randn(2, 5, 4), torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), reduction="bogus")
    # an out-of-range class raises as PyTorch's (tests/test_loss_checks.py has the rest)
    with pytest.raises(IndexError, match="Target 9 is out of bounds."):
        F.cross_entropy(x, torch.tensor([0, 1, 9]))


def test_nll_loss():
    t = RNG.integers(0, 5, size=6)
    t[0] = -100
    w = RNG.uniform(0.5, 2.0, size=5)
    tt, wt = torch.tensor(t), torch.tensor(w, dtype=torch.float32)

    def ref(x, reduction="mean"):
        valid = t != -100
        safe = np.where(valid, t, 0)
        rows = -x[np.arange(6), safe] * w[safe] * valid
        return {"mean": rows.sum() / (w[safe] * valid).sum(), "sum": rows.sum(),
                "none": rows}[reduction]

    for red in ("mean", "sum", "none"):
        check_op([(6, 5)], lambda x, red=red: F.nll_loss(x, tt, weight=wt, reduction=red),
                 ref=lambda x, red=red: ref(x, red), layouts=("contiguous",))
    logp = F.log_softmax(torch.randn(6, 5), 1)
    assert_close(nn.NLLLoss()(logp, torch.tensor(np.where(t < 0, 1, t))),
                 F.cross_entropy(logp, torch.tensor(np.where(t < 0, 1, t))).numpy(), atol=1e-5)


ELEMENTWISE = [
    ("mse_loss", {}, lambda x, t: (x - t) ** 2),
    ("l1_loss", {}, lambda x, t: np.abs(x - t)),
    ("smooth_l1_loss", {"beta": 0.5},
     lambda x, t: np.where(np.abs(x - t) < 0.5, 0.5 * (x - t) ** 2 / 0.5, np.abs(x - t) - 0.25)),
    ("huber_loss", {"delta": 0.7},
     lambda x, t: np.where(np.abs(x - t) < 0.7, 0.5 * (x - t) ** 2,
                           0.7 * (np.abs(x - t) - 0.35))),
]


@pytest.mark.parametrize("name,kw,ref", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses(name, kw, ref, reduction):
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    check_op([(4, 5), (4, 5)], lambda x, t: getattr(F, name)(x, t, reduction=reduction, **kw),
             ref=lambda x, t: red(ref(x, t)), layouts=("contiguous",))


def test_binary_cross_entropy():
    t = RNG.uniform(size=(3, 4))
    w = RNG.uniform(0.5, 2, size=(4,))

    def ref(x, t, w):
        return (-(t * np.log(x) + (1 - t) * np.log(1 - x)) * w).mean()

    check_op([(3, 4), (3, 4), (4,)], lambda x, t, w: F.binary_cross_entropy(x, t, w),
             ref=ref, inputs=[RNG.uniform(0.05, 0.95, size=(3, 4)), t, w])
    # log clamped at -100: exact 0/1 probabilities stay finite
    out = nn.BCELoss(reduction="sum")(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert abs(out.item() - 200.0) < 1e-3


def test_binary_cross_entropy_with_logits_pos_weight():
    def ref(x, t, pw):
        lw = 1 + (pw - 1) * t
        return ((1 - t) * x + lw * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))).sum()

    t = RNG.uniform(size=(5, 3))
    check_op([(5, 3), (5, 3), (3,)],
             lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                                 reduction="sum"),
             ref=ref, inputs=[RNG.standard_normal((5, 3)) * 3, t, RNG.uniform(0.5, 3, size=3)])
    loss = nn.BCEWithLogitsLoss()(torch.tensor([100.0, -100.0]), torch.tensor([1.0, 0.0]))
    assert loss.item() < 1e-6  # stable for large logits


def test_kl_div():
    t = RNG.uniform(size=(4, 3))
    t /= t.sum(1, keepdims=True)
    t[0, 0] = 0.0
    check_op([(4, 3)], lambda x: F.kl_div(x, torch.tensor(t, dtype=torch.float32),
                                          reduction="batchmean"),
             ref=lambda x: np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), -t * x)
             .sum() / 4)
    check_op([(4, 3), (4, 3)], lambda x, lt: F.kl_div(x, lt, reduction="sum", log_target=True),
             ref=lambda x, lt: (np.exp(lt) * (lt - x)).sum())


def test_cross_entropy_many_classes_composite_path():
    # past what one invocation may loop over, the same formula runs as wgtorch ops
    from wgtorch.nn.functional.cross_entropy import FUSED_MAX_C

    x = RNG.standard_normal((2, FUSED_MAX_C + 1)) * 0.1
    t = np.array([5, FUSED_MAX_C])
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    loss = F.cross_entropy(xt, torch.tensor(t), label_smoothing=0.1)
    assert abs(loss.item() - ref_cross_entropy(x, t, ls=0.1)) < 1e-4
    loss.backward()
    onehot = np.zeros_like(x)
    onehot[np.arange(2), t] = 1
    expected = (np.exp(log_softmax(x)) - 0.9 * onehot - 0.1 / x.shape[1]) / 2
    assert np.abs(xt.grad.numpy() - expected).max() < 1e-6
