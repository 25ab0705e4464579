"""Every optimizer against PyTorch 2.13 in the same process: the same parameters and the same
25 gradients, the option combinations that change the update, parameters and state compared
after every step."""

import numpy as np
import pytest

import wgtorch as torch
from optim_pairs import SHAPES, Pair, make_grads, make_values

reference = pytest.importorskip("torch")

STEPS = 25
ATOL = {"RMSprop-lr=0.01-momentum=0.9-centered=True-alpha=0.4-weight_decay=0.1": 5e-6}

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True, foreach=False)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, betas=(0.3, 0.9), fused=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True, capturable=True)),
    ("RMSprop", dict(lr=0.01)),
    # NOTE: short memory and centering make v - mean(g)^2 cancel: float32 rounding differs by
    # ~2e-6 after 18 steps (wgtorch's is the nearer to float64 there); see ATOL
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, alpha=0.4, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, maximize=True, foreach=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, maximize=True, fused=True)),
    ("Adadelta", dict(rho=0.5, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict(lr=0.5, capturable=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.02)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                   betas=(0.3, 0.8))),
    ("NAdam", dict(capturable=True, foreach=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.9))),  # rectified from step 6
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                   betas=(0.3, 0.5))),  # rho_t never passes 5: the momentum branch throughout
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, betas=(0.2, 0.5), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, t0=10, lambd=0.01, alpha=0.5, weight_decay=0.05)),  # averaging on
    ("ASGD", dict(lr=0.05, t0=3, maximize=True, capturable=False)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08), maximize=True)),
    ("Rprop", dict(lr=0.001, etas=(0.7, 1.1), step_sizes=(1e-4, 1.0), foreach=True)),
]


def _case_id(case):
    name, kw = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_pytorch_over_many_steps(case):
    name, kw = case
    rng = np.random.default_rng(len(_case_id(case)))
    pair = Pair(reference, name, make_values(rng), kw)
    for step, grads in enumerate(make_grads(rng, STEPS)):
        pair.step(grads)
        pair.compare(atol=ATOL.get(_case_id(case), 1e-6), msg=f"step {step + 1}")


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, betas=(0.5, 0.9), maximize=True)])
def test_sparse_adam_matches_pytorch_on_sparse_gradients(kw):
    """Dense gradients with zeros here, their sparse form (``to_sparse()``) in PyTorch."""
    rng = np.random.default_rng(11)
    shapes = SHAPES[:2]
    pair = Pair(reference, "SparseAdam", make_values(rng, shapes), kw, lrs=[None, 0.02],
                sparse=True)
    for step, grads in enumerate(make_grads(rng, STEPS, shapes, zero_fraction=0.5)):
        pair.step(grads)
        pair.compare(msg=f"step {step + 1}")
    grads = [np.zeros(s, np.float32) for s in shapes]  # nothing stored: only the step counts
    pair.step(grads)
    pair.compare(msg="all-zero gradient")
    assert pair.opt.state[pair.ours[0]]["step"] == STEPS + 1


def test_sparse_adam_with_an_embedding():
    """``nn.Embedding(sparse=True)``: PyTorch's gradient is sparse (the looked-up rows),
    wgtorch's dense with zero rows elsewhere; SparseAdam moves the same rows the same way."""
    weights = np.random.default_rng(5).standard_normal((20, 6)).astype(np.float32)
    ours = torch.nn.Embedding(20, 6, sparse=True)
    theirs = reference.nn.Embedding(20, 6, sparse=True)
    with torch.no_grad():
        ours.weight.copy_(torch.tensor(weights))
    with reference.no_grad():
        theirs.weight.copy_(reference.tensor(weights))
    opt = torch.optim.SparseAdam(ours.parameters(), lr=0.05)
    ref_opt = reference.optim.SparseAdam(theirs.parameters(), lr=0.05)
    rng = np.random.default_rng(6)
    for _ in range(8):
        idx = rng.integers(0, 20, size=(4, 3))
        for module, lib, o in ((ours, torch, opt), (theirs, reference, ref_opt)):
            o.zero_grad()
            (module(lib.tensor(idx)) ** 2).sum().backward()
            o.step()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               atol=1e-6, rtol=1e-5)


def test_zero_element_parameter_gets_state_and_stays_empty():
    for name in ("NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "SparseAdam"):
        p = torch.zeros(0, requires_grad=True)
        opt = getattr(torch.optim, name)([p])
        p.grad = torch.zeros(0)
        opt.step()
        assert p.shape == (0,) and opt.state[p]["step"] == 1, name


def _signature(cls):
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "SparseAdam",
                                  "LBFGS"])
def test_signature_is_pytorchs(name):
    """Argument names, order, keyword-only markers and defaults (foreach, fused, maximize,
    capturable, differentiable where PyTorch has them)."""
    assert _signature(getattr(torch.optim, name)) == _signature(getattr(reference.optim, name))


def test_every_pytorch_optimizer_but_the_new_ones_exists():
    missing = set(reference.optim.__all__) - set(dir(torch.optim))
    # Adafactor, Muon (torch 2.5+, 2.9+) and swap_in_optimizer_params_and_state are not in
    # issue 13's list
    assert missing <= {"Adafactor", "Muon", "swap_in_optimizer_params_and_state"}, missing


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "ASGD", "Rprop"])
def test_invalid_arguments_match_pytorch(name):
    bad = [dict(lr=-1.0)]
    if name in ("NAdam", "RAdam", "Adamax"):
        bad += [dict(eps=-1.0), dict(betas=(1.0, 0.9)), dict(betas=(0.9, -0.1)),
                dict(weight_decay=-1.0)]
    if name == "NAdam":
        bad.append(dict(momentum_decay=-1.0))
    if name == "ASGD":
        bad.append(dict(weight_decay=-1.0))
    if name == "Rprop":
        bad += [dict(etas=(1.5, 1.2)), dict(etas=(0.5, 0.9))]
    for kw in bad:
        with pytest.raises(ValueError) as theirs:
            getattr(reference.optim, name)([reference.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError) as ours:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
        assert str(ours.value) == str(theirs.value), (name, kw)
    for kw in (dict(lr=0.0), dict(eps=0.0)):
        with pytest.raises(ValueError) as theirs:
            reference.optim.SparseAdam([reference.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError, match=str(theirs.value)):
            torch.optim.SparseAdam([torch.zeros(2, requires_grad=True)], **kw)


@pytest.mark.parametrize("name, kw", [
    ("NAdam", dict(lr=0.01, eps=1e-3)), ("RAdam", dict(lr=0.01, eps=1e-3, betas=(0.8, 0.9))),
    ("Adamax", dict(lr=0.01)), ("ASGD", dict(lr=0.01, t0=3)), ("Rprop", dict(lr=0.01)),
    ("SparseAdam", dict(lr=0.01, eps=1e-3)),
])
def test_float16_parameters_match_pytorch(name, kw):
    """float16 parameters keep float16 state; PyTorch rounds after every in-place op, the
    kernels at every store, so they agree to a half-precision rounding or two (the values
    are ~2, where one float16 step is 2e-3)."""
    rng = np.random.default_rng(4)
    values = rng.standard_normal(70).astype(np.float16)
    grads = [rng.standard_normal(70).astype(np.float16) for _ in range(10)]
    out = []
    for lib in (torch, reference):
        p = lib.tensor(values, requires_grad=True)
        opt = getattr(lib.optim, name)([p], **kw)
        for g in grads:
            p.grad = lib.tensor(g)
            if lib is reference and name == "SparseAdam":
                p.grad = p.grad.to_sparse()
            opt.step()
        assert p.dtype == lib.float16
        out.append(p.detach().numpy().astype(np.float64))
    np.testing.assert_allclose(out[0], out[1], atol=2e-3, rtol=0)
