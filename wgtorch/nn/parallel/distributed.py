"""``DistributedDataParallel``: data-parallel training, one process per GPU, on MPI.

Each process holds a replica of the module and trains on its own share of every batch; DDP
keeps the replicas identical:

- at construction, rank 0's parameters and buffers are broadcast to every rank (after checking
  that every rank built the same parameter shapes);
- during ``backward()``, gradients are averaged across ranks in buckets (``bucket_cap_mb``),
  each bucket's all-reduce starting as soon as its gradients are ready, so communication
  overlaps the rest of backward (see ``wgtorch/distributed/reducer.py``); when ``backward()``
  returns, every rank holds the same averaged ``.grad`` and the optimizers step alike;
- before each forward (of a training step), rank 0's buffers are broadcast
  (``broadcast_buffers``, e.g. BatchNorm's running statistics).

``no_sync()`` skips the all-reduce for the backward passes of forwards run inside it (the
gradients accumulate locally; the first synchronised backward after it averages the sum).
``find_unused_parameters`` and ``static_graph`` handle parameters a forward does not use.
The wrapped module is ``.module``; ``state_dict()`` keys start with ``module.`` as in PyTorch.
``device_ids``/``output_device`` are accepted (one adapter per process).
"""

from contextlib import contextmanager

from ...autograd.grad_mode import is_grad_enabled
from ..module import Module

_MB = 1024 * 1024


def _verify_param_shapes(params, pg):
    from ... import distributed as dist

    mine = [(tuple(p.shape), p.dtype.name) for p in params]
    every = [None] * pg.size()
    dist.all_gather_object(every, mine, group=pg)
    for rank, theirs in enumerate(every):
        if theirs != every[0]:
            raise RuntimeError(
                f"DDP expects same model across all ranks, but Rank {rank} has {len(theirs)} "
                f"params, while rank 0 has inconsistent {len(every[0])} params "
                f"(shapes/dtypes {theirs} vs {every[0]})."
            )


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training across the ranks of ``process_group``.

    Example (under ``python -m wgtorch.distributed.run --nproc_per_node=2 train.py``)::

        dist.init_process_group("nccl")
        model = DistributedDataParallel(Net().to("cuda"))
        loss = F.cross_entropy(model(x), y)
        loss.backward()            # .grad now holds the average over the ranks
        optimizer.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
        from ...distributed.collectives import broadcast_coalesced
        from ...distributed.process_group import resolve
        from ...distributed.reducer import (
            DEFAULT_FIRST_BUCKET_BYTES,
            Reducer,
            compute_bucket_assignment_by_size,
        )

        if mixed_precision is not None or device_mesh is not None:
            raise NotImplementedError(
                "DistributedDataParallel: mixed_precision and device_mesh are not supported")
        self.module = module
        pg = resolve(process_group)
        if pg is None:
            raise RuntimeError("DistributedDataParallel: this rank is not in process_group")
        self.process_group = pg
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        ignored = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        named = [(n, p) for n, p in module.named_parameters() if n not in ignored]
        self._params = [p for _, p in named if p.requires_grad]
        if not self._params:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter "
                "that requires a gradient."
            )
        self.modules_buffers = [b for n, b in module.named_buffers() if n not in ignored]
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * _MB)

        if init_sync:
            _verify_param_shapes(self._params, pg)
            broadcast_coalesced([p for _, p in named] + self.modules_buffers, src=0, group=pg)
        first = DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        buckets = compute_bucket_assignment_by_size(self._params, [first, self.bucket_bytes_cap])
        # Reversed: the last parameters' gradients are ready first in backward.
        self.reducer = Reducer(self._params, list(reversed(buckets)), pg,
                               find_unused_parameters=find_unused_parameters,
                               static_graph=static_graph)

    def will_sync_module_buffers(self):
        return self.require_forward_param_sync and self.broadcast_buffers and bool(
            self.modules_buffers)

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self.reducer.check_finished()
        if self.will_sync_module_buffers():
            from ...distributed.collectives import broadcast_coalesced

            broadcast_coalesced(self.modules_buffers, src=0, group=self.process_group)
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(output)
        else:
            self.require_forward_param_sync = False
        return output

    @contextmanager
    def no_sync(self):
        """Inside, forwards are not followed by gradient all-reduce in backward: gradients
        accumulate locally until the first forward/backward outside it.

        Example::

            with ddp.no_sync():
                ddp(x1).sum().backward()   # local accumulation
            ddp(x2).sum().backward()       # averages the accumulated gradients
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _set_static_graph(self):
        self.static_graph = True
        self.reducer.static_graph = True
        self.reducer.track_use = True

    @property
    def comm_wait_seconds(self):
        """Seconds spent (so far) waiting at the end of backward for gradient all-reduces."""
        return self.reducer.comm_wait_s

    def extra_repr(self):
        return ""


__all__ = ["DistributedDataParallel"]
