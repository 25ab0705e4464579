"""Optimizers against numpy re-implementations of PyTorch's documented update rules, over
several steps, with the option combinations that change the kernel's path."""

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close

SHAPES = [(5, 7), (130,)]  # 130: not a multiple of the workgroup size (64)
LRS = [0.05, 0.02]  # one param group per shape
STEPS = 4


# ---- numpy references (PyTorch docs, torch/optim/*.py) ----------------------------------------


def ref_sgd(p, g, s, t, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    if momentum:
        s["momentum_buffer"] = g.copy() if t == 1 else (
            momentum * s["momentum_buffer"] + (1 - dampening) * g)
        g = g + momentum * s["momentum_buffer"] if nesterov else s["momentum_buffer"]
    return p - lr * g


def ref_adam(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    m = s.get("exp_avg", 0 * p)
    v = s.get("exp_avg_sq", 0 * p)
    s["exp_avg"] = m = b1 * m + (1 - b1) * g
    s["exp_avg_sq"] = v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        s["max_exp_avg_sq"] = v = np.maximum(s.get("max_exp_avg_sq", 0 * p), v)
    denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
    return p - lr / (1 - b1**t) * m / denom


def ref_rmsprop(p, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    s["square_avg"] = v = alpha * s.get("square_avg", 0 * p) + (1 - alpha) * g * g
    if centered:
        s["grad_avg"] = ga = alpha * s.get("grad_avg", 0 * p) + (1 - alpha) * g
        avg = np.sqrt(v - ga * ga) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum > 0:
        s["momentum_buffer"] = buf = momentum * s.get("momentum_buffer", 0 * p) + g / avg
        return p - lr * buf
    return p - lr * g / avg


def ref_adagrad(p, g, s, t, lr, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", 0 * p + initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_adadelta(p, g, s, t, lr, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * p
    s["square_avg"] = v = rho * s.get("square_avg", 0 * p) + (1 - rho) * g * g
    u = s.get("acc_delta", 0 * p)
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    s["acc_delta"] = rho * u + (1 - rho) * delta * delta
    return p - lr * delta


CASES = [
    (torch.optim.SGD, ref_sgd, {}),
    (torch.optim.SGD, ref_sgd, dict(weight_decay=0.1, maximize=True)),
    (torch.optim.SGD, ref_sgd, dict(momentum=0.9)),
    (torch.optim.SGD, ref_sgd, dict(momentum=0.9, dampening=0.3, weight_decay=0.1)),
    (torch.optim.SGD, ref_sgd, dict(momentum=0.8, nesterov=True, weight_decay=0.05)),
    (torch.optim.SGD, ref_sgd, dict(momentum=0.5, nesterov=True, maximize=True)),
    (torch.optim.Adam, ref_adam, {}),
    (torch.optim.Adam, ref_adam, dict(amsgrad=True, weight_decay=0.1, betas=(0.8, 0.9))),
    (torch.optim.Adam, ref_adam, dict(weight_decay=0.1, maximize=True, eps=1e-3)),
    (torch.optim.AdamW, ref_adam, dict(decoupled=True, weight_decay=0.01)),
    (torch.optim.AdamW, ref_adam, dict(decoupled=True, weight_decay=0.1, amsgrad=True,
                                       maximize=True)),
    (torch.optim.RMSprop, ref_rmsprop, {}),
    (torch.optim.RMSprop, ref_rmsprop, dict(momentum=0.9, weight_decay=0.1)),
    (torch.optim.RMSprop, ref_rmsprop, dict(centered=True, alpha=0.9)),
    (torch.optim.RMSprop, ref_rmsprop, dict(momentum=0.5, centered=True, maximize=True)),
    (torch.optim.Adagrad, ref_adagrad, {}),
    (torch.optim.Adagrad, ref_adagrad, dict(lr_decay=0.1, weight_decay=0.05,
                                            initial_accumulator_value=0.5, maximize=True)),
    (torch.optim.Adadelta, ref_adadelta, {}),
    (torch.optim.Adadelta, ref_adadelta, dict(rho=0.5, weight_decay=0.1, maximize=True)),
]


def _case_id(case):
    cls, _, kw = case
    return cls.__name__ + "-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_update_rule_matches_reference(case):
    cls, ref, kw = case
    rng = np.random.default_rng(len(kw) * 7 + len(cls.__name__))
    values = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    params = [torch.tensor(v, requires_grad=True) for v in values]
    opt_kw = {k: v for k, v in kw.items() if k != "decoupled"}
    opt = cls([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], **opt_kw)
    expected = [v.astype(np.float64) for v in values]
    states = [{} for _ in params]
    for t in range(1, STEPS + 1):
        grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt.step()
        expected = [ref(e, g.astype(np.float64), s, t, lr, **kw)
                    for e, g, s, lr in zip(expected, grads, states, LRS)]
    for p, e, s in zip(params, expected, states):
        assert_close(p, e, atol=1e-5, rtol=1e-4, msg=f"{cls.__name__} param")
        for name, value in s.items():
            assert_close(opt.state[p][name], value, atol=1e-5, rtol=1e-4, msg=name)
        if "step" in opt.state[p]:
            assert opt.state[p]["step"] == STEPS


def test_float16_parameters_round_to_half():
    """float16 parameters keep float16 state; each stored value is rounded to half, as
    PyTorch's in-place float16 ops round them."""
    half = lambda x: x.astype(np.float16).astype(np.float64)  # noqa: E731
    rng = np.random.default_rng(3)
    value = rng.standard_normal(70).astype(np.float16)
    p = torch.tensor(value, requires_grad=True)
    # NOTE: eps=1e-3: with the default eps, a squared gradient that underflows in half
    # precision makes the step blow up (to inf in PyTorch too).
    opt = torch.optim.Adam([p], lr=0.01, eps=1e-3)
    expected, m, v = value.astype(np.float64), 0.0, 0.0
    for t in range(1, 4):
        g = rng.standard_normal(70).astype(np.float16)
        p.grad = torch.tensor(g)
        opt.step()
        m = half(m + 0.1 * (g - m))
        v = half(0.999 * v + 0.001 * g.astype(np.float64) ** 2)
        denom = np.sqrt(v) / np.sqrt(1 - 0.999**t) + 1e-3
        expected = half(expected - 0.01 / (1 - 0.9**t) * m / denom)
    out = p.detach().numpy()
    assert out.dtype == np.float16 and opt.state[p]["exp_avg"].dtype == torch.float16
    assert_close(out, expected, atol=2e-3, rtol=2e-3)
    assert_close(opt.state[p]["exp_avg_sq"], v, atol=1e-6, rtol=2e-3)


def test_one_fused_dispatch_per_parameter_and_lr_changes_without_recompiling():
    params = [torch.randn(9, requires_grad=True) for _ in range(3)]
    opt = torch.optim.AdamW(params, lr=0.1)
    for p in params:
        p.grad = torch.ones(9)
    rt = torch.get_runtime()
    opt.step()
    kernels = len(rt.kernels)
    before = rt.dispatch_count
    opt.param_groups[0]["lr"] = 0.01
    opt.step()
    assert rt.dispatch_count - before == len(params)
    assert len(rt.kernels) == kernels
    versions = [p._version for p in params]
    opt.step()
    assert [p._version for p in params] == [v + 1 for v in versions]


def test_grid_past_the_workgroup_limit():
    n = 65536 * 64 + 3  # more workgroups than one dimension allows: the grid folds into Y
    p = torch.zeros(n, requires_grad=True)
    p.grad = torch.ones(n)
    torch.optim.SGD([p], lr=0.5).step()
    out = p.detach().numpy()
    assert out[0] == -0.5 and out[-1] == -0.5 and np.all(out == -0.5)


@pytest.mark.parametrize("start", [4, 1])  # 4: a vec4-aligned view, 1: a misaligned one
def test_parameter_views_leave_their_neighbours_alone(start):
    base = torch.zeros(16)
    p = base[start : start + 5].detach().requires_grad_()  # a contiguous leaf inside `base`
    opt = torch.optim.Adam([p], lr=0.1)
    for _ in range(2):
        p.grad = torch.ones(5)
        opt.step()
    expected, state = np.zeros(16), {}
    for t in (1, 2):
        expected[start : start + 5] = ref_adam(expected[start : start + 5], np.ones(5), state, t,
                                               0.1)
    assert_close(base, expected)


def test_params_without_grad_are_skipped_and_closure_returns_loss():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([a, b], lr=1.0, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = (a * 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 6.0
    assert_close(a, np.full(3, -1.0))
    assert_close(b, np.ones(3))
    assert b not in opt.state and "momentum_buffer" in opt.state[a]


def test_zero_grad():
    p = torch.ones(4, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    p.grad = torch.ones(4)
    opt.zero_grad(set_to_none=False)
    assert_close(p.grad, np.zeros(4))
    opt.zero_grad()
    assert p.grad is None
    p.grad = torch.ones(4)
    opt.step()
    assert opt.state_dict()["state"] == {}  # plain SGD keeps no state, as in PyTorch


def test_param_groups_and_add_param_group():
    a, b, c = (torch.zeros(2, requires_grad=True) for _ in range(3))
    opt = torch.optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[1]["momentum"] == 0.5
    opt.add_param_group({"params": [c], "lr": 10.0})
    for p in (a, b, c):
        p.grad = torch.ones(2)
    opt.step()
    assert_close(a, [-0.1, -0.1])
    assert_close(b, [-1.0, -1.0])
    assert_close(c, [-10.0, -10.0])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    named = torch.optim.Adam([("w", a), ("b", b)])
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    assert "Parameter Group 0" in repr(opt) and "    lr: 0.1" in repr(opt)


@pytest.mark.parametrize("make, match", [
    (lambda p: torch.optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: torch.optim.SGD(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: torch.optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: torch.optim.SGD(p, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: torch.optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: torch.optim.Adam(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: torch.optim.Adam(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: torch.optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: torch.optim.AdamW(p, betas=(0.9, -0.1)),
     "Invalid beta parameter at index 1: -0.1"),
    (lambda p: torch.optim.RMSprop(p, alpha=-1), "Invalid alpha value: -1"),
    (lambda p: torch.optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: torch.optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: torch.optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda p: torch.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: torch.optim.SGD([], lr=0.1), "optimizer got an empty parameter list"),
    (lambda p: torch.optim.SGD(p, lr=0.1, fused=True, differentiable=True),
     "`fused` does not support `differentiable`"),
    (lambda p: torch.optim.Adam(p, fused=True, foreach=True),
     "`fused` and `foreach` cannot be `True` together."),
])
def test_invalid_arguments(make, match):
    params = [torch.zeros(2, requires_grad=True)]
    with pytest.raises((ValueError, RuntimeError), match=match):
        make(params)


def test_invalid_params():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        torch.optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordering of tensors in sets"):
        torch.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        torch.optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([p * 2], lr=0.1)
    strided = torch.zeros(4, 3).t().detach().requires_grad_()
    opt = torch.optim.SGD([strided], lr=0.1)
    strided.grad = torch.ones(3, 4)
    with pytest.raises(RuntimeError, match="SGD: wgtorch optimizers update contiguous parameters"):
        opt.step()


def test_noncontiguous_gradient_is_accepted():
    p = torch.zeros(3, 4, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    g = np.arange(12, dtype=np.float32).reshape(4, 3)
    p.grad = torch.tensor(g).t()
    opt.step()
    assert_close(p, -g.T)


def _trained(cls, kw, steps=2, seed=0):
    rng = np.random.default_rng(seed)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
              for s in SHAPES]
    opt = cls([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.03}], **kw)
    for _ in range(steps):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    return params, opt


@pytest.mark.parametrize("cls, kw", [
    (torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
])
def test_state_dict_round_trip_resumes_identically(cls, kw):
    params, opt = _trained(cls, kw)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.03
    if "step" in sd["state"][0]:
        assert isinstance(sd["state"][0]["step"], torch.Tensor)
        assert sd["state"][0]["step"].item() == 2.0
    clones = [p.detach().clone().requires_grad_() for p in params]
    other = cls([{"params": [clones[0]]}, {"params": [clones[1]]}], lr=0.5)
    other.load_state_dict(sd)
    assert other.param_groups[1]["lr"] == 0.03 and other.param_groups[0]["params"][0] is clones[0]
    for name, value in opt.state[params[0]].items():
        if isinstance(value, torch.Tensor):  # loaded state is a copy, not an alias
            assert other.state[clones[0]][name]._storage is not value._storage
    for p, c in zip(params, clones):
        g = torch.randn(*p.shape)
        p.grad, c.grad = g, g.clone()
    opt.step()
    other.step()
    for p, c in zip(params, clones):
        assert_close(c, p.detach().numpy(), atol=0, rtol=0)


def test_load_state_dict_errors():
    params, opt = _trained(torch.optim.Adam, dict(lr=0.01))
    sd = opt.state_dict()
    single = torch.optim.Adam(params)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        single.load_state_dict(sd)
    wrong = torch.optim.Adam([{"params": params}, {"params": [torch.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        wrong.load_state_dict(sd)
    swapped = torch.optim.Adam([{"params": [params[1]]}, {"params": [params[0]]}])
    with pytest.raises(ValueError, match="'exp_avg' tensor of shape"):
        swapped.load_state_dict(sd)


GOLDEN = {
    "adam": (torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99))),
    "sgd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_resume_from_pytorch_optimizer_state(name):
    """A state_dict saved by real PyTorch (tests/data/make_golden.py) loads, and the next step
    gives PyTorch's parameters."""
    import os

    golden = torch.load(os.path.join(os.path.dirname(__file__), "data", "torch_optim_state.pt"))
    entry = golden[name]
    cls, kw = GOLDEN[name]
    w, b = (p.clone().requires_grad_() for p in entry["params"])
    opt = cls([{"params": [w]}, {"params": [b]}], **kw)
    opt.load_state_dict(entry["state_dict"])
    assert opt.param_groups[1]["lr"] == 0.05
    w.grad, b.grad = entry["grads"]
    opt.step()
    for p, e in zip((w, b), entry["after"]):
        assert_close(p, e.numpy(), atol=1e-6, rtol=1e-5)
    assert set(opt.state_dict()["param_groups"][0]) == set(entry["state_dict"]["param_groups"][0])


def test_load_state_dict_fills_options_missing_from_an_old_checkpoint():
    import wgtorch as torch

    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    for key in ("nesterov", "maximize", "foreach"):
        del sd["param_groups"][0][key]
    fresh = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    fresh.load_state_dict(sd)
    group = fresh.param_groups[0]
    assert group["nesterov"] is True and group["maximize"] is False and group["momentum"] == 0.9
