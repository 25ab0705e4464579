"""Matrix products: matmul/@, mm, bmm, addmm, baddbmm, mv, addmv, dot, vdot, outer and
``linear`` (``F.linear``). Contractions (tensordot, inner, einsum) are in ``contractions.py``.

One differentiable primitive does the work: ``C = alpha * A @ B + beta * bias`` over a batch
(``matmul_kernels.launch``). Its grad_fn is named as PyTorch names it (MmBackward0,
BmmBackward0, AddmmBackward0, BaddbmmBackward0) and its backward is written with the same
primitive on transposed views, so the kernels read transposes through strides (no copy) and
second-order gradients work. Everything else is composed from it and from view ops.

dtypes: float32, float16 (float32 accumulation, result rounded to half), int32/int64 (int32
arithmetic: a sum that overflows int32 wraps) and uint8 (wraps modulo 256, as PyTorch's
does). bool is refused, as PyTorch refuses it.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import check_same_device
from ..tensor import Tensor, prod, tensor_method
from . import matmul_kernels
from .copy import inplace_method
from .pointwise import broadcast_shapes
from .reduce import sum_to

DOT_MATMUL_MAX = 8192  # longer dot products take multiply + tree reduction
_TORCH_NAMES = {"float32": "float", "float16": "c10::Half", "int32": "int", "int64": "long",
                "bool": "bool", "uint8": "unsigned char"}


def _check_dtypes(op, a, b, names=("mat1", "mat2")):
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"expected {names[0]} and {names[1]} to have the same dtype, but got: "
            f"{_TORCH_NAMES[a.dtype.name]} != {_TORCH_NAMES[b.dtype.name]}"
        )
    if a.dtype is dt.bool_:
        raise RuntimeError(f'"{op}" not implemented for \'{_TORCH_NAMES[a.dtype.name].title()}\'')


# ---- the primitive ------------------------------------------------------------------------


class _MatmulBase(Function):
    """alpha * a @ b + beta * bias, for a (*batch, M, K), b (*batch, K, N) of one batch shape."""

    @staticmethod
    def forward(ctx, a, b, bias=None, alpha=1, beta=1):
        check_same_device("mm" if a.ndim == 2 else "bmm", (a, b, bias))
        ctx.alpha, ctx.beta = alpha, beta
        ctx.bias_shape = bias.shape if bias is not None else None
        ctx.save_for_backward(a, b)
        return matmul_kernels.launch(a, b, bias, alpha, beta)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b, need_bias = ctx.needs_input_grad[:3]
        ga = gb = gbias = None
        if need_a and need_b and not is_grad_enabled():
            g = matmul_kernels.shared_operand(g, a.shape[-1])
        # each gradient is made in its operand's layout: F.linear's weight.t() gets the
        # transpose of a contiguous product, so weight.grad needs no transposing copy
        if need_a:
            if _column_major(a):
                ga = _product(b, g.transpose(-1, -2), alpha=ctx.alpha).transpose(-1, -2)
            else:
                ga = _product(g, b.transpose(-1, -2), alpha=ctx.alpha)
        if need_b:
            if _column_major(b):
                gb = _product(g.transpose(-1, -2), a, alpha=ctx.alpha).transpose(-1, -2)
            else:
                gb = _product(a.transpose(-1, -2), g, alpha=ctx.alpha)
        if need_bias:
            gbias = sum_to(g if ctx.beta == 1 else g * ctx.beta, ctx.bias_shape)
        return ga, gb, gbias, None, None


class MmBackward0(_MatmulBase):
    pass


class BmmBackward0(_MatmulBase):
    pass


class AddmmBackward0(_MatmulBase):
    pass


class BaddbmmBackward0(_MatmulBase):
    pass


def _column_major(x):
    """True when ``x``'s matrices are stored transposed (unit stride down the columns)."""
    rows, cols = x.shape[-2], x.shape[-1]
    return rows > 1 and cols > 1 and x._stride[-2] == 1 and x._stride[-1] != 1


def _product(a, b, bias=None, alpha=1, beta=1):
    """The primitive, with PyTorch's grad_fn name for the shapes at hand."""
    if a.ndim == 2:
        cls = MmBackward0 if bias is None else AddmmBackward0
    else:
        cls = BmmBackward0 if bias is None else BaddbmmBackward0
    if bias is not None and beta == 0:
        bias = None  # PyTorch ignores input when beta == 0 (even nan/inf in it)
    return cls.apply(a, b, bias, alpha, beta)


# ---- 2-D and batched products ---------------------------------------------------------------


def _check_mm(a, b, op="mm"):
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    _check_dtypes(op, a, b)


def _check_bmm(a, b, op="bmm"):
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}]."
        )
    _check_dtypes(op, a, b, ("batch1", "batch2"))


@tensor_method()
def mm(input, mat2):
    """Matrix product of two 2-D tensors: (n, m) @ (m, p) -> (n, p)."""
    _check_mm(input, mat2)
    return _product(input, mat2)


@tensor_method()
def bmm(input, mat2):
    """Batched matrix product: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    _check_bmm(input, mat2)
    return _product(input, mat2)


@tensor_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * mat1 @ mat2``; ``input`` broadcasts to the result (one kernel)."""
    _check_mm(mat1, mat2, "addmm")
    _check_bias(input, (mat1.shape[0], mat2.shape[1]), "addmm", mat1.dtype)
    return _product(mat1, mat2, input, alpha, beta)


@tensor_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * batch1 @ batch2`` over a batch (one kernel)."""
    _check_bmm(batch1, batch2, "baddbmm")
    _check_bias(input, (batch1.shape[0], batch1.shape[1], batch2.shape[2]), "baddbmm",
                batch1.dtype)
    return _product(batch1, batch2, input, alpha, beta)


def _check_bias(bias, shape, op, dtype):
    if bias.dtype is not dtype:
        raise RuntimeError(
            f"{op}: expected input and mat1 to have the same dtype, but got: "
            f"{_TORCH_NAMES[bias.dtype.name]} != {_TORCH_NAMES[dtype.name]}"
        )
    try:
        ok = broadcast_shapes(bias.shape, shape) == tuple(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"{op}: the size of input {list(bias.shape)} is not broadcastable to the result "
            f"shape {list(shape)}"
        )


# ---- vectors -------------------------------------------------------------------------------


@tensor_method()
def mv(input, vec):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
            f"{input.shape[1]}), vec ({vec.shape[0]})"
        )
    _check_dtypes("mv", input, vec, ("input", "vec"))
    return _product(input, vec.unsqueeze(1)).squeeze(1)


@tensor_method()
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * mat @ vec``."""
    out = mv(mat, vec)
    if not out.dtype.is_floating_point:  # PyTorch casts the scalars to the integer dtype
        alpha, beta = int(alpha), int(beta)
    if alpha != 1:
        out = out * alpha
    if beta == 0:
        return out.expand(broadcast_shapes(input.shape, out.shape)) if input.ndim else out
    return out + (input if beta == 1 else input * beta)


@tensor_method()
def dot(input, tensor):
    """Inner product of two 1-D tensors of the same size -> 0-d tensor."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors"
        )
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{tensor.shape[0]}] to have the same number of elements, but got "
            f"{input.shape[0]} and {tensor.shape[0]} elements respectively"
        )
    _check_dtypes("dot", input, tensor, ("self", "other"))
    if input.shape[0] > DOT_MATMUL_MAX:
        # NOTE: as a (1, K) @ (K, 1) product one invocation would walk all of K; the
        # reduction's tree uses the whole adapter
        return (input * tensor).sum()
    return _product(input.unsqueeze(0), tensor.unsqueeze(1)).view(())  # one dispatch


@tensor_method()
def vdot(input, other):
    """``dot`` (wgtorch has no complex dtypes, so no conjugation)."""
    return dot(input, other)


@tensor_method("outer", "ger")
def outer(input, vec2):
    """Outer product of two 1-D tensors: (n,) x (m,) -> (n, m)."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


# ---- matmul --------------------------------------------------------------------------------


@tensor_method("matmul", "__matmul__")
def matmul(input, other):
    """Matrix product with NumPy's rules: 1-D operands are promoted (and the added dim
    removed), batch dims broadcast. ``a @ b`` is ``matmul(a, b)``.

    Example::

        x = wgtorch.randn(10, 3, 4)
        y = wgtorch.randn(4, 5)
        (x @ y).shape        # torch.Size([10, 3, 5])
    """
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError(
            f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}"
        )
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return mm(input.unsqueeze(0), other).squeeze(0)
    if da == 2 and db == 2:
        return mm(input, other)
    if db <= 2:
        # fold batch dims into M: one 2-D product, and b's gradient is one mm (no batch sum)
        a = input
        b = other.unsqueeze(1) if db == 1 else other
        *batch, m, k = a.shape
        if k != b.shape[0]:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({prod(batch) * m}x{k} and "
                f"{b.shape[0]}x{b.shape[1]})"
            )
        _check_dtypes("mm", a, b)
        out = _product(a.reshape(prod(batch) * m, k), b).view(*batch, m, b.shape[1])  # (*B, M, N)
        return out.squeeze(-1) if db == 1 else out
    a = input.unsqueeze(0) if da == 1 else input
    b = other.unsqueeze(-1) if db == 1 else other
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{prod(a.shape[:-2])}, {a.shape[-1]}] but got: [{prod(b.shape[:-2])}, "
            f"{b.shape[-2]}]."
        )
    _check_dtypes("bmm", a, b, ("batch1", "batch2"))
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = a.expand(*batch, *a.shape[-2:])
    b = b.expand(*batch, *b.shape[-2:])
    out = _product(a, b)  # (*batch, M, N)
    if da == 1:
        out = out.squeeze(-2)
    if db == 1:
        out = out.squeeze(-1)
    return out


@tensor_method()
def __rmatmul__(self, other):
    return matmul(other, self)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``): weight (out, in) is read
    transposed through its strides, and the bias is added in the same kernel."""
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise RuntimeError(
            f"linear: expected input of at least 1 dim and a 1-D or 2-D weight, got "
            f"{input.ndim}-D and {weight.ndim}-D"
        )
    w_t = weight.t()  # (in, out) view, no copy
    if input.ndim == 1 or weight.ndim == 1:
        out = matmul(input, w_t)
        return out if bias is None else out + bias
    *lead, k = input.shape
    x2 = input.reshape(-1, k) if input.ndim > 2 else input  # (N, in)
    if bias is None:
        _check_mm(x2, w_t)
        out = _product(x2, w_t)
    else:
        _check_mm(x2, w_t, "addmm")
        _check_bias(bias, (x2.shape[0], w_t.shape[1]), "addmm", x2.dtype)
        out = _product(x2, w_t, bias)
    return out.view(*lead, w_t.shape[1]) if input.ndim > 2 else out  # (*lead, out)


for _fn in (addmm, baddbmm, addmv):
    inplace_method(f"{_fn.__name__}_", _fn)
