"""DataLoader: batches of a dataset, shuffled, collated, loaded in workers, and on the GPU.

PyTorch's ``torch.utils.data.DataLoader`` with its arguments, defaults and argument errors.
What is particular to wgtorch:

- Batches come out as tensors on the GPU. Each ``next()`` first submits the GPU work of the
  previous step, so the GPU computes step k while batch k+1 is fetched, collated and
  uploaded (see ``prefetch.py``); with workers, arrived batches are uploaded up to
  ``prefetch_factor`` ahead.
- Datasets of GPU tensors (``TensorDataset``, or a ``Dataset`` returning ``data[i]`` rows)
  are gathered with one kernel per field and batch. Such datasets load in the main process:
  worker processes cannot use the GPU (with ``num_workers > 0`` the loader warns and loads
  in the main process). Workers suit datasets that read files or compute with numpy.
- ``pin_memory`` is accepted and does nothing (every batch is uploaded to the GPU anyway).
"""

import multiprocessing
import os
import warnings

from .collate import default_collate, default_convert
from .dataset import IterableDataset, is_gpu_tensor_dataset
from .iterator import SingleProcessIter
from .multiprocess import (
    DatasetHoldsGPUTensors,
    MainProcessFallbackIter,
    MultiProcessIter,
    warn_main_process_loading,
)
from .sampler import BatchSampler, InfiniteConstantSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Example::

        loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)

    Args (as PyTorch's): ``batch_size`` (None turns off batching), ``shuffle``, ``sampler``,
    ``batch_sampler``, ``num_workers``, ``collate_fn``, ``pin_memory`` (no effect),
    ``drop_last``, ``timeout`` (seconds to wait for a worker's batch), ``worker_init_fn``,
    ``multiprocessing_context``, ``generator`` (seeds shuffling and worker seeds),
    ``prefetch_factor`` (batches in flight per worker; default 2 with workers),
    ``persistent_workers``, ``pin_memory_device``.
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
               "persistent_workers")
    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._load_in_main = False  # set when a worker turned out to need the GPU
        self._iterator = None
        self.__initialized = True
        _check_worker_number_rationality(num_workers)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers <= 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                valid = multiprocessing.get_all_start_methods()
                if context not in valid:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {valid!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            elif not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self.__multiprocessing_context = context

    def __setattr__(self, attr, val):
        if self.__initialized and attr in self._FROZEN:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return SingleProcessIter(self)
        if self._load_in_main:
            return MainProcessFallbackIter(self)
        if is_gpu_tensor_dataset(self.dataset):
            warn_main_process_loading("a TensorDataset's tensors live on the GPU")
            self._load_in_main = True
            return MainProcessFallbackIter(self)
        try:
            return MultiProcessIter(self)
        except DatasetHoldsGPUTensors:
            ctx = self.multiprocessing_context or multiprocessing.get_context()
            start = ctx.get_start_method()
            warn_main_process_loading(f"the Dataset holds GPU tensors, which worker processes "
                                      f"started with {start!r} cannot receive")
            self._load_in_main = True
            return MainProcessFallbackIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


def _check_worker_number_rationality(num_workers):
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cpus and num_workers > cpus:
        warnings.warn(
            f"This DataLoader will create {num_workers} worker processes in total. Our suggested "
            f"max number of worker in current system is {cpus}, which is smaller than what this "
            "DataLoader is going to create. Please be aware that excessive worker creation might "
            "get DataLoader running slow or even freeze, lower the worker number to avoid "
            "potential slowness/freeze if necessary.",
            stacklevel=3,
        )
