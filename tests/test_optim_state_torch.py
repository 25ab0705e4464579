"""Optimizer state moved between PyTorch 2.13 and wgtorch (torch.save -> wgtorch.load and
back) mid-training, and differentiable=True against PyTorch's gradients through the step."""

import io

import numpy as np
import pytest

import wgtorch as torch
from optim_pairs import SHAPES, Pair, groups, make_grads, make_values, to_numpy

reference = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.99))),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9))),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=3)),
    ("Rprop", dict(lr=0.05)),
    ("SparseAdam", dict(lr=0.01)),
]
HALF = 6


def _moved(state_dict, save, load):
    buffer = io.BytesIO()
    save(state_dict, buffer)
    buffer.seek(0)
    return load(buffer)


def _load_on_cpu(f):
    return reference.load(f, map_location="cpu")


def _pair(name, kw, seed):
    rng = np.random.default_rng(seed)
    shapes = SHAPES[:2] if name == "SparseAdam" else SHAPES
    lrs = [None, 0.02, 0.05][:len(shapes)]
    pair = Pair(reference, name, make_values(rng, shapes), kw, lrs=lrs,
                sparse=name == "SparseAdam")
    grads = make_grads(rng, 2 * HALF, shapes, zero_fraction=0.3 if name == "SparseAdam" else 0)
    for g in grads[:HALF]:
        pair.step(g)
    return pair, grads[HALF:], lrs


@pytest.mark.parametrize("name, kw", CASES, ids=[c[0] for c in CASES])
def test_state_dict_moves_both_ways_mid_training(name, kw):
    pair, rest, lrs = _pair(name, kw, len(name))
    ref_sd = pair.ref_opt.state_dict()
    ours_sd = pair.opt.state_dict()
    assert ours_sd["param_groups"][0].keys() == ref_sd["param_groups"][0].keys()
    assert [g["params"] for g in ours_sd["param_groups"]] == [g["params"] for g in
                                                              ref_sd["param_groups"]]
    assert {k: set(v) for k, v in ours_sd["state"].items()} == {
        k: set(v) for k, v in ref_sd["state"].items()}

    # PyTorch's state into wgtorch: a fresh wgtorch optimizer on PyTorch's current parameters
    into_ours = Pair(reference, name, [to_numpy(q) for q in pair.theirs], kw, lrs=lrs,
                     sparse=pair.sparse)
    into_ours.opt.load_state_dict(_moved(ref_sd, reference.save, torch.load))
    into_ours.ref_opt = pair.ref_opt
    into_ours.theirs = pair.theirs
    # wgtorch's state into PyTorch: a fresh PyTorch optimizer on wgtorch's parameters
    into_theirs = Pair(reference, name, [to_numpy(p) for p in pair.ours], kw, lrs=lrs,
                       sparse=pair.sparse)
    # (wgtorch's tensors live on its GPU, saved as cuda:0: a CPU PyTorch maps them to the CPU)
    into_theirs.ref_opt.load_state_dict(_moved(ours_sd, torch.save, _load_on_cpu))
    into_theirs.opt, into_theirs.ours = pair.opt, pair.ours
    assert into_ours.opt.state_dict()["param_groups"] == ref_sd["param_groups"]
    for step, grads in enumerate(rest):
        for moved in (into_ours, into_theirs):
            moved.step(grads)
            moved.compare(msg=f"resumed step {step + 1}")
        # into_ours and into_theirs share one optimizer each with `pair`: stepped once each


DIFFERENTIABLE = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True, foreach=True)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.05, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1, betas=(0.5, 0.6), weight_decay=0.1)),  # rectified from step 2
    ("RAdam", dict(lr=0.1, decoupled_weight_decay=True, weight_decay=0.1)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1)),
    # NOTE: t0=5 keeps mu == 1: once it is not, PyTorch's step saves the 0-d mu and then
    # overwrites it, so its backward fails (wgtorch's mu is a host float: it would not)
    ("ASGD", dict(lr=0.1, t0=5, weight_decay=0.1)),
    ("Rprop", dict(lr=0.1, maximize=True)),
]


def _warm_state(name, kw, values, grads):
    """PyTorch's state after a few ordinary steps: tensors and scalars, as numpy / floats."""
    p = reference.tensor(values, requires_grad=True)
    opt = getattr(reference.optim, name)([p], **kw)
    for g in grads:
        p.grad = reference.tensor(g)
        opt.step()
    tensors = {k: v.numpy() for k, v in opt.state[p].items() if v.dim() > 0}
    scalars = {k: float(v) for k, v in opt.state[p].items() if v.dim() == 0}
    return to_numpy(p), tensors, scalars


def _through_one_step(lib, name, kw, values, grad, tensors, scalars, weights):
    """One differentiable step from a warm state, as PyTorch's own differentiable tests take
    it (several steps in a row are not differentiable in PyTorch for every option: amsgrad,
    Adamax, Rprop overwrite tensors the previous step saved). The parameter, the gradient and
    every state tensor are inputs; returns the new parameter and the gradients of a loss of
    the new parameter and state w.r.t. each input."""
    p0 = lib.tensor(values, requires_grad=True)
    g = lib.tensor(grad, requires_grad=True)
    leaves = {k: lib.tensor(v, requires_grad=True) for k, v in sorted(tensors.items())}
    p = p0.clone()
    opt = getattr(lib.optim, name)([p], differentiable=True, **kw)
    opt.state[p].update({k: leaf.clone() for k, leaf in leaves.items()})
    opt.state[p].update({k: v if lib is torch else reference.tensor(v)
                         for k, v in scalars.items()})
    p.grad = g
    opt.step()
    w = lib.tensor(weights)
    loss = (p * w).sum() + (p * p).sum()
    for k in leaves:
        loss = loss + (opt.state[p][k] * w).sum()
    loss.backward()
    # (an input the step reaches only through a detached copy has no grad)
    return [to_numpy(p)] + [t.grad if t.grad is None else to_numpy(t.grad)
                            for t in (p0, g, *leaves.values())]


@pytest.mark.parametrize("name, kw", DIFFERENTIABLE,
                         ids=[f"{n}-{'-'.join(kw)}" for n, kw in DIFFERENTIABLE])
def test_differentiable_step_gives_pytorchs_gradients(name, kw):
    rng = np.random.default_rng(3)
    values = rng.standard_normal(10).astype(np.float32)
    grads = [rng.standard_normal(10).astype(np.float32) for _ in range(4)]
    weights = rng.standard_normal(10).astype(np.float32)
    for warm in (0, 3):  # from a fresh state, and from PyTorch's state after 3 steps
        p, tensors, scalars = (values, {}, {}) if warm == 0 else _warm_state(
            name, kw, values, grads[:warm])
        args = (name, kw, p, grads[warm], tensors, scalars, weights)
        ours, theirs = _through_one_step(torch, *args), _through_one_step(reference, *args)
        assert len(ours) == len(theirs)
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert (a is None) == (b is None), (name, warm, k)
            if b is not None:
                np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4,
                                           err_msg=f"{name} after {warm} steps, output {k}")
        assert np.abs(theirs[1]).sum() > 0


def test_differentiable_rules():
    """Non-leaf parameters only with differentiable=True; foreach refuses it except in SGD;
    fused refuses it (PyTorch's errors)."""
    leaf = torch.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.Adam([leaf * 2])
    opt = torch.optim.Adam([leaf * 2], differentiable=True, foreach=True)
    opt.param_groups[0]["params"][0].grad = torch.ones(3)
    with pytest.raises(AssertionError, match="_foreach ops don't support autograd"):
        opt.step()
    sgd = torch.optim.SGD([leaf.clone()], differentiable=True, foreach=True, momentum=0.9)
    sgd.param_groups[0]["params"][0].grad = torch.ones(3)
    sgd.step()
    for name in ("Adam", "AdamW", "SGD", "Adagrad"):
        for lib in (reference, torch):
            with pytest.raises(RuntimeError, match="`fused` does not support `differentiable`"):
                getattr(lib.optim, name)([lib.zeros(1, requires_grad=True)], fused=True,
                                         differentiable=True)


def test_maximize_negates_the_gradient():
    """maximize=True steps exactly as maximize=False on the negated gradient, everywhere."""
    names = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "NAdam", "RAdam",
             "Adamax", "ASGD", "Rprop", "SparseAdam"]
    rng = np.random.default_rng(8)
    values = rng.standard_normal(9).astype(np.float32)
    grads = [rng.standard_normal(9).astype(np.float32) for _ in range(4)]
    for name in names:
        out = []
        for maximize, sign in ((True, 1.0), (False, -1.0)):
            p = torch.tensor(values, requires_grad=True)
            opt = getattr(torch.optim, name)(groups([p], [None]), lr=0.1, maximize=maximize)
            for g in grads:
                p.grad = torch.tensor(sign * g)
                opt.step()
            out.append(p.detach().numpy())
        np.testing.assert_array_equal(out[0], out[1], err_msg=name)
        assert not np.allclose(out[0], values), name
