"""Whole nn.Modules pickled by real PyTorch 2.13 (``torch.save(model)``) load as working
wgtorch modules: with ``weights_only=False``, or allow-listed by their ``torch.nn.modules``
paths. Golden files: tests/data/make_whole_models.py (the test itself needs no torch)."""

import os

import numpy as np
import pytest

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F
from helpers import assert_close

DATA = os.path.join(os.path.dirname(__file__), "data")
PATH = os.path.join(DATA, "torch_whole_models.pt")
EXPECTED = dict(np.load(os.path.join(DATA, "torch_whole_models.npz")))
NAMES = sorted({k.split("/")[0] for k in EXPECTED if k.endswith("/out")})
CONTAINERS = ("modulelist", "moduledict", "paramlist", "paramdict")


@pytest.fixture(scope="module")
def models():
    return torch.load(PATH, weights_only=False)


def _inputs(name, device):
    k, out = 0, []
    while f"{name}/in{k}" in EXPECTED:
        a = EXPECTED[f"{name}/in{k}"]
        out.append(torch.tensor(a, device=device))
        k += 1
    return out


def _run(module, inputs):
    out = module(*inputs)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", NAMES)
def test_loaded_module_matches_pytorch(models, name):
    module = models[name]
    assert isinstance(module, nn.Module) and not module.training
    # saved from cpu, so it loads on cpu, and computes there with cpu inputs
    assert all(t.device == torch.device("cpu") for t in module.state_dict().values())
    out = _run(module, _inputs(name, "cpu"))
    assert out.device == torch.device("cpu")
    assert_close(out, EXPECTED[f"{name}/out"], atol=2e-5, rtol=1e-4, msg=name)


def test_classes_are_wgtorchs_under_pytorch_paths(models):
    assert type(models["linear"][1]) is nn.Linear is torch.nn.modules.linear.Linear
    assert type(models["mha"].out_proj) is torch.nn.modules.linear.NonDynamicallyQuantizableLinear
    assert type(models["transformer"]) is nn.Transformer
    assert models["encoder"].layers[0].activation is F.gelu  # torch.nn.functional.gelu
    assert repr(models["cnn"][0]).startswith("Conv2d(3, 4, kernel_size=(3, 3)")


def test_loaded_model_trains_on_the_gpu(models):
    import copy

    model = copy.deepcopy(models["cnn"]).to("cuda")
    assert next(model.parameters()).device == torch.device("wgpu")
    out = model(*_inputs("cnn", "cuda"))
    assert_close(out, EXPECTED["cnn/out"], atol=2e-5)
    out.sum().backward()
    for pname, p in model.named_parameters():
        assert_close(p.grad, EXPECTED[f"cnn/grad/{pname}"], atol=1e-4, rtol=1e-3, msg=pname)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.detach().clone()
    opt.step()
    assert_close(model[0].weight, (before - 0.1 * model[0].weight.grad).numpy(), atol=1e-6)


def test_containers_keep_structure_and_values(models):
    assert isinstance(models["modulelist"], nn.ModuleList) and len(models["modulelist"]) == 2
    assert isinstance(models["moduledict"]["b"], nn.Tanh)
    assert isinstance(models["paramlist"][1], nn.Parameter)
    for name in CONTAINERS:
        state = models[name].state_dict()
        for key, value in state.items():
            assert_close(value, EXPECTED[f"{name}/state/{key}"], atol=0, rtol=0)


def _allowed():
    """Every class of torch.nn.modules wgtorch has, plus the functions the layers name."""
    classes = [v for k, v in vars(torch.nn.modules).items() if isinstance(v, type)]
    return classes + [F.relu, F.gelu]


def test_weights_only_load_refuses_modules_until_allowed():
    with pytest.raises(Exception, match="Unsupported global: GLOBAL torch.nn.modules"):
        torch.load(PATH)  # weights_only=True by default, as PyTorch 2.6+
    assert torch.serialization.get_safe_globals() == []
    with torch.serialization.safe_globals(_allowed()):
        loaded = torch.load(PATH)
        assert set(_allowed()) <= set(torch.serialization.get_safe_globals())
    assert torch.serialization.get_safe_globals() == []  # the block's globals are gone
    assert_close(_run(loaded["cnn"], _inputs("cnn", "cpu")), EXPECTED["cnn/out"], atol=2e-5)


def test_add_safe_globals_names_pytorch_paths():
    torch.serialization.clear_safe_globals()
    try:
        torch.serialization.add_safe_globals(_allowed())
        loaded = torch.load(PATH)
        assert type(loaded["bn"][1]) is torch.nn.modules.batchnorm.BatchNorm2d
    finally:
        torch.serialization.clear_safe_globals()
    assert torch.serialization.get_safe_globals() == []


def test_safe_globals_keeps_custom_names():
    class Config:
        pass

    with torch.serialization.safe_globals([(Config, "mypkg.Config")]):
        assert torch.serialization.get_safe_globals() == [(Config, "mypkg.Config")]
    assert torch.serialization.get_safe_globals() == []
