"""Is the training loop input-bound? The DataLoader's cost inside a real training loop.

Trains the digits CNN of ``examples/train_digits.py`` (batch 64, Adam) and, for each input
pipeline, measures over the same number of steps:

- ``steps/s``, and its ratio to a loop that reuses one batch already on the GPU (the upper
  bound: no input pipeline at all);
- ``wait ms``: time per step spent inside ``next(loader)``. With the step synchronised
  (``loss.item()`` every step) the GPU has nothing to do during that time, so it is the GPU
  idle time between steps that the input pipeline causes.

Pipelines: host numpy samples loaded in the main process (with the prefetch submit, and
without it to show what it buys) and in 2 worker processes; a TensorDataset on the GPU
(one gather kernel per field). Loops: ``sync`` reads the loss every step; ``async`` sums it
on the GPU and reads it once, so the GPU computes step k while the host loads batch k+1.

Usage: ``python benchmarks/bench_dataloader.py [--steps 60] [--batch-size 64] [--out FILE.md]``
"""

import argparse
import os
import statistics
import sys
import time
from unittest import mock

import wgtorch as torch
import wgtorch.nn.functional as F
from wgtorch.utils.data import DataLoader, TensorDataset
from wgtorch.utils.data import prefetch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from train_digits import DATA, Digits, Net  # noqa: E402


def endless(loader):
    while True:
        yield from loader


def run(make_batches, steps, sync, warmup=5):
    """(steps/s, mean ms per step inside next()) of ``steps`` training steps."""
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batches = make_batches()
    total = torch.zeros(())
    waits = []
    for i in range(warmup + steps):
        if i == warmup:
            torch.synchronize()
            start = time.perf_counter()
        t0 = time.perf_counter()
        images, labels = next(batches)
        if i >= warmup:
            waits.append(time.perf_counter() - t0)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        if sync:
            loss.item()
        else:
            total += loss.detach()
    total.item()
    seconds = time.perf_counter() - start
    return steps / seconds, 1000 * statistics.fmean(waits)


def pipelines(batch_size):
    host = Digits(DATA, train=True)
    gpu = TensorDataset(torch.tensor(host.images), torch.tensor(host.labels))
    fixed = next(iter(DataLoader(gpu, batch_size=batch_size)))

    def loader(dataset, **kw):
        return lambda: endless(DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                          drop_last=True, **kw))

    def repeat():
        while True:
            yield fixed

    return {
        "one batch already on the GPU (bound)": (repeat, False),
        "host samples, main process": (loader(host), False),
        "host samples, main process, no prefetch submit": (loader(host), True),
        "host samples, 2 workers": (loader(host, num_workers=2, persistent_workers=True), False),
        "TensorDataset on the GPU (gather)": (loader(gpu), False),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args(argv)

    rt = torch.get_runtime()
    lines = [f"adapter: {rt.info['device']} ({rt.info['backend_type']}), digits CNN, batch "
             f"{args.batch_size}, {args.steps} steps per cell", "",
             "| input pipeline | loop | steps/s | vs bound | wait ms/step | wait % of step |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for sync in (True, False):
        bound = None
        for name, (make, no_submit) in pipelines(args.batch_size).items():
            patch = mock.patch.object(prefetch, "submit_pending_work", lambda: None)
            if no_submit:
                patch.start()
            try:
                rate, wait = run(make, args.steps, sync)
            finally:
                if no_submit:
                    patch.stop()
            bound = bound or rate
            share = 100 * wait / (1000 / rate)
            line = (f"| {name} | {'sync' if sync else 'async'} | {rate:.1f} | "
                    f"{rate / bound:.2f} | {wait:.2f} | {share:.1f}% |")
            lines.append(line)
            print(line, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
