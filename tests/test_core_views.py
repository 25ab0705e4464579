"""Views share storage with their base: shape ops, slicing, splitting, and their errors."""

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close, check_op

A = np.arange(24.0).reshape(2, 3, 4)


def _base():
    return torch.tensor(A)


def _shares(view, base):
    return view._storage is base._storage


def test_write_through_views_shows_in_base():
    base = _base()
    views = [
        base[1],
        base[:, 1:, ::2],
        base.view(6, 4)[2:5],
        base.reshape(-1)[3:17:5],
        base.transpose(0, 2),
        base.permute(2, 0, 1)[1],
        base.unsqueeze(0)[0, :, 2],
        base.narrow(2, 1, 2),
        base.flatten(1)[0],
        base.unflatten(2, (2, 2))[..., 1],
        base.select(1, 2),
        base[None, ..., None][0, 1, ..., 0],
        base.chunk(2, dim=2)[1],
        base.split([1, 2], dim=1)[1],
        base.unbind(0)[1],
        base.t() if base.ndim <= 2 else base.mT,
        base.T,
        base.squeeze(),
        base.expand(2, 2, 3, 4)[1],
    ]
    for k, v in enumerate(views):
        assert _shares(v, base), k
        before = base.numpy().copy()
        v.fill_(-1.0 - k)
        after = base.numpy()
        written = after != before
        assert written.sum() == v.numel() or k == len(views) - 1, k  # expand repeats cells
        assert np.all(after[written] == -1.0 - k), k
        base.copy_(torch.tensor(A))  # restore


def test_writes_into_base_show_in_views():
    base = _base()
    v = base[:, 1]
    base.mul_(2)
    np.testing.assert_array_equal(v.numpy(), A[:, 1] * 2)
    base[0, 1, 2] = 100.0
    assert v[0, 2].item() == 100.0
    base[1] = torch.zeros(3, 4)
    assert v[1].tolist() == [0.0] * 4


def test_view_and_reshape():
    base = _base()
    assert base.view(4, 6).shape == (4, 6) and _shares(base.view(4, 6), base)
    assert base.view(-1).shape == (24,)
    assert base.view(2, -1, 3).shape == (2, 4, 3)
    assert base.view((3, 8)).shape == (3, 8) and base.view([3, 8]).shape == (3, 8)
    np.testing.assert_array_equal(base.view(4, 6).numpy(), A.reshape(4, 6))
    # view of a non-contiguous tensor works when the dims it merges are contiguous
    sub = base[:, 1:3]  # (2, 2, 4), strides (12, 4, 1)
    assert sub.view(2, 8).shape == (2, 8) and _shares(sub.view(2, 8), base)
    np.testing.assert_array_equal(sub.view(2, 8).numpy(), A[:, 1:3].reshape(2, 8))
    p = base.permute(1, 0, 2)  # (3, 2, 4)
    np.testing.assert_array_equal(p.view(3, 2, 2, 2).numpy(), A.transpose(1, 0, 2).reshape(
        3, 2, 2, 2))
    # reshape copies only when it must
    t = base.transpose(0, 2)
    r = t.reshape(24)
    assert not _shares(r, base)
    np.testing.assert_array_equal(r.numpy(), A.transpose(2, 1, 0).reshape(24))
    assert _shares(base.reshape(6, 4), base)
    assert base.view_as(torch.zeros(4, 6)).shape == (4, 6)
    assert base.reshape_as(torch.zeros(6, 4)).shape == (6, 4)
    # 0-d and empty
    s = torch.tensor(5.0)
    assert s.view(1).shape == (1,) and s.view(1, 1).view(()).shape == ()
    assert s.reshape(-1).shape == (1,)
    e = torch.zeros(2, 0, 3)
    assert e.view(0, 5).shape == (0, 5) and e.reshape(-1).shape == (0,)
    assert e.view(-1, 3).shape == (0, 3)


def test_view_errors():
    base = _base()
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 24"):
        base.view(5, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        base.view(-1, -1)
    with pytest.raises(RuntimeError, match=r"shape '\[5\]' is invalid for input of size 24"):
        base.view(5)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's "
                       "size and stride"):
        base.transpose(0, 2).view(24)
    with pytest.raises(RuntimeError, match="is invalid for input of size 0"):
        torch.zeros(2, 0, 3).reshape(0, -1)


def test_flatten_unflatten():
    base = _base()
    assert base.flatten().shape == (24,)
    assert base.flatten(1).shape == (2, 12)
    assert base.flatten(0, 1).shape == (6, 4)
    assert torch.flatten(base, -2).shape == (2, 12)
    assert torch.tensor(3.0).flatten().shape == (1,)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        base.flatten(2, 1)
    assert base.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    assert torch.arange(12).unflatten(0, (3, -1)).shape == (3, 4)
    np.testing.assert_array_equal(base.unflatten(-1, (2, -1)).numpy(), A.reshape(2, 3, 2, 2))
    with pytest.raises(RuntimeError, match="is invalid for input of size 12"):
        torch.arange(12).unflatten(0, (5, -1))
    assert base.ravel().shape == (24,)


def test_squeeze_unsqueeze():
    z = torch.zeros(1, 3, 1)
    assert z.squeeze().shape == (3,)
    assert z.squeeze(0).shape == (3, 1)
    assert z.squeeze(1).shape == (1, 3, 1)  # not size 1: unchanged
    assert z.squeeze(-1).shape == (1, 3)
    assert z.squeeze((0, 2)).shape == (3,)
    assert torch.squeeze(z).shape == (3,)
    assert torch.tensor(1.0).squeeze().shape == () and torch.tensor(1.0).squeeze(0).shape == ()
    with pytest.raises(IndexError, match="Dimension out of range"):
        z.squeeze(3)
    x = torch.zeros(2, 3)
    assert x.unsqueeze(0).shape == (1, 2, 3)
    assert x.unsqueeze(2).shape == (2, 3, 1)
    assert x.unsqueeze(-1).shape == (2, 3, 1)
    assert x.unsqueeze(-3).shape == (1, 2, 3)
    assert torch.unsqueeze(torch.tensor(1.0), 0).shape == (1,)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                       r"\[-3, 2\], but got 3\)"):
        x.unsqueeze(3)
    # on a non-contiguous tensor
    t = _base().transpose(0, 2)
    np.testing.assert_array_equal(t.unsqueeze(1).numpy(), np.expand_dims(A.transpose(2, 1, 0), 1))


def test_permute_transpose_t():
    base = _base()
    np.testing.assert_array_equal(base.permute(2, 0, 1).numpy(), A.transpose(2, 0, 1))
    np.testing.assert_array_equal(base.permute((2, 0, 1)).numpy(), A.transpose(2, 0, 1))
    np.testing.assert_array_equal(torch.permute(base, (-1, 0, 1)).numpy(), A.transpose(2, 0, 1))
    np.testing.assert_array_equal(base.transpose(0, 2).numpy(), A.transpose(2, 1, 0))
    np.testing.assert_array_equal(base.swapaxes(0, 1).numpy(), A.swapaxes(0, 1))
    np.testing.assert_array_equal(base.movedim(0, 2).numpy(), np.moveaxis(A, 0, 2))
    m = torch.tensor(A[0])
    np.testing.assert_array_equal(m.t().numpy(), A[0].T)
    np.testing.assert_array_equal(torch.t(m).numpy(), A[0].T)
    assert torch.arange(3).t().shape == (3,)
    assert base.T.shape == (4, 3, 2) and base.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(base.mT.numpy(), A.swapaxes(-1, -2))
    with pytest.raises(RuntimeError, match="number of dimensions in the tensor input does not "
                       "match"):
        base.permute(2, 0)
    with pytest.raises(RuntimeError, match="duplicate dims"):
        base.permute(2, 0, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        base.transpose(0, 3)
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions, but "
                       r"self is 3D"):
        base.t()
    with pytest.raises(RuntimeError, match="tensor.mT is only supported on matrices"):
        torch.zeros(3).mT


def test_expand():
    col = torch.arange(3).reshape(3, 1)
    e = col.expand(3, 4)
    assert e.stride() == (1, 0) and _shares(e, col)
    np.testing.assert_array_equal(e.numpy(), np.broadcast_to(np.arange(3).reshape(3, 1),
                                                             (3, 4)))
    assert col.expand(2, 3, 4).shape == (2, 3, 4)
    assert col.expand(-1, 2).shape == (3, 2)
    assert torch.arange(3).expand_as(torch.zeros(2, 3)).shape == (2, 3)
    assert torch.broadcast_to(torch.arange(3), (2, 3)).shape == (2, 3)
    assert torch.tensor(1.0).expand(2, 2).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match "
                       r"the existing size \(3\) at non-singleton dimension 0"):
        col.expand(4, 2)
    with pytest.raises(RuntimeError, match="must be greater or equal to the number of "
                       "dimensions"):
        col.expand(2)
    with pytest.raises(RuntimeError, match="-1 is not allowed in a leading, non-existing "
                       "dimension"):
        col.expand(-1, 3, 2)


def test_narrow():
    base = _base()
    np.testing.assert_array_equal(base.narrow(2, 1, 2).numpy(), A[:, :, 1:3])
    np.testing.assert_array_equal(base.narrow(1, -2, 2).numpy(), A[:, -2:])
    np.testing.assert_array_equal(torch.narrow(base, 0, 1, 1).numpy(), A[1:2])
    assert base.narrow(2, 4, 0).shape == (2, 3, 0)
    with pytest.raises(RuntimeError, match=r"start \(3\) \+ length \(2\) exceeds dimension "
                       r"size \(4\)"):
        base.narrow(2, 3, 2)
    with pytest.raises(IndexError, match=r"start out of range \(expected to be in range of "
                       r"\[-4, 4\], but got 5\)"):
        base.narrow(2, 5, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        base.narrow(3, 0, 1)


SLICES = [
    (1,), (-1,), (slice(None), 1), (Ellipsis, 2), (None,), (None, Ellipsis, None),
    (slice(None), None, slice(1, 3)), (1, slice(None, None, 2), slice(None, None, 3)),
    (slice(None, None, 2), slice(2, None), slice(-3, -1)), (slice(5, None),),
    (slice(-10, 1),), (Ellipsis,), (), (0, 0, 0), (-1, -1, -1), (slice(1, 1),),
    (slice(None), slice(None, None, 5)), (0, Ellipsis, None), (1, None, 2),
]


@pytest.mark.parametrize("key", SLICES, ids=[str(k) for k in SLICES])
def test_basic_indexing_matches_numpy(key):
    base = _base()
    got = base[key]
    expected = A[key]
    assert tuple(got.shape) == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)
    assert _shares(got, base)
    # and on a non-contiguous base
    t = torch.tensor(np.ascontiguousarray(A.transpose(2, 1, 0))).permute(2, 1, 0)
    np.testing.assert_array_equal(t[key].numpy(), expected)


def test_indexing_0d_and_chained():
    s = torch.tensor(5.0)
    assert s[()].shape == () and s[None].shape == (1,) and s[...].shape == ()
    base = _base()
    assert base[1][2][3].item() == A[1, 2, 3]
    assert base[1, 2, 3].item() == A[1, 2, 3]
    x = torch.arange(10)
    assert x[np.int64(3)].item() == 3


def test_indexing_errors():
    base = _base()
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        base[5]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 3"):
        base[:, -5]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 3"):
        base[0, 0, 0, 0]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        base[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        base[::0]
    with pytest.raises(IndexError):
        torch.tensor(1.0)[0]


def test_setitem_basic():
    base = _base()
    base[0, :, ::2] = 7.0
    expected = A.copy()
    expected[0, :, ::2] = 7.0
    np.testing.assert_array_equal(base.numpy(), expected)
    base[1] = torch.arange(4.0)  # broadcast
    expected[1] = np.arange(4.0)
    np.testing.assert_array_equal(base.numpy(), expected)
    base[..., 1] = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    expected[..., 1] = [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(base.numpy(), expected)
    v = base._version
    base[0, 0, 0] = 1
    assert base._version > v


def test_chunk():
    x = torch.arange(10)
    assert [c.tolist() for c in x.chunk(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(c) for c in x.chunk(4)] == [3, 3, 3, 1]
    assert [len(c) for c in x.chunk(6)] == [2, 2, 2, 2, 2]
    assert [len(c) for c in torch.chunk(x, 20)] == [1] * 10
    assert len(torch.arange(0).chunk(3)) == 1
    parts = _base().chunk(2, dim=2)
    assert [tuple(p.shape) for p in parts] == [(2, 3, 2), (2, 3, 2)]
    assert all(_shares(p, parts[0]) for p in parts)
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0"):
        x.chunk(0)


def test_split_unbind():
    x = torch.arange(5)
    assert [p.tolist() for p in x.split(2)] == [[0, 1], [2, 3], [4]]
    assert [p.tolist() for p in torch.split(x, [2, 3])] == [[0, 1], [2, 3, 4]]
    assert [p.tolist() for p in x.split([0, 5])] == [[], [0, 1, 2, 3, 4]]
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly "
                       "to 5"):
        x.split([2, 2])
    parts = _base().split(3, dim=-1)
    assert [tuple(p.shape) for p in parts] == [(2, 3, 3), (2, 3, 1)]
    rows = _base().unbind(1)
    assert len(rows) == 3
    for k, r in enumerate(rows):
        np.testing.assert_array_equal(r.numpy(), A[:, k])
    assert len(torch.unbind(_base())) == 2
    with pytest.raises(IndexError, match="Dimension out of range"):
        _base().unbind(3)
    assert [p.shape[2] for p in _base().tensor_split(3, dim=2)] == [2, 1, 1]
    assert [list(r.shape) for r in torch.zeros(3, 2)] == [[2], [2], [2]]  # iteration


def test_contiguous():
    base = _base()
    assert base.contiguous() is base
    t = base.transpose(0, 2)
    c = t.contiguous()
    assert c.is_contiguous() and not _shares(c, base)
    assert c.stride() == (6, 2, 1)
    np.testing.assert_array_equal(c.numpy(), A.transpose(2, 1, 0))
    assert base.is_contiguous() and not t.is_contiguous()
    assert torch.zeros(3, 1).expand(3, 4).is_contiguous() is False
    assert torch.zeros(1, 4).t().is_contiguous()  # size-1 dims do not matter
    assert not base[:, :, :2].is_contiguous()


def test_strides_and_offsets():
    base = _base()
    assert base.stride() == (12, 4, 1) and base.stride(-1) == 1
    assert base.transpose(0, 2).stride() == (1, 4, 12)
    v = base[1, 1:, 2:]
    assert v.storage_offset() == 12 + 4 + 2 and v.stride() == (4, 1)


VIEW_GRADS = [
    ("view", lambda x: x.view(4, 6) * 2, lambda x: x.reshape(4, 6) * 2),
    ("reshape", lambda x: x.reshape(-1, 3), lambda x: x.reshape(-1, 3)),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 1), lambda x: x.swapaxes(0, 1)),
    ("slice", lambda x: x[:, 1:, ::2], lambda x: x[:, 1:, ::2]),
    ("index_none", lambda x: x[1, None, ..., 2], lambda x: x[1, None, ..., 2]),
    ("expand", lambda x: x[:, :1].expand(2, 3, 4), lambda x: np.broadcast_to(x[:, :1],
                                                                            (2, 3, 4))),
    ("squeeze", lambda x: x[:1].squeeze(0).unsqueeze(-1),
     lambda x: np.expand_dims(x[0], -1)),
    ("narrow", lambda x: x.narrow(2, 1, 2), lambda x: x[:, :, 1:3]),
    ("flatten", lambda x: x.flatten(1), lambda x: x.reshape(2, 12)),
    ("chunk", lambda x: x.chunk(2, 2)[1] * x.chunk(2, 2)[0],
     lambda x: x[:, :, 2:] * x[:, :, :2]),
    ("unbind", lambda x: x.unbind(1)[2] - x.unbind(1)[0], lambda x: x[:, 2] - x[:, 0]),
    ("mT", lambda x: x.mT, lambda x: x.swapaxes(-1, -2)),
]


@pytest.mark.parametrize("name,fn,ref", VIEW_GRADS, ids=[v[0] for v in VIEW_GRADS])
def test_view_gradients(name, fn, ref):
    # view() of the transposed (strided) layout is an error in PyTorch too
    layouts = ("contiguous",) if name == "view" else ("contiguous", "strided")
    check_op([(2, 3, 4)], fn, ref=ref, layouts=layouts)


def test_view_of_view_keeps_base_storage():
    base = _base()
    v = base.view(6, 4)[1:].transpose(0, 1)[::2]
    assert _shares(v, base)
    assert_close(v, A.reshape(6, 4)[1:].T[::2])
