"""torch.optim.swa_utils against PyTorch 2.13 in the same process: AveragedModel (SWA, EMA,
avg_fn / multi_avg_fn, use_buffers), update_bn, on one small model with batch norm trained the
same way in both."""

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.optim import swa_utils

reference = pytest.importorskip("torch")
import torch.optim.swa_utils as ref_swa_utils  # noqa: E402


def _models():
    """The same Linear-BatchNorm-ReLU-Linear in both libraries, with the same weights."""
    reference.manual_seed(0)
    theirs = reference.nn.Sequential(reference.nn.Linear(4, 8), reference.nn.BatchNorm1d(8),
                                     reference.nn.ReLU(), reference.nn.Linear(8, 2))
    ours = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 2))
    ours.load_state_dict({k: torch.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _numpy(t):
    return t.detach().numpy()


AVERAGES = {
    "swa": lambda u: {},
    "ema_avg_fn": lambda u: dict(avg_fn=u.get_ema_avg_fn(0.8)),
    "ema_multi": lambda u: dict(multi_avg_fn=u.get_ema_multi_avg_fn(0.8)),
    "swa_multi": lambda u: dict(multi_avg_fn=u.get_swa_multi_avg_fn()),
    "swa_avg_fn_buffers": lambda u: dict(avg_fn=u.get_swa_avg_fn(), use_buffers=True),
    "swa_buffers": lambda u: dict(use_buffers=True),
    "ema_multi_buffers": lambda u: dict(multi_avg_fn=u.get_ema_multi_avg_fn(0.7),
                                        use_buffers=True),
}


@pytest.mark.parametrize("kind", sorted(AVERAGES))
def test_averaged_model_matches_pytorch(kind):
    ours, theirs = _models()
    avg = swa_utils.AveragedModel(ours, **AVERAGES[kind](swa_utils))
    ref_avg = ref_swa_utils.AveragedModel(theirs, **AVERAGES[kind](ref_swa_utils))
    assert list(avg.state_dict()) == list(ref_avg.state_dict())
    opt = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    ref_opt = reference.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    for step in range(6):
        x = rng.standard_normal((16, 4)).astype(np.float32)
        for model, o, lib, a in ((ours, opt, torch, avg), (theirs, ref_opt, reference, ref_avg)):
            o.zero_grad()
            (model(lib.tensor(x)) ** 2).mean().backward()
            o.step()
            a.update_parameters(model)
        for (name, a), (ref_name, b) in zip(avg.state_dict().items(),
                                            ref_avg.state_dict().items()):
            assert name == ref_name
            np.testing.assert_allclose(_numpy(a), _numpy(b), atol=1e-6, rtol=1e-5,
                                       err_msg=f"{kind} step {step} {name}")
    assert int(avg.n_averaged) == 6 and avg.n_averaged.dtype == torch.int64
    x = rng.standard_normal((5, 4)).astype(np.float32)
    avg.eval()
    ref_avg.eval()
    np.testing.assert_allclose(_numpy(avg(torch.tensor(x))), _numpy(ref_avg(reference.tensor(x))),
                               atol=1e-5, rtol=1e-5)


def test_update_bn_matches_pytorch():
    ours, theirs = _models()
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((10, 4)).astype(np.float32) * (1 + k) for k in range(4)]
    labels = np.zeros(10, np.int64)
    ours.eval()
    theirs.eval()
    # batches as tensors and as (input, label) tuples: update_bn takes the first item
    swa_utils.update_bn([torch.tensor(b) for b in batches[:2]]
                        + [(torch.tensor(b), torch.tensor(labels)) for b in batches[2:]], ours)
    ref_swa_utils.update_bn([reference.tensor(b) for b in batches[:2]]
                            + [(reference.tensor(b), reference.tensor(labels))
                               for b in batches[2:]], theirs)
    assert not ours.training and ours[1].momentum == 0.1
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(_numpy(getattr(ours[1], name)),
                                   _numpy(getattr(theirs[1], name)), atol=1e-6, rtol=1e-5)
    no_bn = torch.nn.Linear(2, 2)
    swa_utils.update_bn([torch.zeros(1, 2)], no_bn)  # nothing to do: returns at once


def test_errors_match_pytorch():
    ours, theirs = _models()
    for u, model in ((ref_swa_utils, theirs), (swa_utils, ours)):
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            u.AveragedModel(model, avg_fn=u.get_swa_avg_fn(),
                            multi_avg_fn=u.get_swa_multi_avg_fn())
        for factory in (u.get_ema_avg_fn, u.get_ema_multi_avg_fn):
            with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
                factory(1.5)
