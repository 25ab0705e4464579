"""nn layers and losses against golden outputs of real PyTorch 2.13 (tests/data/nn_golden.npz,
written by tests/data/make_nn_golden.py): the same initial weights give the same outputs,
input and parameter gradients, running statistics, state_dict keys and repr."""

import os

import numpy as np
import pytest
from nn_golden_cases import cases, inputs, losses

import wgtorch as torch

GOLDEN = dict(np.load(os.path.join(os.path.dirname(__file__), "data", "nn_golden.npz")))


def close(actual, expected, what, atol=2e-4, rtol=2e-3):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), atol=atol, rtol=rtol,
                               err_msg=what)


@pytest.mark.parametrize("name", list(cases(torch)))
def test_module_matches_pytorch(name):
    make, shapes = cases(torch)[name]
    m = make()
    keys = [k.split("|", 2)[2] for k in GOLDEN if k.startswith(f"{name}|sd|")]
    assert list(m.state_dict()) == keys
    m.load_state_dict({k: torch.tensor(GOLDEN[f"{name}|sd|{k}"]) for k in keys})
    assert repr(m) == str(GOLDEN[f"{name}|repr"])
    xs = [torch.tensor(x, requires_grad=True) for x in inputs(name, shapes)]
    y = m(*xs)
    y = y[0] if isinstance(y, tuple) else y
    close(y.detach().numpy(), GOLDEN[f"{name}|y"], "forward")
    _, g = inputs(name, shapes, tuple(y.shape))
    (y * torch.tensor(g)).sum().backward()
    for i, x in enumerate(xs):
        close(x.grad.numpy(), GOLDEN[f"{name}|gx{i}"], f"input {i} gradient")
    for k, p in m.named_parameters():
        close(p.grad.numpy(), GOLDEN[f"{name}|gp|{k}"], f"{k} gradient", atol=1e-3)
    for k, v in m.state_dict().items():
        if f"{name}|after|{k}" in GOLDEN:
            close(v.float().numpy(), GOLDEN[f"{name}|after|{k}"], f"{k} after the step")


@pytest.mark.parametrize("name", list(losses(torch)))
def test_loss_matches_pytorch(name):
    shape, fn = losses(torch)[name]
    (x,) = inputs("L" + name, [shape])
    xt = torch.tensor(x, requires_grad=True)
    value = fn(xt)
    value.backward()
    close(value.detach().numpy(), GOLDEN[f"L{name}|y"], "value")
    close(xt.grad.numpy(), GOLDEN[f"L{name}|gx"], "gradient")
