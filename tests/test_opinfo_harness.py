"""The op_db harness itself: it must see wrong values, wrong gradients and missing ops."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.testing._internal.common_methods_invocations")  # needs expecttest

import wgtorch  # noqa: E402
from opinfo_convert import Converter, Mismatch, compare  # noqa: E402
from opinfo_support import all_ops, op_id, run_op  # noqa: E402


def _op(name):
    return next(op for op in all_ops() if op_id(op) == name)


@pytest.mark.parametrize("make", [
    lambda: torch.arange(24.0).reshape(4, 6).t(),
    lambda: torch.arange(24.0).reshape(4, 6)[:, ::2],
    lambda: torch.arange(6.0).reshape(3, 1, 2).expand(3, 5, 2),
    lambda: torch.arange(72.0).reshape(3, 4, 6).permute(2, 0, 1)[::2],
], ids=["transposed", "sliced", "expanded", "permuted-sliced"])
def test_converter_rebuilds_values_and_strides(make):
    t = make().requires_grad_(False)
    w = Converter()(t)
    np.testing.assert_array_equal(w.numpy(), t.numpy())
    assert tuple(w.shape) == tuple(t.shape)
    assert w.stride() == t.stride()


def test_compare_sees_value_dtype_and_shape_differences():
    t = torch.tensor([1.0, 2.0, 3.0])
    compare(t, wgtorch.tensor([1.0, 2.0, 3.0 + 1e-6]), 1e-4, 1e-5)
    for wrong in (wgtorch.tensor([1.0, 2.0, 3.01]), wgtorch.tensor([1, 2, 3]),
                  wgtorch.tensor([[1.0, 2.0, 3.0]]), (wgtorch.tensor([1.0, 2.0, 3.0]),), 1.0):
        with pytest.raises(Mismatch):
            compare(t, wrong, 1e-4, 1e-5)
    with pytest.raises(Mismatch):
        compare(torch.tensor([1, 2]), wgtorch.tensor([1, 3]), 1.0, 1.0)  # integers: exact


def _wrong_value(x):
    return x.abs() + 1e-3  # the method: wgtorch.abs is the patched function


def _wrong_gradient(x):
    out = x.abs()
    return out.detach().requires_grad_() if x.requires_grad else out  # cut from the graph


def _wrong_indices(input, dim=-1, descending=False, stable=False):
    return wgtorch.argsort(input, dim=dim, descending=not descending, stable=stable)


def test_harness_reports_wrong_values_gradients_and_missing_ops(monkeypatch):
    op = _op("abs")
    assert run_op(op).status == "pass"
    monkeypatch.setattr(wgtorch, "abs", _wrong_value)
    forward = run_op(op).parts["forward"]
    assert forward.status == "mismatch" and "values differ" in forward.reason
    monkeypatch.setattr(wgtorch, "abs", _wrong_gradient)
    report = run_op(op)
    assert report.parts["forward"].status == "pass"
    assert report.parts["backward"].status == "mismatch"
    assert "gradient of input 0" in report.parts["backward"].reason
    monkeypatch.delattr(wgtorch, "abs")
    assert run_op(op).parts["forward"].status == "missing"


def test_tie_tolerant_indices_still_checked(monkeypatch):
    op = _op("argsort")
    monkeypatch.setattr(wgtorch, "argsort", _wrong_indices)
    assert run_op(op).parts["forward"].status == "mismatch"
