"""Distributed benchmarks: all-reduce bandwidth, and data-parallel training of the digits CNN.

Usage (numbers go to benchmarks/RESULTS.md)::

    # all-reduce of float32 GPU tensors, 1-100 MB, beside mpi4py on host arrays
    python -m wgtorch.distributed.run --nproc_per_node=2 benchmarks/bench_distributed.py allreduce
    # the same sizes with PyTorch CPU tensors on gloo (the peer), in a venv with torch:
    python -m torch.distributed.run --nproc_per_node=2 benchmarks/bench_distributed.py allreduce \\
        --torch
    # digits CNN (examples/train_digits.py's Net, Adam), global batch 64: 1 process, then 2 ranks
    python benchmarks/bench_distributed.py digits
    python -m wgtorch.distributed.run --nproc_per_node=2 benchmarks/bench_distributed.py digits

Bandwidth is the buffer size divided by the median time of one all-reduce (each rep starts
after a barrier). For wgtorch it is the whole call on a GPU tensor: readback, MPI, upload.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES_MB = (1, 4, 16, 64, 100)


def median_seconds(fn, barrier, reps):
    times = []
    for _ in range(reps):
        barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def allreduce_wgtorch(reps):
    from mpi4py import MPI

    import wgtorch as torch
    import wgtorch.distributed as dist

    dist.init_process_group("mpi")
    rank = dist.get_rank()
    comm = MPI.COMM_WORLD
    rows = []
    for mb in SIZES_MB:
        n = mb * 2**20 // 4
        t = torch.ones(n)
        host = np.ones(n, np.float32)
        dist.all_reduce(t)  # warm-up (pipelines, pools)
        gpu = median_seconds(lambda: dist.all_reduce(t), dist.barrier, reps)

        def host_allreduce():
            comm.Allreduce(MPI.IN_PLACE, host)

        mpi = median_seconds(host_allreduce, comm.Barrier, reps)
        readback = median_seconds(t.numpy, dist.barrier, reps)
        upload = median_seconds(lambda: torch.tensor(host).sum().item(), dist.barrier, reps)
        rows.append((mb, gpu, mpi, readback, upload))
    if rank == 0:
        print("| MB | wgtorch GPU tensor all_reduce GB/s (ms) | mpi4py host Allreduce GB/s (ms) "
              "| readback alone ms | upload alone ms |")
        print("|---|---|---|---|---|")
        for mb, gpu, mpi, readback, upload in rows:
            size = mb * 2**20
            print(f"| {mb} | {size / gpu / 1e9:.2f} ({gpu * 1e3:.1f}) | {size / mpi / 1e9:.2f} "
                  f"({mpi * 1e3:.1f}) | {readback * 1e3:.1f} | {upload * 1e3:.1f} |")
    dist.destroy_process_group()


def allreduce_torch(reps):
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rows = []
    for mb in SIZES_MB:
        t = torch.ones(mb * 2**20 // 4)
        dist.all_reduce(t)
        rows.append((mb, median_seconds(lambda: dist.all_reduce(t), dist.barrier, reps)))
    if dist.get_rank() == 0:
        print("| MB | PyTorch CPU gloo all_reduce GB/s (ms) |")
        print("|---|---|")
        for mb, s in rows:
            print(f"| {mb} | {mb * 2**20 / s / 1e9:.2f} ({s * 1e3:.1f}) |")
    dist.destroy_process_group()


def digits(steps, warmup):
    sys.path.insert(0, os.path.join(HERE, "..", "examples"))
    import train_digits

    import wgtorch as torch
    import wgtorch.distributed as dist
    import wgtorch.nn.functional as F
    from wgtorch.nn.parallel import DistributedDataParallel

    distributed = "RANK" in os.environ
    world = int(os.environ.get("WORLD_SIZE", 1))
    if distributed:
        dist.init_process_group("gloo")
    data = train_digits.Digits(train_digits.DATA, train=True)
    per_rank = 64 // world
    rank = dist.get_rank() if distributed else 0
    torch.manual_seed(0)
    model = train_digits.Net().to("cuda")
    if distributed:
        model = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(rank)
    batches = []
    for _ in range(8):
        idx = rng.integers(0, len(data), per_rank)
        batches.append((torch.tensor(data.images[idx]).to("cuda"),
                        torch.tensor(data.labels[idx]).to("cuda")))

    def step(k):
        x, y = batches[k % len(batches)]
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for k in range(warmup):
        step(k)
    torch.synchronize()
    if distributed:
        dist.barrier()
        model.reducer.comm_wait_s = model.reducer.stage_s = 0.0
    start = time.perf_counter()
    for k in range(steps):
        step(k)
    torch.synchronize()
    seconds = time.perf_counter() - start
    if distributed:
        waits = [None] * world
        dist.all_gather_object(waits, (model.reducer.comm_wait_s, model.reducer.stage_s, seconds))
        if rank == 0:
            comm = statistics.mean(w[0] for w in waits)
            stage = statistics.mean(w[1] for w in waits)
            wall = max(w[2] for w in waits)
            print(f"{world} ranks x batch {per_rank}: {steps / wall:.1f} steps/s "
                  f"({steps * 64 / wall:.0f} samples/s); per step {1e3 * wall / steps:.1f} ms, of "
                  f"which waiting for all-reduces {1e3 * comm / steps:.1f} ms "
                  f"({100 * comm / wall:.0f}%) and gathering + reading back buckets "
                  f"{1e3 * stage / steps:.1f} ms ({100 * stage / wall:.0f}%)")
        dist.destroy_process_group()
    else:
        print(f"1 process x batch 64: {steps / seconds:.1f} steps/s "
              f"({steps * 64 / seconds:.0f} samples/s); per step {1e3 * seconds / steps:.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", choices=["allreduce", "digits"])
    parser.add_argument("--torch", action="store_true", help="PyTorch gloo (allreduce only)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    if args.work == "allreduce":
        (allreduce_torch if args.torch else allreduce_wgtorch)(args.reps)
    else:
        digits(args.steps, args.warmup)


if __name__ == "__main__":
    main()
