"""Reductions: sum, mean, prod, amax/amin, max/min, argmax/argmin, all/any, count_nonzero.

Each is one run of the reduction engine (``reduce_kernel.reduce``: a multi-pass parallel tree
reduction over a dim, a tuple of dims or all dims, reading strided input without a copy when
the strides allow it). Primitives with gradients are ``Function``s whose backward rules are
wgtorch ops. ``sum_to`` undoes broadcasting for the backward rules of other ops.

dtypes follow PyTorch: sum/prod of bool and integer tensors give int64; mean of an integer
tensor is an error; all/any give bool (uint8 for uint8 input). An int64 sum or product that
does not fit in the int32 storage raises RuntimeError at the next host readback (the kernel
flags it, see reduce_kernel.py), unless the input's known value range (value_range.py) shows
it cannot happen.
"""

from .. import dtypes as dt
from .. import return_types
from ..autograd.function import Function
from ..tensor import Tensor, tensor_method
from ..tensor import prod as _prod
from . import value_range
from .creation import zeros
from .reduce_kernel import normalize_dims, reduce, reduced_shape
from .scan import prod_others
from .sort import ScatterAlong

_NONZERO = "select({A}(0), {A}(1), {x} != {T}(0))"


def _keep(g, shape, dims, keepdim):
    """``g`` (a reduction's gradient) with the reduced dims back as size 1."""
    return g if keepdim else g.view(reduced_shape(shape, dims, True))


def _int64_op(op, x, dims, out_dtype):
    """``op`` ("sum" or "prod"), or its overflow-checked form when its int64 result might
    not fit in int32 storage."""
    if out_dtype is not dt.int64:
        return op
    largest = value_range.magnitude(x)
    if largest is not None:
        n = _prod(x.shape[d] for d in dims)
        if (largest * n <= dt.INT32_MAX) if op == "sum" else largest <= 1:
            return op
    return op + "_int64"


def _check_nonempty(name, x, dims, all_dims):
    if all_dims and x.numel() == 0:
        msg = (f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
               + ("" if name.startswith("arg") else
                  " Specify the reduction dim with the 'dim' argument."))
        raise (IndexError if name.startswith("arg") else RuntimeError)(msg)
    for d in dims:
        if x.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


# ---- sum and mean ----------------------------------------------------------------------


class SumBackward1(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, out_dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        out_shape = reduced_shape(x.shape, dims, keepdim)
        return reduce(x, dims, _int64_op("sum", x, dims, out_dtype), [out_dtype], out_shape)[0]

    @staticmethod
    def backward(ctx, g):
        return _keep(g, ctx.shape, ctx.dims, ctx.keepdim).expand(ctx.shape), None, None, None


class MeanBackward1(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, out_dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        n = _prod(x.shape[d] for d in dims)
        ctx.scale = 1.0 / n if n else float("nan")
        out_shape = reduced_shape(x.shape, dims, keepdim)
        return reduce(x, dims, "mean", [out_dtype], out_shape, scale=ctx.scale)[0]

    @staticmethod
    def backward(ctx, g):
        g = _keep(g, ctx.shape, ctx.dims, ctx.keepdim) * ctx.scale
        return g.expand(ctx.shape), None, None, None


def _sum_dtype(input, dtype):
    if dtype is not None:
        return dt.as_dtype(dtype)
    return input.dtype if input.dtype.is_floating_point else dt.int64


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple of ints, or all dims when None).

    Bool and integer tensors sum to int64. Example: ``x.sum((0, 2), keepdim=True)``.
    """
    dims = normalize_dims(input, dim)
    out_dtype = _sum_dtype(input, dtype)
    src = input if input.dtype is out_dtype or dtype is None else input.to(out_dtype)
    return SumBackward1.apply(src, dims, keepdim, out_dtype)


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim`` (all dims when None); floating-point input only."""
    out_dtype = dt.as_dtype(dtype) if dtype is not None else input.dtype
    if not out_dtype.is_floating_point:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_type_name(out_dtype)}"
        )
    dims = normalize_dims(input, dim)
    src = input if input.dtype is out_dtype else input.to(out_dtype)
    return MeanBackward1.apply(src, dims, keepdim, out_dtype)


def _type_name(d):
    return {"float32": "Float", "float16": "Half", "int32": "Int", "int64": "Long",
            "bool": "Bool", "uint8": "Byte"}[d.name]


def sum_to(grad, shape):
    """Sum ``grad`` over the dims that broadcasting expanded, giving ``shape``."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + k for k, n in enumerate(shape) if n == 1 and grad.shape[lead + k] != 1
    )
    if dims and dims[-1] < lead:  # only leading dims (a bias's batch dim): already ``shape``
        return sum(grad, dims)
    out = sum(grad, dims, keepdim=True) if dims else grad
    return out.view(shape) if lead or tuple(out.shape) != shape else out


@tensor_method()
def sum_to_size(self, *size):
    """``self`` summed over the dims that broadcasting expanded, down to ``size``."""
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
    # NOTE: this module's any() and all() are the tensor reductions
    expandable = len(shape) <= self.ndim and not [
        n for n, m in zip(reversed(shape), reversed(self.shape)) if n != 1 and n != m]
    if not expandable:
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size "
                           f"{{{list(self.shape)}}}.")
    if not shape:  # PyTorch sums a 0-d self too (an integer one becomes int64)
        return sum(self)
    return sum_to(self, shape)


# ---- prod --------------------------------------------------------------------------------


class ProdBackward1(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, out_dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        ctx.save_for_backward(x)
        out_shape = reduced_shape(x.shape, dims, keepdim)
        return reduce(x, dims, _int64_op("prod", x, dims, out_dtype), [out_dtype], out_shape)[0]

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g = _keep(g, ctx.shape, ctx.dims, ctx.keepdim)
        return g * prod_others(x, ctx.dims), None, None, None


@tensor_method()
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over ``dim`` (one dim, or all dims when None). Integers give int64."""
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not tuple")
    dims = normalize_dims(input, dim)
    out_dtype = _sum_dtype(input, dtype)
    src = input if input.dtype is out_dtype or dtype is None else input.to(out_dtype)
    return ProdBackward1.apply(src, dims, keepdim, out_dtype)


# ---- amax / amin and max / min -----------------------------------------------------------


def _evenly_distributed(g, x, out, dims, keepdim):
    """Gradient of amax/amin: split ``g`` evenly among the elements equal to the result."""
    out = _keep(out, x.shape, dims, keepdim)
    mask = (x == out).to(g.dtype)
    return mask * (_keep(g, x.shape, dims, keepdim) / mask.sum(dims, keepdim=True))


def _extreme_function(name):
    def forward(ctx, x, dims, keepdim):
        out = reduce(x, dims, name[1:], [x.dtype], reduced_shape(x.shape, dims, keepdim))[0]
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(x, out)
        return out

    def backward(ctx, g):
        x, out = ctx.saved_tensors
        return _evenly_distributed(g, x, out, ctx.dims, ctx.keepdim), None, None

    return type(f"{name.capitalize()}Backward0", (Function,),
                {"forward": staticmethod(forward), "backward": staticmethod(backward)})


AmaxBackward0 = _extreme_function("amax")
AminBackward0 = _extreme_function("amin")


def _amax_amin(name, fn, input, dim, keepdim):
    dims = normalize_dims(input, dim)
    _check_nonempty(name, input, dims, dim is None or dim == ())
    return fn.apply(input, dims, keepdim)


@tensor_method()
def amax(input, dim=(), keepdim=False):
    """Largest value over ``dim`` (all dims when empty); gradient split evenly among ties."""
    return _amax_amin("amax", AmaxBackward0, input, dim, keepdim)


@tensor_method()
def amin(input, dim=(), keepdim=False):
    """Smallest value over ``dim`` (all dims when empty); gradient split evenly among ties."""
    return _amax_amin("amin", AminBackward0, input, dim, keepdim)


def _indexed_function(name):
    """max/min over one dim: (values, indices); the gradient goes to the returned index."""

    def forward(ctx, x, dim, keepdim):
        shape = reduced_shape(x.shape, (dim,), keepdim)
        values, indices = reduce(x, (dim,), "arg" + name, [x.dtype, dt.int64], shape)
        value_range.note(indices, 0, x.shape[dim] - 1)
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        return values, indices

    def backward(ctx, g, _g_indices=None):
        (indices,) = ctx.saved_tensors
        g = _keep(g, ctx.shape, (ctx.dim,), ctx.keepdim)
        indices = _keep(indices, ctx.shape, (ctx.dim,), ctx.keepdim)
        return ScatterAlong.apply(g, indices, ctx.dim, ctx.shape[ctx.dim]), None, None

    return type(f"{name.capitalize()}Backward0", (Function,),
                {"forward": staticmethod(forward), "backward": staticmethod(backward)})


MaxBackward0 = _indexed_function("max")
MinBackward0 = _indexed_function("min")


def _max_min(name, input, dim, keepdim, other):
    if isinstance(dim, Tensor) or other is not None:  # max(input, other): elementwise
        other = dim if other is None else other
        return input.maximum(other) if name == "max" else input.minimum(other)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            "(keepdim=bool), but expected (Tensor input, int dim, bool keepdim)")
        return _amax_amin(name, AmaxBackward0 if name == "max" else AminBackward0, input, None,
                          False)
    d = input._wrap_dim(dim)
    dims = normalize_dims(input, d)
    _check_nonempty(name, input, dims, False)
    if input.ndim == 0:
        values = input.clone()
        return getattr(return_types, name)(values, zeros((), dtype=dt.int64,
                                                         device=input.device))
    fn = MaxBackward0 if name == "max" else MinBackward0
    values, indices = fn.apply(input, d, keepdim)
    return getattr(return_types, name)(values, indices)


@tensor_method()
def max(input, dim=None, keepdim=False, *, other=None):
    """``max(x)``: the largest value. ``max(x, dim, keepdim=False)``: a named tuple
    ``(values, indices)`` along ``dim``. ``max(x, other)``: elementwise ``maximum``.

    Example: ``values, indices = x.max(1)``.
    """
    return _max_min("max", input, dim, keepdim, other)


@tensor_method()
def min(input, dim=None, keepdim=False, *, other=None):
    """``min(x)``, ``min(x, dim, keepdim=False) -> (values, indices)``, ``min(x, other)``."""
    return _max_min("min", input, dim, keepdim, other)


def _arg(name, input, dim, keepdim):
    if dim is None:
        _check_nonempty(name, input, (), True)
        dims = tuple(range(input.ndim))
        shape = (1,) * input.ndim if keepdim else ()
    else:
        dims = normalize_dims(input, input._wrap_dim(dim))
        _check_nonempty(name, input, dims, False)
        shape = reduced_shape(input.shape, dims, keepdim)
    indices = reduce(input, dims, name, [input.dtype, dt.int64], shape)[1]
    return value_range.note(indices, 0, _prod(input.shape[d] for d in dims) - 1)


@tensor_method()
def argmax(input, dim=None, keepdim=False):
    """Index of the largest value along ``dim`` (of the flattened input when None)."""
    return _arg("argmax", input, dim, keepdim)


@tensor_method()
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value along ``dim`` (of the flattened input when None)."""
    return _arg("argmin", input, dim, keepdim)


# ---- logical and counting ------------------------------------------------------------------


def _logical(name, op, input, dim, keepdim):
    dims = normalize_dims(input, dim)
    out = dt.uint8 if input.dtype is dt.uint8 else dt.bool_
    return reduce(input, dims, op, [out], reduced_shape(input.shape, dims, keepdim),
                  acc_t="u32", pre=_NONZERO)[0]


@tensor_method()
def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` is nonzero (True for an empty reduction)."""
    return _logical("all", "min", input, dim, keepdim)


@tensor_method()
def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` is nonzero."""
    return _logical("any", "max", input, dim, keepdim)


@tensor_method()
def count_nonzero(input, dim=None):
    """Number of nonzero elements over ``dim`` (all dims when None), as int64."""
    dims = normalize_dims(input, dim)
    return reduce(input, dims, "sum", [dt.int64], reduced_shape(input.shape, dims, False),
                  acc_t="i32", pre=_NONZERO)[0]
