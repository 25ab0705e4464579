"""Python's operators on Tensor (``a + b``, ``2 * a``, ``a += b``, ``a == b``, ``~m``...), each
a named function over the declared ops, so tracebacks and profilers name them."""

from ..tensor import Tensor, tensor_method
from .copy import apply_inplace
from .elementwise import (
    abs, add, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, div, eq, floor_divide, ge, gt,
    le, logical_not, lt, mul, ne, neg, pow, remainder, sub,
)

tensor_method("__neg__")(neg)
tensor_method("__abs__")(abs)
tensor_method("__lt__")(lt)
tensor_method("__le__")(le)
tensor_method("__gt__")(gt)
tensor_method("__ge__")(ge)


@tensor_method()
def __add__(self, other):
    return add(self, other)


@tensor_method()
def __radd__(self, other):
    return add(other, self)


@tensor_method()
def __iadd__(self, other):
    return apply_inplace(self, add(self, other))


@tensor_method()
def __sub__(self, other):
    return sub(self, other)


@tensor_method()
def __rsub__(self, other):
    return sub(other, self)


@tensor_method()
def __isub__(self, other):
    return apply_inplace(self, sub(self, other))


@tensor_method()
def __mul__(self, other):
    return mul(self, other)


@tensor_method()
def __rmul__(self, other):
    return mul(other, self)


@tensor_method()
def __imul__(self, other):
    return apply_inplace(self, mul(self, other))


@tensor_method()
def __truediv__(self, other):
    return div(self, other)


@tensor_method()
def __rtruediv__(self, other):
    return div(other, self)


@tensor_method()
def __itruediv__(self, other):
    return apply_inplace(self, div(self, other))


@tensor_method()
def __floordiv__(self, other):
    return floor_divide(self, other)


@tensor_method()
def __rfloordiv__(self, other):
    return floor_divide(other, self)


@tensor_method()
def __ifloordiv__(self, other):
    return apply_inplace(self, floor_divide(self, other))


@tensor_method()
def __mod__(self, other):
    return remainder(self, other)


@tensor_method()
def __rmod__(self, other):
    return remainder(other, self)


@tensor_method()
def __imod__(self, other):
    return apply_inplace(self, remainder(self, other))


@tensor_method()
def __pow__(self, other):
    return pow(self, other)


@tensor_method()
def __rpow__(self, other):
    return pow(other, self)


@tensor_method()
def __ipow__(self, other):
    return apply_inplace(self, pow(self, other))


@tensor_method()
def __and__(self, other):
    return bitwise_and(self, other)


@tensor_method()
def __rand__(self, other):
    return bitwise_and(other, self)


@tensor_method()
def __iand__(self, other):
    return apply_inplace(self, bitwise_and(self, other))


@tensor_method()
def __or__(self, other):
    return bitwise_or(self, other)


@tensor_method()
def __ror__(self, other):
    return bitwise_or(other, self)


@tensor_method()
def __ior__(self, other):
    return apply_inplace(self, bitwise_or(self, other))


@tensor_method()
def __xor__(self, other):
    return bitwise_xor(self, other)


@tensor_method()
def __rxor__(self, other):
    return bitwise_xor(other, self)


@tensor_method()
def __ixor__(self, other):
    return apply_inplace(self, bitwise_xor(self, other))


def _comparable(other):
    return isinstance(other, (Tensor, int, float, bool))


@tensor_method()
def __eq__(self, other):
    # NOTE: a == "text" or a == None is False (as PyTorch), not an error
    return eq(self, other) if _comparable(other) else False


@tensor_method()
def __ne__(self, other):
    return ne(self, other) if _comparable(other) else True


@tensor_method()
def __pos__(self):
    return self


@tensor_method()
def __invert__(self):
    if self.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return logical_not(self) if self.dtype.name == "bool" else bitwise_not(self)
