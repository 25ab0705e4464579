"""Is the training loop input-bound? The DataLoader's cost inside a real training loop.

Trains the digits CNN of ``examples/train_digits.py`` (batch 64, Adam) and, for each input
pipeline, measures over the same number of steps (repeated, interleaved, medians reported,
since these machines are noisy):

- ``steps/s``, and its ratio to a loop that reuses one batch already on the GPU (the upper
  bound: no input pipeline at all);
- ``input wait``: time per step spent inside ``next(loader)`` fetching, collating and
  uploading. In the ``sync`` loop (``loss.item()`` every step) the GPU has nothing to do
  during that time: it is the GPU idle time between steps that the input causes. In the
  ``async`` loop (loss summed on the GPU, read once) the work of step k is submitted before
  batch k+1 is loaded, so the GPU computes while the host loads; the submit itself (which
  can block while the previous batch of work is still running) is timed apart, not counted
  as input wait.

Pipelines: host numpy samples loaded in the main process and in 2 worker processes; a
TensorDataset on the GPU, and the seed's ``MyDataset`` returning ``data[i]`` rows of GPU
tensors (both gathered with one kernel per field).

Usage: ``python benchmarks/bench_dataloader.py [--steps 40] [--repeats 3] [--out FILE.md]``
"""

import argparse
import os
import statistics
import sys
import time

import wgtorch as torch
import wgtorch.nn.functional as F
from wgtorch.utils.data import DataLoader, Dataset, TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from train_digits import DATA, Digits, Net  # noqa: E402


def endless(loader):
    while True:
        yield from loader


def run(make_batches, steps, sync, warmup=3):
    """(steps/s, mean ms per step inside next()) over ``steps`` training steps."""
    torch.manual_seed(0)
    rt = torch.get_runtime()
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batches = make_batches()
    total = torch.zeros(())
    wait = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            torch.synchronize()
            start = time.perf_counter()
            wait = 0.0
        rt.flush()  # what next() does first; timed apart (see the module docstring)
        t0 = time.perf_counter()
        images, labels = next(batches)
        wait += time.perf_counter() - t0
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
    return steps / seconds, 1000 * wait / steps


class MyDataset(Dataset):
    """The seed document's Dataset: rows of GPU tensors."""

    def __init__(self, data, labels):
        self.data, self.labels = data, labels

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.data[idx], self.labels[idx]


def pipelines(batch_size):
    host = Digits(DATA, train=True)
    images, labels = torch.tensor(host.images), torch.tensor(host.labels)
    fixed = (images[:batch_size].clone(), labels[:batch_size].clone())

    def loader(dataset, **kw):
        return lambda: endless(DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                          drop_last=True, **kw))

    def repeat():
        while True:
            yield fixed

    return {
        "one batch already on the GPU (bound)": repeat,
        "host samples, main process": loader(host),
        "host samples, 2 workers": loader(host, num_workers=2, persistent_workers=True),
        "TensorDataset on the GPU": loader(TensorDataset(images, labels)),
        "MyDataset over GPU tensors": loader(MyDataset(images, labels)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", help="also write the table (markdown) to this file")
    args = parser.parse_args(argv)

    rt = torch.get_runtime()
    lines = [f"adapter: {rt.info['device']} ({rt.info['backend_type']}); digits CNN, batch "
             f"{args.batch_size}; medians of {args.repeats} interleaved runs of {args.steps} "
             "steps", "",
             "| input pipeline | loop | steps/s | vs bound | input wait ms/step | "
             "wait % of step |", "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    makers = pipelines(args.batch_size)
    waits = []
    for sync in (True, False):
        results = {name: [] for name in makers}
        for _ in range(args.repeats):
            for name, make in makers.items():
                results[name].append(run(make, args.steps, sync))
        bound = statistics.median(r[0] for r in results[next(iter(makers))])
        for name, runs in results.items():
            rate = statistics.median(r[0] for r in runs)
            wait = statistics.median(r[1] for r in runs)
            line = (f"| {name} | {'sync' if sync else 'async'} | {rate:.1f} | "
                    f"{rate / bound:.2f} | {wait:.2f} | {100 * wait * rate / 1000:.1f}% |")
            lines.append(line)
            waits.append((wait, 100 * wait * rate / 1000))
            print(line, flush=True)
    worst = max(waits, key=lambda w: w[1])
    summary = (f"Largest input wait: {worst[0]:.2f} ms per step, {worst[1]:.1f}% of a step "
               "(in the sync loop it is GPU idle time between steps).")
    print(summary)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# DataLoader in the training loop\n\nCommand: `python "
                    f"benchmarks/bench_dataloader.py {' '.join(argv or sys.argv[1:])}`. The "
                    "2-core machine is shared: steps/s varies between cells, the input wait "
                    "is the stable figure.\n\n")
            f.write("\n".join(lines) + "\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
