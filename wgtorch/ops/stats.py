"""var/std (+ var_mean/std_mean) and vector norms, on the reduction engine.

var/std use one Welford/Chan reduction (count, mean, squared deviations merged pairwise):
stable and a single multi-pass kernel that also yields the mean. Norms are one reduction
with the element map fused in (``|x|``, ``x*x``, ``|x|^p``) and the root in the final store.
Backward rules are wgtorch ops.
"""

import math

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import prod, tensor_method
from .elementwise import where
from .reduce import _evenly_distributed, _keep, _type_name
from .reduce_kernel import OPS, normalize_dims, reduce, reduced_shape

OPS["norm2"] = OPS["sum"]._replace(finals=("sqrt(a.v)",))
OPS["normp"] = OPS["sum"]._replace(finals=("pow_f(a.v, 1.0 / P.correction)",))
_PRE = {
    "abs": "abs({x})",
    "square": "{x} * {x}",
    "pow": "pow_f(abs({x}), P.correction)",
    "nonzero": "select(0.0, 1.0, {x} != 0.0)",
}


# ---- var / std --------------------------------------------------------------------------


def _var_function(name, std):
    def forward(ctx, x, dims, correction, keepdim):
        shape = reduced_shape(x.shape, dims, keepdim)
        out, mean = reduce(x, dims, "std" if std else "var", [x.dtype, x.dtype], shape,
                           correction=correction)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.divisor = max(prod(x.shape[d] for d in dims) - correction, 0)
        ctx.save_for_backward(x, out)
        return out, mean

    def backward(ctx, g_out, g_mean):
        x, out = ctx.saved_tensors
        g_out = _keep(g_out, x.shape, ctx.dims, ctx.keepdim)
        if std:
            g_out = g_out / (_keep(out, x.shape, ctx.dims, ctx.keepdim) * 2.0)
        centered = x - x.mean(ctx.dims, keepdim=True)
        divisor = ctx.divisor if ctx.divisor else float("nan")
        g = g_out * centered * (2.0 / divisor)
        if g_mean is not None:
            n = prod(x.shape[d] for d in ctx.dims)
            g = g + _keep(g_mean, x.shape, ctx.dims, ctx.keepdim) * (1.0 / n if n else math.nan)
        return g, None, None, None

    return type(name, (Function,),
                {"forward": staticmethod(forward), "backward": staticmethod(backward)})


VarBackward0 = _var_function("VarBackward0", std=False)
StdBackward0 = _var_function("StdBackward0", std=True)


def _var_args(name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}: can't specify both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"{name}(): std and var only support floating point and complex dtypes, but got "
            f"{_type_name(input.dtype)}")
    return normalize_dims(input, dim), float(correction)


def _var_std(name, fn, input, dim, unbiased, keepdim, correction):
    dims, correction = _var_args(name, input, dim, unbiased, keepdim, correction)
    return fn.apply(input, dims, correction, keepdim)


@tensor_method()
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` with ``correction`` (default 1, Bessel's; ``unbiased=False`` is
    correction 0). Example: ``x.var(0, keepdim=True)``."""
    return _var_std("var", VarBackward0, input, dim, unbiased, keepdim, correction)[0]


@tensor_method()
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over ``dim`` (``sqrt(var)``, same arguments as ``var``)."""
    return _var_std("std", StdBackward0, input, dim, unbiased, keepdim, correction)[0]


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` from one reduction."""
    return _var_std("var_mean", VarBackward0, input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` from one reduction."""
    return _var_std("std_mean", StdBackward0, input, dim, unbiased, keepdim, correction)


# ---- norms ------------------------------------------------------------------------------


class NormBackward1(Function):
    @staticmethod
    def forward(ctx, x, ord, dims, keepdim):
        shape = reduced_shape(x.shape, dims, keepdim)
        if ord == 2:
            out = reduce(x, dims, "norm2", [x.dtype], shape, pre=_PRE["square"])[0]
        elif ord == 1:
            out = reduce(x, dims, "sum", [x.dtype], shape, pre=_PRE["abs"])[0]
        elif ord == math.inf:
            out = reduce(x, dims, "max", [x.dtype], shape, pre=_PRE["abs"])[0]
        elif ord == -math.inf:
            out = reduce(x, dims, "min", [x.dtype], shape, pre=_PRE["abs"])[0]
        elif ord == 0:
            out = reduce(x, dims, "sum", [x.dtype], shape, pre=_PRE["nonzero"])[0]
        else:
            out = reduce(x, dims, "normp", [x.dtype], shape, pre=_PRE["pow"], correction=ord)[0]
        ctx.ord, ctx.dims, ctx.keepdim = ord, dims, keepdim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        ord, dims, keepdim = ctx.ord, ctx.dims, ctx.keepdim
        if ord == 0:
            return x * 0.0, None, None, None
        if abs(ord) == math.inf:
            return _evenly_distributed(g, x.abs(), out, dims, keepdim) * x.sign(), None, None, None
        g, out = _keep(g, x.shape, dims, keepdim), _keep(out, x.shape, dims, keepdim)
        if ord == 1:
            return g * x.sign(), None, None, None
        if ord == 2:
            scale = x / where(out == 0, 1.0, out)
        else:  # x |x|^(p-2) / norm^(p-1), 0 where the norm is 0 (PyTorch's subgradient)
            scale = x * x.abs().pow(ord - 2) / where(out == 0, 1.0, out).pow(ord - 1)
        return g * where(out == 0, 0.0, scale), None, None, None


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.vector_norm``: ``(sum |x|^ord)^(1/ord)`` over ``dim`` (all when None);
    ``ord`` may be any real number or +-inf."""
    if isinstance(ord, str):
        raise TypeError(f"linalg.vector_norm(): argument 'ord' must be a number, not {ord!r}")
    if dtype is not None:
        x = x.to(dt.as_dtype(dtype))
    if not x.dtype.is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_type_name(x.dtype)}")
    dims = normalize_dims(x, dim)
    if x.numel() == 0 and ord < 0:
        raise RuntimeError("linalg.vector_norm of negative order cannot be performed on an "
                           "empty tensor")
    if abs(ord) == math.inf and any(x.shape[d] == 0 for d in dims):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    return NormBackward1.apply(x, float(ord), dims, keepdim)


@tensor_method()
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector norm over ``dim`` (all dims when None): ``p`` = 'fro' (2), 1, 2, inf, -inf, 0 or
    any real number. The nuclear norm is not supported."""
    if p == "nuc":
        raise RuntimeError("norm(): the nuclear norm ('nuc') is not supported by wgtorch")
    if p == "fro" or p is None:
        p = 2
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): invalid p {p!r}: expected a number, 'fro' or 'nuc'")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
