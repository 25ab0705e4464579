"""Errors found on the GPU (the runtime's sticky error flag): indices whose range is unknown
on the host, and int64 results that do not fit in int32 storage. They raise at the next host
readback, once, and leave the device usable; a training loop reads nothing back."""

import numpy as np
import pytest

import wgtorch as torch
import wgtorch.nn.functional as F
from wgtorch.backend import get_runtime
from wgtorch.ops.scatter import one_hot

RNG = np.random.default_rng(11)
ON_GPU = "detected on the GPU"


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def gpu(a):
    """An int64 tensor computed on the GPU: its value range is unknown on the host."""
    return T(a) * 1


def reads():
    return get_runtime().read_count


def test_unknown_bad_index_raises_at_the_next_readback_once():
    x = torch.arange(15.0).reshape(5, 3)
    before = reads()
    y = x[gpu([0, 7])]  # recorded; nothing read back, nothing raised yet
    assert reads() == before
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"
                                         r"\n\(" + ON_GPU):
        y.numpy()
    assert x[gpu([4, -5])].tolist() == [[12.0, 13.0, 14.0], [0.0, 1.0, 2.0]]  # reported once
    torch.synchronize()


@pytest.mark.parametrize("op, message", [
    (lambda x: x.index_select(1, gpu([0, 3])),
     r"index_select\(\): index 3 is out of bounds for dimension 1 with size 3"),
    (lambda x: x.index_select(0, gpu([-1])), r"index_select\(\): index -1 is out of bounds"),
    (lambda x: x.gather(1, gpu([[2, -1]])), r"gather\(\): index -1 is out of bounds"),
    (lambda x: x.take(gpu([15])), r"take\(\): index 15 is out of bounds"),
    (lambda x: x[:, gpu([-4])], "index -4 is out of bounds for dimension 1 with size 3"),
    (lambda x: x.scatter(0, gpu([[5, 0, 0]]), 1.0), r"scatter\(\): index 5 is out of bounds"),
    (lambda x: x.index_add(0, gpu([9]), torch.ones(1, 3)), r"index_add\(\): index 9 is out"),
    (lambda x: x.index_put_((gpu([6]),), torch.ones(3)), "index 6 is out of bounds"),
    (lambda x: x.put_(gpu([99]), torch.ones(1)), "index 99 is out of bounds"),
    (lambda x: x.index_fill(1, gpu([-7]), 0.0), r"index_fill\(\): index -7 is out of bounds"),
])
def test_every_indexing_op_flags_unknown_bad_indices(op, message):
    x = torch.arange(15.0).reshape(5, 3)
    before = reads()
    op(x)
    assert reads() == before
    with pytest.raises(IndexError, match=message):
        torch.synchronize()
    assert torch.ones(3).sum().item() == 3.0


def test_clamped_access_stays_inside_the_tensor():
    big = torch.full((1000,), 7.0)  # neighbours in the pool that a bad index must not reach
    x = torch.arange(4.0)
    y = x[gpu([3, 1000, -1000])]
    big2 = big.clone()
    with pytest.raises(IndexError):
        y.numpy()
    assert set(y.tolist()) <= {0.0, 1.0, 2.0, 3.0}  # clamped reads of x only
    z = torch.zeros(4)
    z.index_add_(0, gpu([1, 50]), torch.ones(2))
    with pytest.raises(IndexError):
        torch.synchronize()
    assert big2.tolist() == [7.0] * 1000 and z.sum().item() == 2.0


def test_first_error_wins_and_the_device_stays_usable():
    x = torch.zeros(3)
    x.index_select(0, gpu([5]))
    x.gather(0, gpu([8]))
    with pytest.raises(IndexError, match=r"index_select\(\): index 5 ") as info:
        torch.synchronize()
    assert "gather" not in str(info.value)
    torch.synchronize()  # cleared
    assert (x + 1).tolist() == [1.0, 1.0, 1.0]
    assert x.index_select(0, gpu([2, 0])).tolist() == [0.0, 0.0]


def test_backward_of_a_flagged_gather_and_good_gpu_indices():
    w = torch.randn(6, 4, requires_grad=True)
    idx = torch.randn(6, 6).argmax(1)  # computed on the GPU, bounds known: always fine
    (w[idx] * 2).sum().backward()
    counts = np.bincount(idx.numpy(), minlength=6)
    assert np.allclose(w.grad.numpy(), 2 * counts[:, None] * np.ones((6, 4)))
    bad = gpu([1, 6])
    w.grad = None
    w.index_select(0, bad).sum().backward()
    with pytest.raises(IndexError, match=r"index_select\(\): index 6 is out of bounds"):
        w.grad.numpy()


def test_one_hot_unknown_range():
    with pytest.raises(RuntimeError, match=r"one_hot\(\): class value 4 is out of range for "
                                           "num_classes=3"):
        one_hot(gpu([0, 4]), 3).tolist()
    assert one_hot(gpu([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]  # reads the range back


# ---- int64 overflow in reductions ------------------------------------------------------------


def test_int64_sum_overflow_raises():
    with pytest.raises(RuntimeError, match=r"sum\(\): the result 4999950000 does not fit in "
                                           r"wgtorch's 32-bit integer storage \(int64 is stored"):
        torch.arange(100000).sum().item()
    with pytest.raises(RuntimeError, match=r"sum\(\): the result -2147483649 does not fit"):
        gpu([-2**31 + 1, -2]).sum().item()
    big = gpu(np.full((3, 70000), 40000))  # several tree passes per row
    s = big.sum(1)
    with pytest.raises(RuntimeError, match="the result 2800000000 does not fit"):
        s.numpy()
    assert torch.arange(100000).sum(dtype=torch.int32).item() == 4999950000 - 2**32  # wraps
    assert (torch.arange(100000).float().sum().item()) == pytest.approx(4999950000, rel=1e-5)


def test_int64_sums_that_fit_are_exact():
    v = 2**31 - 1
    a = gpu([v, v, v, -v, -v, -v, -2**31 + 5])  # partial sums leave int32; the total fits
    assert a.sum().item() == -2**31 + 5
    half = RNG.integers(-2**31 + 1, 2**31, size=(5, 150))  # +-pairs: large partial sums
    x = np.concatenate([half, -half, RNG.integers(-9, 9, size=(5, 1))], 1)
    x = x[:, RNG.permutation(x.shape[1])]
    assert gpu(x).sum(1).tolist() == x.sum(1).tolist()
    c = RNG.integers(-1000, 1000, size=(7, 70001))
    assert gpu(c).sum(1).tolist() == c.sum(1).tolist()
    assert gpu(c[:, :65]).t().sum(0).tolist() == c[:, :65].sum(1).tolist()  # strided


def test_int64_prod_overflow():
    assert gpu([2**16, 2**15, -1]).prod().item() == -2**31  # fits at the edge
    assert gpu([2**20, 2**20, 0]).prod().item() == 0  # a zero after an overflow
    assert gpu([[3, -5, 7], [1, 2, 3]]).prod(1).tolist() == [-105, 6]
    with pytest.raises(RuntimeError, match=r"prod\(\): the result 2147483648 does not fit"):
        gpu([2**16, 2**15]).prod().item()
    with pytest.raises(RuntimeError, match="the result of magnitude at least 4294967296"):
        gpu(np.arange(1, 20)).prod().item()


def test_int64_cumsum_overflow():
    with pytest.raises(RuntimeError, match=r"cumsum\(\): the result 2147516416 does not fit"):
        torch.arange(100000).cumsum(0)[-1].item()
    assert gpu([-2**31 + 1, -1, 5]).cumsum(0).tolist() == [-2**31 + 1, -2**31, -2**31 + 5]
    with pytest.raises(RuntimeError, match="the result 2147483648 does not fit"):
        gpu([[2**30, 2**30], [1, 2]]).cumsum(1).tolist()
    c = RNG.integers(-2**20, 2**20, size=(3, 2500))  # several scan blocks, no overflow
    assert gpu(c).cumsum(1).tolist() == np.cumsum(c, 1).tolist()
    mask = T(RNG.random(3000) > 0.5)  # bool: the range rules overflow out, no check kernels
    before = get_runtime().dispatch_count
    counts = mask.cumsum(0)
    assert get_runtime().dispatch_count - before <= 4
    assert counts.tolist() == np.cumsum(mask.numpy()).tolist()


# ---- the training loop reads nothing back --------------------------------------------------


def test_training_loop_reads_nothing_back():
    emb = torch.nn.Embedding(50, 8)
    lin = torch.nn.Linear(8, 5)
    opt = torch.optim.SGD(list(emb.parameters()) + list(lin.parameters()), lr=0.1)
    data = torch.randn(200, 8)
    targets = T(RNG.integers(0, 5, 200))

    def step():
        tokens = T(RNG.integers(0, 50, 16))  # uploaded every step
        rows = T(RNG.integers(0, 200, 16))
        labels = targets.index_select(0, rows)  # a batch gathered on the GPU
        logits = lin(emb(tokens) + data[rows])
        picked = logits.gather(1, labels.unsqueeze(1))  # labels -> gather
        loss = F.cross_entropy(logits, labels) + 0.0 * picked.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()
    torch.synchronize()
    before = reads()
    for _ in range(5):
        loss = step()
    assert reads() == before
    assert np.isfinite(loss.item())
    assert reads() == before + 1


def test_training_loop_bad_label_raises_at_item():
    emb = torch.nn.Embedding(10, 4)
    tokens = gpu([1, 2, 10])  # out of range, computed on the GPU
    loss = emb(tokens).sum()
    loss.backward()
    with pytest.raises(IndexError, match=r"index_select\(\): index 10 is out of bounds for "
                                         "dimension 0 with size 10"):
        loss.item()
    assert np.isfinite(emb(gpu([1, 2, 9])).sum().item())


def test_site_table_is_bounded():
    rt = get_runtime()
    for n in range(5000):
        rt.error_site(IndexError, f"test site {n}")
    torch.synchronize()
    assert len(rt.error_messages) <= 4097
    x = torch.zeros(2)
    x.index_select(0, gpu([3]))
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        torch.synchronize()
