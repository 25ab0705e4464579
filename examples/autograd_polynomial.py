"""Autograd: fit y = sin(x) with a third-order polynomial, gradients from ``backward()``.

Tensors with ``requires_grad=True`` record the operations applied to them; ``loss.backward()``
computes d(loss)/d(parameter) for each of them (on the GPU, as shader dispatches). The update
runs under ``torch.no_grad()``. Only the import differs from the PyTorch script.
"""

import argparse
import math

import wgtorch as torch

dtype = torch.float
device = "cuda" if torch.cuda.is_available() else "cpu"


def main(steps=2000, learning_rate=1e-6):
    torch.manual_seed(0)
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)

    a = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    b = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    c = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    d = torch.randn((), device=device, dtype=dtype, requires_grad=True)

    for t in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return loss.item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps (2000)")
    main(parser.parse_args().steps)
