"""Bad targets to the losses raise PyTorch's errors, never a silent NaN: at the call when the
target's exact range is known on the host, else at the next readback (the GPU error flag).
A normal training step reads nothing back for these checks."""

import numpy as np
import pytest

import wgtorch as torch
import wgtorch.nn.functional as F
from wgtorch import nn
from wgtorch.backend import get_runtime
from wgtorch.nn.functional.cross_entropy import FUSED_MAX_C

RNG = np.random.default_rng(5)
ON_GPU = "detected on the GPU"


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def logits(*shape):
    return T(RNG.standard_normal(shape).astype(np.float32))


def reads():
    return get_runtime().read_count


def ref_ce(x, t, ignore_index=-100):
    """Mean cross-entropy of (N, C) logits at class indices (numpy float64)."""
    x = np.asarray(x, np.float64)
    logp = x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - \
        x.max(1, keepdims=True)
    keep = np.asarray(t) != ignore_index
    return -logp[np.arange(len(t))[keep], np.asarray(t)[keep]].mean()


# ---- class indices known on the host: IndexError at the call --------------------------------


@pytest.mark.parametrize("bad", [12, 5, -1, -7])
def test_known_bad_target_raises_at_the_call(bad):
    x = logits(3, 5)
    before = reads()
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        F.cross_entropy(x, T([0, bad, 2]))
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        F.nll_loss(x.log_softmax(1), T([0, bad, 2]))
    with pytest.raises(IndexError, match=f"^Target {bad} is out of bounds.$"):
        nn.CrossEntropyLoss(label_smoothing=0.1, weight=torch.ones(5))(x, T([bad, 1, 2]))
    assert reads() == before  # found from the upload's range: nothing read back


def test_known_bad_target_other_layouts():
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        F.cross_entropy(logits(4), T(4))  # (C,) input, 0-d target
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        F.cross_entropy(logits(2, 3, 2, 2), T([[[0, 1], [2, 3]], [[0, 0], [1, 1]]]))
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        F.nll_loss(logits(2, 3, 4), T([[0, 1, 2, 3], [0, 0, 1, 1]]))


def test_ignore_index_is_not_out_of_bounds():
    x = logits(4, 5)
    for ignore, t in [(-100, [0, -100, 4, 2]), (255, [255, 1, 255, 3]), (2, [2, 2, 0, 1])]:
        want = ref_ce(x.numpy(), t, ignore)
        np.testing.assert_allclose(F.cross_entropy(x, T(t), ignore_index=ignore).item(), want,
                                   rtol=1e-5)
        np.testing.assert_allclose(
            F.nll_loss(x.log_softmax(1), T(t), ignore_index=ignore).item(), want, rtol=1e-5)
    with pytest.raises(IndexError, match="Target 255 is out of bounds."):  # 255 not ignored
        F.cross_entropy(x, T([255, 1, 0, 3]))


# ---- class indices computed on the GPU: flagged, raised at the next readback ---------------


def test_gpu_target_out_of_range_raises_at_item():
    x = logits(6, 5)
    before = reads()
    loss = F.cross_entropy(x, x.argmax(1) + 20)  # range unknown on the host
    assert reads() == before
    with pytest.raises(IndexError, match=r"^Target 2\d is out of bounds.\n\(" + ON_GPU):
        loss.item()
    loss = F.nll_loss(x.log_softmax(1), x.argmax(1) - 9, reduction="sum")
    with pytest.raises(IndexError, match=r"^Target -\d is out of bounds.\n\(" + ON_GPU):
        loss.item()


def test_gpu_target_checked_in_backward_graph_spatial_and_weighted():
    x = logits(2, 3, 4).requires_grad_()
    t = T([[0, 1, 2, 0], [1, 1, 7, 2]]) * 1  # computed on the GPU
    loss = F.cross_entropy(x, t, weight=T([1.0, 2.0, 0.5]), reduction="sum")
    loss.backward()
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        x.grad.numpy()
    # the bad row counted as ignored: the others' gradients are right, nothing else is read
    g = x.grad.numpy()
    assert np.isfinite(g).all() and (g[1, :, 2] == 0).all()


def test_bad_target_between_ignore_index_and_valid_classes():
    # the exact range (-100, 2) shows no bad class: the kernel finds the -5
    x = logits(3, 4)
    t = T([-100, -5, 2])
    with pytest.raises(IndexError, match="Target -5 is out of bounds."):
        F.cross_entropy(x, t).item()
    with pytest.raises(IndexError, match="Target -5 is out of bounds."):
        F.nll_loss(x.log_softmax(1), t).item()


def test_composite_path_past_the_fused_class_limit():
    c = FUSED_MAX_C + 1
    x = torch.zeros(2, c)
    with pytest.raises(IndexError, match=f"Target {c} is out of bounds."):
        F.cross_entropy(x, T([0, c]))
    with pytest.raises(IndexError, match=f"Target {c + 3} is out of bounds."):
        F.cross_entropy(x, T([0, c]) + 3).item()
    np.testing.assert_allclose(F.cross_entropy(x, T([0, -100]) * 1).item(), np.log(c),
                               rtol=1e-5)


def test_device_usable_after_the_error():
    x = logits(5, 3)
    t = T([0, 1, 2, 1, 0])
    with pytest.raises(IndexError):
        F.cross_entropy(x, t + 3).item()
    # reported once; later work (the same kernel, other tensors) is right
    np.testing.assert_allclose(F.cross_entropy(x, t * 1).item(), ref_ce(x.numpy(), t.numpy()),
                               rtol=1e-5)
    assert (t + 1).tolist() == [1, 2, 3, 2, 1]
    torch.synchronize()


def test_training_step_reads_nothing_back():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = logits(32, 8)
    targets = [T(RNG.integers(0, 4, 32)), logits(32, 4).argmax(1)]  # uploaded, GPU-computed
    rt = get_runtime()
    first = None
    for t in targets * 2:
        rt.flush()
        reads, submits = rt.read_count, rt.submit_count
        loss = F.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert rt.read_count == reads and rt.submit_count == submits  # only recorded
        first = loss if first is None else first
    assert first.item() > 0
    assert np.isfinite(loss.item())


# ---- binary_cross_entropy: input and target in [0, 1] ------------------------------------


@pytest.mark.parametrize("values, which", [
    ([0.2, 1.5, 0.5], "input"), ([0.2, -0.1, 0.5], "input"), ([0.2, float("nan"), 0.5], "input"),
])
def test_bce_input_outside_unit_interval(values, which):
    before = reads()
    loss = F.binary_cross_entropy(T(values, torch.float32), T([0.0, 1.0, 1.0]))
    assert reads() == before
    with pytest.raises(RuntimeError, match=f"^all elements of {which} should be between 0 and 1"
                                           r"\n\(" + ON_GPU):
        loss.item()


def test_bce_target_outside_unit_interval_and_valid_edges():
    p = T([0.0, 1.0, 0.25, -0.0], torch.float32)
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        nn.BCELoss()(p, T([0.0, 2.0, 1.0, 0.0], torch.float32)).item()
    x = logits(3, 4).sigmoid().t()  # a non-contiguous view
    t = T(RNG.uniform(0, 1, (4, 3)).astype(np.float32))
    want = -(t.numpy() * np.log(x.numpy()) + (1 - t.numpy()) * np.log(1 - x.numpy())).mean()
    np.testing.assert_allclose(F.binary_cross_entropy(x, t).item(), want, rtol=1e-5)
    # the edges 0 and 1 (and -0.0) are fine: logs clamped at -100, as PyTorch
    np.testing.assert_allclose(F.binary_cross_entropy(p, T([1.0, 0.0, 1.0, 0.0])).item(),
                               (100 + 100 - np.log(0.25)) / 4, rtol=1e-5)
    assert F.binary_cross_entropy(torch.zeros(0), torch.zeros(0), reduction="sum").item() == 0
