"""nn.utils.rnn against PyTorch 2.13 (CPU): pack_padded_sequence, pad_packed_sequence,
pad_sequence, pack_sequence, unpack_sequence, unpad_sequence, invert_permutation and
PackedSequence; values, gradients, errors, and no host readback for host-made lengths."""

import numpy as np
import pytest

import wgtorch
from wgtorch import nn
from wgtorch.backend import get_runtime

pt = pytest.importorskip("torch")
from torch.nn.utils import rnn as pt_rnn  # noqa: E402

from wgtorch.nn.utils import rnn as wg_rnn  # noqa: E402

RNG = np.random.default_rng(12)


def _np(t):
    return t.detach().numpy()


def same(ours, ref):
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape, f"{a.shape} != {b.shape}"
    np.testing.assert_array_equal(a, b)


def leaves(shape):
    a = RNG.standard_normal(shape).astype(np.float32)
    return pt.tensor(a, requires_grad=True), wgtorch.tensor(a, requires_grad=True)


def same_grad(out_t, out_w, xt, xw):
    g = RNG.standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * pt.tensor(g)).sum().backward()
    (out_w * wgtorch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xw.grad.numpy(), xt.grad.numpy(), atol=1e-6)


def same_packed(ours, ref):
    same(ours.data, ref.data)
    assert ours.batch_sizes.tolist() == ref.batch_sizes.tolist()
    assert ours.batch_sizes.device.type == "cpu"
    for a, b in ((ours.sorted_indices, ref.sorted_indices),
                 (ours.unsorted_indices, ref.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 3, 3, 1], True), ([2, 5, 1, 4], False),
                                                    ([5, 5, 5, 5], False)])
def test_pack_padded_sequence(batch_first, lengths, enforce_sorted):
    xt, xw = leaves((4, 5, 3) if batch_first else (5, 4, 3))
    packed_t = pt_rnn.pack_padded_sequence(xt, lengths, batch_first, enforce_sorted)
    packed_w = wg_rnn.pack_padded_sequence(xw, lengths, batch_first, enforce_sorted)
    same_packed(packed_w, packed_t)
    same_grad(packed_t.data, packed_w.data, xt, xw)
    # lengths as a tensor work too
    again = wg_rnn.pack_padded_sequence(xw, wgtorch.tensor(lengths), batch_first, enforce_sorted)
    same(again.data, packed_t.data)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("total_length,padding_value", [(None, 0.0), (7, -2.5)])
def test_pad_packed_sequence(batch_first, total_length, padding_value):
    lengths = [3, 5, 1]
    xt, xw = leaves((5, 3, 2))
    packed_t = pt_rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    packed_w = wg_rnn.pack_padded_sequence(xw, lengths, enforce_sorted=False)
    pad_t, len_t = pt_rnn.pad_packed_sequence(packed_t, batch_first, padding_value,
                                              total_length)
    pad_w, len_w = wg_rnn.pad_packed_sequence(packed_w, batch_first, padding_value,
                                              total_length)
    same(pad_w, pad_t)
    assert len_w.tolist() == len_t.tolist() and len_w.dtype is wgtorch.int64
    same_grad(pad_t, pad_w, xt, xw)
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of "
                                         "the longest sequence in input, but got "
                                         "total_length=2 and max sequence length being 5"):
        wg_rnn.pad_packed_sequence(packed_w, total_length=2)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_side):
    pairs = [leaves((n, 2, 3)) for n in (3, 5, 1)]
    out_t = pt_rnn.pad_sequence([t for t, _ in pairs], batch_first, 7.0, padding_side)
    out_w = wg_rnn.pad_sequence([w for _, w in pairs], batch_first, 7.0, padding_side)
    same(out_w, out_t)
    g = RNG.standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * pt.tensor(g)).sum().backward()
    (out_w * wgtorch.tensor(g)).sum().backward()
    for t, w in pairs:
        np.testing.assert_allclose(w.grad.numpy(), t.grad.numpy())
    # a tensor is an iterable of sequences
    stacked = RNG.standard_normal((3, 4)).astype(np.float32)
    same(wg_rnn.pad_sequence(wgtorch.tensor(stacked)), pt_rnn.pad_sequence(pt.tensor(stacked)))


def test_pad_sequence_errors():
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, "
                                           "but got middle."):
        wg_rnn.pad_sequence([wgtorch.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        wg_rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        wg_rnn.pad_sequence([wgtorch.ones(2, 3), wgtorch.ones(2, 4)])
    with pytest.raises(RuntimeError, match="Expected iterable for input sequences"):
        wg_rnn.pad_sequence(3)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_sequence(enforce_sorted):
    sizes = (5, 3, 2) if enforce_sorted else (3, 5, 1, 4)
    pairs = [leaves((n, 2)) for n in sizes]
    packed_t = pt_rnn.pack_sequence([t for t, _ in pairs], enforce_sorted)
    packed_w = wg_rnn.pack_sequence([w for _, w in pairs], enforce_sorted)
    same_packed(packed_w, packed_t)
    parts_t = pt_rnn.unpack_sequence(packed_t)
    parts_w = wg_rnn.unpack_sequence(packed_w)
    assert len(parts_w) == len(parts_t)
    for a, b in zip(parts_w, parts_t):
        same(a, b)
    loss_t = sum((p * (k + 1)).sum() for k, p in enumerate(parts_t))
    loss_w = sum((p * (k + 1)).sum() for k, p in enumerate(parts_w))
    loss_t.backward()
    loss_w.backward()
    for t, w in pairs:
        np.testing.assert_allclose(w.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence(batch_first):
    padded = RNG.standard_normal((3, 5, 2) if batch_first else (5, 3, 2)).astype(np.float32)
    lengths = [5, 2, 3]
    ref = pt_rnn.unpad_sequence(pt.tensor(padded), pt.tensor(lengths), batch_first)
    ours = wg_rnn.unpad_sequence(wgtorch.tensor(padded), wgtorch.tensor(lengths), batch_first)
    for a, b in zip(ours, ref):
        same(a, b)


def test_pack_errors():
    x = wgtorch.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order "
                                           "when `enforce_sorted` is True"):
        wg_rnn.pack_padded_sequence(x, [2, 3, 4])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        wg_rnn.pack_padded_sequence(x, [4, 1, 0])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to "
                                           r"batch_size, but got 2 \(batch_size=3\)"):
        wg_rnn.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="exceeds the padded sequence length"):
        wg_rnn.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
        wg_rnn.PackedSequence(x, wgtorch.tensor([3, 3]).to("cuda"))
    assert float(x.sum()) == pytest.approx(float(x.sum()))  # the device is still usable


def test_packed_sequence_is_a_namedtuple_with_to():
    packed = wg_rnn.pack_sequence([wgtorch.ones(3), wgtorch.ones(2)], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert packed.float() is packed
    half = packed.to(wgtorch.float16)
    assert half.data.dtype is wgtorch.float16 and half.batch_sizes is batch_sizes
    moved = packed.to("cpu")
    assert moved.data.device.type == "cpu" and moved.sorted_indices.device.type == "cpu"
    assert moved.batch_sizes.device.type == "cpu"
    assert not packed.is_cuda or packed.data.is_cuda
    inv = wg_rnn.invert_permutation(wgtorch.tensor([2, 0, 1]))
    assert inv.tolist() == pt_rnn.invert_permutation(pt.tensor([2, 0, 1])).tolist()
    assert wg_rnn.invert_permutation(None) is None
    # constructed from (data, batch_sizes)
    again = wg_rnn.PackedSequence((data, batch_sizes))
    assert again.batch_sizes is batch_sizes and again.sorted_indices is None


def test_packed_lengths_stay_on_the_host():
    # packing from host lengths, running an LSTM on it and padding back reads nothing back
    lstm = nn.LSTM(2, 3, bidirectional=True)
    x = wgtorch.randn(6, 4, 2)
    rt = get_runtime()
    wgtorch.synchronize()
    reads = rt.read_count
    packed = wg_rnn.pack_padded_sequence(x, [3, 6, 2, 5], enforce_sorted=False)
    out, (h, c) = lstm(packed)
    padded, lengths = wg_rnn.pad_packed_sequence(out, batch_first=True)
    (padded.sum() + h.sum()).backward()
    assert rt.read_count == reads
    assert lengths.tolist() == [3, 6, 2, 5]
