"""Every collective of wgtorch.distributed against numpy, on each rank of a 2+ rank job.

Each rank's inputs come from a seeded generator, so every rank can compute what every other
rank sent and hence the expected result. Shapes include non-contiguous views, 0-d and empty
tensors, sizes that are not multiples of 4, several dtypes, and uneven sizes across ranks.
"""

import json
import os
import warnings
from datetime import timedelta

import numpy as np
from common import close, ok, raises, say

import wgtorch as torch
import wgtorch.distributed as dist
from wgtorch.distributed import ReduceOp


def data(rank, shape, seed, kind="f"):
    rng = np.random.default_rng(1000 * seed + rank)
    if kind == "f":
        return rng.uniform(-2, 2, size=shape).astype(np.float32)
    if kind == "i":
        return rng.integers(-50, 50, size=shape).astype(np.int64)
    if kind == "b":
        return rng.random(size=shape) < 0.5
    raise ValueError(kind)


def every(shape, seed, kind="f"):
    return [data(r, shape, seed, kind) for r in range(WORLD)]


def strided(array):
    """A non-contiguous wgtorch view holding ``array`` (2-d: a transpose) and its base."""
    base = torch.tensor(np.ascontiguousarray(array.T))
    return base.t(), base


def transfers():
    """(host readbacks, uploads) so far: each collective call should add one of each."""
    rt = torch.get_runtime()
    if not hasattr(rt, "uploads"):
        write = rt.write

        def counting_write(*args, **kwargs):
            rt.uploads += 1
            return write(*args, **kwargs)

        rt.uploads = 0
        rt.write = counting_write
    return rt.read_count, rt.uploads


def check_one_transfer_each(name, before):
    reads, uploads = (a - b for a, b in zip(transfers(), before))
    assert (reads, uploads) == (1, 1), f"{name}: {reads} readbacks and {uploads} uploads"


def check_environment():
    env = {k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                                          "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK")}
    say(f"[rank {RANK}] ENV {json.dumps(env)}")
    assert env["RANK"] == str(RANK) and env["WORLD_SIZE"] == str(WORLD), env
    assert env["LOCAL_RANK"] == str(RANK) and env["LOCAL_WORLD_SIZE"] == str(WORLD), env
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert torch.device(f"cuda:{RANK}") == torch.device("cuda")
    ok("environment")


def check_all_reduce():
    for op, reduce in ((ReduceOp.SUM, np.sum), (ReduceOp.PRODUCT, np.prod),
                       (ReduceOp.MIN, np.min), (ReduceOp.MAX, np.max)):
        t = torch.tensor(data(RANK, (3, 5), 1))
        dist.all_reduce(t, op=op)
        close(f"all_reduce {op.name}", t, reduce(np.stack(every((3, 5), 1)), axis=0), rtol=1e-5)
    t = torch.tensor(data(RANK, (7,), 2))
    dist.all_reduce(t, op=ReduceOp.AVG)
    close("all_reduce AVG", t, np.mean(np.stack(every((7,), 2)), axis=0).astype(np.float32))

    view, base = strided(data(RANK, (4, 6), 3))
    before = base.numpy()
    dist.all_reduce(view)
    close("all_reduce non-contiguous", view, np.sum(np.stack(every((4, 6), 3)), axis=0))
    assert view._storage is base._storage and base.numpy().shape == before.shape

    rows = torch.tensor(data(RANK, (5, 3), 4))
    dist.all_reduce(rows[1:4, 1])  # a strided slice: only its elements change
    expect = data(RANK, (5, 3), 4)
    expect[1:4, 1] = np.sum(np.stack([d[1:4, 1] for d in every((5, 3), 4)]), axis=0)
    close("all_reduce into a slice", rows, expect)

    ints = every((9,), 5, "i")
    for op, reduce in ((ReduceOp.SUM, np.sum), (ReduceOp.MAX, np.max),
                       (ReduceOp.BAND, np.bitwise_and.reduce), (ReduceOp.BOR,
                                                                np.bitwise_or.reduce),
                       (ReduceOp.BXOR, np.bitwise_xor.reduce)):
        t = torch.tensor(ints[RANK])
        dist.all_reduce(t, op=op)
        close(f"all_reduce int64 {op.name}", t, reduce(np.stack(ints), axis=0))
    t = torch.tensor(ints[RANK])
    dist.all_reduce(t, op=ReduceOp.AVG)
    close("all_reduce int64 AVG", t, np.trunc(np.sum(np.stack(ints), 0) / WORLD).astype(np.int64))

    bools = every((6,), 6, "b")
    for op, reduce in ((ReduceOp.SUM, np.any), (ReduceOp.MIN, np.all)):
        t = torch.tensor(bools[RANK])
        dist.all_reduce(t, op=op)
        close(f"all_reduce bool {op.name}", t, reduce(np.stack(bools), axis=0))

    halves = [d.astype(np.float16) for d in every((5,), 7)]
    t = torch.tensor(halves[RANK], dtype=torch.float16)
    dist.all_reduce(t)
    expect = np.sum(np.stack(halves).astype(np.float32), 0).astype(np.float16)
    close("all_reduce float16", t, expect, atol=1e-3)

    scalar = torch.tensor(float(RANK + 1))
    dist.all_reduce(scalar)
    close("all_reduce 0-d", scalar, np.float32(WORLD * (WORLD + 1) / 2))
    empty = torch.zeros(0, 3)
    dist.all_reduce(empty)
    close("all_reduce empty", empty, np.zeros((0, 3), np.float32))

    big = every((70001,), 8)  # not a multiple of 4, more than the loop limit of one invocation
    t = torch.tensor(big[RANK])
    before = transfers()
    dist.all_reduce(t)
    check_one_transfer_each("all_reduce", before)
    close("all_reduce one readback one upload", t, np.sum(np.stack(big), 0), rtol=1e-5)

    p = torch.ones(4, requires_grad=True)  # a leaf requiring grad is reduced in place too
    dist.all_reduce(p)
    close("all_reduce of a parameter", p, np.full(4, WORLD, np.float32))


def check_async():
    arrays = [every((4 + k,), 10 + k) for k in range(3)]
    tensors = [torch.tensor(a[RANK]) for a in arrays]
    works = [dist.all_reduce(t, async_op=True) for t in tensors]
    for work in reversed(works):
        assert work.wait() is True
        assert work.is_completed() and work.is_success() and work.exception() is None
    for k, (t, a) in enumerate(zip(tensors, arrays)):
        close(f"async all_reduce {k}", t, np.sum(np.stack(a), 0))
    t = torch.tensor(data(RANK, (3,), 13))
    work = dist.broadcast(t, src=0, async_op=True)
    dist.barrier()  # completes earlier work: t holds the result even without wait()
    close("async result without wait", t, every((3,), 13)[0])
    work.wait()
    assert work.result()[0] is t
    ok("async work handles")


def check_broadcast_reduce():
    src = WORLD - 1
    view, _ = strided(data(RANK, (3, 4), 20))
    dist.broadcast(view, src=src)
    close("broadcast non-contiguous", view, every((3, 4), 20)[src])
    ints = torch.tensor(every((5,), 21, "i")[RANK])
    dist.broadcast(ints, group_src=0)
    close("broadcast int64 group_src", ints, every((5,), 21, "i")[0])

    t = torch.tensor(data(RANK, (6,), 22))
    dist.reduce(t, dst=src, op=ReduceOp.MAX)
    expect = np.max(np.stack(every((6,), 22)), 0) if RANK == src else data(RANK, (6,), 22)
    close("reduce MAX to dst", t, expect)


def check_gathers():
    sizes = [r + 2 for r in range(WORLD)]  # uneven: rank r sends r + 2 elements
    mine = torch.tensor(data(RANK, (sizes[RANK],), 30))
    out = [torch.zeros(n) for n in sizes]
    before = transfers()
    dist.all_gather(out, mine)
    check_one_transfer_each("all_gather", before)
    for r, t in enumerate(out):
        close(f"all_gather uneven from {r}", t, data(r, (sizes[r],), 30))

    x = torch.tensor(data(RANK, (2, 3), 31))
    cat_out = torch.zeros(2 * WORLD, 3)
    dist.all_gather_into_tensor(cat_out, x)
    close("all_gather_into_tensor concat", cat_out, np.concatenate(every((2, 3), 31)))
    stack_out = torch.zeros(WORLD, 2, 3)
    dist.all_gather_into_tensor(stack_out, x)
    close("all_gather_into_tensor stacked", stack_out, np.stack(every((2, 3), 31)))

    x = torch.tensor(data(RANK, (3,), 32))
    dst = WORLD - 1
    gather_list = [torch.zeros(3) for _ in range(WORLD)] if RANK == dst else None
    dist.gather(x, gather_list, dst=dst)
    if RANK == dst:
        for r, t in enumerate(gather_list):
            close(f"gather from {r}", t, data(r, (3,), 32))
    ok("gather")

    src = WORLD - 1
    pieces = [torch.tensor(data(r, (2, 2), 33)) for r in range(WORLD)] if RANK == src else None
    got = torch.zeros(2, 2)
    dist.scatter(got, pieces, src=src)
    close("scatter", got, data(RANK, (2, 2), 33))


def check_reduce_scatter_all_to_all():
    sizes = [r + 1 for r in range(WORLD)]
    inputs = [[data(r, (n,), 40 + k) for k, n in enumerate(sizes)] for r in range(WORLD)]
    out = torch.zeros(sizes[RANK])
    dist.reduce_scatter(out, [torch.tensor(a) for a in inputs[RANK]])
    close("reduce_scatter uneven", out, np.sum(np.stack([inputs[r][RANK] for r in range(WORLD)]),
                                               0))
    big = every((WORLD * 3, 2), 45)
    out = torch.zeros(3, 2)
    dist.reduce_scatter_tensor(out, torch.tensor(big[RANK]), op=ReduceOp.AVG)
    close("reduce_scatter_tensor AVG", out,
          np.mean(np.stack(big), 0)[3 * RANK:3 * RANK + 3].astype(np.float32))

    # all_to_all with a different size for every (sender, receiver) pair
    def piece(sender, receiver):
        return data(sender, (sender + 2 * receiver + 1,), 50 + receiver)

    outs = [torch.zeros(s + 2 * RANK + 1) for s in range(WORLD)]
    dist.all_to_all(outs, [torch.tensor(piece(RANK, d)) for d in range(WORLD)])
    for s, t in enumerate(outs):
        close(f"all_to_all uneven from {s}", t, piece(s, RANK))

    def splits(sender):
        return [sender + d + 1 for d in range(WORLD)]  # rows rank `sender` sends to each rank

    rows = every((sum(splits(RANK)), 3), 55)
    out_rows = [splits(s)[RANK] for s in range(WORLD)]
    out = torch.zeros(sum(out_rows), 3)
    dist.all_to_all_single(out, torch.tensor(rows[RANK]), output_split_sizes=out_rows,
                           input_split_sizes=splits(RANK))
    expect = []
    for s in range(WORLD):
        start = sum(splits(s)[:RANK])
        expect.append(rows[s][start:start + splits(s)[RANK]])
    close("all_to_all_single uneven splits", out, np.concatenate(expect))
    even = every((2 * WORLD,), 56)
    out = torch.zeros(2 * WORLD)
    dist.all_to_all_single(out, torch.tensor(even[RANK]))
    close("all_to_all_single even", out,
          np.concatenate([even[s][2 * RANK:2 * RANK + 2] for s in range(WORLD)]))


def check_point_to_point():
    peer = (RANK + 1) % WORLD
    prev = (RANK - 1) % WORLD
    big = 200_000  # large enough for MPI's rendezvous protocol: both ranks send first
    send = dist.isend(torch.tensor(data(RANK, (big,), 60)), dst=peer, tag=3)
    got = torch.zeros(big)
    recv = dist.irecv(got, src=prev, tag=3)
    recv.wait()
    send.wait()
    close("isend/irecv ring", got, data(prev, (big,), 60))
    assert recv.source_rank() == prev

    if RANK == 0:
        for _ in range(1, WORLD):
            t = torch.zeros(2, dtype=torch.int64)
            sender = dist.recv(t, tag=5)  # from any rank
            close(f"recv any source ({sender})", t, np.array([sender, 7 * sender], np.int64))
    else:
        dist.send(torch.tensor([RANK, 7 * RANK]), dst=0, tag=5)
    got = torch.zeros(3)
    ops = [dist.P2POp(dist.isend, torch.tensor(data(RANK, (3,), 61)), peer),
           dist.P2POp(dist.irecv, got, prev)]
    for work in dist.batch_isend_irecv(ops):
        work.wait()
    close("batch_isend_irecv", got, data(prev, (3,), 61))
    if RANK == 0:
        dist.send(torch.zeros(3), dst=1, tag=9)
    elif RANK == 1:
        raises("recv of a message of another size", RuntimeError, dist.recv, torch.zeros(4),
               src=0, tag=9, match="expected 16 bytes")


def check_groups():
    last = WORLD - 1
    group = dist.new_group([last])
    assert dist.get_world_size(group) == (1 if RANK == last else -1)
    assert dist.get_rank(group) == (0 if RANK == last else -1)
    t = torch.ones(2) * (RANK + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = dist.all_reduce(t, group=group)
    assert result is None
    if RANK == last:
        close("all_reduce in a 1-rank group", t, np.full(2, WORLD, np.float32))
        assert dist.get_process_group_ranks(group) == [last]
        assert dist.get_global_rank(group, 0) == last
    else:
        assert group == dist.GroupMember.NON_GROUP_MEMBER
        assert any("does not belong to the given group" in str(w.message) for w in caught)
        close("all_reduce outside the group leaves the tensor", t,
              np.full(2, RANK + 1, np.float32))
    if RANK == last:  # only the members call it with local synchronization
        alone = dist.new_group([last], use_local_synchronization=True)
        t = torch.full((2,), 3.0)
        dist.all_reduce(t, op=ReduceOp.PRODUCT, group=alone)
        close("new_group with local synchronization", t, np.full(2, 3.0, np.float32))
    everyone = dist.new_group(timeout=timedelta(seconds=60))
    t = torch.tensor(data(RANK, (3,), 70))
    dist.broadcast(t, src=last, group=everyone)
    close("broadcast in a new group", t, data(last, (3,), 70))
    ok("groups")


def check_objects():
    objs = [{"rank": RANK, "t": torch.arange(3) * RANK, "s": "x" * (RANK * 100)}, RANK]
    gathered = [None] * WORLD
    dist.all_gather_object(gathered, objs[0])
    for r, o in enumerate(gathered):
        assert o["rank"] == r and o["s"] == "x" * (r * 100)
        close(f"all_gather_object tensor {r}", o["t"], np.arange(3, dtype=np.int64) * r)
    src = WORLD - 1
    box = [None, None, None]
    if RANK == src:
        box = ["hello", {"w": torch.ones(2, requires_grad=True)}, [RANK] * 5]
    dist.broadcast_object_list(box, src=src)
    assert box[0] == "hello" and box[2] == [src] * 5 and box[1]["w"].requires_grad
    out = [None] * WORLD if RANK == 0 else None
    dist.gather_object(("r", RANK), out, dst=0)
    if RANK == 0:
        assert out == [("r", r) for r in range(WORLD)], out
    got = [None]
    dist.scatter_object_list(got, [f"to {r}" for r in range(WORLD)] if RANK == src else None,
                             src=src)
    assert got == [f"to {RANK}"], got
    ok("object collectives")


def check_errors():
    t = torch.zeros(3)
    raises("all_reduce of a list", TypeError, dist.all_reduce, [t])
    raises("all_gather wrong list length", ValueError, dist.all_gather, [t], t)
    raises("all_gather mixed dtypes", ValueError, dist.all_gather,
           [torch.zeros(3, dtype=torch.int64)] * WORLD, t)
    raises("broadcast without src", ValueError, dist.broadcast, t, match="Must specify")
    raises("broadcast to an unknown rank", ValueError, dist.broadcast, t, src=WORLD + 3)
    raises("gather_list on a non-destination rank", ValueError, dist.gather, t,
           [t] * WORLD, dst=(RANK + 1) % WORLD, match="must NOT be specified")
    raises("BAND on floats", RuntimeError, dist.all_reduce, t, op=ReduceOp.BAND)
    raises("PREMUL_SUM", ValueError, dist.all_reduce, t, op=ReduceOp.PREMUL_SUM)
    raises("all_gather_into_tensor sizes", ValueError, dist.all_gather_into_tensor,
           torch.zeros(5), torch.zeros(3))
    raises("send to self", ValueError, dist.send, t, dst=RANK)
    raises("init twice", ValueError, dist.init_process_group, "mpi", match="twice")
    t = torch.ones(3)
    dist.all_reduce(t)  # the group still works after refused calls
    close("usable after errors", t, np.full(3, WORLD, np.float32))


if __name__ == "__main__":
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    check_environment()
    check_all_reduce()
    check_async()
    check_broadcast_reduce()
    check_gathers()
    check_reduce_scatter_all_to_all()
    check_point_to_point()
    check_groups()
    check_objects()
    check_errors()
    dist.barrier()
    dist.monitored_barrier(timeout=timedelta(seconds=30))
    dist.destroy_process_group()
    assert not dist.is_initialized()
    ok("done", RANK)
