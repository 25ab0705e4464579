"""Process groups: ``init_process_group``, ``new_group``, ranks, backends and
``destroy_process_group``.

Backends: every name is served by one engine, MPI (mpi4py over the MPI library of the
``wgtorch[distributed]`` extra, MPICH's wheel). ``"mpi"`` is the native name; ``"gloo"``,
``"nccl"`` (and PyTorch's ``"cpu:gloo,cuda:nccl"`` form) are accepted so that unchanged
scripts run, and ``get_backend()`` returns the name the script asked for.

Ranks: MPI's launcher decides them (``python -m wgtorch.distributed.run``, or
``mpiexec -n N python train.py``). ``init_method`` (``env://``, ``tcp://...``,
``file://...``) is accepted; ``world_size`` and ``rank`` (arguments, or WORLD_SIZE/RANK in
the environment) are checked against MPI's and a mismatch is an error saying how to start
the ranks. With several nodes (``--nnodes``), each node's launcher starts one MPI job and
``init_process_group`` joins them into one world (``rendezvous.py``).

Every group owns a duplicate of its MPI communicator, so a script's own mpi4py traffic never
mixes with wgtorch's; all of them share the process's one communication thread (``engine.py``).
"""

import atexit
import os
from datetime import timedelta

from . import failure, rendezvous
from .engine import Engine, Job
from .env import env_int
from .work import Work, finish_completed, wait_all

default_pg_timeout = timedelta(minutes=30)

MISSING_MPI = (
    "wgtorch.distributed runs on MPI through mpi4py, which could not be loaded ({error}). "
    "Install the extra: pip install 'wgtorch[distributed]' (mpi4py and the MPICH wheel)."
)


class Backend(str):
    """Backend names, as PyTorch's ``Backend``: ``Backend("GLOO") == "gloo"``. All are MPI here."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"
    backend_list = [UNDEFINED, GLOO, NCCL, XCCL, UCC, MPI]
    default_device_backend_map = {"cpu": GLOO, "cuda": NCCL}

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        return str.__new__(cls, getattr(Backend, name.upper(), name.lower()))


def _served_backend(backend):
    """The backend name to record; ValueError for a name no engine here serves."""
    if backend is None or str(backend).lower() == Backend.UNDEFINED:
        return Backend(Backend.MPI)
    name = Backend(backend)
    parts = [p.split(":")[-1] for p in name.split(",")]  # "cpu:gloo,cuda:nccl"
    if not all(p in Backend.backend_list[1:] for p in parts):
        raise ValueError(
            f"Invalid backend: '{backend}'. wgtorch.distributed serves 'mpi', and 'gloo', "
            "'nccl', 'ucc', 'xccl' by the same MPI engine."
        )
    return name


class ProcessGroup:
    """A group of ranks with its own MPI communicator (``init_process_group`` makes the
    world; ``new_group`` makes others). ``rank()`` and ``size()`` are within the group."""

    def __init__(self, comm, global_ranks, backend, timeout_s, name):
        self._comm = comm
        self._global_ranks = list(global_ranks)
        self._group_rank = {g: k for k, g in enumerate(self._global_ranks)}
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self._backend = backend
        self._timeout_s = timeout_s
        self._name = name

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def name(self):
        return self._name

    @property
    def group_name(self):
        return self._name

    def _get_backend_name(self):
        return str(self._backend)

    def __repr__(self):
        return (f"<wgtorch.distributed.ProcessGroup {self._name!r} rank {self._rank} of "
                f"{self._size}, backend {self._backend} (MPI)>")

    @property
    def mpi(self):
        return _world.mpi

    def start(self, name, steps, serial=False):
        """Queue the MPI generator ``steps(comm)`` on the communication thread; its ``Job``."""
        job = Job(name, steps(self._comm), self._timeout_s, serial, rank=get_rank())
        return _world.engine.submit(job)

    def run(self, name, steps, finish=None, outputs=(), async_op=False, serial=False):
        """Run the MPI generator ``steps(comm)`` on the communication thread.

        ``finish(result)`` then runs on this thread (it uploads results into tensors). Returns
        a ``Work`` when ``async_op``, else waits and returns None.
        """
        finish_completed()
        work = Work(self.start(name, steps, serial), finish, outputs)
        if async_op:
            return work
        work.wait()
        return None


class _WorldMeta(type):
    @property
    def WORLD(cls):
        return _world.default_pg


class GroupMember(metaclass=_WorldMeta):
    """``GroupMember.WORLD`` (the default group, None before init) and ``NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = -100


group = GroupMember


class _World:
    def __init__(self):
        self.mpi = None
        self.engine = None
        self.default_pg = None
        self.groups = []
        self.exit_hook = False


_world = _World()


def load_mpi():
    """mpi4py's MPI module; RuntimeError naming the extra to install when it is missing."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as exc:
        raise RuntimeError(MISSING_MPI.format(error=exc)) from exc
    return MPI


def _timeout_seconds(timeout):
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(
            f"Expected timeout argument to be of type datetime.timedelta, got {timeout}"
        )
    return timeout.total_seconds()


def _check_world(size, rank, world_size, want_rank, init_method):
    how = ("start the ranks with `python -m wgtorch.distributed.run --nproc_per_node=N "
           "script.py` or `mpiexec -n N python script.py`")
    uses_env = init_method is None or str(init_method).startswith("env://")
    env_size = env_int("WORLD_SIZE") if uses_env else None
    env_rank = env_int("RANK") if uses_env else None
    for source, value in (("world_size", world_size), ("WORLD_SIZE", env_size)):
        if value is not None and value != -1 and value != size:
            raise RuntimeError(
                f"init_process_group: {source}={value}, but MPI started {size} process"
                f"{'es' if size != 1 else ''} in this job: {how}"
            )
    for source, value in (("rank", want_rank), ("RANK", env_rank)):
        if value is not None and value != -1 and value != rank:
            raise RuntimeError(
                f"init_process_group: {source}={value}, but MPI gave this process rank {rank}: "
                "the ranks are MPI's; do not set them by hand"
            )


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Start the default process group (the world) on MPI.

    ``backend``: "mpi", or "gloo"/"nccl" (served by MPI as well). ``timeout`` (a
    ``timedelta``, default 30 minutes): how long any operation waits for the other ranks
    before raising ``DistBackendError``. Example::

        dist.init_process_group("nccl")      # under python -m wgtorch.distributed.run
        rank, world = dist.get_rank(), dist.get_world_size()
    """
    if _world.default_pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = _served_backend(backend)
    timeout_s = _timeout_seconds(timeout)
    mpi = load_mpi()
    comm = rendezvous.world_comm(mpi, timeout_s)
    _check_world(comm.Get_size(), comm.Get_rank(), world_size, rank, init_method)
    _world.mpi = mpi
    _world.engine = Engine(mpi)
    _world.default_pg = ProcessGroup(comm, range(comm.Get_size()), name, timeout_s,
                                     group_name or "0")
    _world.groups = [_world.default_pg]
    failure.install(comm.Get_size())
    failure.abort_comm = comm
    if not _world.exit_hook:
        atexit.register(_at_exit)  # NOTE: runs before mpi4py's MPI_Finalize (registered earlier)
        _world.exit_hook = True


def _at_exit():
    if _world.default_pg is not None:
        _shutdown(grace_s=1.0)


def _shutdown(grace_s):
    if _world.engine is not None:
        _world.engine.stop(grace_s)
    _world.engine = None
    _world.default_pg = None
    _world.groups = []


def destroy_process_group(group=None):
    """Destroy ``group``; without one (or with the world), every group and the world."""
    if group == GroupMember.NON_GROUP_MEMBER:
        return
    if _world.default_pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if group is None or group is _world.default_pg:
        try:
            wait_all()
        finally:
            _shutdown(grace_s=5.0)
        return
    if group not in _world.groups:
        raise ValueError("Invalid process group specified")
    _world.groups.remove(group)


def is_initialized():
    """True once ``init_process_group`` has run (and the group was not destroyed)."""
    return _world.default_pg is not None


def is_available():
    """True when the MPI engine can be used (mpi4py is installed); it is not started here."""
    from importlib.util import find_spec

    return find_spec("mpi4py") is not None


def is_mpi_available():
    return is_available()


def is_gloo_available():
    """True when "gloo" can be used: here it is served by MPI (see ``is_available``)."""
    return is_available()


def is_nccl_available():
    """True when "nccl" can be used: here it is served by MPI (see ``is_available``)."""
    return is_available()


def is_ucc_available():
    return is_available()


def is_xccl_available():
    return is_available()


def is_torchelastic_launched():
    """True when a torchrun-style launcher (``wgtorch.distributed.run``) started this process."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def get_node_local_rank(fallback_rank=None):
    """LOCAL_RANK from the launcher's environment, else ``fallback_rank``."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow "
        "`get_node_local_rank` to work, assuming you are not running in a multi-device context "
        "and want the code to run locally instead."
    )


def default_group():
    """The world; ValueError (PyTorch's) before ``init_process_group``."""
    if _world.default_pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _world.default_pg


def resolve(group):
    """The ProcessGroup for ``group`` (None: the world); None when this rank is not a member."""
    if group is None or group is _world.default_pg:
        return default_group()
    if group == GroupMember.NON_GROUP_MEMBER:
        default_group()
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"expected a wgtorch.distributed ProcessGroup, got {type(group).__name__}")
    return group


def get_rank(group=None):
    """This process's rank in ``group`` (default: the world); -1 outside the group."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """The number of processes in ``group`` (default: the world); -1 outside the group."""
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """The backend name ``group`` was created with (served by MPI whatever the name)."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg._backend


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members, in group-rank order."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return list(pg._global_ranks)


def get_group_rank(group, global_rank):
    """``global_rank``'s rank within ``group``."""
    pg = resolve(group)
    if pg is None or global_rank not in pg._group_rank:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return pg._group_rank[global_rank]


def get_global_rank(group, group_rank):
    """The global rank of ``group``'s member ``group_rank``."""
    pg = resolve(group)
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return pg._global_ranks[group_rank]


def group_peer(pg, global_rank, group_rank, what):
    """A peer as a rank within ``pg`` from PyTorch's (``src``/``dst``, ``group_src``...) pair."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"Group rank {group_rank} is not part of group {pg}")
        return group_rank
    if global_rank is None:
        raise ValueError("Must specify global_rank or group_rank")
    if global_rank not in pg._group_rank:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg} (as {what})")
    return pg._group_rank[global_rank]


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None,
              sort_ranks=True):
    """A group of some of the world's ranks (all of them by default).

    Every rank of the world must call it (with ``use_local_synchronization=True``, only the
    members). Ranks outside it get ``GroupMember.NON_GROUP_MEMBER``. Example::

        evens = dist.new_group([0, 2])
    """
    world = default_group()
    size = world.size()
    ranks = list(range(size)) if ranks is None else list(ranks)
    if sort_ranks:
        ranks = sorted(ranks)
    for r in ranks:
        if not isinstance(r, int) or not 0 <= r < size:
            raise ValueError(
                "The new group's rank should be within the world_size set by "
                f"init_process_group (got rank {r}, world_size {size})"
            )
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: duplicate ranks in {ranks}")
    member = world.rank() in ranks
    if use_local_synchronization and not member:
        return GroupMember.NON_GROUP_MEMBER
    timeout_s = world._timeout_s if timeout is None else _timeout_seconds(timeout)
    mpi = _world.mpi

    def split(comm):
        if use_local_synchronization:
            sub = comm.Create_group(comm.Get_group().Incl(ranks))
        else:
            color = 0 if member else mpi.UNDEFINED
            sub = comm.Split(color, ranks.index(world.rank()) if member else 0)
        return sub
        yield  # a generator with no MPI request to wait for: the calls above are blocking

    comm = world.start("new_group", split, serial=True).wait()
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    name = group_desc or str(len(_world.groups))
    pg = ProcessGroup(comm, ranks, _served_backend(backend) if backend else world._backend,
                      timeout_s, name)
    _world.groups.append(pg)
    return pg


__all__ = [
    "Backend", "GroupMember", "ProcessGroup", "default_pg_timeout", "destroy_process_group",
    "get_backend", "get_global_rank", "get_group_rank", "get_node_local_rank",
    "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
    "is_available", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "is_ucc_available", "is_xccl_available",
    "new_group",
]
