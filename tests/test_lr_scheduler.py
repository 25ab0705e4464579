"""Learning-rate schedulers: the sequences real PyTorch produced (tests/data/lr_sequences.json,
from tests/data/make_golden.py) and the closed forms of PyTorch's docs."""

import json
import math
import os
import warnings

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.optim import lr_scheduler as S

with open(os.path.join(os.path.dirname(__file__), "data", "lr_sequences.json")) as f:
    GOLDEN = json.load(f)


def lr_lambda(epoch):  # the same function as in make_golden.py
    return 0.95**epoch


SCHEDULES = {
    "StepLR": ("sgd", [0.1, 0.01], lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12),
    "MultiStepLR": ("sgd", [0.1], lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
                    12),
    "ExponentialLR": ("sgd", [0.1], lambda o: S.ExponentialLR(o, gamma=0.9), 10),
    "CosineAnnealingLR": ("sgd", [0.1], lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
                          25),
    "LambdaLR": ("sgd", [0.1, 0.2], lambda o: S.LambdaLR(o, lr_lambda=lr_lambda), 8),
    "LinearLR": ("sgd", [0.1], lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9,
                                                    total_iters=4), 8),
    "ConstantLR": ("sgd", [0.1], lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), 6),
    "PolynomialLR": ("sgd", [0.1], lambda o: S.PolynomialLR(o, total_iters=4, power=2.0), 7),
    "OneCycleLR_cos_sgd": ("sgd", [0.1], lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=20),
                           19),
    "OneCycleLR_linear_adam_3phase": ("adam", [0.1], lambda o: S.OneCycleLR(
        o, max_lr=[0.3], epochs=2, steps_per_epoch=7, anneal_strategy="linear",
        three_phase=True, pct_start=0.25), 13),
    "SequentialLR": ("sgd", [0.1], lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.CosineAnnealingLR(o, T_max=6)],
        milestones=[4]), 14),
    "ChainedScheduler": ("sgd", [0.1], lambda o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.9)]), 6),
}


def make_optimizer(kind, lrs):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def momenta(kind, opt):
    return [g["betas"][0] if kind == "adam" else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_matches_pytorch_sequence(name):
    kind, lrs, make, steps = SCHEDULES[name]
    opt = make_optimizer(kind, lrs)
    sched = make(opt)
    seq, moms = [list(sched.get_last_lr())], [momenta(kind, opt)]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(list(sched.get_last_lr()))
        moms.append(momenta(kind, opt))
    np.testing.assert_allclose(seq, GOLDEN[name]["lrs"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(moms, GOLDEN[name]["momenta"], rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == seq[-1]


@pytest.mark.parametrize("name", ["plateau_min_rel", "plateau_max_abs_cooldown"])
def test_reduce_on_plateau_matches_pytorch(name):
    golden = GOLDEN[name]
    opt = make_optimizer("sgd", [0.1, 0.05])
    sched = S.ReduceLROnPlateau(opt, **golden["kwargs"])
    seq = []
    for m in golden["metrics"]:
        opt.step()
        sched.step(torch.tensor(m))  # a 1-element tensor metric works, as in PyTorch
        seq.append([g["lr"] for g in opt.param_groups])
    np.testing.assert_allclose(seq, golden["lrs"], rtol=1e-12)
    state = sched.state_dict()
    for key, value in golden["state_dict"].items():
        assert state[key] == pytest.approx(value), key


def test_closed_forms_from_the_docs():
    base = 0.1
    cases = [
        (lambda o: S.StepLR(o, step_size=3, gamma=0.5), lambda e: base * 0.5 ** (e // 3)),
        (lambda o: S.ExponentialLR(o, gamma=0.9), lambda e: base * 0.9**e),
        (lambda o: S.MultiStepLR(o, milestones=[2, 5], gamma=0.1),
         lambda e: base * 0.1 ** sum(e >= m for m in (2, 5))),
        (lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
         lambda e: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * e / 8)) / 2),
        (lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4),
         lambda e: base * (0.25 + 0.75 * min(e, 4) / 4)),
        (lambda o: S.LambdaLR(o, lr_lambda=lambda e: 1 / (1 + e)), lambda e: base / (1 + e)),
    ]
    for make, formula in cases:
        opt = make_optimizer("sgd", [base])
        sched = make(opt)
        for epoch in range(9):
            assert sched.get_last_lr()[0] == pytest.approx(formula(epoch), rel=1e-9), (
                type(sched).__name__, epoch)
            opt.step()
            sched.step()


def test_one_cycle_formula():
    opt = make_optimizer("sgd", [0.1])
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3, div_factor=10.0,
                         final_div_factor=100.0)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(9):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])

    def cos_anneal(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    warmup_end = 0.3 * 10 - 1
    expected = [cos_anneal(0.1, 1.0, e / warmup_end) if e <= warmup_end
                else cos_anneal(1.0, 0.001, (e - warmup_end) / (9 - warmup_end))
                for e in range(10)]
    assert lrs == pytest.approx(expected, rel=1e-9)
    opt.step()
    sched.step()  # the total_steps-th step is allowed, the next one is not
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_epoch_argument_uses_closed_form():
    opt = make_optimizer("sgd", [0.1])
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(5)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * 0.5**2)


def test_state_dict_resumes_the_schedule():
    opt = make_optimizer("sgd", [0.1])
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2 = make_optimizer("sgd", [0.1])
    opt2.load_state_dict(opt.state_dict())
    sched2 = S.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for _ in range(3):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-12)

    lam = S.LambdaLR(make_optimizer("sgd", [0.1]), lr_lambda=lr_lambda)
    assert lam.state_dict()["lr_lambdas"] == [None]
    seq = S.SequentialLR(opt2, [S.ConstantLR(opt2), S.ExponentialLR(opt2, 0.9)], milestones=[2])
    assert len(seq.state_dict()["_schedulers"]) == 2


def test_scheduler_drives_the_optimizer_kernel():
    """The scheduler's lr reaches the fused kernel at every step (uniform, no recompilation)."""
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    total = 0.0
    for _ in range(4):
        p.grad = torch.ones(3)
        total += opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    assert p.detach().numpy().tolist() == [-total] * 3 == [-1.875] * 3


def test_errors_and_warnings():
    opt = make_optimizer("sgd", [0.1])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_optimizer("sgd", [0.1]), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        S.LambdaLR(opt, [lr_lambda, lr_lambda])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode max2 is unknown"):
        S.ReduceLROnPlateau(opt, mode="max2")
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Sequential Schedulers expects number of schedulers"):
        S.SequentialLR(opt, [S.ConstantLR(opt)], milestones=[2])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])
    fresh = make_optimizer("sgd", [0.1])
    sched = S.ExponentialLR(fresh, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.step()
        sched.step()
