"""DataLoader iterators: the common part, and loading in the main process.

(``multiprocess.py`` holds the iterator that loads in worker processes.)
"""

from ... import random as rnd
from .dataset import IterableDataset
from .fetch import create_fetcher
from .prefetch import NOT_READY, DevicePrefetcher
from .sampler import host_rng


class BaseIter:
    """What every DataLoader iterator has: the index stream and the GPU prefetcher.

    Subclasses define ``_next_data(block)``: the next batch, NOT_READY when ``block`` is
    false and none is ready yet, StopIteration at the end.
    """

    def __init__(self, loader):
        self._dataset = loader.dataset
        self._is_iterable = isinstance(loader.dataset, IterableDataset)
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._collate_fn = loader.collate_fn
        self._prefetch_depth = loader.prefetch_factor or 0
        # Drawn whether or not there are workers (as PyTorch does), so that a seeded
        # generator shuffles the same way for any num_workers.
        # NOTE: below 2**31 so every worker seed fits wgtorch's int64 (32-bit) storage.
        rng = host_rng(loader.generator or rnd.default_generator)
        self._base_seed = int(rng.integers(2**31 - max(loader.num_workers, 1)))
        self._start_epoch()

    def _start_epoch(self):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._prefetcher = DevicePrefetcher(self._prefetch_depth)

    def _reset(self, loader, first_iter=False):
        """Start a new epoch with the same iterator (persistent workers)."""
        self._start_epoch()

    def __iter__(self):
        return self

    def __next__(self):
        # NOTE: the producer is passed per call, not stored: a bound method kept in the
        # prefetcher would make a reference cycle and delay worker shutdown until gc runs.
        batch = self._prefetcher.next(self._next_data)
        self._num_yielded += 1
        return batch

    def __len__(self):
        return len(self._index_sampler)

    def _next_data(self, block):
        raise NotImplementedError


class SingleProcessIter(BaseIter):
    """Fetches each batch in the calling thread when it is asked for (``num_workers=0``)."""

    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = create_fetcher(self._is_iterable, self._dataset, self._auto_collation,
                                       self._collate_fn, self._drop_last)

    def _next_data(self, block):
        if not block:
            return NOT_READY  # fetching ahead here would gain nothing: it is the same thread
        index = next(self._sampler_iter)
        return self._fetcher.fetch(index)
