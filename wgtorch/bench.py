"""Shader micro-benchmarks: ``python -m wgtorch.bench`` (also ``python -m wgtorch bench``).

Times built-in kernels (matmul, elementwise, reduction, softmax, conv, optimizer step) or a
user WGSL file on the chosen adapter (``WGTORCH_ADAPTER``). Each case reports the first-call
time (pipeline compilation included) apart from the timed runs, the median/min/max of N runs
(GPU timestamp queries when the adapter has them, else wall clock around a synchronize: the
output says which), GFLOP/s, GB/s and the same work in numpy on the host.

Examples::

    python -m wgtorch.bench                          # the default set
    python -m wgtorch.bench --kernels matmul --sizes 512,1024 --json out.json
    python -m wgtorch.bench --compare base.json      # ratios; exit 1 on a regression
    python -m wgtorch.bench --wgsl my.wgsl --spec my.json
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

import wgtorch as torch

from .backend import get_runtime
from .ops.kernel import launch_raw


class Case:
    """One benchmark: ``run()`` records the GPU work once; ``host()`` does it in numpy."""

    def __init__(self, name, run, flops=0.0, nbytes=0.0, host=None):
        self.name, self.run, self.flops, self.nbytes, self.host = name, run, flops, nbytes, host


def _matmul_case(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    an, bn = a.numpy(), b.numpy()
    return Case(f"matmul {n}x{n}x{n}", lambda: torch.matmul(a, b), 2.0 * n**3, 12.0 * n * n,
                lambda: an @ bn)


def _add_case(n):
    a, b = torch.randn(n), torch.randn(n)
    an, bn = a.numpy(), b.numpy()
    return Case(f"add {n}", lambda: a + b, float(n), 12.0 * n, lambda: an + bn)


def _sum_case(n):
    a = torch.randn(n)
    an = a.numpy()
    return Case(f"sum {n}", lambda: a.sum(), float(n), 4.0 * n, lambda: an.sum())


def _softmax_case(n):
    rows, cols = max(n // 1000, 1), 1000
    a = torch.randn(rows, cols)
    an = a.numpy()

    def host():
        e = np.exp(an - an.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    return Case(f"softmax {rows}x{cols}", lambda: torch.softmax(a, 1), 5.0 * rows * cols,
                8.0 * rows * cols, host)


def _conv_case(n):
    import wgtorch.nn.functional as F

    x, w = torch.randn(n, 8, 28, 28), torch.randn(16, 8, 3, 3)
    flops = 2.0 * n * 16 * 26 * 26 * 8 * 9
    return Case(f"conv2d {n}x8x28x28 -> 16 3x3", lambda: F.conv2d(x, w), flops,
                4.0 * (x.numel() + w.numel() + n * 16 * 26 * 26))


def _adam_case(n):
    p = torch.randn(n, requires_grad=True)
    p.grad = torch.randn(n)
    opt = torch.optim.Adam([p], lr=1e-3)
    return Case(f"adam step {n}", opt.step, 12.0 * n, 28.0 * n)


KERNELS = {
    "matmul": (_matmul_case, [256, 512, 1024]),
    "add": (_add_case, [1 << 16, 1 << 20, 1 << 22]),
    "sum": (_sum_case, [1 << 16, 1 << 20, 1 << 22]),
    "softmax": (_softmax_case, [1 << 20]),
    "conv": (_conv_case, [64]),
    "adam": (_adam_case, [1 << 20]),
}


def _user_case(path, spec):
    """A user WGSL kernel: bindings follow wgtorch's convention (read inputs, then read_write
    outputs, then an optional ``var<uniform>`` struct filled from ``spec['params']``)."""
    from .tensor import Tensor

    with open(path, encoding="utf-8") as f:
        source = f.read()
    dtypes = {"f32": torch.float32, "i32": torch.int32, "u32": torch.uint8}
    inputs, outputs = [], []
    for b in spec["buffers"]:
        t = Tensor._empty((int(b["elements"]),), dtypes[b.get("type", "f32")])
        if b.get("init", "random") == "random" and t.dtype.is_floating_point:
            t.copy_(torch.randn(t.shape))
        else:
            t.zero_()
        (inputs if b.get("access", "read") == "read" else outputs).append(t)
    params = b"".join(
        np.array([v], dtype=np.float32 if isinstance(v, float) else np.uint32).tobytes()
        for v in spec.get("params", [0])
    )
    grid = tuple(spec.get("workgroups", [1, 1, 1]))
    buffers = [t._storage.buffer for t in inputs + outputs]

    def run():
        launch_raw(path, source, len(inputs), len(outputs), buffers, params, grid)

    return Case(f"wgsl {path}", run, float(spec.get("flops", 0)), float(spec.get("bytes", 0)))


def measure(case, reps, warmup):
    """Compile (first call), warm up, then time ``reps`` runs; returns a result dict."""
    rt = get_runtime()
    torch.synchronize()
    t0 = time.perf_counter()
    case.run()
    torch.synchronize()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        case.run()
    torch.synchronize()
    times, clock = [], "gpu-timestamps"
    for _ in range(reps):
        g = rt.gpu_time(case.run)
        if g is None:
            clock = "wall-clock"
            t0 = time.perf_counter()
            case.run()
            torch.synchronize()
            g = time.perf_counter() - t0
        times.append(g)
    med = statistics.median(times)
    host_ms = None
    if case.host is not None:
        case.host()
        t0 = time.perf_counter()
        for _ in range(3):
            case.host()
        host_ms = (time.perf_counter() - t0) / 3 * 1e3
    return {
        "name": case.name, "clock": clock, "first_call_ms": first * 1e3,
        "median_ms": med * 1e3, "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3,
        "gflops": case.flops / med / 1e9 if case.flops and med else None,
        "gbps": case.nbytes / med / 1e9 if case.nbytes and med else None,
        "numpy_ms": host_ms,
    }


def adapter_record():
    info = get_runtime().info
    return {k: info.get(k) for k in ("device", "vendor", "description", "backend_type",
                                      "adapter_type")}


def _fmt(v, spec):
    width = int(spec.split(".")[0])
    return format(v, spec) if v is not None else "-".rjust(width)


def print_table(results, out=None):
    out = out or sys.stdout
    print(f"{'kernel':34} {'clock':>10} {'first ms':>9} {'median ms':>10} {'min ms':>9} "
          f"{'max ms':>9} {'GFLOP/s':>8} {'GB/s':>7} {'numpy ms':>9}", file=out)
    for r in results:
        print(f"{r['name'][:34]:34} {r['clock'][:10]:>10} {_fmt(r['first_call_ms'], '9.2f')} "
              f"{_fmt(r['median_ms'], '10.3f')} {_fmt(r['min_ms'], '9.3f')} "
              f"{_fmt(r['max_ms'], '9.3f')} {_fmt(r['gflops'], '8.2f')} "
              f"{_fmt(r['gbps'], '7.2f')} {_fmt(r['numpy_ms'], '9.3f')}", file=out)


def compare(results, base_path, threshold):
    """Print new/base time ratios; True when no kernel got slower than ``1 + threshold``."""
    with open(base_path, encoding="utf-8") as f:
        base = {r["name"]: r for r in json.load(f)["results"]}
    ok = True
    rows = []
    for r in results:
        b = base.get(r["name"])
        if b is None:
            continue
        ratio = r["median_ms"] / b["median_ms"] if b["median_ms"] else float("inf")
        flag = "REGRESSION" if ratio > 1 + threshold else ""
        ok = ok and not flag
        rows.append((r["name"], ratio))
        print(f"{r['name'][:40]:40} {ratio:6.2f}x time vs base {flag}")
    return ok, rows


def plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.5))
    ax.barh([n for n, _ in rows], [r for _, r in rows])
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xlabel("time / base time (lower is faster)")
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m wgtorch.bench", description=__doc__.split("\n")[0])
    p.add_argument("--kernels", default="matmul,add,sum,softmax",
                   help=f"comma-separated, from {','.join(KERNELS)}")
    p.add_argument("--sizes", default=None, help="comma-separated sizes (per kernel's meaning)")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--wgsl", help="a WGSL file to time instead of built-in kernels")
    p.add_argument("--spec", help="JSON: buffers [{elements,type,access,init}], params, "
                   "workgroups [x,y,z], flops, bytes")
    p.add_argument("--workgroups", help="x,y,z grid for --wgsl (overrides the spec)")
    p.add_argument("--json", help="write results (with the adapter) to this file")
    p.add_argument("--compare", help="a previous --json file: print ratios, exit 1 on regression")
    p.add_argument("--threshold", type=float, default=0.25,
                   help="allowed slowdown for --compare (0.25 = 25%%)")
    p.add_argument("--plot", help="draw the --compare ratios to this PNG (needs matplotlib)")
    args = p.parse_args(argv)

    print(f"adapter: {adapter_record()['device']} ({adapter_record()['backend_type']})")
    cases = []
    if args.wgsl:
        spec = {}
        if args.spec:
            with open(args.spec, encoding="utf-8") as f:
                spec = json.load(f)
        if args.workgroups:
            spec["workgroups"] = [int(v) for v in args.workgroups.split(",")]
        spec.setdefault("buffers", [{"elements": 1 << 20, "access": "read_write"}])
        cases.append(_user_case(args.wgsl, spec))
    else:
        for name in args.kernels.split(","):
            if name not in KERNELS:
                p.error(f"unknown kernel {name!r}; choose from {', '.join(KERNELS)}")
            make, sizes = KERNELS[name]
            if args.sizes:
                sizes = [int(s) for s in args.sizes.split(",")]
            for n in sizes:
                try:
                    cases.append(make(n))
                except (AttributeError, ImportError) as exc:
                    print(f"skip {name} {n}: {exc}", file=sys.stderr)
    results = [measure(c, args.reps, args.warmup) for c in cases]
    print_table(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"adapter": adapter_record(), "results": results}, f, indent=1)
        print(f"wrote {args.json}")
    if args.compare:
        ok, rows = compare(results, args.compare, args.threshold)
        if args.plot:
            plot(rows, args.plot)
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
