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
``find_unused_parameters`` and ``static_graph`` handle parameters a forward does not use;
``join()`` handles ranks with different numbers of batches (uneven inputs, see
``wgtorch/distributed/algorithms/join.py``).
The wrapped module is ``.module``; ``state_dict()`` keys start with ``module.`` as in PyTorch.
``device_ids``/``output_device`` are accepted (one adapter per process). The averaged
gradients are views into each bucket's uploaded buffer, as PyTorch's
``gradient_as_bucket_view=True`` makes them (so no copy per parameter); the flag is accepted.
"""

from contextlib import contextmanager

from ...autograd.grad_mode import is_grad_enabled
from ...distributed.algorithms.join import Join, JoinHook, Joinable, _JoinConfig
from ...distributed.collectives import all_reduce_host, broadcast_coalesced
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


class DistributedDataParallel(Module, Joinable):
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
        self._join_config = _JoinConfig.construct_disabled_join_config()
        self._divide_by_initial_world_size = True
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
        joining = self._join_config.enable
        if sync:
            self.reducer.check_finished()
        active = Join.notify_join_context(self) if joining else None
        if self.will_sync_module_buffers():
            src = self._find_common_rank(self.process_group.rank(), True) if joining else 0
            broadcast_coalesced(self.modules_buffers, src=src, group=self.process_group)
        if joining:  # tells the joined ranks whether a gradient all-reduce follows
            all_reduce_host(self.process_group, [1.0 if sync else 0.0])
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(
                output, None if self._divide_by_initial_world_size else active)
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

    # ---- uneven inputs (Join) ---------------------------------------------------------------

    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """A context manager for ranks with different numbers of batches: a rank that runs out
        shadows the others' gradient all-reduces until all are done, then every rank takes
        the model of the last one to finish.

        ``divide_by_initial_world_size``: average over the world size (True, as if the missing
        ranks sent zeros) or over the ranks still training. Example::

            with ddp.join():
                for x, y in my_uneven_batches:
                    loss_fn(ddp(x), y).backward()
                    optimizer.step()
        """
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs):
        return _DDPJoinHook(self, kwargs.get("divide_by_initial_world_size", True))

    @property
    def join_device(self):
        return self._params[0].device

    @property
    def join_process_group(self):
        return self.process_group

    def _find_common_rank(self, rank, condition):
        """The highest rank for which ``condition`` holds (an all-reduce of host values)."""
        found = all_reduce_host(self.process_group, [rank if condition else -1], "MAX").wait()
        if found[0] < 0:
            raise ValueError("Expected rank_cond to be true for at least one process.")
        return int(found[0])

    def _sync_final_model(self, is_last_joiner):
        src = self._find_common_rank(self.process_group.rank(), is_last_joiner)
        broadcast_coalesced([p for p in self.module.parameters()] + self.modules_buffers,
                            src=src, group=self.process_group)

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


class _DDPJoinHook(JoinHook):
    """DDP while joined: shadow each iteration's buffer broadcast and gradient all-reduces;
    at the end, take the model of the last rank to join."""

    def __init__(self, ddp, divide_by_initial_world_size):
        self.ddp = ddp
        ddp._divide_by_initial_world_size = divide_by_initial_world_size

    def main_hook(self):
        ddp = self.ddp
        if ddp.will_sync_module_buffers():
            src = ddp._find_common_rank(ddp.process_group.rank(), False)
            broadcast_coalesced(ddp.modules_buffers, src=src, group=ddp.process_group)
        sync = all_reduce_host(ddp.process_group, [0.0]).wait()[0] != 0
        ddp.require_forward_param_sync = sync
        if sync:
            ddp.reducer.shadow_backward()

    def post_hook(self, is_last_joiner):
        self.ddp._sync_final_model(is_last_joiner)


__all__ = ["DistributedDataParallel"]
