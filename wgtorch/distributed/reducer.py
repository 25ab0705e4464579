"""DistributedDataParallel's reducer: gradient buckets, all-reduced while backward runs.

As PyTorch's ``Reducer``:

- Parameters are grouped into buckets by dtype and size (``bucket_cap_mb``, 25 MB by default;
  the parameters defined first get a small 1 MB bucket of their own), in reverse definition
  order, which approximates the order backward produces their gradients.
- A post-accumulate-grad hook on every parameter counts the gradients still missing from its
  bucket. When a bucket is complete, its gradients are copied into the bucket's flat GPU buffer
  (one copy kernel each), read back in ONE readback, and handed to the communication thread as
  a nonblocking all-reduce, while backward goes on producing the next buckets' gradients.
  Buckets start strictly in order, so every rank issues the same sequence of collectives.
- When the last bucket has started, the reducer waits for all of them, divides by the world
  size (on the communication thread) and uploads each bucket once; each parameter's ``.grad``
  becomes its slice of the uploaded bucket (a view: no copy), so backward returns with the
  averaged gradients in place.
- With ``find_unused_parameters``, the forward's output graph is walked to find the parameters
  it does not use; they are marked ready at once (their slots are zeros) and a used/unused flag
  per parameter travels with the bucket, so a parameter no rank used keeps ``grad = None``.
  ``static_graph`` walks the graph in the first iteration only and keeps what it found.
- A backward that leaves gradients missing (an unused parameter without
  ``find_unused_parameters``) is reported at the next forward, with PyTorch's message.
"""

import functools
import time

import numpy as np

from .. import no_grad, tensor as new_tensor, zeros
from .staging import host_dtype

DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024
ALIGN = 4  # every gradient slot starts on a vec4 boundary, as the optimizer kernels read vec4s

UNFINISHED_REDUCTION = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This "
    "error indicates that your module has parameters that were not used in producing loss. You "
    "can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by making "
    "sure all `forward` function outputs participate in calculating loss. Parameter indices which "
    "did not receive grad for rank {rank}: {missing}"
)


def compute_bucket_assignment_by_size(params, size_limits):
    """Lists of parameter indices, one per bucket, as PyTorch's
    ``_compute_bucket_assignment_by_size``: parameters of one dtype and device fill a bucket
    until it holds ``size_limits[k]`` bytes (the last limit then applies to every later bucket);
    buckets are ordered by their first parameter."""
    open_buckets = {}  # (dtype, device) -> [indices, bytes, limit number]
    limit_number = {}
    done = []
    for i, p in enumerate(params):
        key = (p.dtype, str(p.device))
        bucket = open_buckets.get(key)
        if bucket is None:
            k = limit_number.get(key, 0)
            bucket = open_buckets[key] = [[], 0, size_limits[min(k, len(size_limits) - 1)]]
        bucket[0].append(i)
        bucket[1] += p.numel() * p.element_size()
        if bucket[1] >= bucket[2]:
            done.append(bucket[0])
            del open_buckets[key]
            limit_number[key] = limit_number.get(key, 0) + 1
    done.extend(b[0] for b in open_buckets.values())
    return sorted(done, key=min)


def _round_up(n):
    return -(-n // ALIGN) * ALIGN


class _Bucket:
    def __init__(self, indices, params):
        self.indices = list(indices)
        self.params = [params[i] for i in self.indices]
        self.offsets, total = [], 0
        for p in self.params:
            self.offsets.append(total)
            total += _round_up(p.numel())
        self.numel = total
        self.dtype = self.params[0].dtype
        self.device = self.params[0].device
        self.flat = None  # GPU buffer the gradients are gathered into (padding stays zero)
        self.pending = 0
        self.used = np.zeros(len(self.params), dtype=np.float64)
        self.job = None


def _find_tensors(obj):
    from ..tensor import Tensor

    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _find_tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _find_tensors(x)


def _reached_leaves(outputs):
    """ids of the leaf tensors the autograd graph of ``outputs`` reaches."""
    seen, leaves = set(), set()
    stack = [t.grad_fn for t in _find_tensors(outputs) if t.grad_fn is not None]
    for t in _find_tensors(outputs):
        if t.grad_fn is None and t.requires_grad:
            leaves.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
        for nxt, _ in node.next_functions:
            if nxt is not None:
                stack.append(nxt)
    return leaves


class Reducer:
    """Averages the gradients of ``params`` across ``process_group`` during backward."""

    def __init__(self, params, bucket_indices, process_group, find_unused_parameters=False,
                 static_graph=False):
        self.params = list(params)
        self.pg = process_group
        self.find_unused = find_unused_parameters
        self.static_graph = static_graph
        self.track_use = find_unused_parameters or static_graph
        self.buckets = [_Bucket(ix, self.params) for ix in bucket_indices]
        self.locate = {}
        for bucket in self.buckets:
            for slot, i in enumerate(bucket.indices):
                self.locate[i] = (bucket, slot)
        self.expect_hooks = False
        self.require_finalize = False
        self.ready = set()
        self.next_bucket = 0
        self.static_unused = None  # static_graph: the unused parameters found in iteration 1
        self.active_ranks = None  # Join: the job counting this iteration's active ranks
        self.comm_wait_s = 0.0  # time blocked waiting for the all-reduces (for benchmarks)
        self.stage_s = 0.0  # time gathering and reading back buckets during backward
        self.handles = [p.register_post_accumulate_grad_hook(functools.partial(self._on_grad, i))
                        for i, p in enumerate(self.params)]

    # ---- forward ---------------------------------------------------------------------------

    def check_finished(self):
        """RuntimeError (PyTorch's) when the previous backward left gradients missing."""
        if self.require_finalize:
            missing = sorted(set(range(len(self.params))) - self.ready)
            self.require_finalize = False
            self.expect_hooks = False
            raise RuntimeError(UNFINISHED_REDUCTION.format(rank=self.pg.rank(), missing=missing))

    def prepare_for_backward(self, outputs, active_ranks=None):
        """Expect this iteration's gradients; mark the parameters ``outputs`` does not use.

        ``active_ranks``: under ``Join`` without ``divide_by_initial_world_size``, the job
        counting the ranks still training (the average then divides by that count).
        """
        self.check_finished()
        self.active_ranks = active_ranks
        self.expect_hooks = True
        self.ready = set()
        self.next_bucket = 0
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)
            bucket.used[:] = 0
            bucket.job = None
        unused = ()
        if self.find_unused or (self.static_graph and self.static_unused is None):
            reached = _reached_leaves(outputs)
            unused = [i for i, p in enumerate(self.params) if id(p) not in reached]
            if self.static_graph:
                self.static_unused = unused
        elif self.static_graph:
            unused = self.static_unused
        for i in unused:
            self._mark_ready(i, used=False)

    # ---- backward --------------------------------------------------------------------------

    def _on_grad(self, index, param):
        if not self.expect_hooks:
            return  # no_sync(), or a forward without gradient sync
        if index in self.ready:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. This error is caused by a "
                f"parameter (index {index}) receiving its gradient twice in one iteration, e.g. "
                "reentrant backward or a second backward over shared parameters. With a static "
                "graph, pass static_graph=True to DistributedDataParallel."
            )
        self.require_finalize = True
        self._mark_ready(index, used=True)

    def _mark_ready(self, index, used):
        bucket, slot = self.locate[index]
        self.ready.add(index)
        bucket.used[slot] = 1.0 if used else 0.0
        bucket.pending -= 1
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets) and self.expect_hooks:
            self._finalize()

    def _launch(self, bucket):
        """Gather the bucket's gradients on the GPU, read them back once, start the all-reduce."""
        start = time.perf_counter()
        if bucket.flat is None:
            bucket.flat = zeros(bucket.numel, dtype=bucket.dtype, device=bucket.device)
        with no_grad():
            for p, offset, used in zip(bucket.params, bucket.offsets, bucket.used):
                if used and p.grad is not None:
                    bucket.flat[offset:offset + p.numel()].copy_(p.grad.reshape(-1))
        host = bucket.flat.numpy()
        for p, offset, used in zip(bucket.params, bucket.offsets, bucket.used):
            if not used or p.grad is None:
                host[offset:offset + p.numel()] = 0
        host = host.astype(self._wire_dtype(bucket), copy=False)
        if self.track_use:
            host = np.concatenate([host, bucket.used.astype(host.dtype)])
        self._all_reduce(bucket, host)
        self.stage_s += time.perf_counter() - start

    @staticmethod
    def _wire_dtype(bucket):
        return np.float32 if host_dtype(bucket.params[0]) == np.float16 else host_dtype(
            bucket.params[0])

    def shadow_backward(self):
        """A joined rank's part of one backward of the others: all-reduce zeros per bucket."""
        for bucket in self.buckets:
            n = bucket.numel + (len(bucket.params) if self.track_use else 0)
            self._all_reduce(bucket, np.zeros(n, dtype=self._wire_dtype(bucket)))
        for bucket in self.buckets:
            bucket.job.wait()

    def _all_reduce(self, bucket, host):
        mpi, n = self.pg.mpi, bucket.numel

        def average(comm):
            yield comm.Iallreduce(mpi.IN_PLACE, host, mpi.SUM)
            host[:n] /= comm.Get_size()
            return host

        bucket.job = self.pg.start(
            f"DistributedDataParallel gradient bucket {self.buckets.index(bucket)}", average)

    def _finalize(self):
        """Wait for every bucket and give each parameter its averaged gradient."""
        self.expect_hooks = False
        self.require_finalize = False
        start = time.perf_counter()
        results = [bucket.job.wait() for bucket in self.buckets]
        self.comm_wait_s += time.perf_counter() - start
        if self.active_ranks is not None:  # Join: average over the ranks still training
            scale = self.pg.size() / self.active_ranks.wait()[0]
            for bucket, host in zip(self.buckets, results):
                host[:bucket.numel] *= scale
        for bucket, host in zip(self.buckets, results):
            staged = new_tensor(host[:bucket.numel], dtype=bucket.dtype, device=bucket.device)
            used_anywhere = host[bucket.numel:] > 0 if self.track_use else None
            for slot, (p, offset) in enumerate(zip(bucket.params, bucket.offsets)):
                if used_anywhere is not None and not used_anywhere[slot]:
                    continue  # no rank used it: its gradient stays as it was (None)
                p.grad = staged[offset:offset + p.numel()].view(p.shape)

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()


__all__ = ["DEFAULT_FIRST_BUCKET_BYTES", "Reducer", "compute_bucket_assignment_by_size"]
