"""Optimizer steps per second on a 1M-parameter model: wgtorch on the current adapter beside
PyTorch CPU in the same process (the shared venv's torch 2.13).

The model is an MLP 1024-512-1024 (1,050,112 parameters in 4 tensors); gradients are set once
and every timed call is ``opt.step()`` alone (LBFGS: ``opt.step(closure)`` with max_iter=5,
history_size=10, the closure a forward and backward on a 64x1024 batch, for both libraries).
SparseAdam runs on an Embedding(1024, 1024) (1,048,576 parameters) with 64 of its rows in the
gradient: sparse in PyTorch, the same gradient dense in wgtorch (no sparse tensors there).
wgtorch's steps are timed to ``synchronize()`` (the GPU finished them). Each figure is the
median of ``--repeats`` runs of ``--seconds`` seconds, libraries interleaved.

Usage: ``python benchmarks/bench_optim.py [--seconds 2] [--repeats 3] [--only NAdam,RAdam]``
"""

import argparse
import statistics
import time

import numpy as np
import torch as reference

import wgtorch

CASES = [  # (optimizer, kwargs); the first two are the older ones, for scale
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("Adam", dict(lr=1e-3)),
    ("NAdam", dict(lr=1e-3)),
    ("NAdam", dict(lr=1e-3, weight_decay=0.01, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=1e-3)),
    ("Adamax", dict(lr=1e-3)),
    ("ASGD", dict(lr=1e-2, t0=1)),
    ("Rprop", dict(lr=1e-2)),
    ("SparseAdam", dict(lr=1e-3)),
    ("LBFGS", dict(lr=0.1, max_iter=5, history_size=10)),
]


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(1024, 512), lib.nn.Tanh(), lib.nn.Linear(512, 1024))


def _setup(lib, name, kwargs, rng):
    """The optimizer and the callable one timed step makes, in ``lib``."""
    if name == "SparseAdam":
        emb = lib.nn.Embedding(1024, 1024, sparse=True)
        idx = lib.tensor(rng.integers(0, 1024, 64))
        emb(idx).sum().backward()
        opt = lib.optim.SparseAdam(emb.parameters(), **kwargs)
        return lambda: opt.step()
    model = _mlp(lib)
    x = lib.tensor(rng.standard_normal((64, 1024)).astype(np.float32))
    opt = getattr(lib.optim, name)(model.parameters(), **kwargs)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - x) ** 2).mean()
        loss.backward()
        return loss

    if name == "LBFGS":
        return lambda: opt.step(closure)
    closure()
    return lambda: opt.step()


def _rate(lib, step, seconds):
    sync = wgtorch.synchronize if lib is wgtorch else (lambda: None)
    for _ in range(2):  # warm-up: state allocation, pipeline compilation
        step()
    sync()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        if n % 5 == 0 or lib is not wgtorch:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return n / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated optimizer names")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    info = wgtorch.get_runtime().info
    print(f"wgtorch adapter: {info.get('device')} ({info.get('backend_type')}), "
          f"{info.get('description', '')}")
    print(f"torch {reference.__version__}, {reference.get_num_threads()} threads")
    print("| optimizer | wgtorch steps/s | PyTorch CPU steps/s | wgtorch / PyTorch |")
    print("|---|---|---|---|")
    for name, kwargs in CASES:
        if only and name not in only:
            continue
        rates = {wgtorch: [], reference: []}
        for repeat in range(args.repeats):
            for lib in (wgtorch, reference):
                rng = np.random.default_rng(repeat)
                rates[lib].append(_rate(lib, _setup(lib, name, kwargs, rng), args.seconds))
        ours, theirs = (statistics.median(rates[lib]) for lib in (wgtorch, reference))
        label = name + "".join(f", {k}={v}" for k, v in kwargs.items())
        print(f"| {label} | {ours:.3g} | {theirs:.3g} | {ours / theirs:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
