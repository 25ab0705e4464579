"""Scans: cumsum and cumprod along a dim (``shaders/scan.wgsl`` + ``scan_offsets.wgsl``).

A row is split into blocks of ``BLOCK`` positions, each scanned by one invocation; when a
row has several blocks their totals are scanned exclusively (the same function, recursively)
and combined into each block by a second kernel. Input is read strided; the output is
contiguous in the input's shape.

Backward rules are wgtorch ops: cumsum's gradient is a reversed cumsum (whose gradient is a
cumsum again); cumprod's is exact with zeros, built from cumsum/cumprod (see
``_cumprod_grad``). ``prod_others`` is the gradient of ``prod`` over dims, exact with zeros.

int64 is stored as int32, so an int64 cumsum also scans the high words of its 64-bit prefix
sums and flags one that does not fit (RuntimeError at the next host readback, see
gpu_errors.py), unless the input's known value range (value_range.py) rules it out.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import Tensor, tensor_method
from . import value_range
from .gpu_errors import check_int64
from .kernel import Kernel
from .pointwise import launch_map
from .reduce_kernel import acc_type, along

BLOCK = 1024
_OPS = {"sum": ("a + b", "0"), "prod": ("a * b", "1")}


def _op_code(variant):
    combine, identity = _OPS[variant["op"]]
    return {"OP": f"const IDENTITY: ACC = ACC({identity});\n"
                  f"fn combine(a: ACC, b: ACC) -> ACC {{ return {combine}; }}"}


SCAN = Kernel("scan", "scan.wgsl", inputs=("x: IN",), outputs=("out: OUT", "totals: ACC"),
              params=("total: u32", "L: u32", "inner: u32", "nb: u32", "B: u32", "base: u32",
                      "so: u32", "sr: u32", "si: u32", "reverse: u32", "exclusive: u32"),
              generate=_op_code)
SCAN_OFFSETS = Kernel("scan_offsets", "scan_offsets.wgsl", inputs=("offsets: ACC",),
                      outputs=("out: OUT",),
                      params=("total: u32", "L: u32", "inner: u32", "nb: u32", "B: u32",
                              "reverse: u32"),
                      generate=_op_code)


def scan(x, dim, op, out_dtype, reverse=False, exclusive=False):
    """Inclusive (or exclusive) ``op`` scan ("sum" or "prod") of ``x`` along wrapped ``dim``,
    from the end when ``reverse``; a new contiguous tensor of ``out_dtype``. No autograd."""
    out = Tensor._empty(x.shape, out_dtype, x.device)
    if x.numel() == 0:
        return out
    src, outer, L, inner, so, sr, si = along(x, dim)
    acc_t = acc_type(out_dtype)
    acc_dtype = {"f32": dt.float32, "i32": dt.int32, "u32": dt.int32}[acc_t]
    nb = -(-L // BLOCK)
    totals = Tensor._empty((outer, nb, inner), acc_dtype, x.device)
    total = outer * nb * inner
    SCAN.launch(ins=[src], outs=[out, totals], threads=total,
                variant=dict(op=op, ACC=acc_t, IN=src.dtype.wgsl, OUT=out_dtype),
                total=total, L=L, inner=inner, nb=nb, B=BLOCK, base=src._offset, so=so, sr=sr,
                si=si, reverse=int(reverse), exclusive=int(exclusive))
    if nb > 1:
        offsets = scan(totals, 1, op, acc_dtype, reverse=reverse, exclusive=True)
        n = out.numel()
        SCAN_OFFSETS.launch(ins=[offsets], outs=[out], threads=n,
                            variant=dict(op=op, ACC=acc_t, OUT=out_dtype),
                            total=n, L=L, inner=inner, nb=nb, B=BLOCK, reverse=int(reverse))
    return out


class CumsumBackward0(Function):
    @staticmethod
    def forward(ctx, x, dim, reverse):
        ctx.dim, ctx.reverse = dim, reverse
        out = scan(x, dim, "sum", x.dtype, reverse=reverse)
        if x.dtype is dt.int64:
            _check_int64_sums(x, out, dim, reverse)
        return out

    @staticmethod
    def backward(ctx, g):
        return CumsumBackward0.apply(g, ctx.dim, not ctx.reverse), None, None


def _check_int64_sums(x, low, dim, reverse):
    """Flag a prefix sum of int64 ``x`` that does not fit in int32 storage. ``low`` holds the
    sums modulo 2**32; their high words are the scan of each step's carry out of the low word
    (``low < (u32) x``) minus its sign extension (``x < 0``)."""
    largest = value_range.magnitude(x)
    if x.numel() == 0 or largest is not None and \
            largest * (x.shape[dim] if x.ndim else 1) <= dt.INT32_MAX:
        return
    carry = "select(0, 1, bitcast<u32>({0}) < bitcast<u32>({1})) - select(0, 1, {1} < 0)"
    steps = launch_map("cumsum_carry", carry, [low, x], ["i32", "i32"], dt.int32)
    check_int64(low, scan(steps, dim, "sum", dt.int32, reverse=reverse), "cumsum")


class CumprodBackward0(Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = scan(x, dim, "prod", x.dtype)
        ctx.dim = dim
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _cumprod_grad(g, x, y, ctx.dim), None


def _scan_dtype(input, dtype):
    if dtype is not None:
        return dt.as_dtype(dtype)
    return input.dtype if input.dtype.is_floating_point else dt.int64


def _prepare(input, dim, dtype):
    out_dtype = _scan_dtype(input, dtype)
    src = input if input.dtype is out_dtype else input.to(out_dtype)
    return src, input._wrap_dim(dim)


@tensor_method()
def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along ``dim``. Example: ``torch.arange(4).cumsum(0)`` -> [0, 1, 3, 6]."""
    src, dim = _prepare(input, dim, dtype)
    return CumsumBackward0.apply(src, dim, False)


@tensor_method()
def cumprod(input, dim, *, dtype=None):
    """Cumulative product along ``dim`` (gradient exact also where the input has zeros)."""
    src, dim = _prepare(input, dim, dtype)
    return CumprodBackward0.apply(src, dim)


def _reverse_cumsum(t, dim):
    return CumsumBackward0.apply(t, dim, True)


def _cumprod_grad(g, x, y, dim):
    """d/dx_k of sum_j g_j y_j with y = cumprod(x), exact with zeros.

    Away from zeros it is ``revcumsum(g * y) / x``; that formula is also right at positions
    after a row's first zero (both sides are 0). At the first zero z only, it is
    ``revcumsum(g * y')`` with y' the cumprod of x with x_z replaced by 1.
    """
    from .elementwise import where

    zero = x == 0
    first_zero = zero & (CumsumBackward0.apply(zero.to(dt.int32), dim, False) == 1)
    safe_x = where(zero, 1.0, x)
    y_skip = CumprodBackward0.apply(where(first_zero, 1.0, x), dim)
    regular = where(zero, 0.0, _reverse_cumsum(g * y, dim) / safe_x)
    return where(first_zero, _reverse_cumsum(g * y_skip, dim), regular)


def prod_others(x, dims):
    """For each element, the product of the other elements of its reduction over ``dims``
    (the gradient of ``prod``), exact with zeros and differentiable again."""
    from .elementwise import where

    zero = x == 0
    n_zero = zero.sum(dims, keepdim=True)
    safe_x = where(zero, 1.0, x)
    nonzero_prod = safe_x.prod(dims[0], keepdim=True) if len(dims) == 1 else \
        _prod_dims(safe_x, dims)
    regular = where(n_zero == 0, nonzero_prod / safe_x, 0.0)
    return where(zero, where(n_zero == 1, nonzero_prod, 0.0), regular)


def _prod_dims(x, dims):
    out = x
    for d in dims:
        out = out.prod(d, keepdim=True)
    return out
