"""The same benchmark work in tinygrad (a peer), JIT and non-JIT.

    DEV=WEBGPU WEBGPU_PATH=.../libwebgpu_dawn_x86_64.so python benchmarks/work_tinygrad.py
    DEV=CPU python benchmarks/work_tinygrad.py

tinygrad is lazy: only realized work is timed (``.realize()`` + a device synchronize).
"""

import json
import os
import statistics
import time

from tinygrad import Device, Tensor, TinyJit, nn
from tinygrad.helpers import Context


def sync():
    Device[Device.DEFAULT].synchronize()


class MLP:
    def __init__(self):
        self.l1, self.l2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def __call__(self, x):
        return self.l2(self.l1(x).relu())


class CNN:
    def __init__(self):
        self.c1, self.c2 = nn.Conv2d(1, 8, 3), nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 5 * 5, 10)

    def __call__(self, x):
        x = self.c1(x).relu().max_pool2d(2)
        x = self.c2(x).relu().max_pool2d(2)
        return self.fc(x.flatten(1))


def steps_per_s(model, x, y, jit, seconds, repeats=3):
    opt = nn.optim.SGD(nn.state.get_parameters(model), lr=0.01)

    def step(x, y):
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
            return loss.realize()

    fn = TinyJit(step) if jit else step
    for _ in range(4):
        fn(x, y)
    sync()
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn(x, y)
            n += 1
        sync()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def matmul_gflops(n, repeats=5):
    a, b = Tensor.randn(n, n).realize(), Tensor.randn(n, n).realize()
    (a @ b).realize()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        (a @ b).realize()
        sync()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def chain_ms(ops=1000, repeats=3):
    x = Tensor.randn(64).realize()
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        y = x
        for _ in range(ops):
            y = y + 1.0
        y.numpy()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * 1e3


def main():
    seconds = float(os.environ.get("BENCH_SECONDS", "3"))
    Tensor.manual_seed(0)
    res = {}
    x64, y64 = Tensor.randn(64, 784).realize(), Tensor.randint(64, high=10).realize()
    x512, y512 = Tensor.randn(512, 784).realize(), Tensor.randint(512, high=10).realize()
    xc = Tensor.randn(64, 1, 28, 28).realize()
    for jit in (True, False):
        tag = "jit" if jit else "nojit"
        res[f"mlp_b64_steps_s_{tag}"] = steps_per_s(MLP(), x64, y64, jit, seconds)
        res[f"mlp_b512_steps_s_{tag}"] = steps_per_s(MLP(), x512, y512, jit, seconds)
        res[f"cnn_b64_steps_s_{tag}"] = steps_per_s(CNN(), xc, y64, jit, seconds)
    res["matmul_512_gflops"] = matmul_gflops(512)
    res["matmul_1024_gflops"] = matmul_gflops(1024)
    res["chain_1000_adds_ms"] = chain_ms()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
