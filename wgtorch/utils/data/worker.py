"""The worker-process side of the DataLoader: what each loading process runs.

Workers never touch the GPU: wgtorch's device lives in the main process, and a forked child
must not call into the driver. ``worker_loop`` therefore forbids the device first
(``wgtorch.cuda.forbid_device``), so any GPU use in a worker raises ``WorkerGPUError`` (the
DataLoader then loads in the main process); workers send back host data (numpy arrays
inside ``HostTensor``s, numbers, strings) that the main process uploads.
"""

import functools
import os
import pickle
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ...cuda import forbid_device

# How often a waiting worker checks its parent, and the main process its workers (seconds).
MP_STATUS_CHECK_INTERVAL = 1.0

_worker_info = None


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``,
    ``dataset`` (this worker's copy)."""

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_keys", tuple(kwargs))

    def __setattr__(self, key, val):
        raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self._keys)
        return f"{self.__class__.__name__}({items})"


def get_worker_info():
    """Inside a DataLoader worker process, its WorkerInfo; in the main process, None.

    Example (shard an IterableDataset across workers)::

        info = get_worker_info()
        start = 0 if info is None else info.id
        step = 1 if info is None else info.num_workers
    """
    return _worker_info


class WorkerGPUError(RuntimeError):
    """Raised when code running in a DataLoader worker process tries to use the GPU."""


def _gpu_error(worker_id):
    return WorkerGPUError(
        f"DataLoader worker process {worker_id} tried to use the GPU: wgtorch tensors live on "
        "the GPU, which worker processes cannot use. Return numpy arrays or Python numbers "
        "from the Dataset and collate_fn (the main process uploads each batch), or use "
        "num_workers=0."
    )


class ExceptionWrapper:
    """An exception caught in a worker, with its formatted traceback, re-raised in the main
    process by ``reraise`` as PyTorch does ("Caught X in DataLoader worker process N")."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # an exception type whose constructor wants other arguments
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            exception = None  # NOTE: no frame <-> traceback cycle keeping the batches alive


class _KeyErrorMessage(str):
    """KeyError quotes its argument when printed; this keeps the traceback readable."""

    def __repr__(self):
        return self


class IterableStop:
    """Sent by a worker whose IterableDataset iterator is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch (they answer with it)."""


def _contains_tensor(data):
    from ...tensor import Tensor

    if isinstance(data, Tensor):
        return True
    if isinstance(data, dict):
        return any(_contains_tensor(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return any(_contains_tensor(v) for v in data)
    return False


def _seed_worker(base_seed, worker_id):
    import wgtorch

    seed = base_seed + worker_id
    random.seed(seed)
    wgtorch.manual_seed(seed)
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    np.random.seed(np.random.SeedSequence(words).generate_state(4))
    return seed


def worker_loop(is_iterable, dataset, index_queue, data_queue, done_event, auto_collation,
                collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers):
    """Fetch the index batches from ``index_queue`` and put ``(task, pickled batch)`` on
    ``data_queue`` until told to stop (``None``) or the parent process dies."""
    global _worker_info
    from .fetch import create_fetcher

    where = f"in DataLoader worker process {worker_id}"
    try:
        forbid_device(functools.partial(_gpu_error, worker_id))
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=where)
        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                task = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(task, ResumeIteration):
                data_queue.put((task, None))
                iteration_end = False
                fetcher = create_fetcher(is_iterable, dataset, auto_collation, collate_fn,
                                         drop_last)
                continue
            if task is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = task
            if init_exception is not None:
                payload, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                    if _contains_tensor(data):
                        raise _gpu_error(worker_id)
                    # Pickled here, not in the queue's feeder thread, so a failure is reported.
                    payload = bytes(ForkingPickler.dumps(data, pickle.HIGHEST_PROTOCOL))
                except Exception as exc:
                    if isinstance(exc, StopIteration) and is_iterable:
                        payload = IterableStop(worker_id)
                        iteration_end = True
                    else:
                        payload = ExceptionWrapper(where=where)
            data_queue.put((idx, payload))
            del task, index, payload
    except KeyboardInterrupt:
        pass  # the main process handles it and shuts the workers down
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
