"""The benchmark work, written once against PyTorch's API: run with wgtorch or torch.

    python benchmarks/work_torchlike.py --framework wgtorch   # prints one JSON line
    /path/to/torch-venv/bin/python benchmarks/work_torchlike.py --framework torch
    python benchmarks/work_torchlike.py --framework torch --device cuda   # FP32, TF32 off

Every figure is a median over repeats; nothing reads the loss back inside the timed steps.
"""

import argparse
import importlib
import json
import statistics
import time


def sync(torch):
    if torch.__name__ == "wgtorch":
        torch.synchronize()
    elif torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def mlp(torch):
    return torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))


def cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),  # (B, 8, 13, 13)
        nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 5, 5)
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10),
    )


def train_steps_per_s(torch, model, x, y, seconds, repeats=3):
    model = model.to(x.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step()
    loss = step()
    loss.item()
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            loss = step()
            n += 1
        loss.item()  # wait for the last step
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def step_counters(torch, model, x, y):
    """Dispatches and submits of one training step (wgtorch's backend counters)."""
    rt = torch.get_runtime()
    model = model.to(x.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    torch.synchronize()
    d0, s0 = rt.dispatch_count, rt.submit_count
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()
    d1, s1 = rt.dispatch_count, rt.submit_count
    torch.synchronize()
    return d1 - d0, s1 - s0


def matmul_gflops(torch, n, device, repeats=5):
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    c = a @ b
    sync(torch)
    c.sum().item()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        c = a @ b
        sync(torch)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def chain_ms(torch, device, ops=1000, repeats=5):
    x = torch.randn(64, device=device)
    times = []
    for _ in range(repeats + 1):
        sync(torch)
        t0 = time.perf_counter()
        y = x
        for _ in range(ops):
            y = y + 1.0
        y[0].item()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--framework", default="wgtorch", choices=["wgtorch", "torch"])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--device", default=None, help="torch device (default: the framework's own)")
    p.add_argument("--big", action="store_true", help="also matmul 2048^3 and 4096^3")
    args = p.parse_args()
    torch = importlib.import_module(args.framework)
    device = args.device
    if args.framework == "torch" and device and device.startswith("cuda"):
        # FP32 means FP32: TF32 would make the peer's matmuls 10-bit-mantissa products
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    res = {}

    def data(*shape, classes=None):
        if classes:
            return torch.randint(0, classes, shape, device=device)
        return torch.randn(*shape, device=device)

    x64, y64 = data(64, 784), data(64, classes=10)
    x512, y512 = data(512, 784), data(512, classes=10)
    xc, yc = data(64, 1, 28, 28), data(64, classes=10)
    res["mlp_b64_steps_s"] = train_steps_per_s(torch, mlp(torch), x64, y64, args.seconds)
    res["mlp_b512_steps_s"] = train_steps_per_s(torch, mlp(torch), x512, y512, args.seconds)
    res["cnn_b64_steps_s"] = train_steps_per_s(torch, cnn(torch), xc, yc, args.seconds)
    for n in (512, 1024, 2048, 4096) if args.big else (512, 1024):
        res[f"matmul_{n}_gflops"] = matmul_gflops(torch, n, device)
    res["chain_1000_adds_ms"] = chain_ms(torch, device)
    if args.framework == "wgtorch":
        res["mlp_b64_dispatches_per_step"], res["mlp_b64_submits_per_step"] = step_counters(
            torch, mlp(torch), x64, y64)
        res["cnn_b64_dispatches_per_step"], res["cnn_b64_submits_per_step"] = step_counters(
            torch, cnn(torch), xc, yc)
        res["adapter"] = torch.get_runtime().info["device"]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
