"""Known value ranges (wgtorch/ops/value_range.py): where they come from, when they are
dropped, and that a bad index with a known range raises at the op without a readback."""

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.backend import get_runtime
from wgtorch.ops import value_range as vr
from wgtorch.ops.scatter import one_hot

RNG = np.random.default_rng(5)


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


class NoReadback:
    """Asserts that the block reads nothing back from the GPU."""

    def __enter__(self):
        self.reads = get_runtime().read_count
        return self

    def __exit__(self, *exc):
        assert get_runtime().read_count == self.reads


def test_uploads_and_creation_are_exact():
    a = RNG.integers(-50, 50, size=(4, 6))
    assert vr.exact(T(a)) == (a.min(), a.max())
    assert vr.exact(T(a, torch.int32)) == (a.min(), a.max())
    assert vr.exact(torch.arange(3, 17, 2)) == (3, 15)
    assert vr.exact(torch.randperm(9)) == (0, 8)
    assert vr.exact(torch.full((2, 3), 7, dtype=torch.int64)) == (7, 7)
    assert vr.exact(torch.zeros(5, dtype=torch.int64)) == (0, 0)
    assert vr.exact(T(a).reshape(-1)) == (a.min(), a.max())  # a view of all of it
    assert vr.exact(T(a).long()) == (a.min(), a.max())  # a cast of all of it
    assert vr.exact(torch.zeros(3)) is None  # floats have none
    assert vr.bounds(T([True, False])) == (0, 1)
    assert vr.bounds(T([3, 200], torch.uint8)) == (0, 255)


def test_views_and_derived_tensors_have_bounds_only():
    t = T([5, 0, 9, 2])
    assert vr.exact(t[1:3]) is None  # a part of the storage: only bounds are known
    assert vr.bounds(t[1:3]) == (0, 9)
    assert vr.exact(t.t() if t.ndim == 2 else t[::2]) is None
    r = torch.randint(3, 11, (50,))
    assert vr.bounds(r) == (3, 10) and vr.exact(r) is None
    assert vr.bounds(torch.zeros(4, 5).index_select(0, T([1, 3])).long()) is None
    assert vr.bounds(t.index_select(0, T([1, 2]))) == (0, 9)  # a gather: within the source
    assert vr.bounds(t[T([3, 3])]) == (0, 9)
    x = torch.randn(3, 7)
    assert vr.bounds(x.argmax(1)) == (0, 6)
    assert vr.bounds(x.argmin()) == (0, 20)
    assert vr.bounds(x.max(0).indices) == (0, 2)
    assert vr.bounds(x.sort(1).indices) == (0, 6)
    assert vr.bounds(x.topk(2, 1).indices) == (0, 6)
    assert vr.bounds(torch.nonzero(x > 0)) == (0, 6)
    assert vr.bounds(t * 2) is None  # arithmetic is not tracked


def test_inplace_changes_drop_the_range():
    t = T([1, 2, 3])
    v = t[1:]
    t.add_(10)
    assert vr.exact(t) is None and vr.bounds(v) is None
    u = T([4, 5])
    u[0] = 99
    assert vr.bounds(u) is None
    w = torch.arange(4)
    w.copy_(T([9, 9, 9, 9]))
    assert vr.bounds(w) is None


def test_known_bad_index_raises_at_the_op_without_readback():
    x = torch.zeros(5, 3)
    with NoReadback():
        with pytest.raises(IndexError, match=r"index_select\(\): index 5 is out of bounds for "
                                             r"dimension 0 with size 5"):
            x.index_select(0, T([0, 5]))
        with pytest.raises(IndexError, match="index -6 is out of bounds for dimension 0"):
            x[T([-6])]
        with pytest.raises(IndexError, match=r"gather\(\): index -1 is out of bounds"):
            x.gather(1, T([[0, -1]]))
        with pytest.raises(IndexError, match=r"take\(\): index 15 is out of bounds"):
            x.take(torch.arange(16))
        with pytest.raises(IndexError, match=r"scatter_add\(\): index 3 is out of bounds"):
            x.scatter_add(1, T([[3]]), torch.ones(1, 1))
        with pytest.raises(IndexError, match=r"index_add_\(\): index 7 is out of bounds"):
            x.index_add_(0, T([7]), torch.ones(1, 3))
        with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 3"):
            x[:, T([0, 4]).long()]  # a cast keeps the exact range


def test_good_indices_need_no_readback():
    x = torch.arange(20.0).reshape(4, 5)
    with NoReadback():
        a = x.index_select(1, T([4, 0]))
        b = x[T([3, 0]), T([-1, 1])]
        c = x.gather(0, x.argmax(0, keepdim=True))  # argmax's bounds prove it in range
        d = x[torch.randint(0, 4, (6,))]
        e = one_hot(T([2, 0, 1]))  # the class count comes from the known exact range
        f = one_hot(x.argmax(1), 5)
    assert a.tolist() == [[4.0, 0.0], [9.0, 5.0], [14.0, 10.0], [19.0, 15.0]]
    assert b.tolist() == [19.0, 1.0]
    assert c.tolist() == [[15.0, 16.0, 17.0, 18.0, 19.0]]
    assert d.shape == (6, 5)
    assert e.tolist() == np.eye(3, dtype=np.int64)[[2, 0, 1]].tolist()
    assert f.tolist() == np.eye(5, dtype=np.int64)[[4, 4, 4, 4]].tolist()


def test_one_hot_known_range_errors():
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        one_hot(T([0, 3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        one_hot(T([-1, 0]))


def test_int64_sum_skips_the_check_when_the_range_rules_out_overflow():
    from wgtorch.ops.reduce import _int64_op

    mask = torch.randn(1000) > 0
    assert _int64_op("sum", mask, (0,), torch.int64) == "sum"
    assert _int64_op("sum", torch.arange(1000), (0,), torch.int64) == "sum"
    assert _int64_op("sum", torch.arange(100000), (0,), torch.int64) == "sum_int64"
    assert _int64_op("sum", torch.arange(10) * 2, (0,), torch.int64) == "sum_int64"  # unknown
    assert _int64_op("prod", mask.long(), (0,), torch.int64) == "prod"
    assert _int64_op("sum", torch.arange(10), (0,), torch.int32) == "sum"  # int32 wraps
    assert (mask.sum().item(), torch.arange(1000).sum().item()) == (
        int((mask.numpy()).sum()), 499500)


def test_scatter_into_a_copy_drops_the_range():
    filled = torch.full((3,), 5, dtype=torch.int64).index_fill(0, T([0, 1, 2]), 0)
    assert vr.bounds(filled) is None
    assert torch.arange(3.0)[filled].tolist() == [0.0, 0.0, 0.0]  # no stale "index 5" error
    put = torch.zeros(3, dtype=torch.int64).index_put((T([1]),), T([7]))
    assert vr.bounds(put) is None
    assert vr.bounds(one_hot(T([1, 0]), 2)) == (0, 1)


def test_a_range_read_back_from_a_partial_view_is_not_kept_for_the_storage():
    from wgtorch.ops.index_kernels import index_range

    t = torch.arange(4) * 1  # unknown range
    assert index_range(t[:1].expand(4)) == (0, 0)
    assert vr.bounds(t) is None
    assert index_range(t) == (0, 3) and vr.exact(t) == (0, 3)
