"""Training a 2-layer LSTM (hidden 256, sequence 64, batch 32): wgtorch against PyTorch CPU in
the same run, plus wgtorch's dispatches, submits and host reads per training step.

    python benchmarks/bench_lstm.py                       # both frameworks, 3 s per repeat
    python benchmarks/bench_lstm.py --framework wgtorch --seconds 10 --input 256

A step is zero_grad, forward, MSE loss against a fixed target, backward and an SGD step;
nothing reads the loss back inside the timed steps (the last step of a repeat is waited for).
Figures are medians over repeats; the repeats alternate between the frameworks and the
ratio is the median of the paired ratios (the machine's load changes by the minute).
Results go in benchmarks/RESULTS.md.
"""

import argparse
import importlib
import json
import statistics
import time


def sync(torch):
    if torch.__name__ == "wgtorch":
        torch.synchronize()


def build(torch, args):
    torch.manual_seed(0)
    model = torch.nn.LSTM(args.input, args.hidden, num_layers=args.layers)
    x = torch.randn(args.seq, args.batch, args.input)
    y = torch.randn(args.seq, args.batch, args.hidden)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad()
        out, _ = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        return loss

    return step


def warm_up(step):
    for _ in range(2):  # compile kernels, autotune, fill the buffer pool
        step()
    step().item()


def rate(step, seconds):
    """Steps per second over at least ``seconds`` (the last step waited for)."""
    n, t0 = 0, time.perf_counter()
    while n < 1 or time.perf_counter() - t0 < seconds:
        loss = step()
        n += 1
    loss.item()
    return n / (time.perf_counter() - t0)


def counters(torch, step):
    """wgtorch's (dispatches, submits, reads) for one step, after warm-up."""
    from wgtorch.backend import get_runtime

    rt = get_runtime()
    step().item()
    sync(torch)
    d, s, r = rt.dispatch_count, rt.submit_count, rt.read_count
    step()
    return rt.dispatch_count - d, rt.submit_count - s, rt.read_count - r


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("wgtorch", "torch", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", type=int, default=256, help="input features")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    names = ("wgtorch", "torch") if args.framework == "both" else (args.framework,)
    result = {"work": f"LSTM {args.layers}x{args.hidden}, input {args.input}, seq {args.seq}, "
                      f"batch {args.batch}, SGD"}
    frameworks = {name: importlib.import_module(name) for name in names}
    steps = {name: build(torch, args) for name, torch in frameworks.items()}
    for step in steps.values():
        warm_up(step)
    # repeats alternate between the frameworks, so both see the same machine load
    rates = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            rates[name].append(rate(steps[name], args.seconds))
    for name, torch in frameworks.items():
        result[f"{name}_steps_per_s"] = round(statistics.median(rates[name]), 3)
        if name == "wgtorch":
            d, s, r = counters(torch, steps[name])
            result.update(dispatches_per_step=d, submits_per_step=s, reads_per_step=r)
            info = torch.backend.get_runtime().info
            result["adapter"] = f"{info['device']} ({info['backend_type']})"
        else:
            result["torch_threads"] = torch.get_num_threads()
    if len(names) == 2:
        paired = [w / t for w, t in zip(rates["wgtorch"], rates["torch"])]
        result["wgtorch_over_torch"] = round(statistics.median(paired), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
