"""Every scheduler of PyTorch 2.13's lr_scheduler (and swa_utils.SWALR) against PyTorch in the
same process: learning rates and momenta over many steps, fractional epochs, and state_dicts
moved between the two mid-schedule."""

import math

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.optim import swa_utils

reference = pytest.importorskip("torch")
import torch.optim.swa_utils as ref_swa_utils  # noqa: E402


class Scale:
    """A callable-object scale_fn: its __dict__ travels in CyclicLR's state_dict."""

    def __init__(self, base):
        self.base = base

    def __call__(self, x):
        return self.base ** x


def quarter(epoch):
    return 0.25 + 0.75 * 0.9**epoch


def decay(epoch):
    return math.exp(-0.1 * epoch)


def halving(x):
    return 1 / (2.0 ** (x - 1))


def _schedules(lib):
    """name -> (optimizer kind, lrs, make(optimizer), steps); ``lib``: wgtorch or torch."""
    S = lib.optim.lr_scheduler
    return {
        "LambdaLR": ("sgd", [0.1, 0.2], lambda o: S.LambdaLR(o, [quarter, decay]), 12),
        "MultiplicativeLR": ("sgd", [0.1], lambda o: S.MultiplicativeLR(o, quarter), 12),
        "StepLR": ("sgd", [0.1, 0.01], lambda o: S.StepLR(o, step_size=3, gamma=0.5), 15),
        "MultiStepLR": ("sgd", [0.1], lambda o: S.MultiStepLR(o, [2, 5, 5, 9], gamma=0.3), 15),
        "ConstantLR": ("sgd", [0.1], lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), 8),
        "LinearLR": ("adam", [0.1], lambda o: S.LinearLR(o, 0.2, 0.9, total_iters=6), 10),
        "ExponentialLR": ("sgd", [0.1], lambda o: S.ExponentialLR(o, gamma=0.9), 12),
        "SequentialLR": ("sgd", [0.1], lambda o: S.SequentialLR(
            o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
                S.CosineAnnealingLR(o, T_max=6)], milestones=[4]), 16),
        "CosineAnnealingLR": ("sgd", [0.1, 0.3], lambda o: S.CosineAnnealingLR(o, 7, 0.001), 40),
        "ChainedScheduler": ("sgd", [0.1], lambda o: S.ChainedScheduler(
            [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.9)]), 8),
        "CyclicLR_triangular": ("sgd", [0.1, 0.2], lambda o: S.CyclicLR(
            o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4, step_size_down=6), 45),
        "CyclicLR_triangular2_adam": ("adam", [0.1], lambda o: S.CyclicLR(
            o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="triangular2",
            base_momentum=0.85, max_momentum=0.95), 60),
        "CyclicLR_exp_range": ("sgd", [0.1], lambda o: S.CyclicLR(
            o, 0.001, 0.1, step_size_up=3, mode="exp_range", gamma=0.97), 50),
        "CyclicLR_scale_fn_cycle": ("sgd", [0.1], lambda o: S.CyclicLR(
            o, 0.01, 0.1, step_size_up=2, scale_fn=halving, cycle_momentum=False), 30),
        "CyclicLR_scale_fn_iterations": ("adam", [0.1], lambda o: S.CyclicLR(
            o, 0.01, 0.1, step_size_up=3, scale_fn=Scale(0.95), scale_mode="iterations"), 30),
        "CosineAnnealingWarmRestarts": ("sgd", [0.1, 0.2], lambda o: (
            S.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.001)), 40),
        "CosineAnnealingWarmRestarts_T_mult": ("sgd", [0.1], lambda o: (
            S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)), 50),
        "OneCycleLR": ("sgd", [0.1], lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=30), 29),
        "OneCycleLR_three_phase_adam": ("adam", [0.1], lambda o: S.OneCycleLR(
            o, [0.3], epochs=3, steps_per_epoch=7, anneal_strategy="linear", three_phase=True,
            pct_start=0.25), 20),
        "PolynomialLR": ("sgd", [0.1], lambda o: S.PolynomialLR(o, total_iters=7, power=2.0), 12),
        "SWALR_cos": ("sgd", [0.1, 0.2], lambda o: lib_swa(lib).SWALR(
            o, swa_lr=[0.05, 0.01], anneal_epochs=5), 12),
        "SWALR_linear_0": ("sgd", [0.1], lambda o: lib_swa(lib).SWALR(
            o, swa_lr=0.05, anneal_epochs=0, anneal_strategy="linear"), 5),
    }


def lib_swa(lib):
    return swa_utils if lib is torch else ref_swa_utils


def _optimizer(lib, kind, lrs):
    groups = [{"params": [lib.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "adam":
        return lib.optim.Adam(groups)
    return lib.optim.SGD(groups, momentum=0.9)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _run(lib, name, steps=None):
    kind, lrs, make, n = _schedules(lib)[name]
    opt = _optimizer(lib, kind, lrs)
    sched = make(opt)
    return opt, sched, n if steps is None else steps


def _advance(opt, sched, steps):
    """The learning rates and momenta after each of ``steps`` steps, one row per step."""
    seq = []
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append([*sched.get_last_lr(), *_momenta(opt)])
    return seq


def test_every_pytorch_scheduler_exists():
    S = torch.optim.lr_scheduler
    assert set(reference.optim.lr_scheduler.__all__) <= set(S.__all__)
    for name in reference.optim.lr_scheduler.__all__:
        assert getattr(S, name).__name__ == name
    assert issubclass(S._LRScheduler, S.LRScheduler)
    assert set(ref_swa_utils.__all__) == set(swa_utils.__all__)


@pytest.mark.parametrize("name", sorted(_schedules(torch)))
def test_matches_pytorch_sequence(name):
    ours, theirs = _run(torch, name), _run(reference, name)
    assert theirs[0].param_groups[0].keys() == ours[0].param_groups[0].keys()
    first = [*ours[1].get_last_lr(), *_momenta(ours[0])]
    assert first == pytest.approx([*theirs[1].get_last_lr(), *_momenta(theirs[0])], 1e-12)
    seq, ref_seq = _advance(*ours), _advance(*theirs)
    np.testing.assert_allclose(seq, ref_seq, rtol=1e-12, atol=1e-15, err_msg=name)


def _plain(state):
    """A scheduler state_dict with its nested states (SequentialLR, ChainedScheduler)."""
    return {k: v for k, v in state.items() if k != "_schedulers"}


@pytest.mark.parametrize("name", sorted(_schedules(torch)))
def test_state_dict_moves_between_pytorch_and_wgtorch(name):
    """PyTorch's state_dict, taken mid-schedule, loads into a fresh wgtorch scheduler (and
    wgtorch's into PyTorch's): both continue with PyTorch's learning rates."""
    ours_opt, ours, n = _run(torch, name)
    ref_opt, theirs, _ = _run(reference, name)
    half = n // 2
    _advance(ours_opt, ours, half)
    _advance(ref_opt, theirs, half)
    ours_state, ref_state = ours.state_dict(), theirs.state_dict()
    assert set(_plain(ours_state)) == set(_plain(ref_state)), name
    for a, b in (("wgtorch", "torch"), ("torch", "wgtorch")):
        into_lib = torch if b == "wgtorch" else reference
        opt, sched, _ = _run(into_lib, name)
        source = (ours if a == "wgtorch" else theirs)
        source_opt = ours_opt if a == "wgtorch" else ref_opt
        for group, saved in zip(opt.param_groups, source_opt.param_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = value
        sched.load_state_dict(source.state_dict())
        rest = _advance(opt, sched, n - half)
        ref_rest = _advance(*_fresh_continuation(name, half, n - half))
        np.testing.assert_allclose(rest, ref_rest, rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}: {a} -> {b}")


def _fresh_continuation(name, done, steps):
    """A PyTorch run advanced ``done`` steps, ready to take ``steps`` more."""
    opt, sched, _ = _run(reference, name)
    _advance(opt, sched, done)
    return opt, sched, steps


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs(T_mult):
    """``step(epoch + i / iters)`` every batch, and jumps back and forth, as PyTorch's."""
    runs = []
    for lib in (torch, reference):
        opt = _optimizer(lib, "sgd", [0.1, 0.05])
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult,
                                                                   eta_min=0.001)
        seq = []
        for epoch in [*np.arange(0, 12, 0.3), 0.5, 7.25, 1.0, 30.0, 2.999]:
            opt.step()
            sched.step(float(epoch))
            seq.append([*sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch])
        runs.append(seq)
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-12, atol=1e-15)


def test_cyclic_and_restart_errors_match_pytorch():
    cases = [
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, mode="square"),
        lambda S, o: S.CyclicLR(o, [0.01, 0.02], 0.1),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2.5),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
    ]
    for make in cases:
        with pytest.raises(ValueError) as theirs:
            make(reference.optim.lr_scheduler, _optimizer(reference, "sgd", [0.1]))
        with pytest.raises(ValueError) as ours:
            make(torch.optim.lr_scheduler, _optimizer(torch, "sgd", [0.1]))
        assert str(ours.value) == str(theirs.value)
    params = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        torch.optim.lr_scheduler.CyclicLR(torch.optim.Adagrad(params), 0.01, 0.1)
    torch.optim.lr_scheduler.CyclicLR(torch.optim.Adagrad(params), 0.01, 0.1,
                                      cycle_momentum=False)
    for make in (lambda S, o: S.SWALR(o, 0.1, anneal_strategy="step"),
                 lambda S, o: S.SWALR(o, 0.1, anneal_epochs=-1)):
        with pytest.raises(ValueError) as theirs:
            make(ref_swa_utils, _optimizer(reference, "sgd", [0.1]))
        with pytest.raises(ValueError, match=str(theirs.value)):
            make(swa_utils, _optimizer(torch, "sgd", [0.1]))


def test_swalr_warns_when_get_lr_is_called_directly():
    sched = swa_utils.SWALR(_optimizer(torch, "sgd", [0.1]), swa_lr=0.05)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
