"""Point-to-point: ``send``, ``recv``, ``isend``, ``irecv``, ``P2POp``, ``batch_isend_irecv``.

A send reads its tensor back once when it is called (so the tensor may change afterwards);
a receive uploads once, at ``wait()``. Sends and receives run as nonblocking MPI requests
beside every other operation in flight, so a pair of ranks that both send, then both receive,
does not deadlock. ``src=None`` in ``recv``/``irecv`` receives from any rank.
"""

from .collectives import check_single_tensor, not_member, raw
from .process_group import get_global_rank, group_peer, resolve
from .staging import empty_host, from_host, to_host


def _check_peer(pg, peer, kind):
    if peer == pg.rank():
        raise ValueError(
            f"Invalid {kind} rank: {kind} rank should not be the same as the rank of the current "
            "process."
        )


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` without waiting; returns a ``Work``."""
    pg = resolve(group)
    if pg is None:
        return not_member("isend")
    peer = group_peer(pg, dst, group_dst, "dst")
    check_single_tensor(tensor, "tensor")
    _check_peer(pg, peer, "destination")
    data = to_host([tensor])

    def steps(comm):
        yield comm.Isend(raw(data), dest=peer, tag=tag)

    return pg.run(f"isend to rank {peer}", steps, None, [tensor], async_op=True)


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank if None) without waiting; returns a
    ``Work`` (the data is in ``tensor`` after ``wait()``)."""
    check_single_tensor(tensor, "tensor")
    pg = resolve(group)
    if pg is None:
        return not_member("irecv")
    mpi = pg.mpi
    if src is None and group_src is None:
        peer = mpi.ANY_SOURCE
    else:
        peer = group_peer(pg, src, group_src, "src")
        _check_peer(pg, peer, "source")
    data = empty_host([tensor])

    def steps(comm):
        statuses = yield comm.Irecv(raw(data), source=peer, tag=tag)
        source, nbytes = statuses[0].Get_source(), statuses[0].Get_count(mpi.BYTE)
        if nbytes != data.nbytes:
            raise RuntimeError(
                f"irecv: expected {data.nbytes} bytes for a tensor of {data.size} elements, but "
                f"rank {get_global_rank(pg, source)} sent {nbytes} (tag {tag})"
            )
        return data, source

    box = []  # the sender's global rank, once received

    def finish(result):
        array, source = result
        from_host(array, [tensor])
        box.append(get_global_rank(pg, source))

    work = pg.run("irecv", steps, finish, [tensor], async_op=True)
    work._sender = box
    return work


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` and wait until it is sent."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank if None); returns the sender's
    rank (global, or within ``group`` when ``group_src`` was given); -1 outside the group."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    sender = work._sender[0]
    if group_src is not None:
        return resolve(group)._group_rank[sender]
    return sender


class P2POp:
    """One send or receive for ``batch_isend_irecv``: ``P2POp(dist.isend, t, peer)``."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed."
                             "isend`` or ``torch.distributed.irecv``.")
        check_single_tensor(tensor, "tensor")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer

    def __repr__(self):
        return f"P2POp({self.op.__name__}, peer {self.peer}, tag {self.tag})"


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of ``p2p_op_list`` (their order does not matter);
    returns their ``Work`` handles."""
    if not isinstance(p2p_op_list, list) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            works.append(isend(p.tensor, p.peer, p.group, p.tag, p.group_peer))
        else:
            works.append(irecv(p.tensor, p.peer, p.group, p.tag, p.group_peer))
    return works


__all__ = ["P2POp", "batch_isend_irecv", "irecv", "isend", "recv", "send"]
