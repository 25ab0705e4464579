"""Object collectives: ``broadcast_object_list``, ``all_gather_object``, ``gather_object``,
``scatter_object_list``.

Objects are pickled on the calling thread (tensors inside them travel as their data, dtype,
device and ``requires_grad``, so they arrive as tensors); the communication thread moves the
pickles in two MPI steps, the sizes and then the bytes. As in PyTorch these calls block, and
only objects that pickle can be sent (``pickle.loads`` runs on what other ranks sent: use them
with trusted peers only).
"""

import io
import pickle

import numpy as np

from .collectives import displacements, not_member
from .process_group import group_peer, resolve

_TENSOR = "wgtorch.Tensor"


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        from ..tensor import Tensor

        if isinstance(obj, Tensor):
            from ..nn.parameter import Parameter

            kind = "parameter" if isinstance(obj, Parameter) else "tensor"
            return (_TENSOR, kind, obj.detach().numpy(), obj.dtype.name, str(obj.device),
                    obj.requires_grad)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == _TENSOR):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        from .. import tensor as new_tensor
        from ..dtypes import as_dtype

        _, kind, array, dtype, device, requires_grad = pid
        t = new_tensor(array, dtype=as_dtype(dtype), device=device)
        if kind == "parameter":
            from ..nn.parameter import Parameter

            return Parameter(t, requires_grad=requires_grad)
        return t.requires_grad_(requires_grad) if requires_grad else t


def dumps(obj):
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def loads(data):
    return _Unpickler(io.BytesIO(memoryview(data))).load()


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Broadcast the picklable objects of ``object_list`` from rank ``src`` (default 0):
    the other ranks' ``object_list`` (same length) is filled in place."""
    pg = resolve(group)
    if pg is None:
        return not_member("broadcast_object_list")
    if src is None and group_src is None:
        src = 0
    root = group_peer(pg, src, group_src, "src")
    is_root = pg.rank() == root
    mpi = pg.mpi
    pickles = [dumps(o) for o in object_list] if is_root else None
    sizes = np.array([p.size for p in pickles] if is_root else [0] * len(object_list),
                     dtype=np.int64)
    out = {}

    def steps(comm):
        yield comm.Ibcast(sizes, root=root)
        data = np.concatenate(pickles) if is_root and pickles else np.empty(int(sizes.sum()),
                                                                              np.uint8)
        yield comm.Ibcast([data, mpi.BYTE], root=root)
        out["data"] = data

    pg.run("broadcast_object_list", steps, None, (), async_op=False, serial=True)
    if not is_root:
        offsets = displacements(sizes)
        for k, (start, n) in enumerate(zip(offsets, sizes)):
            object_list[k] = loads(out["data"][start:start + int(n)])


def _gathered(pg, name, obj, root):
    """Every rank's pickled ``obj`` on ``root`` (None: on every rank), as a list of arrays."""
    mine = dumps(obj)
    size = pg.size()
    mpi = pg.mpi
    here = root is None or pg.rank() == root
    out = {}

    def steps(comm):
        counts = np.zeros(size, dtype=np.int64)
        count = np.array([mine.size], dtype=np.int64)
        if root is None:
            yield comm.Iallgather(count, counts)
        else:
            yield comm.Igather(count, counts if here else None, root=root)
        displs = displacements(counts)
        recv = np.empty(int(counts.sum()) if here else 0, dtype=np.uint8)
        spec = [recv, counts.astype(int).tolist(), displs, mpi.BYTE]
        if root is None:
            yield comm.Iallgatherv([mine, mpi.BYTE], spec)
        else:
            yield comm.Igatherv([mine, mpi.BYTE], spec if here else None, root=root)
        out["parts"] = [recv[d:d + int(c)] for d, c in zip(displs, counts)] if here else None

    pg.run(name, steps, None, (), async_op=False, serial=True)
    return out["parts"]


def all_gather_object(object_list, obj, group=None):
    """Gather every rank's picklable ``obj`` into ``object_list`` (one per rank) on every
    rank. Example: ``out = [None] * world; dist.all_gather_object(out, {"rank": rank})``."""
    pg = resolve(group)
    if pg is None:
        return not_member("all_gather_object")
    if len(object_list) < pg.size():
        raise ValueError(f"all_gather_object: object_list needs one entry per rank "
                         f"({pg.size()}), got {len(object_list)}")
    for k, part in enumerate(_gathered(pg, "all_gather_object", obj, None)):
        object_list[k] = loads(part)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Gather every rank's picklable ``obj`` into ``object_gather_list`` on rank ``dst``."""
    pg = resolve(group)
    if pg is None:
        return not_member("gather_object")
    if dst is None and group_dst is None:
        dst = 0
    root = group_peer(pg, dst, group_dst, "dst")
    if pg.rank() == root and object_gather_list is None:
        raise AssertionError("Must provide object_gather_list on dst rank")
    parts = _gathered(pg, "gather_object", obj, root)
    if parts is not None:
        for k, part in enumerate(parts):
            object_gather_list[k] = loads(part)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    """Send ``scatter_object_input_list[r]`` from rank ``src`` to rank r, which finds it in
    ``scatter_object_output_list[0]``."""
    pg = resolve(group)
    if pg is None:
        return not_member("scatter_object_list")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    if src is None and group_src is None:
        src = 0
    root = group_peer(pg, src, group_src, "src")
    is_root = pg.rank() == root
    if is_root and (scatter_object_input_list is None
                    or len(scatter_object_input_list) != pg.size()):
        raise ValueError("source rank must provide non-None scatter_object_input_list with one "
                         "object per rank")
    mpi = pg.mpi
    pickles = [dumps(o) for o in scatter_object_input_list] if is_root else None
    out = {}

    def steps(comm):
        counts = np.array([p.size for p in pickles] if is_root else [0] * comm.Get_size(),
                          dtype=np.int64)
        count = np.zeros(1, dtype=np.int64)
        yield comm.Iscatter(counts if is_root else None, count, root=root)
        recv = np.empty(int(count[0]), dtype=np.uint8)
        send = None
        if is_root:
            send = [np.concatenate(pickles), counts.astype(int).tolist(), displacements(counts),
                    mpi.BYTE]
        yield comm.Iscatterv(send, [recv, mpi.BYTE], root=root)
        out["data"] = recv

    pg.run("scatter_object_list", steps, None, (), async_op=False, serial=True)
    scatter_object_output_list[0] = loads(out["data"])


__all__ = ["all_gather_object", "broadcast_object_list", "gather_object",
           "scatter_object_list"]
