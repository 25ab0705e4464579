"""Datasets: PyTorch's ``torch.utils.data`` dataset classes and ``random_split``.

A map-style dataset answers ``dataset[i]`` (and may answer ``dataset.__getitems__(indices)``
with a whole batch at once); an iterable dataset is iterated. ``TensorDataset`` over GPU
tensors answers ``__getitems__`` with one gather kernel per tensor, so a batch costs one
dispatch per field rather than one per sample.
"""

import bisect
import math
import warnings
from collections.abc import Sequence

import numpy as np

from ... import dtypes as dt
from ...tensor import Tensor
from .sampler import host_rng


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``).

    A subclass may also define ``__getitems__(indices)`` returning the list of samples for a
    batch of indices at once; the DataLoader then calls it instead of ``__getitem__`` per
    sample.

    Example::

        class Squares(Dataset):
            def __len__(self):
                return 10

            def __getitem__(self, i):
                return i, i * i
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy of the dataset; use
    ``get_worker_info()`` inside ``__iter__`` to give each worker a different shard.
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of the given tensors: ``dataset[i] == tuple(t[i] for t in tensors)``.

    A batch of indices is gathered with one ``index_select`` kernel per tensor.

    Example::

        ds = TensorDataset(torch.randn(100, 784), torch.randint(0, 10, (100,)))
        x, y = ds[0]
    """

    def __init__(self, *tensors):
        assert all(
            tensors[0].size(0) == tensor.size(0) for tensor in tensors
        ), "Size mismatch between tensors"
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __getitems__(self, indices):
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            bad = rows.max() if rows.max() >= n else rows.min()
            raise IndexError(f"index {bad} is out of bounds for dimension 0 with size {n}")
        return GatheredSamples([gather_rows(tensor, rows % max(n, 1)) for tensor in self.tensors])

    def __len__(self):
        return self.tensors[0].size(0)


_last_index = [None, None]  # (rows bytes, index tensor) of the last batch gathered


def _index_tensor(rows, device):
    """``rows`` on the GPU; the fields of one batch share one upload."""
    # NOTE: a second upload into a pooled buffer that the pending batch still uses would
    # flush, and a flush can wait for the previous step's work (lavapipe): reuse the index.
    key = (rows.tobytes(), device)
    if _last_index[0] != key:
        _last_index[:] = key, Tensor._from_numpy(rows, dt.int64, device)
    return _last_index[1]


def gather_rows(source, rows):
    """``source[rows]`` for a host array of row numbers (non-negative, in range): one
    ``index_select`` kernel, recorded for autograd where source needs it.

    Its bounds check costs no readback (the index's range is known from the upload, and the
    kernel's own check only flags), so the loader uses the ordinary checked op: the same one
    dispatch per field as an unchecked gather, and the same steps/s in
    benchmarks/bench_dataloader.py (about 20 us more host time per field).
    """
    return source.index_select(0, _index_tensor(rows, source.device))


class GatheredSamples(Sequence):
    """The samples of a batch that was gathered whole, one tensor per field.

    It behaves as the list of per-sample tuples that a ``collate_fn`` expects (indexing makes
    views of the gathered tensors), and ``default_collate`` takes the gathered tensors as they
    are, without stacking anything.
    """

    def __init__(self, fields):
        self.fields = fields

    def __len__(self):
        return self.fields[0].shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return tuple(field[i] for field in self.fields)

    def __repr__(self):
        shapes = ", ".join(str(tuple(f.shape)) for f in self.fields)
        return f"GatheredSamples({len(self)} samples; fields {shapes})"


class StackDataset(Dataset):
    """Samples are tuples (``StackDataset(a, b)``) or dicts (``StackDataset(x=a, y=b)``) of
    the samples of equally long datasets."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError(
                "Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                "input/output, but both types are given."
            )
        datasets = args or tuple(kwargs.values())
        if not datasets:
            raise ValueError("At least one dataset should be passed")
        self._length = len(datasets[0])
        if any(self._length != len(d) for d in datasets):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    """The concatenation of several map-style datasets."""

    @staticmethod
    def cumsum(sequence):
        r, s = [], 0
        for e in sequence:
            s += len(e)
            r.append(s)
        return r

    def __init__(self, datasets):
        self.datasets = list(datasets)
        assert len(self.datasets) > 0, "datasets should not be an empty iterable"
        for d in self.datasets:
            assert not isinstance(d, IterableDataset), (
                "ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """The concatenation of several iterable datasets, chained on the fly."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            assert isinstance(d, IterableDataset), "ChainDataset only supports IterableDataset"
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            assert isinstance(d, IterableDataset), "ChainDataset only supports IterableDataset"
            total += len(d)
        return total


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        # Keep the wrapped dataset's batched fetch (TensorDataset's one-kernel gather).
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[idx] for idx in indices])
        return [self.dataset[self.indices[idx]] for idx in indices]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (the
    remainder left by flooring goes round-robin to the first subsets). The permutation is
    drawn from ``generator`` (default: the global generator, so ``manual_seed`` fixes it).

    Example::

        train, test = random_split(ds, [0.8, 0.2], generator=torch.Generator().manual_seed(0))
    """
    from ... import random as rnd

    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(n * frac)))
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset."
                )
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = host_rng(generator or rnd.default_generator).permutation(n).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start : start + length]))
        start += length
    return subsets


def is_gpu_tensor_dataset(dataset):
    """Whether fetching from ``dataset`` reads tensors (which live on the GPU)."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, TensorDataset) and all(
        isinstance(t, Tensor) for t in dataset.tensors)
