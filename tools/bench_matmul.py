"""Matmul GFLOP/s on the current adapter, next to numpy in the same run.

    python tools/bench_matmul.py                    # default shapes, 5 reps each
    python tools/bench_matmul.py --shapes 1024x1024x1024,64x784x128 --reps 9

Each shape (M x K x N, optionally B@ for a batch, and ``t`` suffixes marking a transposed
operand: ``1024x1024x1024tb`` reads B through transposed strides) is run once to compile its
kernel (the compile time is printed apart), then timed ``--reps`` times with
``wgtorch.synchronize()`` around each run; the median is reported. ``cpu`` is GFLOP per
CPU-second of this process, which on lavapipe (the GPU runs on this process's threads)
says how well the kernel uses a core whatever else the machine is doing.
"""

import argparse
import os
import re
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import wgtorch
from wgtorch.ops import kernel_choice

DEFAULT_SHAPES = (
    "512x512x512,1024x1024x1024,1024x1024x1024ta,1024x1024x1024tb,64x784x128,8@128x64x128"
)
_SHAPE = re.compile(r"^(?:(\d+)@)?(\d+)x(\d+)x(\d+)(t[ab]+)?$")


def parse_shape(text):
    m = _SHAPE.match(text.strip())
    if not m:
        raise SystemExit(f"bad shape {text!r}: expected [B@]MxKxN[ta|tb|tab]")
    batch, M, K, N, trans = m.groups()
    return int(batch or 1), int(M), int(K), int(N), trans or ""


def operands(batch, M, K, N, trans, rng):
    a = rng.standard_normal((batch, M, K)).astype(np.float32)
    b = rng.standard_normal((batch, K, N)).astype(np.float32)
    ta = wgtorch.tensor(np.ascontiguousarray(a.transpose(0, 2, 1))).transpose(1, 2) \
        if "a" in trans else wgtorch.tensor(a)
    tb = wgtorch.tensor(np.ascontiguousarray(b.transpose(0, 2, 1))).transpose(1, 2) \
        if "b" in trans else wgtorch.tensor(b)
    if batch == 1:
        return a[0], b[0], ta[0], tb[0]
    return a, b, ta, tb


def timed(fn, reps):
    walls, cpus = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wgtorch.synchronize()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", default=DEFAULT_SHAPES)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    rt = wgtorch.get_runtime()
    print(f"adapter: {rt.info.get('device')} ({rt.info.get('description')}, "
          f"{rt.info.get('adapter_type')}); autotune "
          f"{'on' if kernel_choice.autotune_enabled() else 'off'}")
    print(f"{'shape':>22} {'variant':>14} {'compile s':>9} {'GFLOP/s':>8} {'cpu':>6} "
          f"{'numpy':>7} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for text in args.shapes.split(","):
        batch, M, K, N, trans = parse_shape(text)
        a, b, ta, tb = operands(batch, M, K, N, trans, rng)
        flops = 2.0 * batch * M * N * K
        t0 = time.perf_counter()
        out = ta @ tb
        wgtorch.synchronize()
        first = time.perf_counter() - t0
        err = float(np.abs(out.numpy() - a @ b).max())
        wall, cpu = timed(lambda x=ta, y=tb: x @ y, args.reps)
        np_wall, _ = timed(lambda x=a, y=b: x @ y, args.reps)
        a_ok = kernel_choice_ok(ta)
        b_ok = kernel_choice_ok(tb)
        choice = kernel_choice.choose(M, N, K, batch, ta.dtype, a_ok, b_ok)
        variant = choice.name + (f" {choice.tile[0]}x{choice.tile[1]}" if choice.tile else "")
        print(f"{text:>22} {variant:>14} {max(first - wall, 0):9.2f} {flops / wall / 1e9:8.2f} "
              f"{flops / max(cpu, 1e-9) / 1e9:6.2f} {flops / np_wall / 1e9:7.1f} "
              f"{np_wall / wall:6.3f}" + (f"  (max err {err:.1e})" if err > 1e-2 else ""))


def kernel_choice_ok(t):
    from wgtorch.ops.matmul_kernels import _vec_dim

    return _vec_dim(t, t.shape[:-2], t.shape[-2], t.shape[-1]) is not None


if __name__ == "__main__":
    main()
