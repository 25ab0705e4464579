"""The tensor collectives: ``all_reduce``, ``broadcast``, ``reduce``, ``all_gather``,
``all_gather_into_tensor``, ``gather``, ``scatter``, ``reduce_scatter``,
``reduce_scatter_tensor``, ``all_to_all``, ``all_to_all_single``, ``barrier``.

Each one: PyTorch's signature and checks, then one readback of its inputs (only on the
ranks whose data is sent), one nonblocking MPI collective on the communication thread, and
one upload of the result (only on the ranks that receive one); see ``staging.py``. With
``async_op=True`` the call returns a ``Work`` at once and the outputs are written at
``wait()``. Ranks (``src``, ``dst``) are global, as in PyTorch; ``group_src``/``group_dst``
give them within the group. Data is moved as raw bytes, so every dtype travels unchanged.
Uneven sizes are allowed where PyTorch allows them (``all_gather``'s list, ``all_to_all``,
``all_to_all_single`` splits, ``reduce_scatter``'s list).
"""

import warnings

import numpy as np

from .process_group import GroupMember, group_peer, resolve
from .reduce_op import HostReduction, ReduceOp, as_reduce_op
from .staging import empty_host, from_host, host_dtype, to_host
from .work import wait_all


def check_single_tensor(param, param_name):
    from ..tensor import Tensor

    if not isinstance(param, Tensor):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param_name}` of type torch.Tensor "
            f"but got {type(param)} instead."
        )


def check_tensor_list(param, param_name):
    from ..tensor import Tensor

    if not isinstance(param, list):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param_name}` of type "
            f"List[torch.Tensor] but got {type(param)} instead."
        )
    if not all(isinstance(p, Tensor) for p in param):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param_name}` of type "
            f"List[torch.Tensor] but got {type(param)} with elements of type "
            f"{[type(p) for p in param]}."
        )


def same_dtype(*tensors):
    dtypes = {t.dtype for group in tensors for t in (group if isinstance(group, list) else [group])}
    if len(dtypes) > 1:
        a, b = sorted(dtypes, key=str)[:2]
        raise ValueError(f"Invalid usage of tensors with different dtypes. Found {a} and {b}")


def not_member(op_name):
    from .process_group import get_rank

    warnings.warn(
        f"Running {op_name} on global rank {get_rank()} which does not belong to the given "
        "group.",
        stacklevel=3,
    )


def raw(array):
    """A contiguous host array as bytes (MPI moves every dtype, float16 and bool too)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def displacements(counts):
    """Where each of ``counts`` consecutive pieces starts (MPI's ``displs``)."""
    starts, offset = [], 0
    for c in counts:
        starts.append(offset)
        offset += int(c)
    return starts


def byte_layout(tensors):
    """(byte counts, byte displacements) of ``tensors`` laid end to end."""
    counts = [t.numel() * host_dtype(t).itemsize for t in tensors]
    return counts, displacements(counts)


def _uploader(tensors):
    def upload(result):
        from_host(result, tensors)

    return upload


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group in place: every rank gets the result.

    Example: ``dist.all_reduce(t, op=dist.ReduceOp.SUM)``.
    """
    check_single_tensor(tensor, "tensor")
    pg = resolve(group)
    if pg is None:
        return not_member("all_reduce")
    reduction = HostReduction(as_reduce_op(op, "all_reduce"), host_dtype(tensor), "all_reduce")
    data = reduction.working_array(to_host([tensor]))
    mpi = pg.mpi

    def steps(comm):
        yield comm.Iallreduce(mpi.IN_PLACE, data, reduction.mpi_op(mpi))
        return reduction.finish(data, comm.Get_size())

    return pg.run("all_reduce", steps, _uploader([tensor]), [tensor], async_op)


def all_reduce_host(pg, values, op="SUM"):
    """Start an all-reduce of a few control numbers held on the host (no GPU transfer);
    returns the ``Job``, whose ``wait()`` gives the reduced float64 array."""
    data = np.array(values, dtype=np.float64)
    mpi = pg.mpi

    def steps(comm):
        yield comm.Iallreduce(mpi.IN_PLACE, data, getattr(mpi, op))
        return data

    return pg.start("all_reduce of control values", steps)


def _broadcast_flat(pg, tensors, root, name, async_op):
    """Broadcast ``tensors`` (one dtype) as one flat buffer: read back on the root only."""
    is_root = pg.rank() == root
    data = to_host(tensors) if is_root else empty_host(tensors)

    def steps(comm):
        yield comm.Ibcast(raw(data), root=root)
        return data

    return pg.run(name, steps, None if is_root else _uploader(tensors), tensors, async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` from rank ``src`` to every rank of the group."""
    pg = resolve(group)
    root = group_peer(pg, src, group_src, "src") if pg is not None else None
    check_single_tensor(tensor, "tensor")
    if pg is None:
        return not_member("broadcast")
    return _broadcast_flat(pg, [tensor], root, "broadcast", async_op)


def broadcast_coalesced(tensors, src=0, group=None):
    """Broadcast ``tensors`` from group rank ``src`` with one readback (on ``src``) and one
    upload (elsewhere) per dtype, as DDP syncs a module's parameters and buffers."""
    pg = resolve(group)
    if pg is None:
        return not_member("broadcast_coalesced")
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    works = [_broadcast_flat(pg, ts, src, "broadcast_coalesced", True) for ts in by_dtype.values()]
    for work in works:
        work.wait()


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` across the group into rank ``dst``'s ``tensor`` (others unchanged)."""
    pg = resolve(group)
    root = group_peer(pg, dst, group_dst, "dst") if pg is not None else None
    check_single_tensor(tensor, "tensor")
    if pg is None:
        return not_member("reduce")
    reduction = HostReduction(as_reduce_op(op, "reduce"), host_dtype(tensor), "reduce")
    data = reduction.working_array(to_host([tensor]))
    is_root = pg.rank() == root
    mpi = pg.mpi

    def steps(comm):
        if is_root:
            yield comm.Ireduce(mpi.IN_PLACE, data, reduction.mpi_op(mpi), root=root)
        else:
            yield comm.Ireduce(data, None, reduction.mpi_op(mpi), root=root)
        return reduction.finish(data, comm.Get_size())

    return pg.run("reduce", steps, _uploader([tensor]) if is_root else None, [tensor], async_op)


def _check_list_length(op_name, tensors, pg, name):
    if len(tensors) != pg.size():
        raise ValueError(
            f"{op_name}: {name} holds {len(tensors)} tensors; it needs one per rank of the group "
            f"({pg.size()})"
        )


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's ``tensor`` into ``tensor_list`` (one tensor per rank, in rank
    order, on every rank). Sizes may differ between ranks: ``tensor_list[r]`` is rank r's."""
    check_tensor_list(tensor_list, "tensor_list")
    check_single_tensor(tensor, "tensor")
    same_dtype(tensor_list, tensor)
    pg = resolve(group)
    if pg is None:
        return not_member("all_gather")
    _check_list_length("all_gather", tensor_list, pg, "tensor_list")
    mine = tensor_list[pg.rank()].numel()
    if mine != tensor.numel():
        raise ValueError(
            f"all_gather: tensor has {tensor.numel()} elements but tensor_list[{pg.rank()}] "
            f"(this rank's slot) has {mine}"
        )
    send = to_host([tensor])
    recv = empty_host(tensor_list)
    counts, displs = byte_layout(tensor_list)
    mpi = pg.mpi

    def steps(comm):
        yield comm.Iallgatherv(raw(send), [raw(recv), counts, displs, mpi.BYTE])
        return recv

    return pg.run("all_gather", steps, _uploader(tensor_list), tensor_list, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated along dim 0
    (shape ``(world * n, ...)``) or stacked (``(world, n, ...)``): rank order either way."""
    check_single_tensor(input_tensor, "input_tensor")
    check_single_tensor(output_tensor, "output_tensor")
    pg = resolve(group)
    if pg is None:
        return not_member("all_gather_into_tensor")
    if output_tensor.dtype != input_tensor.dtype:
        raise TypeError("output tensor must have the same type as input tensor")
    if output_tensor.numel() != pg.size() * input_tensor.numel():
        raise ValueError("output tensor size must be equal to world_size times input tensor "
                         f"size ({list(output_tensor.shape)} vs {pg.size()} x "
                         f"{list(input_tensor.shape)})")
    send = to_host([input_tensor])
    recv = empty_host([output_tensor])

    def steps(comm):
        yield comm.Iallgather(raw(send), raw(recv))
        return recv

    return pg.run("all_gather_into_tensor", steps, _uploader([output_tensor]), [output_tensor],
                  async_op)


all_gather_single = all_gather_into_tensor


def _validate_list_for_root(is_root, tensors, name, where):
    if is_root and not tensors:
        raise ValueError(f"Argument ``{name}`` must be specified on {where} rank.")
    if not is_root and tensors:
        raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{where} ranks.")


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Gather every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (default 0)."""
    check_single_tensor(tensor, "tensor")
    if gather_list:
        check_tensor_list(gather_list, "gather_list")
    else:
        gather_list = []
    if dst is None and group_dst is None:
        dst = 0
    pg = resolve(group)
    if pg is None:
        return not_member("gather")
    root = group_peer(pg, dst, group_dst, "dst")
    is_root = pg.rank() == root
    _validate_list_for_root(is_root, gather_list, "gather_list", "destination")
    if is_root:
        _check_list_length("gather", gather_list, pg, "gather_list")
        same_dtype(gather_list, tensor)
        for t in gather_list:
            if t.numel() != tensor.numel():
                raise ValueError("gather: every tensor of gather_list must have the size of "
                                 f"tensor ({tensor.numel()} elements), got {t.numel()}")
    send = to_host([tensor])
    recv = empty_host(gather_list) if is_root else None

    def steps(comm):
        yield comm.Igather(raw(send), raw(recv) if is_root else None, root=root)
        return recv

    return pg.run("gather", steps, _uploader(gather_list) if is_root else None, gather_list,
                  async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Send ``scatter_list[r]`` from rank ``src`` (default 0) into rank r's ``tensor``."""
    check_single_tensor(tensor, "tensor")
    if scatter_list:
        check_tensor_list(scatter_list, "scatter_list")
    else:
        scatter_list = []
    if src is None and group_src is None:
        src = 0
    pg = resolve(group)
    if pg is None:
        return not_member("scatter")
    root = group_peer(pg, src, group_src, "src")
    is_root = pg.rank() == root
    _validate_list_for_root(is_root, scatter_list, "scatter_list", "source")
    if is_root:
        _check_list_length("scatter", scatter_list, pg, "scatter_list")
        same_dtype(scatter_list, tensor)
        for t in scatter_list:
            if t.numel() != tensor.numel():
                raise ValueError("scatter: every tensor of scatter_list must have the size of "
                                 f"tensor ({tensor.numel()} elements), got {t.numel()}")
    send = to_host(scatter_list) if is_root else None
    recv = empty_host([tensor])

    def steps(comm):
        yield comm.Iscatter(raw(send) if is_root else None, raw(recv), root=root)
        return recv

    return pg.run("scatter", steps, _uploader([tensor]), [tensor], async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[r]`` across the group into rank r's ``output`` (sizes may differ
    between the list's entries; ``output`` matches this rank's entry)."""
    check_single_tensor(output, "output")
    check_tensor_list(input_list, "input_list")
    same_dtype(output, input_list)
    pg = resolve(group)
    if pg is None:
        return not_member("reduce_scatter")
    _check_list_length("reduce_scatter", input_list, pg, "input_list")
    counts = [t.numel() for t in input_list]
    if counts[pg.rank()] != output.numel():
        raise ValueError(f"reduce_scatter: output has {output.numel()} elements but "
                         f"input_list[{pg.rank()}] has {counts[pg.rank()]}")
    reduction = HostReduction(as_reduce_op(op, "reduce_scatter"), host_dtype(output),
                              "reduce_scatter")
    send = reduction.working_array(to_host(input_list))
    recv = np.empty(output.numel(), dtype=send.dtype)
    mpi = pg.mpi

    def steps(comm):
        yield comm.Ireduce_scatter(send, recv, counts, reduction.mpi_op(mpi))
        return reduction.finish(recv, comm.Get_size())

    return pg.run("reduce_scatter", steps, _uploader([output]), [output], async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (``world`` equal chunks along dim 0, or stacked) across the group;
    rank r's ``output`` gets the reduced chunk r."""
    check_single_tensor(output, "output")
    check_single_tensor(input, "input")
    pg = resolve(group)
    if pg is None:
        return not_member("reduce_scatter_tensor")
    if output.dtype != input.dtype:
        raise TypeError("input tensor must be the same type as the output tensor.")
    if input.numel() != pg.size() * output.numel():
        raise ValueError("input tensor must be the same size as output size times world size "
                         f"({list(input.shape)} vs {pg.size()} x {list(output.shape)})")
    reduction = HostReduction(as_reduce_op(op, "reduce_scatter_tensor"), host_dtype(output),
                              "reduce_scatter_tensor")
    send = reduction.working_array(to_host([input]))
    recv = np.empty(output.numel(), dtype=send.dtype)
    mpi = pg.mpi

    def steps(comm):
        yield comm.Ireduce_scatter_block(send, recv, reduction.mpi_op(mpi))
        return reduction.finish(recv, comm.Get_size())

    return pg.run("reduce_scatter_tensor", steps, _uploader([output]), [output], async_op)


reduce_scatter_single = reduce_scatter_tensor


def _alltoallv(pg, name, send, send_layout, recv, recv_layout, outputs, async_op):
    mpi = pg.mpi

    def steps(comm):
        yield comm.Ialltoallv([raw(send), *send_layout, mpi.BYTE],
                              [raw(recv), *recv_layout, mpi.BYTE])
        return recv

    return pg.run(name, steps, _uploader(outputs), outputs, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Send ``input_tensor_list[r]`` to rank r; receive rank r's into
    ``output_tensor_list[r]``. Sizes may differ from pair to pair."""
    check_tensor_list(output_tensor_list, "output_tensor_list")
    check_tensor_list(input_tensor_list, "input_tensor_list")
    same_dtype(output_tensor_list, input_tensor_list)
    pg = resolve(group)
    if pg is None:
        return not_member("all_to_all")
    _check_list_length("all_to_all", output_tensor_list, pg, "output_tensor_list")
    _check_list_length("all_to_all", input_tensor_list, pg, "input_tensor_list")
    send = to_host(input_tensor_list)
    recv = empty_host(output_tensor_list)
    return _alltoallv(pg, "all_to_all", send, byte_layout(input_tensor_list), recv,
                      byte_layout(output_tensor_list), output_tensor_list, async_op)


def _split_layout(t, splits, size, what):
    """Byte counts/displacements of ``t`` cut along dim 0 by ``splits`` (equal if None)."""
    rows = t.shape[0] if t.ndim else 1
    row_bytes = (t.numel() // rows if rows else 0) * host_dtype(t).itemsize
    if splits is None or len(splits) == 0:
        if rows % size:
            raise ValueError(f"all_to_all_single: {what} dim 0 ({rows}) is not divisible by the "
                             f"group size ({size}); pass {what}_split_sizes")
        splits = [rows // size] * size
    splits = [int(s) for s in splits]
    if len(splits) != size or sum(splits) != rows:
        raise ValueError(f"all_to_all_single: {what}_split_sizes {splits} must have one entry per "
                         f"rank ({size}) and sum to dim 0 ({rows})")
    counts = [s * row_bytes for s in splits]
    return counts, displacements(counts)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    """Split ``input`` along dim 0 (equally, or by ``input_split_sizes``), send piece r to
    rank r, and concatenate the pieces received into ``output`` (by ``output_split_sizes``)."""
    check_single_tensor(output, "output")
    check_single_tensor(input, "input")
    same_dtype(output, input)
    pg = resolve(group)
    if pg is None:
        return not_member("all_to_all_single")
    send_layout = _split_layout(input, input_split_sizes, pg.size(), "input")
    recv_layout = _split_layout(output, output_split_sizes, pg.size(), "output")
    return _alltoallv(pg, "all_to_all_single", to_host([input]), send_layout,
                      empty_host([output]), recv_layout, [output], async_op)


def barrier(group=GroupMember.WORLD, async_op=False, device_ids=None):
    """Wait until every rank of the group reaches the barrier (earlier asynchronous
    operations of this rank complete first)."""
    pg = resolve(group)
    if pg is None:
        return not_member("barrier")
    wait_all()

    def steps(comm):
        yield comm.Ibarrier()

    return pg.run("barrier", steps, None, (), async_op)


def monitored_barrier(group=GroupMember.WORLD, timeout=None, wait_all_ranks=False):
    """A barrier that fails after ``timeout`` (a ``timedelta``; default: the group's)."""
    work = barrier(group, async_op=True)
    if work is not None:
        work.wait(timeout)


__all__ = [
    "all_gather", "all_gather_into_tensor", "all_gather_single", "all_reduce", "all_to_all",
    "all_to_all_single", "barrier", "broadcast", "broadcast_coalesced", "gather",
    "monitored_barrier", "reduce", "reduce_scatter", "reduce_scatter_single",
    "reduce_scatter_tensor", "scatter",
]
