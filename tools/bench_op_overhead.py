"""Per-op overhead of small elementwise ops: a chain of 1000 dependent ops on 64 floats.

    python tools/bench_op_overhead.py [--chains 15]     (PYTHONPATH=. from a checkout)

"record" is the Python-side cost of recording one op (wall clock around the loop; the
deferred batches may start running on the adapter meanwhile), "end-to-end" adds the GPU
work and the one readback at the end. Each figure is the minimum over ``--chains`` chains,
the least noisy estimate on a shared machine; "thread cpu" is this thread's CPU time per
op during recording (what the Python code costs, whatever else runs on the machine).
"""

import argparse
import time

import wgtorch as torch

N = 1000


def chain(x, op):
    y = x
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(N):
        y = op(y)
    t1, c1 = time.perf_counter(), time.thread_time()
    y.numpy()
    t2 = time.perf_counter()
    return (t1 - t0) / N * 1e6, (t2 - t0) / N * 1e6, (c1 - c0) / N * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=15)
    args = parser.parse_args()
    x, z = torch.ones(64), torch.ones(64)
    print(f"adapter: {torch.get_runtime().info['device']}")
    for name, op in [("y + 1.0", lambda y: y + 1.0), ("y * z", lambda y: y * z),
                     ("y.sigmoid()", lambda y: y.sigmoid())]:
        chain(x, op)  # compile and warm the caches
        runs = [chain(x, op) for _ in range(args.chains)]
        record, e2e, cpu = (min(r[k] for r in runs) for k in range(3))
        print(f"{name:12s} record {record:6.1f} us/op (thread cpu {cpu:5.1f})   "
              f"end-to-end {e2e:6.1f} us/op")


if __name__ == "__main__":
    main()
