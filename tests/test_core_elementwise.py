"""Elementwise ops against numpy: values and gradients, broadcasting, views, odd sizes,
0-d and empty tensors, NaN/inf, in-place forms with their version counters."""

import math

import numpy as np
import pytest

import wgtorch as torch
from helpers import as_noncontiguous, assert_close, check_op

nan, inf = float("nan"), float("inf")
_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def np_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# (name, wgtorch fn, numpy reference, input range, differentiable)
UNARY = [
    ("neg", lambda x: -x, lambda x: -x, (-2, 2), True),
    ("neg_fn", lambda x: torch.neg(x), np.negative, (-2, 2), True),
    ("abs", lambda x: x.abs(), np.abs, (-2, 2), True),
    ("abs_builtin", lambda x: abs(x), np.abs, (-2, 2), True),
    ("sign", lambda x: torch.sign(x), np.sign, (-2, 2), True),
    ("exp", lambda x: x.exp(), np.exp, (-3, 3), True),
    ("exp2", lambda x: torch.exp2(x), np.exp2, (-3, 3), True),
    ("log", lambda x: x.log(), np.log, (0.1, 4), True),
    ("log2", lambda x: torch.log2(x), np.log2, (0.1, 4), True),
    ("log1p", lambda x: x.log1p(), np.log1p, (-0.9, 4), True),
    ("expm1", lambda x: torch.expm1(x), np.expm1, (-3, 3), True),
    ("sqrt", lambda x: x.sqrt(), np.sqrt, (0.1, 4), True),
    ("rsqrt", lambda x: torch.rsqrt(x), lambda x: 1 / np.sqrt(x), (0.2, 4), True),
    ("sin", lambda x: x.sin(), np.sin, (-3, 3), True),
    ("cos", lambda x: torch.cos(x), np.cos, (-3, 3), True),
    ("tan", lambda x: x.tan(), np.tan, (-1.2, 1.2), True),
    ("tanh", lambda x: torch.tanh(x), np.tanh, (-4, 4), True),
    ("sigmoid", lambda x: x.sigmoid(), np_sigmoid, (-6, 6), True),
    ("relu", lambda x: torch.relu(x), lambda x: np.maximum(x, 0), (-2, 2), True),
    ("gelu", lambda x: torch.gelu(x), np_gelu, (-4, 4), True),
    ("gelu_tanh", lambda x: torch.gelu(x, approximate="tanh"), np_gelu_tanh, (-4, 4), True),
    ("silu", lambda x: torch.silu(x), lambda x: x * np_sigmoid(x), (-5, 5), True),
    ("softplus", lambda x: torch.softplus(x), np_softplus, (-5, 5), True),
    ("softplus_beta", lambda x: torch.softplus(x, beta=2.0, threshold=3.0),
     lambda x: np_softplus(x, 2.0, 3.0), (-3, 3), True),
    ("erf", lambda x: torch.erf(x), _erf, (-3, 3), True),
    ("floor", lambda x: x.floor(), np.floor, (-3, 3), True),
    ("ceil", lambda x: torch.ceil(x), np.ceil, (-3, 3), True),
    ("round", lambda x: x.round(), np.round, (-3, 3), True),
    ("round_decimals", lambda x: torch.round(x, decimals=1), lambda x: np.round(x, 1), (-3, 3),
     False),
    ("trunc", lambda x: torch.trunc(x), np.trunc, (-3, 3), True),
    ("reciprocal", lambda x: x.reciprocal(), lambda x: 1 / x, (0.3, 3), True),
    ("square", lambda x: x.square(), np.square, (-2, 2), True),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), (-2, 2), True),
    ("clamp_min", lambda x: torch.clamp(x, min=0.3), lambda x: np.maximum(x, 0.3), (-2, 2),
     True),
    ("clamp_max", lambda x: x.clamp(max=0.3), lambda x: np.minimum(x, 0.3), (-2, 2), True),
    ("clip", lambda x: torch.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), (-2, 2), True),
    ("nan_to_num", lambda x: x.nan_to_num(), np.nan_to_num, (-2, 2), True),
]

SHAPES = [(5, 7), (), (1,), (63,), (65,), (2, 3, 4)]


@pytest.mark.parametrize("name,fn,ref,domain,grad", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_numpy(name, fn, ref, domain, grad):
    for shape in SHAPES:
        check_op([shape], fn, ref=ref, low=domain[0], high=domain[1], grad=grad)


@pytest.mark.parametrize("name,fn,ref,domain,grad", UNARY[:6], ids=[u[0] for u in UNARY[:6]])
def test_unary_empty(name, fn, ref, domain, grad):
    for shape in [(0,), (3, 0)]:
        x = torch.zeros(shape, requires_grad=True)
        out = fn(x)
        assert out.shape == shape
        out.backward(torch.ones_like(out))
        assert x.grad.shape == shape


# (name, wgtorch fn, numpy reference, input range, differentiable)
BINARY = [
    ("add", lambda a, b: a + b, None, (-2, 2), True),
    ("add_fn_alpha", lambda a, b: torch.add(a, b, alpha=2.5), lambda a, b: a + 2.5 * b,
     (-2, 2), True),
    ("sub", lambda a, b: a - b, None, (-2, 2), True),
    ("sub_alpha", lambda a, b: a.sub(b, alpha=-2), lambda a, b: a + 2 * b, (-2, 2), True),
    ("mul", lambda a, b: a * b, None, (-2, 2), True),
    ("div", lambda a, b: a / b, None, (0.5, 2), True),
    ("div_trunc", lambda a, b: torch.div(a, -b, rounding_mode="trunc"),
     lambda a, b: np.trunc(a / -b), (0.5, 3), False),
    ("floordiv", lambda a, b: a // b, None, (0.5, 3), False),
    ("remainder", lambda a, b: a % b, None, (0.5, 3), True),
    ("pow", lambda a, b: a**b, None, (0.5, 2), True),
    ("minimum", lambda a, b: torch.minimum(a, b), np.minimum, (-2, 2), True),
    ("maximum", lambda a, b: torch.maximum(a, b), np.maximum, (-2, 2), True),
    ("atan2", lambda a, b: torch.atan2(a, b), np.arctan2, (0.5, 2), True),
]

BROADCAST = [
    [(5, 7), (5, 7)],
    [(5, 7), (7,)],
    [(5, 1), (1, 7)],
    [(3, 1, 4), (2, 1)],
    [(), (5,)],
    [(4, 3), ()],
    [(65,), (65,)],
]


@pytest.mark.parametrize("name,fn,ref,domain,grad", BINARY, ids=[b[0] for b in BINARY])
def test_binary_broadcast(name, fn, ref, domain, grad):
    for shapes in BROADCAST:
        check_op(shapes, fn, ref=ref, low=domain[0], high=domain[1], grad=grad)


# a Python scalar on either side: x op s and s op x
SCALAR_FORMS = [
    ("add", lambda x: x + 2.5, lambda x: 2.5 + x),
    ("sub", lambda x: x - 2.5, lambda x: 2.5 - x),
    ("mul", lambda x: x * -1.5, lambda x: -1.5 * x),
    ("div", lambda x: x / 1.5, lambda x: 1.5 / x),
    ("floordiv", lambda x: x // 0.7, lambda x: 3.0 // x),
    ("mod", lambda x: x % 0.7, lambda x: 3.0 % x),
    ("pow", lambda x: x**2.5, lambda x: 2.5**x),
    ("pow_int", lambda x: x**3, lambda x: 2**x),
]


@pytest.mark.parametrize("name,left,right", SCALAR_FORMS, ids=[s[0] for s in SCALAR_FORMS])
def test_scalar_on_either_side(name, left, right):
    grad = name not in ("floordiv",)
    for shape in [(4, 5), (), (63,)]:
        check_op([shape], left, low=0.5, high=2.0, grad=grad)
        check_op([shape], right, low=0.5, high=2.0, grad=grad)


def test_pow_special_exponents_and_tensor_exponent():
    check_op([(3, 4)], lambda x: x**2, low=-2, high=2)
    check_op([(3, 4)], lambda x: x**1, low=-2, high=2)
    check_op([(3, 4)], lambda x: x**0.5, low=0.5, high=2)
    check_op([(3, 4)], lambda x: x**-1, low=0.5, high=2)
    check_op([(3, 4)], lambda x: x**0, low=-2, high=2)
    check_op([(3, 4)], lambda x: torch.pow(x, 3), ref=lambda x: x**3, low=-2, high=2)
    # negative base with integral tensor exponents: real results, gradient on the base
    base = np.array([-2.0, -1.5, 3.0, -0.5])
    expo = np.array([3.0, 2.0, -1.0, 4.0])
    out = torch.tensor(base) ** torch.tensor(expo)
    assert_close(out, base**expo)


def test_pow_gradient_at_zero_base():
    # PyTorch: no 0 * inf for a zero exponent; d/db is 0 where a == 0 and b >= 0
    x = torch.tensor([0.0, 1.0, 2.0, 0.5], requires_grad=True)
    (x**x).sum().backward()
    expected = np.array([0.0, 1.0, 4 * (np.log(2) + 1), 0.5**0.5 * (np.log(0.5) + 1)])
    assert_close(x.grad, expected)
    x = torch.tensor([0.0, 3.0], requires_grad=True)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_pow_special_values():
    a = torch.tensor([nan, 1.0, 1.0, -1.0, 0.0, 0.0, -8.0, -inf, -inf, -2.0, inf])
    b = torch.tensor([0.0, nan, inf, inf, -1.0, 2.0, 1 / 3, 2.5, 3.0, 3.0, -1.0])
    with np.errstate(all="ignore"):
        expected = np.power(a.numpy().astype(np.float64), b.numpy().astype(np.float64))
    assert_close(a**b, expected, rtol=1e-5)


def test_int_pow():
    x = torch.tensor([3, -2, 0, 1])
    assert (x**2).tolist() == [9, 4, 0, 1]
    assert (x**3).dtype is torch.int64
    assert (2 ** torch.tensor([0, 3, 10])).tolist() == [1, 8, 1024]
    assert (x ** torch.tensor([2, 3, 0, 5])).tolist() == [9, -8, 1, 1]
    assert torch.tensor([4, 9]) .pow(0.5).tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        x ** -1


def test_integer_division_and_remainder_follow_python():
    a = np.array([-7, 7, -6, 0, 5, -5])
    for b in (2, -2, 3, -3):
        t = torch.tensor(a)
        assert (t // b).tolist() == (a // b).tolist()
        assert (t % b).tolist() == (a % b).tolist()
        assert torch.div(t, b, rounding_mode="floor").tolist() == (a // b).tolist()
        assert torch.div(t, b, rounding_mode="trunc").tolist() == np.trunc(a / b).astype(
            int).tolist()
        assert torch.div(t, b, rounding_mode="trunc").dtype is torch.int64
    assert (7 // torch.tensor([2, -2])).tolist() == [3, -4]
    assert (7 % torch.tensor([3, -3])).tolist() == [1, -2]
    f = np.array([-7.0, 7.0, -6.5, 0.0])
    for b in (2.0, -3.0):
        assert_close(torch.tensor(f) // b, f // b)
        assert_close(torch.tensor(f) % b, f % b)
    with pytest.raises(RuntimeError, match="rounding_mode"):
        torch.div(torch.ones(2), 2, rounding_mode="bad")


def test_true_division_of_integers_is_float():
    out = torch.tensor([7, -3]) / 2
    assert out.dtype is torch.float32
    assert out.tolist() == [3.5, -1.5]
    assert (7 / torch.tensor([2, 4])).tolist() == [3.5, 1.75]


def test_division_by_zero_floats():
    x = torch.tensor([1.0, -1.0, 0.0])
    out = (x / 0).tolist()
    assert out[:2] == [inf, -inf] and math.isnan(out[2])
    out = (x // 0).tolist()
    assert out[:2] == [inf, -inf] and math.isnan(out[2])
    assert math.isnan((torch.tensor([1.0]) % 0).item())


UNARY_SPECIAL = [
    ("exp", np.exp), ("exp2", np.exp2), ("log", np.log), ("log2", np.log2),
    ("log1p", np.log1p), ("expm1", np.expm1), ("sqrt", np.sqrt), ("abs", np.abs),
    ("neg", np.negative), ("sign", lambda x: np.nan_to_num(np.sign(x))),  # sign(NaN) = 0
    ("tanh", np.tanh), ("sigmoid", np_sigmoid),
    ("erf", _erf), ("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
    ("round", np.round), ("reciprocal", np.reciprocal), ("relu", lambda x: np.where(
        np.isnan(x), x, np.maximum(x, 0))),
]


@pytest.mark.parametrize("name,ref", UNARY_SPECIAL, ids=[u[0] for u in UNARY_SPECIAL])
def test_unary_nan_inf(name, ref):
    values = np.array([nan, inf, -inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 100.0, -100.0])
    with np.errstate(all="ignore"):
        expected = ref(values.astype(np.float32)).astype(np.float64)
    out = getattr(torch.tensor(values), name)()
    assert_close(out, expected, atol=1e-6, rtol=1e-5, msg=name)


def test_small_argument_accuracy():
    # log1p/expm1 exist for their accuracy near zero
    x = np.array([1e-7, -1e-6, 1e-5, 3e-4, -2e-3, 1e-2])
    assert_close(torch.tensor(x).log1p(), np.log1p(x), atol=0, rtol=1e-5)
    assert_close(torch.tensor(x).expm1(), np.expm1(x), atol=0, rtol=1e-5)


def test_round_half_to_even():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 2.51])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 0.0, 3.0]
    assert_close(torch.tensor([1.2345, -1.2355]).round(decimals=2), [1.23, -1.24])
    assert torch.tensor([1234.5]).round(decimals=-2).tolist() == [1200.0]


def test_clamp_with_tensor_bounds():
    lo = lambda x, lo, hi: x.clamp(lo, hi)  # noqa: E731
    check_op([(4, 5), (4, 5), (4, 5)], lambda x, a, b: x.clamp(a - 1, b + 1),
             ref=lambda x, a, b: np.minimum(np.maximum(x, a - 1), b + 1))
    check_op([(4, 5), (5,)], lambda x, a: torch.clamp(x, min=a),
             ref=lambda x, a: np.maximum(x, a))
    check_op([(4, 5), (4, 1)], lambda x, b: torch.clip(x, max=b),
             ref=lambda x, b: np.minimum(x, b))
    assert lo(torch.tensor([1.0, 5.0, 3.0]), torch.tensor(2.0),
              torch.tensor([4.0, 4.0, 1.0])).tolist() == [2.0, 4.0, 1.0]


def test_clamp_tensor_bounds_ties_nan_and_crossed_bounds_like_pytorch():
    # expected values from PyTorch 2.13: ties give the gradient to the input, crossed bounds
    # (min > max) to max, NaN propagates from the input and from the bounds
    x = torch.tensor([0.0, 1.0, 2.0, 3.0, nan], requires_grad=True)
    lo = torch.tensor([0.0, 2.0, 2.0, 1.0, 0.0], requires_grad=True)
    hi = torch.tensor([1.0, 3.0, 2.0, 0.0, 5.0], requires_grad=True)
    y = torch.clamp(x, lo, hi)
    assert repr(y.grad_fn).startswith("<ClampBackward0")
    assert_close(y, [0.0, 2.0, 2.0, 0.0, nan])
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert lo.grad.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert math.isnan(torch.clamp(torch.tensor([1.0]), torch.tensor([nan])).item())
    assert torch.clamp(torch.tensor([1.0, 5.0]), torch.tensor(2.0), 4.0).tolist() == [2.0, 4.0]
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    x.clamp(min=0.0).sum().backward()  # a scalar bound: the tie goes to the input too
    assert x.grad.tolist() == [1.0, 1.0]


def test_clamp_semantics():
    # min > max: every value becomes max, as in PyTorch
    assert torch.tensor([1.0, 5.0]).clamp(3, 2).tolist() == [2.0, 2.0]
    # NaN propagates through scalar and tensor bounds
    assert math.isnan(torch.tensor([nan]).clamp(0, 1).item())
    assert math.isnan(torch.tensor([nan]).clamp(torch.tensor(0.0), torch.tensor(1.0)).item())
    # integer tensor with float bounds promotes; integer bounds keep the dtype
    out = torch.tensor([1, 5]).clamp(0.5, 3.5)
    assert out.dtype is torch.float32 and out.tolist() == [1.0, 3.5]
    out = torch.tensor([1, 5]).clamp(2, 3)
    assert out.dtype is torch.int64 and out.tolist() == [2, 3]
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        torch.tensor([1.0]).clamp()


def test_minimum_maximum_nan_and_promotion():
    a = torch.tensor([nan, 1.0, 2.0])
    b = torch.tensor([1.0, nan, 1.0])
    for fn in (torch.minimum, torch.maximum):
        out = fn(a, b).tolist()
        assert math.isnan(out[0]) and math.isnan(out[1])
    assert torch.maximum(a, b).tolist()[2] == 2.0
    out = torch.maximum(torch.tensor([1, 5]), torch.tensor([2.5, 3.0]))
    assert out.dtype is torch.float32 and out.tolist() == [2.5, 5.0]


def test_minimum_maximum_tie_gradient_is_split():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([1.0, 3.0], requires_grad=True)
    torch.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0] and y.grad.tolist() == [0.5, 1.0]


def test_where():
    check_op([(4, 5), (4, 5)], lambda a, b: torch.where(a > b, a, b),
             ref=lambda a, b: np.where(a > b, a, b))
    check_op([(4, 5), (5,)], lambda a, b: torch.where(b > 0, a, b),
             ref=lambda a, b: np.where(b > 0, a, b))
    check_op([(4, 5)], lambda a: torch.where(a > 0, a, 0.5),
             ref=lambda a: np.where(a > 0, a, 0.5))
    check_op([(4, 5)], lambda a: a.where(a < 0, -1.0), ref=lambda a: np.where(a < 0, a, -1.0))
    cond = torch.tensor([[True], [False]])
    out = torch.where(cond, torch.tensor([1.0, 2.0]), torch.tensor(0.0))
    assert out.tolist() == [[1.0, 2.0], [0.0, 0.0]]
    assert torch.where(torch.tensor([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]
    out = torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), 0.5)
    assert out.dtype is torch.float32 and out.tolist() == [1.0, 0.5]
    out = torch.where(torch.tensor([True, False]), torch.tensor([1, 2], dtype=torch.int32),
                      torch.tensor([3, 4]))
    assert out.dtype is torch.int64 and out.tolist() == [1, 4]


def test_where_requires_bool_condition():
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor, "
                       "but got a tensor with dtype Float"):
        torch.where(torch.tensor([1.0, 0.0]), 1.0, 0.0)
    out = torch.where(torch.tensor([1, 0], dtype=torch.uint8), 1.0, 0.0)
    assert out.tolist() == [1.0, 0.0]


def test_lerp_addcmul_addcdiv():
    check_op([(4, 5), (4, 5)], lambda a, b: torch.lerp(a, b, 0.3),
             ref=lambda a, b: a + 0.3 * (b - a))
    check_op([(4, 5), (5,), (4, 1)], lambda a, b, w: a.lerp(b, w),
             ref=lambda a, b, w: a + w * (b - a))
    check_op([(4, 5), (4, 5), (5,)], lambda a, b, c: torch.addcmul(a, b, c, value=0.5),
             ref=lambda a, b, c: a + 0.5 * b * c)
    check_op([(4, 5), (4, 5), (4, 5)], lambda a, b, c: a.addcdiv(b, c, value=-2),
             ref=lambda a, b, c: a - 2 * b / c, low=0.5, high=2)
    with pytest.raises(NotImplementedError, match="lerp.*Long"):
        torch.lerp(torch.tensor([0, 1]), torch.tensor([10, 10]), 0.5)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv"):
        torch.addcdiv(torch.tensor([1]), torch.tensor([1]), torch.tensor([2]))


COMPARISONS = [
    ("eq", lambda a, b: a == b, np.equal), ("ne", lambda a, b: a != b, np.not_equal),
    ("lt", lambda a, b: a < b, np.less), ("le", lambda a, b: a <= b, np.less_equal),
    ("gt", lambda a, b: a > b, np.greater), ("ge", lambda a, b: a >= b, np.greater_equal),
    ("eq_fn", torch.eq, np.equal), ("ne_fn", torch.ne, np.not_equal),
    ("lt_fn", torch.lt, np.less), ("le_fn", torch.le, np.less_equal),
    ("gt_fn", torch.gt, np.greater), ("ge_fn", torch.ge, np.greater_equal),
]


@pytest.mark.parametrize("name,fn,ref", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons(name, fn, ref):
    a = np.array([[nan, 1.0, 2.0, -inf], [inf, 0.0, -0.0, 3.0], [1.0, 2.0, 2.0, nan]])
    b = np.array([1.0, nan, 2.0, -inf])
    for x, y in [(a, b), (b, a), (a, a)]:
        out = fn(torch.tensor(x), torch.tensor(y))
        assert out.dtype is torch.bool
        np.testing.assert_array_equal(out.numpy(), ref(x, y))
    out = fn(as_noncontiguous(a), 2.0)
    np.testing.assert_array_equal(out.numpy(), ref(a, 2.0))
    out = fn(torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.5, 2.0]))
    np.testing.assert_array_equal(out.numpy(), ref(np.array([1, 2, 3]), np.array([1, 2.5, 2])))
    out = fn(torch.tensor([1, 2, 3]), 2)
    np.testing.assert_array_equal(out.numpy(), ref(np.array([1, 2, 3]), 2))


def test_comparison_results_are_not_differentiable():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    out = x > 1.5
    assert out.dtype is torch.bool and not out.requires_grad


LOGICAL = [
    ("logical_and", np.logical_and), ("logical_or", np.logical_or),
    ("logical_xor", np.logical_xor),
]


@pytest.mark.parametrize("name,ref", LOGICAL, ids=[n for n, _ in LOGICAL])
def test_logical_binary(name, ref):
    a = np.array([[1.0, 0.0, nan, -0.0], [2.0, 0.0, 0.5, 0.0]])
    b = np.array([0.0, 0.0, 1.0, nan])
    ints = np.array([[1, 0, 3, 0], [-2, 0, 1, 0]])
    for x, y in [(a, b), (ints, b[::-1].copy()), (ints, ints[0]), (a != 0, b != 0)]:
        out = getattr(torch, name)(torch.tensor(x), torch.tensor(y))
        assert out.dtype is torch.bool
        np.testing.assert_array_equal(out.numpy(), ref(x, y))
        out = getattr(torch.tensor(x), name)(torch.tensor(y))
        np.testing.assert_array_equal(out.numpy(), ref(x, y))


def test_logical_not_and_invert():
    x = np.array([1.0, 0.0, nan, -0.0, -3.0])
    np.testing.assert_array_equal(torch.logical_not(torch.tensor(x)).numpy(), np.logical_not(x))
    np.testing.assert_array_equal(torch.tensor([2, 0]).logical_not().numpy(), [False, True])
    assert (~torch.tensor([True, False])).tolist() == [False, True]
    assert (~torch.tensor([1, 0])).tolist() == [-2, -1]
    assert (torch.tensor([True, False]) & torch.tensor([True, True])).tolist() == [True, False]
    assert (torch.tensor([True, False]) | torch.tensor([False, False])).tolist() == [True, False]
    assert (torch.tensor([True, False]) ^ torch.tensor([True, True])).tolist() == [False, True]
    assert (torch.tensor([6, 3]) & torch.tensor([3, 1])).tolist() == [2, 1]


def test_isnan_isinf_isfinite():
    x = np.array([[1.0, nan, inf], [-inf, 0.0, -2.5]])
    t = as_noncontiguous(x)
    for name, ref in [("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite)]:
        out = getattr(torch, name)(t)
        assert out.dtype is torch.bool
        np.testing.assert_array_equal(out.numpy(), ref(x))
    ints = torch.tensor([1, 2])
    assert ints.isnan().tolist() == [False, False]
    assert ints.isinf().tolist() == [False, False]
    assert ints.isfinite().tolist() == [True, True]


def test_nan_to_num():
    x = torch.tensor([nan, inf, -inf, 1.5])
    big = float(np.finfo(np.float32).max)
    assert x.nan_to_num().tolist() == [0.0, big, -big, 1.5]
    assert torch.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0).tolist() == [1, 2, -2, 1.5]
    half = torch.tensor([nan, inf, -inf, 1.0], dtype=torch.float16).nan_to_num()
    assert half.dtype is torch.float16 and half.tolist() == [0.0, 65504.0, -65504.0, 1.0]
    assert torch.tensor([1, 2]).nan_to_num().tolist() == [1, 2]
    # gradient flows only through the finite entries
    x = torch.tensor([nan, 2.0, inf], requires_grad=True)
    x.nan_to_num().sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_gelu_bad_approximation():
    with pytest.raises(RuntimeError, match="approximate"):
        torch.gelu(torch.ones(2), approximate="fast")


def test_activation_extremes_stay_finite():
    x = torch.tensor([-100.0, -30.0, 30.0, 100.0])
    assert_close(x.sigmoid(), np_sigmoid(x.numpy().astype(np.float64)), atol=1e-7)
    assert_close(x.tanh(), [-1, -1, 1, 1])
    assert_close(torch.softplus(x), np_softplus(x.numpy().astype(np.float64)), atol=1e-6)
    assert_close(torch.silu(x), [0.0, -30 * np_sigmoid(-30.0), 30.0, 100.0], atol=1e-6)
    assert_close(torch.gelu(x), [0.0, 0.0, 30.0, 100.0], atol=1e-6)


def test_sizes_not_multiple_of_workgroup():
    rng = np.random.default_rng(1)
    for n in (1, 3, 63, 64, 65, 127, 1000):
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        assert_close(torch.tensor(a) * torch.tensor(b) + 1, a * b + 1)
        assert_close(torch.tensor(a).exp(), np.exp(a))
        # a view that ends before its storage: the vec4 path must not write past it
        base = torch.zeros(n + 5)
        view = base[2:n + 2]
        view.copy_(torch.tensor(a))
        full = base.numpy()
        assert full[:2].tolist() == [0, 0] and full[n + 2:].tolist() == [0, 0, 0]
        assert_close(full[2:n + 2], a)


def test_one_million_elements():
    n = 1_000_003
    rng = np.random.default_rng(2)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    ta, tb = torch.tensor(a), torch.tensor(b)
    assert_close(ta + tb, a + b)
    assert_close((ta * 2).sigmoid(), 1 / (1 + np.exp(-2 * a.astype(np.float64))), atol=1e-6)
    strided = torch.tensor(np.stack([a, b], 1))[:, 1]  # a non-contiguous view
    assert_close(strided - ta, b - a)


def test_noncontiguous_operands_and_offsets():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 8, 5))
    t = torch.tensor(base)
    views = [
        (t[1:5, ::2, 1:], base[1:5, ::2, 1:]),
        (t.permute(2, 0, 1)[:, 2:, 3], base.transpose(2, 0, 1)[:, 2:, 3]),
        (t[:, 3], base[:, 3]),
    ]
    for tv, nv in views:
        assert_close(tv * 2 + 1, nv * 2 + 1)
        assert_close(tv.exp(), np.exp(nv))
        assert_close(tv - tv[:1], nv - nv[:1])  # two views of one storage
    # expanded (stride 0) operands
    row = torch.tensor(base[0, 0])
    assert_close(row.expand(4, 5) * torch.tensor(base[0, :4]), base[0, 0] * base[0, :4])


def test_many_dims():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 1, 3, 1, 2, 3, 1, 2))
    b = rng.standard_normal((2, 2, 1, 2, 1, 3, 2, 1))
    assert_close(torch.tensor(a) + torch.tensor(b), a + b)
    ta = torch.tensor(a).permute(7, 6, 5, 4, 3, 2, 1, 0)
    assert_close(ta * 3, a.transpose(7, 6, 5, 4, 3, 2, 1, 0) * 3)


def test_broadcast_error_message():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(2\) must match the size of "
                       r"tensor b \(3\) at non-singleton dimension 0"):
        torch.ones(2) + torch.ones(3)
    with pytest.raises(RuntimeError, match="must match"):
        torch.ones(2, 3) * torch.ones(4, 1, 2)


def test_bad_operands():
    with pytest.raises(TypeError):
        torch.ones(2) + "a"
    with pytest.raises(TypeError):
        torch.ones(2) * None
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -torch.tensor([True])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool"):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
        torch.tensor([1, 2]) - True
    with pytest.raises(NotImplementedError, match="bitwise_and.*Float"):
        torch.ones(2) & 1
    with pytest.raises(TypeError, match="only implemented on integer and Boolean"):
        ~torch.ones(2)
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' \(position 1\) must be "
                       "Tensor, not float"):
        torch.exp(2.0)


def test_contiguous_operands_take_the_vec4_kernel():
    rt = torch.get_runtime()
    a, b = torch.ones(4, 6), torch.ones(4, 6)
    _ = a * b
    assert ("map", "mul", "{0} * {1}", ("f32", "f32"), ("f32", "f32"), "float32", True, False) \
        in rt.kernels
    _ = a.t() * b.t()  # strided operands: the indexed kernel
    assert ("map", "mul", "{0} * {1}", ("f32", "f32"), ("f32", "f32"), "float32", False, False) \
        in rt.kernels


def test_alpha_forms():
    assert torch.tensor([1.0, 2.0]).add(1, alpha=2).tolist() == [3.0, 4.0]
    out = torch.tensor([1, 2]).add(1.5, alpha=2)
    assert out.dtype is torch.float32 and out.tolist() == [4.0, 5.0]
    assert torch.tensor([1, 2]).sub(torch.tensor([1, 1]), alpha=3).tolist() == [-2, -1]
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        torch.tensor([1, 2]).add(torch.tensor([1, 1]), alpha=0.5)


# ---- in-place forms --------------------------------------------------------------------

INPLACE = [
    ("add_", lambda t: t.add_(2.5), lambda a: a + 2.5),
    ("add_tensor", lambda t: t.add_(torch.tensor([1.0, 2.0, 3.0]), alpha=2),
     lambda a: a + 2 * np.array([1.0, 2.0, 3.0])),
    ("sub_", lambda t: t.sub_(torch.tensor(1.5)), lambda a: a - 1.5),
    ("mul_", lambda t: t.mul_(-2), lambda a: a * -2),
    ("div_", lambda t: t.div_(4), lambda a: a / 4),
    ("iadd", lambda t: t.__iadd__(1), lambda a: a + 1),
    ("isub", lambda t: t.__isub__(torch.ones(3)), lambda a: a - 1),
    ("imul", lambda t: t.__imul__(3), lambda a: a * 3),
    ("itruediv", lambda t: t.__itruediv__(2), lambda a: a / 2),
    ("clamp_", lambda t: t.clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    ("clamp_min_", lambda t: t.clamp_(min=0), lambda a: np.maximum(a, 0)),
    ("zero_", lambda t: t.zero_(), lambda a: a * 0),
    ("fill_", lambda t: t.fill_(7), lambda a: a * 0 + 7),
    ("fill_tensor", lambda t: t.fill_(torch.tensor(3)), lambda a: a * 0 + 3),
    ("copy_", lambda t: t.copy_(torch.tensor([4, 5, 6])), lambda a: a * 0 + [4, 5, 6]),
    ("copy_broadcast", lambda t: t.copy_(torch.tensor(2.0)), lambda a: a * 0 + 2),
    ("exp_", lambda t: t.exp_(), np.exp),
    ("neg_", lambda t: t.neg_(), np.negative),
    ("relu_", lambda t: t.relu_(), lambda a: np.maximum(a, 0)),
]


@pytest.mark.parametrize("name,op,ref", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace(name, op, ref):
    data = np.array([[1.0, -2.0, 0.25], [3.0, -0.75, 2.0]])
    # on a contiguous tensor
    t = torch.tensor(data)
    version = t._version
    out = op(t)
    assert out is t
    assert t._version > version
    assert_close(t, ref(data), msg=name)
    # through a non-contiguous view: the base sees the write, other elements are untouched
    base = torch.tensor(np.stack([data, data * 10], -1))  # (2, 3, 2)
    view = base[..., 0]  # (2, 3), strides (6, 2)
    assert not view.is_contiguous()
    op(view)
    assert base._version == view._version > 0
    assert_close(base[..., 0], ref(data), msg=name)
    assert_close(base[..., 1], data * 10, msg=name)


def test_inplace_version_counter_is_shared_by_views():
    x = torch.zeros(4)
    v = x[1:3]
    assert x._version == v._version == 0
    v.add_(1)
    assert x._version == 1 and v._version == 1
    x.mul_(2)
    assert v._version == 2
    x.zero_()
    x.fill_(1.0)
    x.copy_(torch.ones(4))
    assert v._version == 5
    assert x.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_inplace_dtype_rules():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                       "output type Long"):
        torch.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        torch.tensor([1, 2]).div_(2)
    t = torch.tensor([1.0, 2.0])
    t.add_(torch.tensor([1, 2]))
    assert t.dtype is torch.float32 and t.tolist() == [2.0, 4.0]
    t = torch.tensor([1, 5])
    t.fill_(7.9)
    assert t.tolist() == [7, 7]
    t = torch.tensor([1.0, 5.0])
    t.copy_(torch.tensor([3, 4]))
    assert t.dtype is torch.float32 and t.tolist() == [3.0, 4.0]
    t = torch.tensor([1, 2], dtype=torch.uint8)
    t.copy_(torch.tensor([3.7, 255.0]))
    assert t.tolist() == [3, 255]


def test_inplace_broadcast_rules():
    t = torch.zeros(2, 2)
    t.add_(torch.tensor([1.0, 2.0]))
    assert t.tolist() == [[1, 2], [1, 2]]
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the "
                       r"broadcast shape \[2, 2\]"):
        torch.zeros(2).add_(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="fill_ only supports 0-dimension value tensor"):
        torch.zeros(2).fill_(torch.ones(2))


def test_inplace_self_aliasing():
    # reading and writing one buffer in one op must still give the out-of-place answer
    x = torch.arange(6.0)
    x[1:].copy_(x[:-1].clone())
    assert x.tolist() == [0, 0, 1, 2, 3, 4]
    y = torch.arange(6.0)
    y[1:] += y[:-1]
    assert y.tolist() == [0, 1, 3, 5, 7, 9]
    z = torch.arange(4.0).reshape(2, 2)
    z.copy_(z.t())
    assert z.tolist() == [[0, 2], [1, 3]]


def test_inplace_autograd():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    a = x * 1
    a.mul_(3)
    a.add_(x)
    a.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]
    # a tensor saved for backward and then modified in place is refused
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    with torch.no_grad():
        x.add_(1)  # allowed without recording
    assert x.tolist() == [2.0, 3.0]


# ---- batching and reuse ------------------------------------------------------------------


def test_long_chain_of_ops_is_right():
    x = torch.tensor([0.5, -1.0, 2.0])
    y = x
    ref = np.array([0.5, -1.0, 2.0])
    for k in range(300):  # > one batch of dispatches
        y = y * 0.5 + k % 3
        ref = ref * 0.5 + k % 3
    assert_close(y, ref)


def test_numpy_scalars_are_python_numbers():
    x = torch.tensor([1.0, 2.0])
    assert (x * np.float32(2)).tolist() == [2.0, 4.0]
    assert (np.int64(3) + x).tolist() == [4.0, 5.0]
    assert (torch.tensor([1, 2]) * np.int64(3)).dtype is torch.int64
    assert (x / np.sqrt(4.0)).tolist() == [0.5, 1.0]
    assert torch.maximum(x, torch.tensor(1.5)).tolist() == [1.5, 2.0]
    assert (x > np.float32(1.5)).tolist() == [False, True]
