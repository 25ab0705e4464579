"""Python operators and the in-place (``op_``) forms, all built on the declared ops."""

from ..tensor import Tensor
from . import elementwise as ew
from .copy import apply_inplace, inplace_method


def _swap(fn):
    return lambda self, other: fn(other, self)


_BINARY = {
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "truediv": ew.div, "floordiv": ew.floor_divide,
    "mod": ew.remainder, "pow": ew.pow, "and": ew.bitwise_and, "or": ew.bitwise_or,
    "xor": ew.bitwise_xor,
}

for _name, _fn in _BINARY.items():
    setattr(Tensor, f"__{_name}__", lambda self, other, _fn=_fn: _fn(self, other))
    setattr(Tensor, f"__r{_name}__", lambda self, other, _fn=_fn: _fn(other, self))
    setattr(Tensor, f"__i{_name}__",
            lambda self, other, _fn=_fn: apply_inplace(self, _fn(self, other)))

Tensor.__eq__ = lambda self, other: ew.eq(self, other) if _comparable(other) else False
Tensor.__ne__ = lambda self, other: ew.ne(self, other) if _comparable(other) else True
Tensor.__lt__ = ew.lt
Tensor.__le__ = ew.le
Tensor.__gt__ = ew.gt
Tensor.__ge__ = ew.ge
Tensor.__neg__ = ew.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = ew.abs


def _invert(self):
    if self.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return ew.logical_not(self) if self.dtype.name == "bool" else ew.bitwise_not(self)


Tensor.__invert__ = _invert
Tensor.__hash__ = lambda self: id(self)


def _comparable(other):
    return isinstance(other, (Tensor, int, float, bool))


for _name in (
    "add", "sub", "mul", "div", "pow", "neg", "abs", "sign", "exp", "exp2", "log", "log2",
    "log10", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
    "erf", "reciprocal", "floor", "ceil", "trunc", "round", "frac", "clamp", "clip", "clamp_min",
    "clamp_max", "remainder", "fmod", "floor_divide", "lerp", "addcmul", "addcdiv",
    "nan_to_num", "maximum", "minimum", "square", "logical_not", "logical_and", "logical_or",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "silu", "gelu", "where",
    "subtract", "multiply", "divide", "true_divide", "eq", "ne", "lt", "le", "gt", "ge",
    "masked_fill", "index_fill", "asin", "acos", "atan", "sinh", "cosh", "atan2",
):
    inplace_method(f"{_name}_", lambda self, *a, _n=_name, **k: getattr(Tensor, _n)(self, *a, **k))
