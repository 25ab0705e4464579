"""Advanced indexing, gather/scatter and friends against numpy: values, gradients, errors."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch

RNG = np.random.default_rng(1)


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def np_index_add(base, axis, index, src):
    out = base.copy()
    moved = np.moveaxis(out, axis, 0)
    np.add.at(moved, index, np.moveaxis(src, axis, 0))
    return out


def np_scatter(base, dim, index, src, ufunc=None):
    """PyTorch's scatter along ``dim`` (``ufunc.at`` to combine, else overwrite)."""
    out = base.copy()
    coords = list(np.indices(index.shape))
    coords[dim] = index
    values = src[tuple(slice(0, n) for n in index.shape)] if np.ndim(src) else src
    if ufunc is None:
        out[tuple(coords)] = values
    else:
        ufunc.at(out, tuple(coords), values)
    return out


# ---- __getitem__ -----------------------------------------------------------------------------


@pytest.mark.parametrize("key_fn", [
    lambda m: m([0, 4, -1, 0]),  # repeated and negative indices
    lambda m: (slice(None), m([2, 0, 6, 2])),
    lambda m: (m([[1], [3]]), m([0, 2, 5])),  # broadcast index tensors
    lambda m: (m([1, 2]), slice(1, 6, 2)),
    lambda m: (Ellipsis, m([-1, 1])),
    lambda m: (None, m([3, 3])),
    lambda m: m(np.zeros(0, np.int64)),  # empty index
])
def test_getitem_int_tensors(key_fn):
    def fn(x):
        return x[key_fn(lambda a: T(np.asarray(a, dtype=np.int64)))]

    def ref(x):
        return x[key_fn(lambda a: np.asarray(a, dtype=np.int64))]

    check_op([(5, 7)], fn, ref=ref)


def test_getitem_3d_nonadjacent_ints_and_lists():
    i, j = np.array([0, 2, 2]), np.array([4, 0, 1])
    check_op([(3, 6, 5)], lambda x: x[T(i), :, T(j)], ref=lambda x: x[i, :, j])
    # integers select first, as in PyTorch: x[1, :, idx] keeps the slice dim in front
    check_op([(3, 6, 5)], lambda x: x[1, :, T(j)], ref=lambda x: x[1][:, j])
    check_op([(3, 6, 5)], lambda x: x[[0, 2], 1:4], ref=lambda x: x[[0, 2], 1:4])
    check_op([(3, 6, 5)], lambda x: x[:, T([[1, 5], [0, 0]])], ref=lambda x: x[:, [[1, 5], [0, 0]]])
    check_op([(3, 6, 5)], lambda x: x[T(2)], ref=lambda x: x[2])
    # a list holding lists is a tuple of indices (PyTorch's legacy rule, still in 2.x)
    check_op([(3, 6, 5)], lambda x: x[[[0, 2], [1, 5]]], ref=lambda x: x[[0, 2], [1, 5]])
    check_op([(3, 6, 5)], lambda x: x[[0, slice(1, 3)]], ref=lambda x: x[0, 1:3])


def test_getitem_bool_masks():
    mask = RNG.random((4, 6)) > 0.5
    check_op([(4, 6, 3)], lambda x: x[T(mask)], ref=lambda x: x[mask])
    check_op([(4, 6)], lambda x: x[:, T(mask[0])], ref=lambda x: x[:, mask[0]])
    none = np.zeros((4, 6), dtype=bool)
    out = torch.randn(4, 6, 3)[T(none)]
    assert tuple(out.shape) == (0, 3)
    x = torch.tensor(RNG.standard_normal((67,)).astype(np.float32))
    assert_close(x[x > 0], x.numpy()[x.numpy() > 0])
    assert_close(x[[True] * 67], x.numpy())


def test_getitem_odd_sizes_and_dtypes():
    a = RNG.integers(-100, 100, size=(129, 3)).astype(np.int64)
    x = torch.tensor(a)
    idx = RNG.integers(-129, 129, size=(77,))
    assert_close(x[T(idx)], a[idx])
    b = torch.tensor(a > 0)
    assert_close(b[T(idx), 1], (a > 0)[idx, 1])


def test_getitem_errors():
    x = torch.zeros(5, 3)
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"):
        x[[0, 7]]
    with pytest.raises(IndexError, match="index -6 is out of bounds for dimension 0 with size 5"):
        x[T([1, -6])]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x[:, T([3])]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[T([0.0, 1.0])]
    with pytest.raises(IndexError, match="shape of the mask \\[4\\] at index 0 does not match"):
        x[T([True, False, True, True])]
    with pytest.raises(IndexError, match="shape mismatch: indexing tensors could not be broadcast"):
        x[T([0, 1]), T([0, 1, 2])]
    with pytest.raises(IndexError, match="too many indices"):
        x[T([0]), T([0]), T([0])]


# ---- __setitem__ / index_put_ ----------------------------------------------------------------


def _set(key, value):
    def fn(x, *v):
        y = x.clone()
        y[key(True)] = v[0] if v else value
        return y

    def ref(x, *v):
        y = x.copy()
        y[key(False)] = v[0] if v else value
        return y

    return fn, ref


def test_setitem_scalar_tensor_and_mask():
    idx = np.array([4, 0, -2])
    fn, ref = _set(lambda t: T(idx) if t else idx, 0.5)
    check_op([(6, 3)], fn, ref=ref)
    fn, ref = _set(lambda t: (slice(None), T([2, 0])) if t else (slice(None), [2, 0]), None)
    check_op([(6, 3), (6, 1)], fn, ref=ref)
    mask = RNG.random((6, 3)) > 0.4
    fn, ref = _set(lambda t: T(mask) if t else mask, -1.0)
    check_op([(6, 3)], fn, ref=ref)
    fn, ref = _set(lambda t: T(mask) if t else mask, None)
    check_op([(6, 3), (int(mask.sum()),)], fn, ref=ref)


def test_setitem_in_place_semantics():
    x = torch.zeros(5, dtype=torch.int64)
    x[T([1, 3])] = 7
    x[x == 0] = -1
    assert x.tolist() == [-1, 7, -1, 7, -1]
    v = x._version
    x[[0]] = 2
    assert x._version > v
    y = torch.zeros(4, 3)
    y[T([0, 2])] = T([1.0, 2.0, 3.0])  # broadcast over the selected rows
    assert_close(y, np.array([[1, 2, 3], [0, 0, 0], [1, 2, 3], [0, 0, 0]]))
    view = y[1:]  # writes through a view land in the base
    view[T([0])] = 9.0
    assert y[1].tolist() == [9.0, 9.0, 9.0]
    leaf = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf[T([0])] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape \\[2\\]"):
        y[T([0, 1, 2])] = T([1.0, 2.0])


def test_index_put_accumulate_repeated():
    idx = np.array([0, 2, 0, 0, 5])

    def ref(x, v):
        out = x.copy()
        np.add.at(out, idx, v)
        return out

    check_op([(6, 4), (5, 4)], lambda x, v: x.index_put((T(idx),), v, accumulate=True), ref=ref)
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes"):
        torch.zeros(3).index_put_((T([0]),), T([1]))


# ---- gather / scatter family -----------------------------------------------------------------


def test_index_select_and_take():
    idx = np.array([3, 0, 3, 4])
    check_op([(5, 67)], lambda x: x.index_select(0, T(idx)), ref=lambda x: x[idx])
    check_op([(5, 67)], lambda x: torch.index_select(x, 1, T(idx)), ref=lambda x: x[:, idx])
    flat = np.array([[0, 334], [-1, 12]])
    check_op([(5, 67)], lambda x: x.take(T(flat)), ref=lambda x: np.take(x, flat))
    spots = np.array([3, 0, 10])

    def put_ref(x, s):
        out = x.copy()
        np.put(out, spots, s)
        return out

    check_op([(3, 4), (3,)], lambda x, s: torch.put(x, T(spots), s), ref=put_ref)
    y = torch.zeros(2, 2)
    y.put_(T([0, 0, 3]), T([1.0, 2.0, 5.0]), accumulate=True)
    assert y.tolist() == [[3.0, 0.0], [0.0, 5.0]]
    e = torch.zeros(3, 4).index_select(1, T(np.zeros(0, np.int64)))
    assert tuple(e.shape) == (3, 0)
    with pytest.raises(RuntimeError, match="index_select\\(\\): Expected dtype int32 or int64 for index"):
        torch.zeros(3).index_select(0, T([0.0]))
    with pytest.raises(IndexError, match="index_select\\(\\): index 5 is out of bounds"):
        torch.zeros(3, 5).index_select(1, T([5]))
    with pytest.raises(IndexError, match="index_select\\(\\): index -1 is out of bounds"):
        torch.zeros(3, 5).index_select(1, T([-1]))  # negative: refused, as in PyTorch
    with pytest.raises(IndexError, match="take\\(\\): index 15 is out of bounds"):
        torch.zeros(3, 5).take(T([15]))


def test_gather_and_take_along_dim():
    index = RNG.integers(0, 6, size=(4, 9))
    check_op([(4, 6)], lambda x: x.gather(1, T(index)),
             ref=lambda x: np.take_along_axis(x, index, 1))
    index0 = RNG.integers(0, 4, size=(7, 6))
    check_op([(4, 6)], lambda x: torch.gather(x, 0, T(index0).t().contiguous().t()),
             ref=lambda x: np.take_along_axis(x, index0, 0))
    ix = RNG.integers(0, 5, size=(3, 1, 2))
    check_op([(3, 4, 5)], lambda x: torch.take_along_dim(x, T(ix), 2),
             ref=lambda x: np.take_along_axis(x, np.broadcast_to(ix, (3, 4, 2)), 2))
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        torch.zeros(3, 4).gather(1, T([0]))
    with pytest.raises(IndexError, match="gather\\(\\): index 6 is out of bounds for dimension 1"):
        torch.zeros(3, 4).gather(1, T([[6]]))
    with pytest.raises(IndexError, match="scatter_add\\(\\): index -1 is out of bounds"):
        torch.zeros(3, 4).scatter_add(1, T([[-1]]), torch.ones(1, 1))


def test_scatter_src_value_and_add():
    index = np.array([[0, 3, 1], [2, 0, 4]])  # unique along dim 1 per row, so writes are exact
    check_op([(2, 5), (2, 4)], lambda x, s: x.scatter(1, T(index), s),
             ref=lambda x, s: np_scatter(x, 1, index, s))
    check_op([(2, 5)], lambda x: x.scatter(1, T(index), 0.25),
             ref=lambda x: np_scatter(x, 1, index, 0.25))
    rep = np.array([[0, 0, 4], [1, 1, 1], [0, 3, 0]])
    check_op([(3, 5), (3, 3)], lambda x, s: x.scatter_add(1, T(rep), s),
             ref=lambda x, s: np_scatter(x, 1, rep, s, np.add))
    check_op([(4, 3), (3, 3)], lambda x, s: torch.scatter_add(x, 0, T(rep % 4), s),
             ref=lambda x, s: np_scatter(x, 0, rep % 4, s, np.add))
    ints = torch.zeros(3, 5, dtype=torch.int64).scatter_add_(1, T(rep), T(rep + 1))
    assert_close(ints, np_scatter(np.zeros((3, 5), np.int64), 1, rep, rep + 1, np.add))


@pytest.mark.parametrize("reduce,ufunc,include_self", [
    ("sum", np.add, True), ("sum", np.add, False), ("amax", np.maximum, True),
    ("amax", np.maximum, False), ("amin", np.minimum, True), ("prod", np.multiply, True),
    ("mean", None, True), ("mean", None, False),
])
def test_scatter_reduce(reduce, ufunc, include_self):
    index = np.array([0, 2, 0, 4, 2, 0])

    def ref(x, s):
        out = x.copy()
        touched = np.zeros(x.shape, bool)
        touched[index] = True
        if not include_self:
            out[touched] = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf,
                            "amin": np.inf}[reduce]
        if ufunc is not None:
            ufunc.at(out, index, s)
            return out
        np.add.at(out, index, s)
        count = np.ones(x.shape) if include_self else np.zeros(x.shape)
        np.add.at(count, index, 1)
        return out / np.maximum(count, 1)

    check_op([(5,), (6,)], lambda x, s: x.scatter_reduce(0, T(index), s, reduce,
                                                        include_self=include_self), ref=ref)


def test_index_add_copy_fill():
    idx = np.array([2, 0, 2])
    check_op([(3, 4), (3, 3)], lambda x, s: x.index_add(1, T(idx), s, alpha=2.0),
             ref=lambda x, s: np_index_add(x, 1, idx, 2.0 * s))
    uniq = np.array([2, 0])

    def copy_ref(x, s):
        out = x.copy()
        out[uniq] = s
        return out

    check_op([(3, 4), (2, 4)], lambda x, s: x.index_copy(0, T(uniq), s), ref=copy_ref)

    def fill_ref(x):
        out = x.copy()
        out[:, idx] = -3.0
        return out

    check_op([(3, 4)], lambda x: x.index_fill(1, T(idx), -3.0), ref=fill_ref)
    y = torch.zeros(3, 4)
    y.index_add_(0, T([1, 1]), torch.ones(2, 4))
    y.index_fill_(1, T([0]), 5.0)
    assert y.tolist()[1] == [5.0, 2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="index_add\\(\\): Source/destination tensor must have "
                                           "same slice shapes"):
        torch.zeros(3, 4).index_add(0, T([0]), torch.ones(2, 4))


# ---- masks, nonzero, one_hot ---------------------------------------------------------------


def test_masked_fill_select_scatter():
    mask = RNG.random((3, 5)) > 0.5
    check_op([(3, 5)], lambda x: x.masked_fill(T(mask), 2.0), ref=lambda x: np.where(mask, 2.0, x))
    row = mask[:1]
    check_op([(3, 5)], lambda x: torch.masked_select(x, T(row)),
             ref=lambda x: x[np.broadcast_to(row, (3, 5))])
    n = int(mask.sum())

    def scatter_ref(x, s):
        out = x.copy()
        out[mask] = s[:n]
        return out

    check_op([(3, 5), (n + 2,)], lambda x, s: x.masked_scatter(T(mask), s), ref=scatter_ref)
    x = torch.zeros(4, dtype=torch.int32)
    x.masked_fill_(T([True, False, True, False]), 3)
    assert x.tolist() == [3, 0, 3, 0]
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        torch.zeros(3).masked_fill(T([1, 0, 1]), 0.0)
    with pytest.raises(RuntimeError, match="masked_select: expected BoolTensor|only supports "
                                           "boolean masks"):
        torch.zeros(3).masked_select(T([1.0, 0.0, 1.0]))


def test_nonzero_argwhere():
    a = RNG.integers(-1, 2, size=(3, 70, 2)).astype(np.float32)
    a[0, 0, 0] = -0.0
    x = torch.tensor(a)
    assert_close(x.nonzero(), np.argwhere(a))
    assert_close(torch.argwhere(x), np.argwhere(a))
    for got, want in zip(torch.nonzero(x, as_tuple=True), np.nonzero(a)):
        assert_close(got, want)
    assert tuple(torch.zeros(4, 5).nonzero().shape) == (0, 2)
    assert torch.nonzero(T(7)).shape == (1, 0)
    assert torch.nonzero(T([False, True, True])).tolist() == [[1], [2]]
    assert torch.where(T([0, 3, 0, 4]))[0].tolist() == [1, 3]


def test_one_hot():
    from wgtorch.ops.scatter import one_hot

    labels = np.array([[0, 3], [2, 2]])
    assert_close(one_hot(T(labels)), np.eye(4, dtype=np.int64)[labels])
    assert tuple(one_hot(T(labels), 6).shape) == (2, 2, 6)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        one_hot(T(labels), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        one_hot(T([-1]), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        one_hot(T([1], torch.int32), 3)


# ---- large sizes and accumulation -------------------------------------------------------------


def test_large_gather_and_scatter_add():
    n, m = 1024, 1024  # 2^20 elements
    a = RNG.standard_normal((n, m)).astype(np.float32)
    index = RNG.integers(0, m, size=(n, m))
    x, ix = torch.tensor(a), torch.tensor(index)
    assert_close(x.gather(1, ix), np.take_along_axis(a, index, 1))
    # 2^20 values added into 7 bins: heavy contention on each address
    bins = index % 7
    got = torch.zeros(n, 7).scatter_add(1, torch.tensor(bins), x)
    want = np.zeros((n, 7))
    np.add.at(want, (np.arange(n)[:, None], bins), a.astype(np.float64))
    assert_close(got, want, atol=1e-3, rtol=1e-4)
    counts = torch.zeros(7, dtype=torch.int64).index_add_(
        0, torch.tensor(bins.reshape(-1)), torch.ones(n * m, dtype=torch.int64))
    assert counts.tolist() == np.bincount(bins.reshape(-1), minlength=7).tolist()


def test_backward_accumulates_repeated_indices():
    x = torch.zeros(6, 3, requires_grad=True)
    idx = np.array([5, 5, 0, 5, 2, 5] * 100)
    (x[T(idx)] * 2.0).sum().backward()
    want = np.zeros((6, 3))
    np.add.at(want, idx, 2.0)
    assert_close(x.grad, want)
    x.grad = None
    x.index_select(0, T(idx)).pow(2).sum().backward()
    assert_close(x.grad, np.zeros((6, 3)))


def test_double_backward_through_gather():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = T([0, 0, 2])
    y = (x[idx] ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    assert_close(g, [6.0, 0.0, 27.0])
    g.sum().backward()
    assert_close(x.grad, [12.0, 0.0, 18.0])


def test_scatter_modes_on_int_dtypes():
    idx = T([0, 0, 3, 1, 0])
    src = T([-5, 2, 7, 4, 9])
    base = T([1, 1, 1, 1])
    assert base.scatter_reduce(0, idx, src, "amax").tolist() == [9, 4, 1, 7]
    assert base.scatter_reduce(0, idx, src, "amin", include_self=False).tolist() == [-5, 4, 1, 7]
    assert base.scatter_reduce(0, idx, src, "prod").tolist() == [-90, 4, 1, 7]
    assert base.scatter_reduce(0, idx, src, "mean").tolist() == [1, 2, 1, 4]  # floor, as PyTorch
    wrap = torch.zeros(2, dtype=torch.uint8).index_put_((T([0, 0, 1]),), T([200, 100, 7],
                                                                         torch.uint8), True)
    assert wrap.tolist() == [44, 7]  # uint8 sums wrap modulo 256
    flags = torch.zeros(3, dtype=torch.bool).index_put_((T([2, 2]),), T([True, False]), True)
    assert flags.tolist() == [False, False, True]
