"""Write tests/data/nn_golden.npz with real PyTorch (run once; needs torch, not wgtorch).

    python tests/data/make_nn_golden.py

For every case in tests/nn_golden_cases.py: the module's initial state_dict, its repr, the
forward output, the input and parameter gradients of sum(out * G), and the state_dict after
the step (BatchNorm's running statistics); for every loss: its value and input gradient.
"""

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from nn_golden_cases import cases, inputs, losses  # noqa: E402


def main():
    torch.manual_seed(0)
    out = {}
    for name, (make, shapes) in cases(torch).items():
        m = make()
        for k, v in m.state_dict().items():
            out[f"{name}|sd|{k}"] = v.numpy().copy()
        xs = inputs(name, shapes)
        ts = [torch.tensor(x, requires_grad=True) for x in xs]
        y = m(*ts)
        y = y[0] if isinstance(y, tuple) else y
        _, g = inputs(name, shapes, tuple(y.shape))
        (y * torch.tensor(g)).sum().backward()
        out[f"{name}|y"] = y.detach().numpy()
        for i, t in enumerate(ts):
            out[f"{name}|gx{i}"] = t.grad.numpy()
        for k, p in m.named_parameters():
            out[f"{name}|gp|{k}"] = p.grad.numpy()
        for k, v in m.state_dict().items():  # only what the step changed (running stats)
            if not np.array_equal(v.numpy(), out[f"{name}|sd|{k}"]):
                out[f"{name}|after|{k}"] = v.numpy().copy()
        out[f"{name}|repr"] = np.array(repr(m))
    for name, (shape, fn) in losses(torch).items():
        (x,) = inputs("L" + name, [shape])
        xt = torch.tensor(x, requires_grad=True)
        value = fn(xt)
        value.backward()
        out[f"L{name}|y"] = value.detach().numpy()
        out[f"L{name}|gx"] = xt.grad.numpy()
    np.savez_compressed(os.path.join(HERE, "nn_golden.npz"), torch_version=torch.__version__,
                        **out)


if __name__ == "__main__":
    main()
