"""One rank of a 2-node job on loopback: each node's launcher started its own MPI job, and
init_process_group joined them (rank = node_rank * nproc_per_node + local_rank)."""

import os

import numpy as np
from common import close, ok

import wgtorch as torch
import wgtorch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
local, nproc = int(os.environ["LOCAL_RANK"]), int(os.environ["LOCAL_WORLD_SIZE"])
assert rank == int(os.environ["RANK"]) == int(os.environ["GROUP_RANK"]) * nproc + local
assert world == int(os.environ["WORLD_SIZE"]) == 2 * nproc
ok("ranks across nodes")
t = torch.tensor([float(rank), 1.0])
dist.all_reduce(t)
close("all_reduce across nodes", t, np.array([world * (world - 1) / 2, world], np.float32))
everyone = [None] * world
dist.all_gather_object(everyone, (rank, os.environ["GROUP_RANK"]))
assert everyone == [(r, str(r // nproc)) for r in range(world)], everyone
ok("all_gather_object across nodes")
x = torch.full((5,), float(rank))
dist.broadcast(x, src=world - 1)
close("broadcast from the last node", x, np.full(5, world - 1, np.float32))
if os.environ.get("FAIL_RANK") == str(rank):
    raise ValueError(f"boom in rank {rank}")
dist.barrier()
ok("done")
dist.destroy_process_group()
