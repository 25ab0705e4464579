"""The kernels of ``python -m wgtorch.bench``, timed in PyTorch on the same machine.

    python benchmarks/torch_kernels.py --device cuda --json torch_kernels.json

The peer for the micro-benchmarks: the same cases and sizes as wgtorch.bench's defaults
(matmul, add, sum, softmax, conv, adam), FP32 with TF32 off, timed with CUDA events on a
GPU (wall clock around a synchronize on the CPU); median of ``--reps`` runs after warm-up.
"""

import argparse
import json
import statistics
import time

import torch


def cases(device, big):
    def mm(n):
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        return f"matmul {n}x{n}x{n}", (lambda: a @ b), 2.0 * n**3, 12.0 * n * n

    def add(n):
        a, b = torch.randn(n, device=device), torch.randn(n, device=device)
        return f"add {n}", (lambda: a + b), float(n), 12.0 * n

    def total(n):
        a = torch.randn(n, device=device)
        return f"sum {n}", a.sum, float(n), 4.0 * n

    def softmax(n):
        a = torch.randn(n // 1000, 1000, device=device)
        return f"softmax {n // 1000}x1000", (lambda: torch.softmax(a, 1)), 5.0 * a.numel(), \
            8.0 * a.numel()

    def conv(n):
        x, w = torch.randn(n, 8, 28, 28, device=device), torch.randn(16, 8, 3, 3, device=device)
        flops = 2.0 * n * 16 * 26 * 26 * 8 * 9
        return f"conv2d {n}x8x28x28 -> 16 3x3", (lambda: torch.nn.functional.conv2d(x, w)), \
            flops, 4.0 * (x.numel() + w.numel() + n * 16 * 26 * 26)

    def adam(n):
        p = torch.randn(n, device=device, requires_grad=True)
        p.grad = torch.randn(n, device=device)
        opt = torch.optim.Adam([p], lr=1e-3)
        return f"adam step {n}", opt.step, 12.0 * n, 28.0 * n

    sizes = [256, 512, 1024] + ([2048, 4096] if big else [])
    made = [mm(n) for n in sizes]
    made += [add(n) for n in (1 << 16, 1 << 20, 1 << 22)]
    made += [total(n) for n in (1 << 16, 1 << 20, 1 << 22)]
    made += [softmax(1 << 20), conv(64), adam(1 << 20)]
    return made


def timed(fn, device, reps, warmup):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        if device.startswith("cuda"):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            out.append(start.elapsed_time(end) * 1e-3)
        else:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--big", action="store_true", help="also matmul 2048^3 and 4096^3")
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    with torch.no_grad():
        for name, fn, flops, nbytes in cases(args.device, args.big):
            t = statistics.median(timed(fn, args.device, args.reps, args.warmup))
            rows.append({"name": name, "median_s": t, "gflops": flops / t / 1e9,
                         "gbs": nbytes / t / 1e9})
            print(f"{name:32s} {t * 1e6:10.1f} us  {flops / t / 1e9:9.1f} GFLOP/s  "
                  f"{nbytes / t / 1e9:8.1f} GB/s")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"device": device_name, "torch": torch.__version__, "results": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
