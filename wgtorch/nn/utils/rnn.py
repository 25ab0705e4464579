"""``torch.nn.utils.rnn``: packed sequences and padding.

A ``PackedSequence`` holds the steps of a batch of variable-length sequences one after
another: ``data`` has ``batch_sizes[t]`` rows for time step t (the sequences still running at
t, longest first). Every function here moves rows with one gather kernel (``index_select``)
whose index is built on the host from the lengths, so all of them are differentiable and none
reads the GPU back.

Lengths are host values, as in PyTorch (which keeps ``batch_sizes`` on the CPU): the
recurrent layers plan their time loop from them before recording anything. wgtorch keeps a
"cpu" tensor's data on the adapter too, so the integers of ``batch_sizes``,
``sorted_indices``, ``unsorted_indices`` and the lengths this module makes are also
remembered on the host (``host_ints``); a tensor from elsewhere is read back once.

Decisions: ``enforce_sorted=False`` sorts the lengths stably (PyTorch's sort leaves the
order of equal lengths unspecified); ``unpad_sequence`` does not transpose its argument in
place as PyTorch's does, and returns copies as PyTorch's does.
"""

import weakref
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ... import dtypes as dt
from ...ops.creation import full
from ...ops.creation import tensor as _tensor
from ...ops.shape import cat
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]

_HOST = weakref.WeakKeyDictionary()  # Storage -> (version, values) of host-known int tensors


def _host_tensor(values, device="cpu"):
    """An int64 tensor of ``values`` whose integers stay known on the host."""
    values = tuple(int(v) for v in values)
    t = _tensor(list(values), dtype=dt.int64, device=device)
    _HOST[t._storage] = (t._storage.version, values)
    return t


def host_ints(t):
    """The integers of a 1-D int tensor (or sequence) as a tuple, without a GPU readback when
    this module made the tensor."""
    if not isinstance(t, Tensor):
        return tuple(int(v) for v in np.asarray(t).reshape(-1))
    entry = _HOST.get(t._storage)
    if entry is not None and entry[0] == t._storage.version and t._offset == 0 and \
            t.numel() == len(entry[1]) and t.is_contiguous():
        return entry[1]
    values = tuple(int(v) for v in t.detach().numpy().reshape(-1))
    _HOST[t._storage] = (t._storage.version, values) if t._offset == 0 and t.is_contiguous() \
        and t.numel() == t._storage.numel else None
    return values


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The packed steps of variable-length sequences (made by ``pack_padded_sequence`` or
    ``pack_sequence``); a namedtuple of ``data``, ``batch_sizes`` (on the CPU),
    ``sorted_indices`` and ``unsorted_indices``. Every recurrent layer takes one and returns
    one.

    Example::

        packed = pack_padded_sequence(x, lengths=[5, 3, 2])   # x: (5, 3, features)
        out, (h, c) = lstm(packed)
        padded, lengths = pad_packed_sequence(out)
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; the indices follow data's device, ``batch_sizes`` stays on the
        CPU. Returns self when data does not change."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def follow(t):
            return None if t is None else t.to(data.device)

        return type(self)(data, self.batch_sizes, follow(self.sorted_indices),
                          follow(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to("cuda", *args, **kwargs)

    def cpu(self, *args, **kwargs):
        return self.to("cpu", *args, **kwargs)

    def pin_memory(self):
        return self

    def is_pinned(self):
        return False

    def double(self):
        return self.to(dtype=dt.float64)

    def float(self):
        return self.to(dtype=dt.float32)

    def half(self):
        return self.to(dtype=dt.float16)

    def long(self):
        return self.to(dtype=dt.int64)

    def int(self):
        return self.to(dtype=dt.int32)

    def byte(self):
        return self.to(dtype=dt.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda


def invert_permutation(permutation):
    """The inverse of a permutation tensor (None for None)."""
    if permutation is None:
        return None
    perm = host_ints(permutation)
    inverse = [0] * len(perm)
    for k, p in enumerate(perm):
        inverse[p] = k
    return _host_tensor(inverse, permutation.device)


def _lengths(lengths):
    if isinstance(lengths, Tensor):
        return host_ints(lengths.to(dt.int64) if lengths.dtype is not dt.int64 else lengths)
    return tuple(int(v) for v in np.asarray(lengths).reshape(-1))


def _batch_sizes(lengths):
    """batch_sizes[t]: how many of the (decreasing) lengths exceed t."""
    return [sum(1 for n in lengths if n > t) for t in range(lengths[0])] if lengths else []


def _check_lengths(lengths, sorted_required):
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if sorted_required and any(a < b for a, b in zip(lengths, lengths[1:])):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability.")


def _sort(lengths, enforce_sorted):
    """(sorted lengths, sorted order or None)."""
    _check_lengths(lengths, enforce_sorted)
    if enforce_sorted:
        return lengths, None
    order = sorted(range(len(lengths)), key=lambda b: -lengths[b])
    return tuple(lengths[b] for b in order), order


def _pack(rows, order, lengths, source_row, device):
    """The PackedSequence of ``rows`` (a 2-D+ tensor of source rows): time step t's k-th
    sequence (in sorted order) is row ``source_row(batch index, t)``."""
    sorted_lengths = [lengths[b] for b in order]
    index = [source_row(order[k], t) for t in range(sorted_lengths[0] if order else 0)
             for k in range(len(order)) if sorted_lengths[k] > t]
    data = rows.index_select(0, _host_tensor(index, rows.device))
    batch_sizes = _host_tensor(_batch_sizes(sorted_lengths))
    return data, batch_sizes


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given lengths into a ``PackedSequence`` (one gather kernel).

    With ``enforce_sorted=True`` the lengths must be decreasing; otherwise the batch is sorted
    here and ``sorted_indices``/``unsorted_indices`` remember the order.
    """
    lengths = _lengths(lengths)
    batch = input.shape[0 if batch_first else 1] if input.ndim >= 2 else 0
    steps = input.shape[1 if batch_first else 0]
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    sorted_lengths, order = _sort(lengths, enforce_sorted)
    if sorted_lengths and max(sorted_lengths) > steps:
        raise RuntimeError(f"pack_padded_sequence: a length ({max(sorted_lengths)}) exceeds "
                           f"the padded sequence length ({steps})")
    rows = input.reshape(steps * batch, *input.shape[2:])  # (T*B, *) or (B*T, *)

    def source_row(b, t):
        return b * steps + t if batch_first else t * batch + b

    data, batch_sizes = _pack(rows, order or list(range(batch)), lengths, source_row,
                              input.device)
    sorted_indices = _host_tensor(order, input.device) if order is not None else None
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: returns (padded (T, B, *) or (B, T, *), lengths), the
    batch in its original order, padded with ``padding_value`` to ``total_length`` steps."""
    batch_sizes = host_ints(sequence.batch_sizes)
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{steps}")
        steps = total_length
    data = sequence.data
    batch = batch_sizes[0] if batch_sizes else 0
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(int).tolist()
    sorted_lengths = [sum(1 for n in batch_sizes if n > k) for k in range(batch)]
    unsorted = (host_ints(sequence.unsorted_indices) if sequence.unsorted_indices is not None
                else range(batch))
    pad = data.shape[0]  # the padding row appended below

    def row(b, t):
        k = unsorted[b]  # original batch position b holds sorted sequence k
        return offsets[t] + k if t < sorted_lengths[k] else pad

    if batch_first:
        index = [row(b, t) for b in range(batch) for t in range(steps)]
        shape = (batch, steps)
    else:
        index = [row(b, t) for t in range(steps) for b in range(batch)]
        shape = (steps, batch)
    fill = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, fill], 0).index_select(0, _host_tensor(index, data.device))
    lengths = _host_tensor([sorted_lengths[unsorted[b]] for b in range(batch)])
    return padded.view(*shape, *data.shape[1:]), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into one (max L, B, *) tensor (or (B, max L, *) with
    ``batch_first``), padded with ``padding_value`` on ``padding_side``."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    sequences = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lengths = [s.shape[0] if s.ndim else 1 for s in sequences]
    sequences = [s if s.ndim else s.reshape(1) for s in sequences]
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences[1:]:
        if tuple(s.shape[1:]) != trailing:
            for d, (a, b) in enumerate(zip(trailing, s.shape[1:]), 1):
                if a != b:
                    raise RuntimeError(
                        f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                        f"non-singleton dimension {d}")
            raise RuntimeError("pad_sequence: sequences must have the same number of dims")
    longest = max(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()
    pad = starts[-1]

    def row(b, t):
        k = t - (longest - lengths[b]) if padding_side == "left" else t
        return starts[b] + k if 0 <= k < lengths[b] else pad

    batch = len(sequences)
    if batch_first:
        index = [row(b, t) for b in range(batch) for t in range(longest)]
        shape = (batch, longest)
    else:
        index = [row(b, t) for t in range(longest) for b in range(batch)]
        shape = (longest, batch)
    first = sequences[0]
    fill = full((1, *trailing), padding_value, dtype=first.dtype, device=first.device)
    rows = cat([*sequences, fill], 0).index_select(0, _host_tensor(index, first.device))
    return rows.view(*shape, *trailing)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of its sequences (copies), lengths given."""
    lengths = _lengths(lengths)
    dim = 0 if batch_first else 1
    return [padded_sequences.select(dim, b)[:n].clone() for b, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes (L_i, *) (decreasing lengths unless
    ``enforce_sorted=False``) into a ``PackedSequence``."""
    lengths = tuple(s.shape[0] for s in sequences)
    _, order = _sort(lengths, enforce_sorted)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int).tolist()

    def source_row(b, t):
        return starts[b] + t

    first = sequences[0]
    data, batch_sizes = _pack(cat(list(sequences), 0), order or list(range(len(lengths))),
                              lengths, source_row, first.device)
    sorted_indices = _host_tensor(order, first.device) if order is not None else None
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def unpack_sequence(packed_sequences):
    """The list of sequences of a ``PackedSequence``, in their original order."""
    batch_sizes = host_ints(packed_sequences.batch_sizes)
    batch = batch_sizes[0] if batch_sizes else 0
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).astype(int).tolist()
    unsorted = (host_ints(packed_sequences.unsorted_indices)
                if packed_sequences.unsorted_indices is not None else range(batch))
    data = packed_sequences.data
    result = []
    for b in range(batch):
        k = unsorted[b]
        index = [offsets[t] + k for t, n in enumerate(batch_sizes) if n > k]
        result.append(data.index_select(0, _host_tensor(index, data.device)))
    return result
