"""Load-independent costs, for comparing two trees on a busy machine.

    PYTHONPATH=<tree> python tools/bench_host_work.py

- host work: Python opcodes executed (``sys.settrace`` opcode events) per training step of
  the suite's MLP and CNN (batch 64, SGD) and per small op: what recording costs, counted,
  not timed, so other processes' load does not change it;
- GPU work: CPU seconds of the whole process (lavapipe's worker threads included) per kernel,
  around N launches and a synchronize: on a CPU adapter that is the kernels' work, which load
  stretches in wall time but hardly in CPU time.

Wall-clock speed is benchmarks/suite.py's business; these two say whether a change moved
either side when the wall clock is too noisy to tell.
"""

import os
import sys
import time

import wgtorch as torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
import work_torchlike  # noqa: E402  (the suite's models)


def opcodes(fn, repeats=3):
    """Python opcodes one call of ``fn`` executes (mean of ``repeats``), after warm-up."""
    for _ in range(3):
        fn()
    torch.synchronize()
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        for _ in range(repeats):
            fn()
    finally:
        sys.settrace(None)
    torch.synchronize()
    return count // repeats


def cpu_ms(fn, n):
    """Process CPU milliseconds per call of ``fn`` (best of 3 rounds of ``n``)."""
    fn()
    torch.synchronize()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(n):
            fn()
        torch.synchronize()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e3


def training_step(model, x):
    y = torch.randint(0, 10, (x.shape[0],))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def main():
    mlp = training_step(work_torchlike.mlp(torch), torch.randn(64, 784))
    cnn = training_step(work_torchlike.cnn(torch), torch.randn(64, 1, 28, 28))
    a, b = torch.randn(64), torch.randn(64)
    at, bt = torch.randn(8, 8).t(), torch.randn(8, 8)
    print("Python opcodes: "
          f"MLP step {opcodes(mlp)} | CNN step {opcodes(cnn)} | vec4 add {opcodes(lambda: a + b)}"
          f" | strided add {opcodes(lambda: at + bt)} | 8x8 matmul {opcodes(lambda: at @ bt)}"
          f" | sum {opcodes(lambda: at.sum(0))}")
    m1, m2 = torch.randn(512, 512), torch.randn(512, 512)
    x, y = torch.randn(1 << 20), torch.randn(1 << 20)
    img, w = torch.randn(64, 8, 13, 13), torch.randn(16, 8, 3, 3)
    s = torch.randn(256, 1000)
    print("CPU ms per kernel: "
          f"matmul 512^3 {cpu_ms(lambda: m1 @ m2, 5):.1f} | add 1M {cpu_ms(lambda: x + y, 20):.2f}"
          f" | sum 1M {cpu_ms(x.sum, 20):.2f} | softmax 256x1000 "
          f"{cpu_ms(lambda: s.softmax(-1), 20):.2f} | conv "
          f"{cpu_ms(lambda: torch.nn.functional.conv2d(img, w), 10):.2f}")


if __name__ == "__main__":
    main()
