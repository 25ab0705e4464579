"""Training a 2-layer LSTM (hidden 256, sequence 64, batch 32): wgtorch against PyTorch CPU in
the same run, plus wgtorch's dispatches, submits and host reads per training step.

    python benchmarks/bench_lstm.py                       # both frameworks, 3 s per repeat
    python benchmarks/bench_lstm.py --framework wgtorch --seconds 10 --input 256

A step is zero_grad, forward, MSE loss against a fixed target, backward and an SGD step;
nothing reads the loss back inside the timed steps (the last step of a repeat is waited for).
Figures are medians over repeats. Results go in benchmarks/RESULTS.md.
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


def steps_per_s(torch, step, seconds, repeats):
    for _ in range(2):  # compile kernels, autotune, fill the buffer pool
        step()
    step().item()
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while n < 1 or time.perf_counter() - t0 < seconds:
            loss = step()
            n += 1
        loss.item()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


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
    for name in names:
        torch = importlib.import_module(name)
        step = build(torch, args)
        result[f"{name}_steps_per_s"] = round(steps_per_s(torch, step, args.seconds,
                                                          args.repeats), 3)
        if name == "wgtorch":
            d, s, r = counters(torch, step)
            result.update(dispatches_per_step=d, submits_per_step=s, reads_per_step=r)
            info = torch.backend.get_runtime().info
            result["adapter"] = f"{info['device']} ({info['backend_type']})"
        else:
            result["torch_threads"] = torch.get_num_threads()
    if len(names) == 2:
        result["wgtorch_over_torch"] = round(result["wgtorch_steps_per_s"]
                                             / result["torch_steps_per_s"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
