"""The performance suite: wgtorch and the installed peers on the same work, one command.

    python benchmarks/suite.py [--seconds 3] [--write]

Peers are found through environment variables (each in its own virtualenv, see
../shared/PEERS.md), or skipped when absent:
  TORCH_PYTHON      a python with torch==2.13.0 (CPU)
  TORCH_DEVICE      the device torch runs on (default cpu; "cuda" on an NVIDIA machine)
  TINYGRAD_PYTHON   a python with tinygrad==0.14.0 and dawn-python (WEBGPU device on the
                    same adapter; the CPU device also needs clang, found through CC)
Each framework runs in its own process, one after the other, in this one run; ``--write``
appends the table (with machine and adapter) to benchmarks/RESULTS.md.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = [
    ("mlp_b64_steps_s", "seed MLP 784-128-10 SGD, batch 64 (steps/s)"),
    ("mlp_b512_steps_s", "seed MLP, batch 512 (steps/s)"),
    ("cnn_b64_steps_s", "CNN conv 1->8->16 3x3 + pools + linear, batch 64 (steps/s)"),
    ("matmul_512_gflops", "matmul 512^3 f32 (GFLOP/s)"),
    ("matmul_1024_gflops", "matmul 1024^3 f32 (GFLOP/s)"),
    ("matmul_2048_gflops", "matmul 2048^3 f32 (GFLOP/s)"),
    ("matmul_4096_gflops", "matmul 4096^3 f32 (GFLOP/s)"),
    ("chain_1000_adds_ms", "1000 dependent adds on 64 floats (ms, lower is better)"),
]


def run(cmd, env=None, timeout=1800):
    """Run one worker; its last stdout line is a JSON dict (or an error dict)."""
    try:
        out = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True,
                             text=True, timeout=timeout, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError,
            IndexError) as exc:
        tail = getattr(exc, "stderr", "") or ""
        return {"error": f"{type(exc).__name__}: {tail.strip().splitlines()[-1:]}"}


def dawn_library(python):
    site = subprocess.run([python, "-c", "import pydawn, os; print(os.path.dirname(pydawn.__file__))"],
                          capture_output=True, text=True)
    found = glob.glob(os.path.join(site.stdout.strip(), "lib",
                                   f"libwebgpu_dawn*{platform.machine()}*.so"))
    return found[0] if found else None


def collect(seconds, big=False):
    torchlike = os.path.join(HERE, "work_torchlike.py")
    extra = ["--big"] if big else []
    results = {"wgtorch": run([sys.executable, torchlike, "--framework", "wgtorch",
                               "--seconds", str(seconds), *extra])}
    torch_py = os.environ.get("TORCH_PYTHON")
    if torch_py:
        device = os.environ.get("TORCH_DEVICE", "cpu")
        results[f"PyTorch {device.upper()}"] = run(
            [torch_py, torchlike, "--framework", "torch", "--seconds", str(seconds),
             "--device", device, *extra])
    tg_py = os.environ.get("TINYGRAD_PYTHON")
    if tg_py:
        tg = os.path.join(HERE, "work_tinygrad.py")
        env = {"BENCH_SECONDS": str(seconds)}
        lib = dawn_library(tg_py)
        if lib:
            results["tinygrad WEBGPU"] = run([tg_py, tg], {**env, "DEV": "WEBGPU",
                                                           "WEBGPU_PATH": lib})
        if os.environ.get("CC") or subprocess.run(["which", "clang"],
                                                  capture_output=True).returncode == 0:
            results["tinygrad CPU"] = run([tg_py, tg], {**env, "DEV": "CPU"})
    return results


def _value(res, key):
    if key in res:
        return res[key], ""
    if f"{key}_jit" in res:
        return res[f"{key}_jit"], f" (no JIT {res.get(key + '_nojit', float('nan')):.3g})"
    return None, ""


def table(results):
    names = list(results)
    lines = ["| work | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    base = results["wgtorch"]
    for key, label in ROWS:
        if all(_value(results[name], key)[0] is None for name in names) and key != ROWS[0][0]:
            continue  # measured by nobody in this run (e.g. the big matmuls without --big)
        cells = []
        for name in names:
            v, extra = _value(results[name], key)
            if v is None:
                cells.append(results[name].get("error", "-")[:60] if key == ROWS[0][0] else "-")
                continue
            cell = f"{v:.3g}{extra}"
            b = base.get(key)
            if name != "wgtorch" and b:
                lower_better = key.endswith("_ms")
                ratio = (v / b) if lower_better else (b / v)
                cell += f" (wgtorch {ratio:.2f}x)"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    extra = {k: v for k, v in base.items() if "per_step" in k}
    if extra:
        lines.append("")
        lines.append("wgtorch backend counters per training step: " + ", ".join(
            f"{k} = {v}" for k, v in extra.items()))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per repeat")
    p.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    p.add_argument("--big", action="store_true", help="also matmul 2048^3 and 4096^3")
    p.add_argument("--json", help="also write the raw results to this file")
    args = p.parse_args()
    results = collect(args.seconds, args.big)
    adapter = results["wgtorch"].get("adapter", "?")
    head = (f"### {datetime.date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
            f"wgtorch adapter: {adapter}\n\n"
            f"Command: `python benchmarks/suite.py --seconds {args.seconds}` "
            "(ratios: how many times faster wgtorch is; < 1 means slower).\n")
    text = head + "\n" + table(results) + "\n"
    print(text)
    print(json.dumps(results, indent=1), file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    if args.write:
        with open(os.path.join(HERE, "RESULTS.md"), "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
