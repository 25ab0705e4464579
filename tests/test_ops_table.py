"""The elementwise op table (wgtorch/ops/table.py): its contract and its scalar-parameter rows.

Contract: every published op is a Tensor method and has its in-place form where PyTorch
does, carries a real ``__name__``/``__qualname__``/``__module__`` (and code name, which
tracebacks and profilers show), is exported as ``wgtorch.<name>`` where PyTorch has
``torch.<name>``; no Tensor name is declared twice; ``grad_fn`` names are PyTorch's.

Rows: each scalar-parameter row is run beside PyTorch 2.13 (CPU, same process) on the same
values, forward, backward and double backward, over shapes with broadcasting, non-contiguous
views, empty and 0-d tensors and sizes that are not multiples of the workgroup (64); bad
arguments raise PyTorch's error type with PyTorch's message.
"""

import importlib
import inspect
import math
import types

import numpy as np
import pytest
from helpers import as_noncontiguous

import wgtorch
import wgtorch.nn.functional as WF
from wgtorch import Tensor
from wgtorch.ops.table import PUBLISHED
from wgtorch.tensor import tensor_method

pytorch = pytest.importorskip("torch")
TF = pytorch.nn.functional

# names wgtorch had before PyTorch's set was checked, kept so no user code breaks
EXTRA_FUNCTIONS = {"silu", "gelu", "softplus"}  # torch.* / Tensor.* (PyTorch: F.* only)
EXTRA_INPLACE = {"maximum_", "minimum_", "silu_", "gelu_", "where_"}


def _resolve(fn):
    obj = importlib.import_module(fn.__module__)
    for part in fn.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj


def _assert_named(fn, name):
    assert fn.__name__ == name, (fn.__name__, name)
    assert "<" not in fn.__qualname__, fn.__qualname__  # no <lambda>, no <locals>
    assert fn.__module__.startswith("wgtorch."), fn.__module__
    assert _resolve(fn) is fn, f"{fn.__module__}.{fn.__qualname__} is not {name}"
    assert fn.__code__.co_name == name, fn.__code__.co_name  # what tracebacks print


PUBLIC = [p for p in PUBLISHED if not p.name.startswith("_")]


# ---- the contract -------------------------------------------------------------------------


@pytest.mark.parametrize("entry", PUBLIC, ids=[f"{p.fn.__module__}.{p.name}" for p in PUBLIC])
def test_every_published_op_is_complete(entry):
    fn = entry.fn
    assert fn.__doc__, f"{entry.name} has no docstring"
    if fn.__name__ == entry.name:
        _assert_named(fn, entry.name)
    else:  # a Tensor method under another function's name (Tensor.where)
        assert _resolve(fn) is fn
    for name in (entry.name, *entry.aliases):
        if entry.method:
            assert Tensor.__dict__[name] is fn
            if name not in EXTRA_FUNCTIONS:
                assert hasattr(pytorch.Tensor, name), f"PyTorch has no Tensor.{name}"
        if entry.inplace:
            method = Tensor.__dict__[name + "_"]
            assert method.__name__ == name + "_" and method.__qualname__ == f"Tensor.{name}_"
            assert _resolve(method) is method and method.__code__.co_name == name + "_"
        torch_inplace = entry.method and hasattr(pytorch.Tensor, name + "_")
        assert (name + "_" in Tensor.__dict__) == torch_inplace or (
            name + "_" in EXTRA_INPLACE), f"{name}_: wgtorch and PyTorch disagree"
        if entry.export:
            assert getattr(wgtorch, name) is fn
            if name not in EXTRA_FUNCTIONS:
                assert hasattr(pytorch, name), f"PyTorch has no torch.{name}"


def test_signatures_are_pytorchs():
    assert str(inspect.signature(wgtorch.clamp)) == "(input, min=None, max=None)"
    assert str(inspect.signature(wgtorch.round)) == "(input, *, decimals=0)"
    assert str(inspect.signature(wgtorch.addcmul)) == "(input, tensor1, tensor2, *, value=1)"
    assert str(inspect.signature(wgtorch.logit)) == "(input, eps=None)"
    assert str(inspect.signature(wgtorch.nan_to_num)) == (
        "(input, nan=0.0, posinf=None, neginf=None)")


OPERATORS = [
    "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__",
    "__imul__", "__truediv__", "__rtruediv__", "__itruediv__", "__floordiv__", "__rfloordiv__",
    "__ifloordiv__", "__mod__", "__rmod__", "__imod__", "__pow__", "__rpow__", "__ipow__",
    "__and__", "__rand__", "__iand__", "__or__", "__ror__", "__ior__", "__xor__", "__rxor__",
    "__ixor__", "__eq__", "__ne__", "__pos__", "__invert__", "__rmatmul__",
]


def test_operators_are_named_functions():
    for name in OPERATORS:
        _assert_named(Tensor.__dict__[name], name)
    for name, op in [("__neg__", "neg"), ("__abs__", "abs"), ("__lt__", "lt"), ("__ge__", "ge"),
                     ("__matmul__", "matmul")]:
        assert Tensor.__dict__[name] is getattr(wgtorch, op)
    _assert_named(Tensor.__getitem__, "getitem")
    _assert_named(Tensor.__setitem__, "setitem")


def test_every_tensor_function_has_a_real_name():
    # generated ops (table rows, in-place forms, converters, *_like) included
    for owner in (Tensor, wgtorch, WF):
        for name, fn in vars(owner).items():
            if isinstance(fn, types.FunctionType) and fn.__module__.startswith("wgtorch."):
                assert "<" not in fn.__qualname__, f"{owner.__name__}.{name}: {fn.__qualname__}"
                assert _resolve(fn) is fn, f"{owner.__name__}.{name}"
                assert fn.__code__.co_name == fn.__name__, f"{owner.__name__}.{name}"


def test_a_name_is_declared_once():
    with pytest.raises(RuntimeError, match=r"Tensor.exp is declared twice"):
        tensor_method("exp")(wgtorch.sin)
    with pytest.raises(RuntimeError, match=r"Tensor.__hash__ is declared twice"):
        tensor_method("__hash__")(wgtorch.sin)
    assert Tensor.exp is wgtorch.exp  # the refused declaration changed nothing
    # the modules the package star-imports export disjoint names
    names = []
    for module in ("elementwise", "elementwise_args", "activation"):
        names += importlib.import_module(f"wgtorch.ops.{module}").__all__
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_tracebacks_name_the_op():
    x = wgtorch.ones(2)
    with pytest.raises(TypeError) as info:
        wgtorch.nn.functional.leaky_relu(x, "slope")
    frames = [f.name for f in info.traceback]
    assert "leaky_relu" in frames and not [f for f in frames if "<" in f or f == "op"]


def _grad_fn_cases(t, F):
    a = t.tensor(np.linspace(-1, 1, 6).reshape(2, 3).astype(np.float32), requires_grad=True)
    b = t.tensor(np.linspace(0.5, 2, 6).reshape(2, 3).astype(np.float32), requires_grad=True)
    m = t.tensor(np.linspace(0.5, 2, 12).reshape(3, 4).astype(np.float32), requires_grad=True)
    p = t.tensor(np.linspace(0.1, 0.9, 6).reshape(2, 3).astype(np.float32), requires_grad=True)
    return {
        "a + b": lambda: a + b, "a + 1": lambda: a + 1, "1 + a": lambda: 1 + a,
        "add alpha": lambda: t.add(a, b, alpha=2), "a - b": lambda: a - b,
        "1 - a": lambda: 1 - a, "a * b": lambda: a * b, "a * 2": lambda: a * 2,
        "a / b": lambda: a / b, "-a": lambda: -a, "a ** 3": lambda: a ** 3,
        "b ** a": lambda: b ** a, "2 ** a": lambda: 2 ** a, "abs": lambda: a.abs(),
        "exp": lambda: a.exp(), "log1p": lambda: b.log1p(), "expm1": lambda: a.expm1(),
        "sigmoid": lambda: a.sigmoid(), "relu": lambda: a.relu(), "square": lambda: a.square(),
        "mm": lambda: a @ m, "where": lambda: t.where(a > 0, a, b),
        "maximum": lambda: t.maximum(a, b), "atan2": lambda: t.atan2(a, b),
        "remainder": lambda: t.remainder(a, b), "remainder 2": lambda: t.remainder(a, 2.0),
        "fmod": lambda: t.fmod(a, b), "clamp": lambda: a.clamp(-0.5, 0.5),
        "clamp tensor": lambda: a.clamp(b), "clip": lambda: a.clip(max=0.2),
        "clamp_min": lambda: a.clamp_min(0.1), "clamp_max tensor": lambda: a.clamp_max(b),
        "clamp_": lambda: (a * 1).clamp_(0, 1), "lerp": lambda: t.lerp(a, b, 0.3),
        "lerp tensor": lambda: t.lerp(a, b, p), "addcmul": lambda: t.addcmul(a, b, p, value=2),
        "addcdiv": lambda: t.addcdiv(a, b, p), "round": lambda: a.round(),
        "round decimals": lambda: a.round(decimals=2), "nan_to_num": lambda: a.nan_to_num(),
        "logit": lambda: t.logit(p), "logit eps": lambda: p.logit(eps=0.2),
        "gelu": lambda: F.gelu(a), "gelu tanh": lambda: F.gelu(a, approximate="tanh"),
        "softplus": lambda: F.softplus(a), "leaky_relu": lambda: F.leaky_relu(a),
        "elu": lambda: F.elu(a), "celu": lambda: F.celu(a), "selu": lambda: F.selu(a),
        "hardtanh": lambda: F.hardtanh(a), "relu6": lambda: F.relu6(a),
        "threshold": lambda: F.threshold(a, 0.1, 2.0), "hardshrink": lambda: F.hardshrink(a),
        "softshrink": lambda: F.softshrink(a), "mish": lambda: F.mish(a),
        "hardswish": lambda: F.hardswish(a), "hardsigmoid": lambda: F.hardsigmoid(a),
        "silu": lambda: F.silu(a), "logsigmoid": lambda: F.logsigmoid(a),
        "neg": lambda: t.negative(a), "mul_": lambda: (a * 1).mul_(b),
    }


def test_grad_fn_names_are_pytorchs():
    ours, theirs = _grad_fn_cases(wgtorch, WF), _grad_fn_cases(pytorch, TF)
    for case, make in theirs.items():
        expected = type(make().grad_fn).__name__
        assert type(ours[case]().grad_fn).__name__ == expected, case


# ---- the scalar-parameter rows, beside PyTorch ----------------------------------------------

RNG = np.random.default_rng(7)

# (id, fn(framework, F, *tensors), operand value ranges, double backward)
ROWS = [
    ("clamp", lambda t, F, x: x.clamp(-0.5, 0.7), [(-2, 2)], True),
    ("clamp min", lambda t, F, x: t.clamp(x, min=-0.3), [(-2, 2)], True),
    ("clip max", lambda t, F, x: t.clip(x, max=0.3), [(-2, 2)], True),
    ("clamp tensors", lambda t, F, x, lo, hi: x.clamp(lo - 1, hi + 1), [(-3, 3)] * 3, True),
    ("clamp tensor min", lambda t, F, x, lo: t.clamp(x, min=lo), [(-2, 2)] * 2, True),
    ("clamp_min", lambda t, F, x: x.clamp_min(0.2), [(-2, 2)], True),
    ("clamp_max tensor", lambda t, F, x, hi: t.clamp_max(x, hi), [(-2, 2)] * 2, True),
    ("lerp", lambda t, F, a, b: t.lerp(a, b, 0.3), [(-2, 2)] * 2, True),
    ("lerp far", lambda t, F, a, b: a.lerp(b, 0.8), [(-2, 2)] * 2, True),
    ("lerp tensor", lambda t, F, a, b, w: t.lerp(a, b, w), [(-2, 2), (-2, 2), (0, 1)], True),
    ("addcmul", lambda t, F, a, b, c: t.addcmul(a, b, c, value=-0.5), [(-2, 2)] * 3, True),
    ("addcdiv", lambda t, F, a, b, c: a.addcdiv(b, c, value=2), [(-2, 2), (-2, 2), (0.5, 2)],
     True),
    ("add alpha", lambda t, F, a, b: t.add(a, b, alpha=1.5), [(-2, 2)] * 2, True),
    ("sub alpha", lambda t, F, a, b: a.sub(b, alpha=-3), [(-2, 2)] * 2, True),
    ("round", lambda t, F, x: t.round(x * 10), [(-2, 2)], False),
    ("round decimals", lambda t, F, x: x.round(decimals=2), [(-2, 2)], False),
    ("round tens", lambda t, F, x: t.round(x * 300, decimals=-1), [(-2, 2)], False),
    ("nan_to_num", lambda t, F, x: t.nan_to_num(t.log(x), nan=1.5, neginf=-7.0), [(-1, 3)],
     False),
    ("logit", lambda t, F, p: t.logit(p), [(0.05, 0.95)], True),
    ("logit eps", lambda t, F, p: p.logit(eps=0.25), [(-0.2, 1.2)], True),
    ("softplus", lambda t, F, x: F.softplus(x, beta=2.0, threshold=3.0), [(-4, 4)], True),
    ("gelu", lambda t, F, x: F.gelu(x), [(-4, 4)], True),
    ("gelu tanh", lambda t, F, x: F.gelu(x, approximate="tanh"), [(-4, 4)], True),
    ("leaky_relu", lambda t, F, x: F.leaky_relu(x, 0.2), [(-2, 2)], True),
    ("elu", lambda t, F, x: F.elu(x, alpha=0.7), [(-3, 3)], True),
    ("celu", lambda t, F, x: F.celu(x, alpha=2.0), [(-3, 3)], True),
    ("selu", lambda t, F, x: t.selu(x), [(-3, 3)], True),
    ("hardtanh", lambda t, F, x: F.hardtanh(x, -0.5, 1.5), [(-3, 3)], True),
    ("relu6", lambda t, F, x: F.relu6(x * 4), [(-3, 3)], True),
    ("threshold", lambda t, F, x: F.threshold(x, 0.25, -2.0), [(-2, 2)], True),
    ("hardshrink", lambda t, F, x: x.hardshrink(0.3), [(-2, 2)], True),
    ("softshrink", lambda t, F, x: F.softshrink(x, 0.4), [(-2, 2)], True),
    ("tanhshrink", lambda t, F, x: F.tanhshrink(x), [(-2, 2)], True),
    ("mish", lambda t, F, x: F.mish(x), [(-4, 4)], True),
    ("hardswish", lambda t, F, x: F.hardswish(x), [(-5, 5)], True),
    ("hardsigmoid", lambda t, F, x: F.hardsigmoid(x), [(-5, 5)], False),  # PyTorch: no 2nd
    ("logsigmoid", lambda t, F, x: F.logsigmoid(x), [(-30, 30)], True),
    ("silu", lambda t, F, x: F.silu(x), [(-4, 4)], True),
]

# the shapes each operand takes: one shape per layout case (the first operand's shape; the
# others broadcast against it in the "broadcast" case)
CASES = {
    "67": [(67,)] * 3,  # not a multiple of the workgroup, the vec4 kernel's tail
    "strided 5x130": [(5, 130)] * 3,  # non-contiguous views (transposed storage)
    "broadcast": [(4, 1, 70), (3, 70), (3, 1)],
    "0-d": [()] * 3,
    "empty": [(0, 3), (0, 3), (3,)],
}


def _values(shape, low, high):
    return RNG.uniform(low, high, size=shape).astype(np.float32)


def _pair(array, strided):
    ours = (as_noncontiguous(array, requires_grad=True) if strided
            else wgtorch.tensor(array, requires_grad=True))
    return ours, pytorch.tensor(array, requires_grad=True)


def _close(ours, theirs, what, atol=2e-5, rtol=2e-4):
    assert ours is not None, what
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("row,fn,ranges,double", ROWS, ids=[r[0] for r in ROWS])
def test_row_matches_pytorch(row, fn, ranges, double, case):
    shapes = CASES[case][:len(ranges)]
    arrays = [_values(s, *r) for s, r in zip(shapes, ranges)]
    pairs = [_pair(a, case.startswith("strided")) for a in arrays]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    out, expected = fn(wgtorch, WF, *ours), fn(pytorch, TF, *theirs)
    assert tuple(out.shape) == tuple(expected.shape) and out.dtype.name == "float32"
    _close(out, expected, f"{row} forward")
    g = _values(tuple(expected.shape), -1, 1)
    grads = wgtorch.autograd.grad(out, ours, wgtorch.tensor(g), create_graph=double,
                                  allow_unused=True)
    expected_grads = pytorch.autograd.grad(expected, theirs, pytorch.tensor(g),
                                           create_graph=double, allow_unused=True)
    for k, (gw, gt) in enumerate(zip(grads, expected_grads)):
        if gt is None:
            assert gw is None or not gw.detach().numpy().any(), f"{row} gradient {k}"
            continue
        _close(gw, gt, f"{row} gradient {k}", atol=1e-4)
    if not double or case == "empty":
        return
    # double backward: d/d(inputs) of sum(grad * gg), through the backward rules' own ops
    gg = [_values(tuple(x.shape), -1, 1) for x in theirs]
    used = [k for k, gt in enumerate(expected_grads) if gt is not None and gt.requires_grad]
    if not used:
        return
    expected_second = pytorch.autograd.grad(
        sum((expected_grads[k] * pytorch.tensor(gg[k])).sum() for k in used), theirs,
        allow_unused=True)
    total = sum((grads[k] * wgtorch.tensor(gg[k])).sum() for k in used)
    if not total.requires_grad:  # piecewise-linear: the gradient is constant in the inputs
        for gt in expected_second:
            assert gt is None or not gt.detach().numpy().any(), f"{row} second derivative"
        return
    second = wgtorch.autograd.grad(total, ours, allow_unused=True)
    for k, (gw, gt) in enumerate(zip(second, expected_second)):
        if gt is not None and gt.abs().sum() > 0:
            _close(gw, gt, f"{row} second derivative {k}", atol=2e-4, rtol=1e-3)


def test_logit_is_one_row_and_one_test_row():
    # the row: wgtorch/ops/elementwise_args.py; torch.logit, Tensor.logit, Tensor.logit_
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0, -0.5, 1.5, math.nan], dtype=np.float32)
    for eps in (None, 0.0, 0.2):
        ours, theirs = wgtorch.logit(wgtorch.tensor(p), eps), pytorch.logit(pytorch.tensor(p), eps)
        _close(ours, theirs, f"logit eps={eps}")
    x = wgtorch.tensor(p)
    assert x.logit_(eps=0.2) is x
    _close(x, pytorch.tensor(p).logit_(eps=0.2), "logit_")
    assert wgtorch.logit(wgtorch.tensor([1, 0])).dtype is wgtorch.float32  # ints: float


def test_scalar_parameters_share_one_kernel():
    from wgtorch.backend import get_runtime

    x = wgtorch.randn(100)
    rt = get_runtime()
    WF.leaky_relu(x, 0.1)
    before = len(rt.kernels)
    for slope in (0.2, 0.3, 0.05, 1e-3):
        WF.leaky_relu(x, slope)
        wgtorch.clamp(x, -slope, slope)
    wgtorch.clamp(x, -1.0, 1.0)
    assert len(rt.kernels) <= before + 1  # clamp's, compiled once for every bound


def test_in_place_rows_keep_autograd():
    a = np.linspace(-2, 2, 7).astype(np.float32)
    for name, args in [("clamp_", (-1.0, 1.5)), ("clip_", (None, 0.5)), ("clamp_min_", (0.2,)),
                       ("nan_to_num_", ()), ("round_", ()), ("clamp_max_", (0.7,))]:
        x, y = wgtorch.tensor(a, requires_grad=True), pytorch.tensor(a, requires_grad=True)
        ours, theirs = x * 2, y * 2
        getattr(ours, name)(*args)
        getattr(theirs, name)(*args)
        assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__, name
        _close(ours, theirs, name)
        ours.sum().backward()
        theirs.sum().backward()
        _close(x.grad, y.grad, f"{name} gradient")


def _raises_like(ours, theirs, match_message=True):
    with pytest.raises(Exception) as expected:
        theirs()
    with pytest.raises(type(expected.value)) as got:
        ours()
    if match_message:
        assert str(got.value) == str(expected.value)
    return got.value


BAD = [
    ("clamp no bounds", lambda t, F, x: t.clamp(x), True),
    ("hardtanh crossed", lambda t, F, x: F.hardtanh(x, 2.0, 1.0), True),
    ("celu alpha 0", lambda t, F, x: F.celu(x, alpha=0.0), True),
    ("softshrink negative", lambda t, F, x: F.softshrink(x, -1.0), True),
    ("gelu approximation", lambda t, F, x: F.gelu(x, approximate="fast"), True),
    ("lerp weight dtype", lambda t, F, x: t.lerp(x, x, t.ones(3, dtype=t.float16)), True),
    ("lerp end dtype", lambda t, F, x: t.lerp(x, x.half(), 0.5), True),
    ("lerp shapes", lambda t, F, x: t.lerp(x, t.ones(2), 0.5), True),
    ("addcmul shapes", lambda t, F, x: t.addcmul(x, t.ones(2), x), True),
    ("add alpha float for ints", lambda t, F, x: t.add(t.tensor([1]), t.tensor([2]), alpha=0.5),
     True),
    ("neg of bool", lambda t, F, x: -(x > 0), True),
    ("sub of bools", lambda t, F, x: (x > 0) - (x > 1), True),
    ("leaky_relu slope str", lambda t, F, x: F.leaky_relu(x, "a"), True),
    ("elu of ints", lambda t, F, x: F.elu(t.tensor([1, 2])), False),
    ("softplus of ints", lambda t, F, x: F.softplus(t.tensor([1, 2])), False),
    ("round decimals of ints", lambda t, F, x: t.round(t.tensor([1, 2]), decimals=1), False),
    ("lerp of ints", lambda t, F, x: t.lerp(t.tensor([0, 1]), t.tensor([2, 3]), 0.5), False),
    ("addcdiv of ints", lambda t, F, x: t.addcdiv(t.tensor([1]), t.tensor([1]), t.tensor([2])),
     True),
]


@pytest.mark.parametrize("name,fn,same_message", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_raise_like_pytorch(name, fn, same_message):
    a = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x, keep = wgtorch.tensor(a), wgtorch.tensor(a) * 3
    error = _raises_like(lambda: fn(wgtorch, WF, x), lambda: fn(pytorch, TF, pytorch.tensor(a)),
                         same_message)
    if not same_message:  # the message names the op, as PyTorch's does
        op = name.split()[0]
        assert f'"{op}" not implemented' in str(error), str(error)
    # nothing is lost: the inputs, other tensors and the device stay usable
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(keep.numpy(), a * 3)
    np.testing.assert_allclose(WF.leaky_relu(x, 0.5).numpy(), np.where(a > 0, a, a * 0.5))
