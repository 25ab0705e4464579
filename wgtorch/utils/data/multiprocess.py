"""The DataLoader iterator that loads in worker processes (``num_workers > 0``).

Index batches go round-robin to the workers, at most ``prefetch_factor`` per worker in
flight; results come back on one queue, possibly out of order, and are returned in order.
Workers stop on ``None`` after the epoch (or at once on break, on an exception, or when the
iterator is garbage-collected) and are joined, so none is left running or unreaped.

If a worker needs the GPU (a map-style Dataset over wgtorch tensors), it reports a
``WorkerGPUError``; the iterator then stops the workers, warns once, and loads the rest of the
epoch (and later epochs) in the main process, which gathers such batches on the GPU. With the
"spawn" and "forkserver" start methods a Dataset holding wgtorch tensors cannot even be sent
to a worker (``DatasetHoldsGPUTensors``): the DataLoader loads in the main process at once.

A worker that dies (a crash, ``os._exit``, a signal) makes the next wait for data raise
PyTorch's ``RuntimeError("DataLoader worker (pid(s) ...) exited unexpectedly")``. When the
Dataset runs in the main process because it needs the GPU, its ``sys.exit()`` (which in
PyTorch would end only its worker) raises that error instead of ending the program.
"""

import contextlib
import itertools
import multiprocessing
import pickle
import queue
import warnings
import weakref
from multiprocessing.reduction import ForkingPickler

from .collate import upload
from .fetch import MapDatasetFetcher
from .iterator import BaseIter, SingleProcessIter
from .prefetch import NOT_READY
from .worker import (
    MP_STATUS_CHECK_INTERVAL,
    ExceptionWrapper,
    IterableStop,
    ResumeIteration,
    WorkerGPUError,
    worker_loop,
)

_PENDING = object()  # a task whose result has not arrived


def warn_main_process_loading(reason):
    warnings.warn(
        f"DataLoader: {reason}; loading in the main process instead of worker processes "
        "(batches of GPU tensors are gathered on the GPU, one kernel per field).",
        stacklevel=4,
    )


class DatasetHoldsGPUTensors(Exception):
    """Starting a "spawn"/"forkserver" worker would pickle a wgtorch tensor of the Dataset."""


def _refuse_gpu_tensor(tensor):
    raise DatasetHoldsGPUTensors


@contextlib.contextmanager
def _gpu_tensors_refused():
    """While workers start, pickling a wgtorch tensor raises DatasetHoldsGPUTensors (instead
    of a TypeError about a cffi object deep inside the GPU buffer)."""
    from ...nn.parameter import Parameter
    from ...tensor import Tensor

    saved = dict(ForkingPickler._extra_reducers)
    ForkingPickler.register(Tensor, _refuse_gpu_tensor)
    ForkingPickler.register(Parameter, _refuse_gpu_tensor)
    try:
        yield
    finally:
        ForkingPickler._extra_reducers.clear()
        ForkingPickler._extra_reducers.update(saved)


def fetch_in_main_process(fetcher, index):
    """``fetcher.fetch(index)`` for a DataLoader that asked for workers but loads in the main
    process: the Dataset's ``sys.exit()`` raises PyTorch's worker error, as it would end only
    a worker there."""
    try:
        return fetcher.fetch(index)
    except SystemExit as exc:
        raise RuntimeError(
            f"DataLoader worker exited unexpectedly: the Dataset raised SystemExit({exc.code}) "
            "while the DataLoader loaded in the main process (its Dataset uses GPU tensors, "
            "which worker processes cannot use)"
        ) from None


class MainProcessFallbackIter(SingleProcessIter):
    """Loading in the main process for a DataLoader with ``num_workers > 0`` whose Dataset
    needs the GPU (see ``fetch_in_main_process``)."""

    def _next_data(self, block):
        if not block:
            return NOT_READY
        return fetch_in_main_process(self._fetcher, next(self._sampler_iter))


class MultiProcessIter(BaseIter):
    """Iterates a DataLoader with ``num_workers`` worker processes."""

    def __init__(self, loader):
        super().__init__(loader)
        self._loader_ref = weakref.ref(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._persistent_workers = loader.persistent_workers
        self._timeout = loader.timeout
        self._local_fetcher = None
        self._shutdown = False
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._data_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        try:
            with _gpu_tensors_refused():
                for worker_id in range(self._num_workers):
                    self._start_worker(ctx, loader, worker_id)
        except DatasetHoldsGPUTensors:
            self._shutdown_workers()
            raise
        self._start_tasks(first_iter=True)

    def _start_worker(self, ctx, loader, worker_id):
        index_queue = ctx.Queue()
        index_queue.cancel_join_thread()  # never block interpreter exit on unsent indices
        w = ctx.Process(
            target=worker_loop,
            args=(self._is_iterable, self._dataset, index_queue, self._data_queue,
                  self._done_event, self._auto_collation, self._collate_fn, self._drop_last,
                  self._base_seed, loader.worker_init_fn, worker_id, self._num_workers),
            daemon=True,
        )
        self._index_queues.append(index_queue)
        w.start()
        self._workers.append(w)

    def _reset(self, loader, first_iter=False):
        self._start_epoch()
        if self._local_fetcher is None:  # else loading in the main process (see above)
            self._start_tasks()

    def _start_tasks(self, first_iter=False):
        self._send_idx = 0  # next task to send
        self._rcvd_idx = 0  # next task to return
        self._task_info = {}  # task -> [worker_id, index, payload or _PENDING]
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for q in self._index_queues:
                q.put(ResumeIteration())
            resuming = self._num_workers
            while resuming > 0:
                idx, _ = self._get_data(block=True)
                if isinstance(idx, ResumeIteration):
                    resuming -= 1  # anything else is a stale result of the previous epoch
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        if self._tasks_outstanding >= self._prefetch_factor * self._num_workers:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker has ended (IterableDataset exhausted)
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = [worker_id, index, _PENDING]
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _try_get_data(self, timeout):
        try:
            return self._data_queue.get(timeout=timeout)
        except queue.Empty:
            failed = [w for i, w in enumerate(self._workers)
                      if self._workers_status[i] and not w.is_alive()]
            if failed:
                pids = ", ".join(str(w.pid) for w in failed)
                self._shutdown_workers()
                raise RuntimeError(
                    f"DataLoader worker (pid(s) {pids}) exited unexpectedly") from None
            return NOT_READY

    def _get_data(self, block):
        if not block:
            return self._try_get_data(0)
        if self._timeout > 0:
            got = self._try_get_data(self._timeout)
            if got is NOT_READY:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            return got
        while True:
            got = self._try_get_data(MP_STATUS_CHECK_INTERVAL)
            if got is not NOT_READY:
                return got

    def _next_data(self, block):
        if self._local_fetcher is not None:
            if not block:
                return NOT_READY
            return fetch_in_main_process(self._local_fetcher, next(self._sampler_iter))
        while True:
            while self._rcvd_idx < self._send_idx:
                worker_id, _, payload = self._task_info[self._rcvd_idx]
                if payload is not _PENDING or self._workers_status[worker_id]:
                    break
                del self._task_info[self._rcvd_idx]  # its worker ended: no data will come
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if info[2] is not _PENDING:
                del self._task_info[self._rcvd_idx]
                return self._process_data(info)
            got = self._get_data(block)
            if got is NOT_READY:
                return NOT_READY
            idx, payload = got
            if not isinstance(idx, int) or idx not in self._task_info:
                continue  # a stale ResumeIteration answer
            self._tasks_outstanding -= 1
            if isinstance(payload, IterableStop):
                self._workers_status[payload.worker_id] = False
                if not self._persistent_workers:
                    self._index_queues[payload.worker_id].put(None)
                self._try_put_index()
                continue
            self._task_info[idx][2] = payload

    def _process_data(self, info):
        self._rcvd_idx += 1
        self._try_put_index()
        payload = info[2]
        if isinstance(payload, ExceptionWrapper):
            if issubclass(payload.exc_type, WorkerGPUError) and not self._is_iterable:
                return self._load_in_main_process(info[1])
            payload.reraise()
        return upload(pickle.loads(payload))

    def _load_in_main_process(self, failed_index):
        """Stop the workers and fetch this and every later batch in the main process."""
        warn_main_process_loading("the Dataset or collate_fn uses GPU tensors")
        pending = [failed_index] + [self._task_info[i][1] for i in sorted(self._task_info)]
        self._task_info.clear()
        self._shutdown_workers()
        loader = self._loader_ref()
        if loader is not None:
            loader._load_in_main = True
        self._sampler_iter = itertools.chain(pending, self._sampler_iter)
        self._local_fetcher = MapDatasetFetcher(self._dataset, self._auto_collation,
                                                self._collate_fn, self._drop_last)
        return fetch_in_main_process(self._local_fetcher, next(self._sampler_iter))

    def _shutdown_workers(self):
        if getattr(self, "_shutdown", True):
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q in self._index_queues:
                q.put(None)
            for w in self._workers:
                w.join(timeout=MP_STATUS_CHECK_INTERVAL)
            for q in self._index_queues:
                q.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=MP_STATUS_CHECK_INTERVAL)  # reap it: no zombie
            self._data_queue.cancel_join_thread()
            self._data_queue.close()

    def __del__(self):
        self._shutdown_workers()
