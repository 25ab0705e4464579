"""Reductions. ``sum`` is the primitive autograd needs (``sum_to`` undoes broadcasting).

Rows are reduced in chunks of at most ``CHUNK`` elements per invocation, then the partial
results again, so no invocation loops more than lavapipe's 65,535-iteration limit allows.
"""

import struct

from .. import dtypes as dt
from ..autograd.function import Function
from ..backend import get_runtime
from ..tensor import Tensor, prod, tensor_method
from . import wgsl

CHUNK = 1024
_PARAMS = struct.Struct("<8I")


def _row_sum_source(in_t, acc_t):
    return f"""
struct Params {{ outputs: u32, row: u32, chunk: u32, chunks: u32, base: u32, p0: u32, p1: u32, p2: u32 }};
@group(0) @binding(0) var<storage, read> x: array<{in_t}>;
@group(0) @binding(1) var<storage, read_write> out: array<{acc_t}>;
@group(0) @binding(2) var<uniform> P: Params;
{wgsl.INDEX}
{wgsl.ENTRY}
    if (i >= P.outputs * P.chunks) {{ return; }}
    let row = i / P.chunks;
    let c = i % P.chunks;
    let start = P.base + row * P.row + c * P.chunk;
    let n = min(P.chunk, P.row - c * P.chunk);
    var acc: {acc_t} = {acc_t}(0);
    for (var k = 0u; k < n; k++) {{ acc += {acc_t}(x[start + k]); }}
    out[i] = acc;
}}
"""


def _sum_rows(x, rows, row_len, out_dtype):
    """Sum a contiguous [rows, row_len] tensor (any offset) over its rows -> [rows] of ``out_dtype``."""
    rt = get_runtime()
    src = x
    while True:
        chunks = -(-row_len // CHUNK) if row_len else 1
        last = chunks == 1
        out = Tensor._empty((rows * chunks,), out_dtype if last else _acc_dtype(out_dtype),
                            x.device)
        key = ("row_sum", src.dtype.wgsl, out.dtype.wgsl)
        kern = rt.kernel(key, lambda: _row_sum_source(src.dtype.wgsl, out.dtype.wgsl), 1, 1)
        params = _PARAMS.pack(rows, row_len, CHUNK, chunks, src._offset, 0, 0, 0)
        rt.dispatch(kern, [src._storage.buffer, out._storage.buffer], params,
                    -(-(rows * chunks) // wgsl.WORKGROUP))
        if last:
            return out
        src, row_len = out, chunks


def _acc_dtype(d):
    return dt.float32 if d.is_floating_point else (dt.int64 if d.is_signed else d)


def _normalize_dims(x, dim):
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(sorted({x._wrap_dim(d) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return out


def _reduced_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if k in dims else s for k, s in enumerate(shape))
    return tuple(s for k, s in enumerate(shape) if k not in dims)


class SumBackward1(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim, out_dtype):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        kept = [k for k in range(x.ndim) if k not in dims]
        moved = x.permute(*kept, *dims).contiguous() if x.ndim else x.contiguous()
        rows = prod(x.shape[k] for k in kept)
        row_len = prod(x.shape[k] for k in dims)
        out = _sum_rows(moved, rows, row_len, out_dtype)
        return out.view(_reduced_shape(x.shape, dims, keepdim))

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = g.view(_reduced_shape(ctx.shape, ctx.dims, True))
        return g.expand(ctx.shape), None, None, None


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or all dims when None)."""
    dims = _normalize_dims(input, dim)
    if dtype is not None:
        out_dtype = dt.as_dtype(dtype)
    elif input.dtype.is_floating_point:
        out_dtype = input.dtype
    else:
        out_dtype = dt.int64  # PyTorch sums bool and integer tensors as int64
    src = input if dtype is None or input.dtype is out_dtype else input.to(out_dtype)
    return SumBackward1.apply(src, dims, keepdim, out_dtype)


def sum_to(grad, shape):
    """Sum ``grad`` over the dims that broadcasting expanded, giving ``shape``."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + k for k, n in enumerate(shape) if n == 1 and grad.shape[lead + k] != 1
    )
    out = sum(grad, dims, keepdim=True) if dims else grad
    return out.view(shape) if lead or tuple(out.shape) != shape else out
