"""Shape and combination ops against numpy: values, gradients, errors."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch.ops.padding import pad

RNG = np.random.default_rng(2)


def T(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


# ---- cat / stack -----------------------------------------------------------------------------


def test_cat():
    check_op([(3, 5), (3, 2), (3, 67)], lambda a, b, c: torch.cat([a, b, c], 1),
             ref=lambda a, b, c: np.concatenate([a, b, c], 1))
    check_op([(2, 3), (1, 3)], lambda a, b: torch.cat((a, b), dim=-2),
             ref=lambda a, b: np.concatenate([a, b], 0))
    check_op([(2, 3)], lambda a: torch.concat([a, a[:, :0], a], 1),
             ref=lambda a: np.concatenate([a, a], 1))
    mixed = torch.cat([T([1, 2]), T([0.5])])
    assert mixed.dtype is torch.float32 and mixed.tolist() == [1.0, 2.0, 0.5]
    legacy = torch.cat([torch.zeros(0), torch.ones(2, 2)])  # 1-D empty tensors are skipped
    assert tuple(legacy.shape) == (2, 2)
    x = torch.tensor(np.arange(24.0).reshape(2, 3, 4).astype(np.float32))
    assert_close(torch.cat([x[1], x[0]]), np.concatenate([np.arange(12, 24), np.arange(12)])
                 .reshape(6, 4))
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 1. "
                                           "Expected size 3 but got size 4 for tensor number 1"):
        torch.cat([torch.zeros(3, 2), torch.zeros(4, 2)], 1)
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        torch.cat([])  # ValueError, as PyTorch's
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions"):
        torch.cat([torch.zeros(3, 2), torch.zeros(3)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.cat([torch.zeros(3, 2)], 2)


def test_stack_family():
    check_op([(2, 3), (2, 3)], lambda a, b: torch.stack([a, b], 1),
             ref=lambda a, b: np.stack([a, b], 1))
    check_op([(2, 3), (2, 3)], lambda a, b: torch.stack([a, b], -1),
             ref=lambda a, b: np.stack([a, b], -1))
    check_op([(2, 3), (2, 1)], lambda a, b: torch.hstack([a, b]), ref=lambda a, b: np.hstack([a, b]))
    check_op([(3,), (2,)], lambda a, b: torch.hstack([a, b]), ref=lambda a, b: np.hstack([a, b]))
    check_op([(3,), (1, 3)], lambda a, b: torch.vstack([a, b]), ref=lambda a, b: np.vstack([a, b]))
    check_op([(2, 3), (2, 3)], lambda a, b: torch.dstack([a, b]), ref=lambda a, b: np.dstack([a, b]))
    check_op([(3,), (3, 2)], lambda a, b: torch.column_stack([a, b]),
             ref=lambda a, b: np.column_stack([a, b]))
    assert tuple(torch.atleast_3d(torch.zeros(4)).shape) == (1, 4, 1)
    assert [tuple(t.shape) for t in torch.atleast_2d(T(1.0), torch.zeros(3))] == [(1, 1), (1, 3)]
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size, but got "
                                           "\\[2, 3\\] at entry 0 and \\[2, 4\\] at entry 1"):
        torch.stack([torch.zeros(2, 3), torch.zeros(2, 4)])


# ---- repeat / tile / repeat_interleave ------------------------------------------------------


def test_repeat_tile():
    check_op([(2, 3)], lambda x: x.repeat(2, 1, 3), ref=lambda x: np.tile(x, (2, 1, 3)))
    check_op([(5,)], lambda x: x.repeat(3), ref=lambda x: np.tile(x, 3))
    check_op([(2, 3)], lambda x: x.tile((2,)), ref=lambda x: np.tile(x, (1, 2)))
    check_op([(2, 3)], lambda x: torch.tile(x, (3, 1, 1)), ref=lambda x: np.tile(x, (3, 1, 1)))
    assert tuple(torch.zeros(2, 3).repeat(0, 1).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be smaller"):
        torch.zeros(2, 3).repeat(2)


def test_repeat_interleave():
    check_op([(2, 3)], lambda x: x.repeat_interleave(2, dim=1), ref=lambda x: np.repeat(x, 2, 1))
    check_op([(2, 3)], lambda x: torch.repeat_interleave(x, 3), ref=lambda x: np.repeat(x, 3))
    counts = np.array([1, 0, 3])
    check_op([(2, 3)], lambda x: x.repeat_interleave(T(counts), dim=1),
             ref=lambda x: np.repeat(x, counts, 1))
    assert torch.repeat_interleave(T([2, 1])).tolist() == [0, 0, 1]
    with pytest.raises(RuntimeError, match="repeats must have the same size as input along dim"):
        torch.zeros(4).repeat_interleave(T([1, 2]))
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        torch.zeros(2).repeat_interleave(T([1, -2]))


# ---- flip / roll -----------------------------------------------------------------------------


def test_flip():
    check_op([(3, 67, 2)], lambda x: x.flip([0, 2]), ref=lambda x: np.flip(x, (0, 2)))
    check_op([(4, 5)], lambda x: torch.flip(x, (-1,)), ref=lambda x: np.flip(x, -1))
    check_op([(4, 5)], lambda x: x.fliplr(), ref=np.fliplr)
    check_op([(4, 5)], lambda x: torch.flipud(x), ref=np.flipud)
    ints = torch.arange(6).reshape(2, 3)[:, 1:]
    assert ints.flip(1).tolist() == [[2, 1], [5, 4]]
    assert tuple(torch.zeros(0, 3).flip(0).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="dims has duplicates"):
        torch.zeros(2, 2).flip([0, 0])
    with pytest.raises(RuntimeError, match="Input must be >= 2-d"):
        torch.zeros(2).fliplr()


def test_roll():
    check_op([(4, 67)], lambda x: x.roll(3, 1), ref=lambda x: np.roll(x, 3, 1))
    check_op([(4, 5)], lambda x: torch.roll(x, (1, -2), (0, 1)),
             ref=lambda x: np.roll(x, (1, -2), (0, 1)))
    check_op([(4, 5)], lambda x: x.roll(7), ref=lambda x: np.roll(x, 7))
    check_op([(4, 5)], lambda x: x.roll(-5, 0), ref=lambda x: np.roll(x, -5, 0))
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        torch.zeros(3, 3).roll((1, 2), 0)


# ---- tril / triu / diagonals -----------------------------------------------------------------


@pytest.mark.parametrize("k", [-2, 0, 1, 5])
def test_tril_triu(k):
    check_op([(3, 4, 67)], lambda x: x.tril(k), ref=lambda x: np.tril(x, k))
    check_op([(5, 3)], lambda x: torch.triu(x, k), ref=lambda x: np.triu(x, k))


def test_tril_ints_and_errors():
    x = torch.ones(3, 3, dtype=torch.int64)
    assert x.tril().sum().item() == 6
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        torch.zeros(3).tril()


def test_diag_diagonal_diag_embed():
    check_op([(4,)], lambda v: torch.diag(v), ref=np.diag)
    check_op([(4,)], lambda v: torch.diag(v, -2), ref=lambda v: np.diag(v, -2))
    check_op([(4, 6)], lambda m: m.diag(1), ref=lambda m: np.diag(m, 1))
    check_op([(4, 6)], lambda m: torch.diag(m, -3), ref=lambda m: np.diag(m, -3))
    check_op([(2, 3, 4)], lambda x: x.diagonal(0, 1, 2), ref=lambda x: np.diagonal(x, 0, 1, 2))
    check_op([(2, 3, 4)], lambda x: torch.diagonal(x, -1, 2, 0),
             ref=lambda x: np.diagonal(x, -1, 2, 0))
    check_op([(2, 3)], lambda x: torch.diag_embed(x, 1),
             ref=lambda x: np.stack([np.diag(r, 1) for r in x]))
    x = torch.zeros(3, 3)
    x.diagonal().fill_(1.0)  # diagonal is a view
    assert_close(x, np.eye(3))
    assert tuple(torch.zeros(3, 2).diagonal(5).shape) == (0,)
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        torch.zeros(3, 3).diagonal(0, 1, 1)
    with pytest.raises(RuntimeError, match="diag\\(\\): Supports 1D or 2D tensors. Got 3D"):
        torch.diag(torch.zeros(2, 2, 2))


# ---- broadcasting and grids -----------------------------------------------------------------


def test_meshgrid_broadcast():
    a, b = np.arange(3), np.arange(4) * 10
    for indexing in ("ij", "xy"):
        got = torch.meshgrid(T(a), T(b), indexing=indexing)
        for g, w in zip(got, np.meshgrid(a, b, indexing=indexing)):
            assert_close(g, w)
    check_op([(3,), (4,)], lambda x, y: torch.meshgrid(x, y, indexing="ij")[0] *
             torch.meshgrid(x, y, indexing="ij")[1],
             ref=lambda x, y: np.multiply(*np.meshgrid(x, y, indexing="ij")))
    check_op([(3, 1), (4,)], lambda x, y: torch.broadcast_tensors(x, y)[0] * 2 +
             torch.broadcast_tensors(x, y)[1],
             ref=lambda x, y: np.broadcast_to(x, (3, 4)) * 2 + y)
    assert torch.broadcast_shapes((3, 1), (4,), 1) == torch.Size([3, 4])
    with pytest.raises(RuntimeError, match="must match"):
        torch.broadcast_tensors(torch.zeros(3), torch.zeros(4))


# ---- pad -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                          ("circular", "wrap")])
def test_pad_index_modes(mode, np_mode):
    check_op([(2, 3, 5)], lambda x: pad(x, (2, 1), mode=mode),
             ref=lambda x: np.pad(x, ((0, 0), (0, 0), (2, 1)), mode=np_mode))
    check_op([(2, 3, 5)], lambda x: pad(x, (1, 2, 2, 0), mode=mode),
             ref=lambda x: np.pad(x, ((0, 0), (2, 0), (1, 2)), mode=np_mode))
    check_op([(1, 3, 4, 3)], lambda x: pad(x, (1, 1, 1, 1, 2, 1), mode=mode),
             ref=lambda x: np.pad(x, ((0, 0), (2, 1), (1, 1), (1, 1)), mode=np_mode))


def test_pad_constant():
    check_op([(2, 3)], lambda x: pad(x, (1, 2, 0, 1), value=1.5),
             ref=lambda x: np.pad(x, ((0, 1), (1, 2)), constant_values=1.5))
    check_op([(2, 5)], lambda x: pad(x, (-1, 2)),
             ref=lambda x: np.pad(x[:, 1:], ((0, 0), (0, 2))))
    assert pad(T([1, 2]), (1, 0)).tolist() == [0, 1, 2]


def test_pad_errors():
    x = torch.zeros(1, 2, 3)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        pad(x, (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding "
                                           "input dimension"):
        pad(x, (3, 3), mode="reflect")
    with pytest.raises(RuntimeError, match="negative output size"):
        pad(x, (-2, -2))
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        pad(x, (1, 1), mode="mirror")


# ---- unfold ----------------------------------------------------------------------------------


def test_unfold():
    from numpy.lib.stride_tricks import sliding_window_view

    check_op([(3, 9)], lambda x: x.unfold(1, 3, 2),
             ref=lambda x: sliding_window_view(x, 3, axis=1)[:, ::2])
    check_op([(7, 2)], lambda x: x.unfold(0, 4, 1),  # overlapping windows: gradients add
             ref=lambda x: sliding_window_view(x, 4, axis=0))
    x = torch.arange(6.0)
    w = x.unfold(0, 2, 2)
    assert w.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    w[0, 0] = 9.0  # a view: writes reach x
    assert x[0].item() == 9.0
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 6 but size "
                                           "is 7"):
        x.unfold(0, 7, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(0, 2, 0)
