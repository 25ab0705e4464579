"""Launch the matmul kernels: ``C = alpha * A @ B (+ beta * bias)`` over a batch.

``launch(a, b, bias, alpha, beta)`` takes ``a`` (*batch, M, K) and ``b`` (*batch, K, N) with
the same batch shape (expanded views welcome: stride 0 is read in place), an optional
``bias`` broadcastable to (*batch, M, N), and returns a new contiguous (*batch, M, N) tensor.
No autograd here; ``linalg.py`` builds the differentiable ops on it.

Variants (``kernel_choice.choose`` picks one per call, in one place):
- ``strided``: any strides, 4x4 outputs per invocation, scalar loads (shaders/matmul_strided.wgsl).

Every variant walks at most ``K_CHUNK`` values of K per dispatch; a longer K is split into
dispatches that accumulate into C, because lavapipe stops a loop after 65,535 iterations.
"""

import struct

from .. import dtypes as dt
from ..backend import get_runtime
from ..tensor import Tensor, prod
from .pointwise import broadcast_strides, merge_dims, scalar_bits
from .shaders import load_shader

K_CHUNK = 32768
MAX_BATCH_DIMS = 4
WORKGROUP = 64
_PARAMS = struct.Struct("<44I")

FLAG_BIAS = 1
FLAG_ACCUMULATE = 2


def _prelude(dtype):
    """WGSL declarations a matmul shader file expects: its element type and store rounding."""
    if dtype is dt.float16:
        store = "unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x"
    else:
        store = "v"
    return f"alias T = {dtype.wgsl};\nfn store_t(v: T) -> T {{ return {store}; }}\n"


def _batch_geometry(batch_shape, a, b, bias):
    """Merged batch dims and each operand's batch strides (0 where broadcast)."""
    nb = len(batch_shape)
    sa = list(a._stride[:nb])
    sb = list(b._stride[:nb])
    sc = broadcast_strides(bias, (*batch_shape, 1, 1))[:nb] if bias is not None else [0] * nb
    sa = [0 if n == 1 else s for n, s in zip(batch_shape, sa)]
    sb = [0 if n == 1 else s for n, s in zip(batch_shape, sb)]
    dims, (sa, sb, sc) = merge_dims(batch_shape, [sa, sb, sc])
    return dims, sa, sb, sc


def launch(a, b, bias=None, alpha=1, beta=1):
    """``alpha * a @ b + beta * bias`` as a new contiguous tensor (see module docstring)."""
    *batch_shape, M, K = a.shape
    N = b.shape[-1]
    dtype = a.dtype
    out = Tensor._empty((*batch_shape, M, N), dtype, a.device)
    if out.numel() == 0:
        return out
    rt = get_runtime()
    dims, sa, sb, sc = _batch_geometry(tuple(batch_shape), a, b, bias)
    if bias is not None:
        c_st = broadcast_strides(bias, (*batch_shape, M, N))[-2:]
    else:
        c_st = [0, 0]
    # batch dims beyond what one dispatch indexes are walked here, one dispatch each
    outer = dims[:-MAX_BATCH_DIMS] if len(dims) > MAX_BATCH_DIMS else []
    inner = dims[len(outer):]
    inner_count = prod(inner)
    kern = rt.kernel(
        ("matmul_strided", dtype.name),
        lambda: _prelude(dtype) + load_shader("matmul_strided.wgsl"),
        3, 1,
    )
    tiles_m, tiles_n = -(-M // 4), -(-N // 4)
    invocations = inner_count * tiles_m * tiles_n
    scalar_t = "f32" if dtype.is_floating_point else "i32"
    flags_base = FLAG_BIAS if bias is not None else 0
    buffers = [a._storage.buffer, b._storage.buffer,
               (bias if bias is not None else a)._storage.buffer, out._storage.buffer]
    pad = MAX_BATCH_DIMS - len(inner)
    shape4 = [1] * pad + list(inner)
    for outer_index in range(prod(outer)):
        # offsets of this outer batch index in each operand
        rem, oa, ob, oc = outer_index, a._offset, b._offset, bias._offset if bias is not None else 0
        for d in reversed(range(len(outer))):
            c = rem % outer[d]
            rem //= outer[d]
            oa, ob, oc = oa + c * sa[d], ob + c * sb[d], oc + c * sc[d]
        ia, ib, ic = ([0] * pad + s[len(outer):] for s in (sa, sb, sc))
        out_off = outer_index * inner_count * M * N
        chunks = max(1, -(-K // K_CHUNK))
        for chunk in range(chunks):
            k_begin = chunk * K_CHUNK
            flags = (flags_base if chunk == 0 else FLAG_ACCUMULATE)
            words = [
                M, N, K, inner_count,
                k_begin, min(K_CHUNK, K - k_begin), tiles_n, flags,
                scalar_bits(alpha, scalar_t), scalar_bits(beta, scalar_t), len(inner) + pad,
                out_off,
                oa, ob, oc, 0,
                a._stride[-2], a._stride[-1], 0, 0,
                b._stride[-2], b._stride[-1], 0, 0,
                c_st[0], c_st[1], 0, 0,
                *shape4, *ia, *ib, *ic,
            ]
            rt.dispatch(kern, buffers, _PARAMS.pack(*words), -(-invocations // WORKGROUP))
    return out
