"""``wgtorch.distributed``: PyTorch's ``torch.distributed`` on MPI.

Data-parallel training as PyTorch users write it::

    # python -m wgtorch.distributed.run --nproc_per_node=2 train.py   (or: mpiexec -n 2 ...)
    import wgtorch as torch
    import wgtorch.distributed as dist
    dist.init_process_group("nccl")            # "mpi", "gloo", "nccl": all served by MPI
    model = torch.nn.parallel.DistributedDataParallel(Net().to("cuda"))
    sampler = torch.utils.data.distributed.DistributedSampler(dataset)

The engine is MPI through mpi4py (``pip install 'wgtorch[distributed]'`` installs mpi4py and
MPICH's wheel; no compiler or system package). How it fits together:

- ``process_group.py``: ``init_process_group``, groups, ranks, backend names;
- ``engine.py``: the one thread that issues and completes every MPI operation of a process,
  in order, polling nonblocking requests (timeouts, overlap, no deadlocks in send/recv);
- ``staging.py``: GPU tensors to host arrays and back, one readback and one upload per call;
- ``collectives.py``, ``p2p.py``, ``objects.py``: the operations; ``work.py``: ``Work``;
- ``reducer.py``: DistributedDataParallel's gradient buckets; ``algorithms/join.py``: ``Join``
  (uneven inputs);
- ``run.py``: the torchrun-style launcher; ``rendezvous.py``: joining several nodes;
- ``failure.py``: a failing rank ends the job with its traceback.

Under an MPI launcher, importing this module fills in torchrun's variables (RANK, LOCAL_RANK,
WORLD_SIZE...) from the launcher's (see ``env.py``), and, with more than one rank, makes an
uncaught exception end the whole job (see ``failure.py``). MPI itself starts only in
``init_process_group``.
"""

from . import failure as _failure
from . import algorithms
from .collectives import (
    all_gather,
    all_gather_into_tensor,
    all_gather_single,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    gather,
    monitored_barrier,
    reduce,
    reduce_scatter,
    reduce_scatter_single,
    reduce_scatter_tensor,
    scatter,
)
from .engine import DistBackendError, DistError, DistNetworkError, DistStoreError
from .env import fill_from_mpi_launcher as _fill_env, mpi_launcher_ranks as _mpi_ranks
from .objects import all_gather_object, broadcast_object_list, gather_object, scatter_object_list
from .p2p import P2POp, batch_isend_irecv, irecv, isend, recv, send
from .process_group import (
    Backend,
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_node_local_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    is_ucc_available,
    is_xccl_available,
    new_group,
)
from .reduce_op import ReduceOp
from .work import Work

reduce_op = ReduceOp  # PyTorch's deprecated alias

_fill_env()
_ranks = _mpi_ranks()
if _ranks is not None and _ranks[1] is not None:
    _failure.install(_ranks[1])
del _ranks

__all__ = [
    "Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError",
    "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work", "algorithms", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_gather_single", "all_reduce",
    "all_to_all", "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast",
    "broadcast_object_list", "default_pg_timeout", "destroy_process_group", "gather",
    "gather_object", "get_backend", "get_global_rank", "get_group_rank", "get_node_local_rank",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
    "irecv", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "is_ucc_available", "is_xccl_available",
    "isend", "monitored_barrier", "new_group", "recv", "reduce", "reduce_op", "reduce_scatter",
    "reduce_scatter_single", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]
