"""Launch the matmul kernels: ``C = alpha * A @ B (+ beta * bias)`` over a batch.

``launch(a, b, bias, alpha, beta)`` takes ``a`` (*batch, M, K) and ``b`` (*batch, K, N) with
the same batch shape (expanded views welcome: stride 0 is read in place), an optional
``bias`` broadcastable to (*batch, M, N), and returns a new contiguous (*batch, M, N) tensor.
No autograd here; ``linalg.py`` builds the differentiable ops on it.

Variants (``kernel_choice.choose`` picks one per call; that is the only place that decides):

- ``strided``: any strides, 4x4 outputs per invocation, scalar loads
  (shaders/matmul_strided.wgsl). Cheap to compile; for small or oddly strided products.
- ``tiled``: TM x TN outputs per invocation in registers, vec4 loads along each operand's
  unit-stride dim, fully unrolled (shaders/matmul_tiled.wgsl; ``_tiled_code`` generates the
  unrolled code at its markers). The fast kernel on CPU-type adapters. Needs 16-byte
  aligned rows: an operand without them is copied into a padded buffer first when the
  product is large enough to pay for the copy.
- ``workgroup``: 64x64 tiles staged through workgroup memory by 256 invocations
  (shaders/matmul_workgroup.wgsl): the usual GPU kernel, any strides.

Every variant walks at most ``choice.k_chunk`` values of K per dispatch (a multiple of 16); a
longer K is split into dispatches that accumulate into C, because lavapipe stops a loop after
65,535 iterations per invocation. The tiled kernel takes k in groups of four; when K is not a
multiple of four its variant with masked loads finishes the last group (one dispatch, where a
second kernel over all of C for the last ``K % 4`` values cost more than the whole product
for a convolution's K = 9).
"""

from .. import dtypes as dt
from ..tensor import Storage, Tensor, contiguous_strides, prod
from . import kernel_choice
from .kernel import Kernel, scalar_bits
from .pointwise import broadcast_strides, merge_dims

MAX_BATCH_DIMS = 4

FLAG_BIAS = 1
FLAG_ACCUMULATE = 2


# ---- kernels -----------------------------------------------------------------------------


def _tiled_code(variant):
    """The tiled kernel's code unrolled for a TM x TN tile; ``a_vec`` is "k" or "m" (A's
    unit-stride dim), ``b_vec`` "k" or "n" (B's). K_ROUND 3: K may end inside a group of
    four, so every load of A and B is masked to zero past it (both: the values read there may
    be NaN)."""
    tm, tn, a_vec, b_vec = variant["TM"], variant["TN"], variant["a_vec"], variant["b_vec"]
    tail = variant["K_ROUND"] != 0
    floating = variant["T"].is_floating_point
    xyzw = "xyzw"

    def masked(load, ok):
        return f"select(vec4<T>(T(0)), {load}, {ok})" if tail else load
    # accumulators are vec4s along n: the same arithmetic as scalars on an SoA adapter, but
    # LLVM compiles the unrolled vec4 code about ten times faster on lavapipe
    acc = [f"    var c_{r}_{q} = vec4<T>(T(0));" for r in range(tm) for q in range(tn // 4)]
    # loads along k happen once per group of 4 k; loads along m/n once per k value, just
    # before that k's multiply-adds, so few loaded values are live at once (fewer spills)
    pro, body, per_kk = [], [], [[] for _ in range(4)]
    if tail:
        body.append("        let k_ok = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < "
                    "vec4<u32>(P.k_begin + P.k_len);")
    if a_vec == "k":
        pro += [f"    let ar{r} = (oa + min(m0 + {r}u, m_last) * P.a_st.x) / 4u;"
                for r in range(tm)]
        body += [f"        let a{r} = {masked(f'A[ar{r} + k / 4u]', 'k_ok')};"
                 for r in range(tm)]

        def a_val(r, kk):
            return f"a{r}.{xyzw[kk]}"
    else:
        pro.append("    let a_k4 = P.a_st.y / 4u;")
        pro += [f"    let am{q} = (oa + min(m0 + {4 * q}u, m_last & ~3u)) / 4u;"
                for q in range(tm // 4)]
        for kk in range(4):
            per_kk[kk] += [f"        let a{q}_{kk} = "
                           f"{masked(f'A[am{q} + (k + {kk}u) * a_k4]', f'k_ok[{kk}]')};"
                           for q in range(tm // 4)]

        def a_val(r, kk):
            return f"a{r // 4}_{kk}.{xyzw[r % 4]}"
    if b_vec == "n":
        pro.append("    let b_k4 = P.b_st.x / 4u;")
        pro += [f"    let bn{q} = (ob + min(n0 + {4 * q}u, n_last & ~3u)) / 4u;"
                for q in range(tn // 4)]
        for kk in range(4):
            per_kk[kk] += [f"        let b{q}_{kk} = "
                           f"{masked(f'B[bn{q} + (k + {kk}u) * b_k4]', f'k_ok[{kk}]')};"
                           for q in range(tn // 4)]

        def b_row(kk, q):
            return f"b{q}_{kk}"
    else:
        pro += [f"    let bc{j} = (ob + min(n0 + {j}u, n_last) * P.b_st.y) / 4u;"
                for j in range(tn)]
        body += [f"        let b{j} = {masked(f'B[bc{j} + k / 4u]', 'k_ok')};"
                 for j in range(tn)]
        for kk in range(4):
            c = xyzw[kk]
            per_kk[kk] += [f"        let bt{q}_{kk} = vec4<T>(b{4 * q}.{c}, b{4 * q + 1}.{c}, "
                           f"b{4 * q + 2}.{c}, b{4 * q + 3}.{c});" for q in range(tn // 4)]

        def b_row(kk, q):
            return f"bt{q}_{kk}"
    # NOTE: without fast-math flags a * b + c stays two instructions; fma() is one
    madd = "c_{0}_{1} = fma(vec4<T>({2}), {3}, c_{0}_{1});" if floating else \
        "c_{0}_{1} += vec4<T>({2}) * {3};"
    for kk in range(4):
        body += per_kk[kk]
        body += ["        " + madd.format(r, q, a_val(r, kk), b_row(kk, q))
                 for r in range(tm) for q in range(tn // 4)]
    # NOTE: stores (gathers and scatters on lavapipe) dominate LLVM's compile time when
    # unrolled tm*tn times, so a loop stores row 0 and shifts the rows of accumulators up
    store = ["    for (var r = 0u; r < TM; r++) {"]
    store += [f"        store_c(bidx, oc, m0 + r, n0 + {4 * q + c}u, c_0_{q}.{xyzw[c]});"
              for q in range(tn // 4) for c in range(4)]
    store += [f"        c_{r}_{q} = c_{r + 1}_{q};" for r in range(tm - 1) for q in range(tn // 4)]
    store.append("    }")
    return {"ACCUMULATORS": "\n".join(acc), "PROLOGUE": "\n".join(pro),
            "LOOP_BODY": "\n".join(body), "STORE": "\n".join(store)}


_PARAMS = ("M: u32", "N: u32", "K: u32", "batch: u32", "k_begin: u32", "k_len: u32",
           "tiles_n: u32", "flags: u32", "alpha: u32", "beta: u32", "ndim_batch: u32",
           "out_off: u32", "off: vec4<u32>", "a_st: vec2<u32>", "b_st: vec2<u32>",
           "c_st: vec2<u32>", "batch_shape: vec4<u32>", "batch_a: vec4<u32>",
           "batch_b: vec4<u32>", "batch_c: vec4<u32>")
_SCALAR_BINDINGS = dict(inputs=("A: T", "B: T", "bias: T"), outputs=("C: T",), params=_PARAMS)
MATMUL_STRIDED = Kernel("matmul_strided", "matmul_strided.wgsl", **_SCALAR_BINDINGS)
MATMUL_WORKGROUP = Kernel("matmul_workgroup", "matmul_workgroup.wgsl", workgroup=256,
                          **_SCALAR_BINDINGS)
MATMUL_TILED = Kernel("matmul_tiled", "matmul_tiled.wgsl", inputs=("A: vec4<T>", "B: vec4<T>",
                                                                   "bias: T"),
                      outputs=("C: T",), params=_PARAMS, generate=_tiled_code)


def _element(dtype):
    """The dtype a kernel is compiled for: int64 shares int32's kernels (same storage)."""
    return dt.int32 if dtype is dt.int64 else dtype


# ---- operand geometry --------------------------------------------------------------------


def _vec_dim(x, batch_shape, rows, cols):
    """Which matrix dim of ``x`` (-2 or -1) the tiled kernel can read as vec4s, or None.

    Needs unit stride along that dim, and the other stride, the batch strides and the offset
    all multiples of 4 (vec4 units). A dim of size 1 may have any stride.
    """
    st_r = x._stride[-2] if rows > 1 else 0
    st_c = x._stride[-1] if cols > 1 else 0
    batch_strides = (s for n, s in zip(batch_shape, x._stride) if n > 1)
    if x._offset % 4 or any(s % 4 for s in batch_strides):
        return None
    if st_c in (0, 1) and st_r % 4 == 0:
        return -1
    if st_r in (0, 1) and st_c % 4 == 0:
        return -2
    return None


def _aligned_copy(x):
    """A copy of ``x`` whose rows start on 16-byte boundaries: (*batch, R, C) viewed out of
    a (*batch, R, C rounded up to 4) buffer. Kernels read the padding only into outputs they
    do not store (or mask, along K). A broadcast (stride-0) batch dim is copied once."""
    from .copy import copy_into
    from .index_kernels import block_copy

    *batch, r, c = x.shape
    c4 = -(-c // 4) * 4
    broadcast = [n > 1 and st == 0 for n, st in zip(batch, x._stride)]
    once = [1 if b else n for n, b in zip(batch, broadcast)]
    padded = Tensor._empty((*once, r, c4), x.dtype, x.device)
    src = x._view_of((*once, r, c), x._stride, x._offset)
    if src.is_contiguous():  # rows one after another: a block copy (cheaper index math)
        block_copy(src, padded, prod(once) * r, c, c4, 0)
    else:
        copy_into(padded._view_of((*once, r, c), padded._stride, 0), src)
    stride = [0 if b else st for b, st in zip(broadcast, padded._stride)]
    return padded._view_of(x.shape, (*stride, *padded._stride[-2:]), 0)


def shared_operand(x, k):
    """``x`` (*batch, R, C) for two products that each contract it with ``k`` more values (the
    two gradients of a product, which both read the output gradient): an aligned copy when the
    tiled kernel would make one for each product, so it is made once."""
    *batch, r, c = x.shape
    if _vec_dim(x, batch, r, c) is not None:
        return x
    choice = kernel_choice.choose(r, k, c, prod(batch), x.dtype, False, True)
    return _aligned_copy(x) if choice.name == "tiled" else x


def _batch_geometry(batch_shape, a, b, bias):
    """Merged batch dims and each operand's batch strides (0 where broadcast)."""
    nb = len(batch_shape)
    if nb == 0:
        return [], [], [], []
    sa = [0 if n == 1 else s for n, s in zip(batch_shape, a._stride[:nb])]
    sb = [0 if n == 1 else s for n, s in zip(batch_shape, b._stride[:nb])]
    sc = broadcast_strides(bias, (*batch_shape, 1, 1))[:nb] if bias is not None else [0] * nb
    dims, (sa, sb, sc) = merge_dims(batch_shape, [sa, sb, sc])
    return dims, sa, sb, sc


# ---- launch ----------------------------------------------------------------------------


def launch(a, b, bias=None, alpha=1, beta=1, choice=None):
    """``alpha * a @ b + beta * bias`` as a new contiguous tensor (see module docstring).

    ``choice`` forces a ``kernel_choice.MatmulChoice`` (autotuning and tests use it).
    """
    *batch_shape, M, K = a.shape
    N = b.shape[-1]
    dtype = a.dtype
    shape = (*batch_shape, M, N)
    if prod(shape) == 0:
        return Tensor._empty(shape, dtype, a.device)
    # one element past the end: the tiled kernel's branch-free stores put edge junk there.
    # It belongs to the buffer, not to the storage's elements, so the result still counts as
    # owning its whole storage (autograd then keeps it as a .grad without a copy).
    storage = Storage(prod(shape) + 1)
    storage.numel -= 1
    out = Tensor._make(storage, shape, contiguous_strides(shape), 0, dtype, a.device)
    a_vec = _vec_dim(a, batch_shape, M, K)
    b_vec = _vec_dim(b, batch_shape, K, N)
    if choice is None:
        choice = kernel_choice.choose(M, N, K, prod(batch_shape), dtype, a_vec is not None,
                                      b_vec is not None)
    element = _element(dtype)
    if choice.name == "tiled":
        if a_vec is None:
            a, a_vec = _aligned_copy(a), -1
        if b_vec is None:
            b, b_vec = _aligned_copy(b), -1
        variant = dict(T=element, TM=choice.tile[0], TN=choice.tile[1],
                       WORKGROUP=choice.workgroup_size, K_ROUND=3 if K % 4 else 0,
                       a_vec="k" if a_vec == -1 else "m", b_vec="n" if b_vec == -1 else "k")
        main = (MATMUL_TILED, variant, choice.tile)
    elif choice.name == "workgroup":
        main = (MATMUL_WORKGROUP, dict(T=element), (64, 64))
    else:
        main = (MATMUL_STRIDED, dict(T=element), (4, 4))
    _dispatch_range(*main, a, b, bias, alpha, beta, out, 0, K, choice.k_chunk)
    return out


def _dispatch_range(kernel, variant, tile, a, b, bias, alpha, beta, out, k_begin, k_end,
                    k_chunk):
    """Record the dispatches of one kernel over k in [k_begin, k_end): one per K chunk (the
    later ones add to C), and one per outer batch index past 4 batch dims. The tiled kernel
    has one variant per epilogue (its EPILOGUE: the chunk's flags); the workgroup kernel
    computes one ``tile`` per workgroup, the others one per invocation."""
    first_flags = FLAG_BIAS if bias is not None else 0
    *batch_shape, M, K = a.shape
    N = b.shape[-1]
    dims, sa, sb, sc = _batch_geometry(tuple(batch_shape), a, b, bias)
    c_st = broadcast_strides(bias, (*batch_shape, M, N))[-2:] if bias is not None else [0, 0]
    outer = dims[:-MAX_BATCH_DIMS] if len(dims) > MAX_BATCH_DIMS else []
    inner = dims[len(outer):]
    inner_count = prod(inner)
    tiles_m, tiles_n = -(-M // tile[0]), -(-N // tile[1])
    tiles = inner_count * tiles_m * tiles_n
    grid = dict(workgroups=tiles) if kernel is MATMUL_WORKGROUP else dict(threads=tiles)
    scalar_t = a.dtype.wgsl  # alpha and beta arrive as bits of the kernel's element type
    pad = MAX_BATCH_DIMS - len(inner)
    shape4 = [1] * pad + list(inner)
    a_st = (a._stride[-2] if M > 1 else 0, a._stride[-1] if K > 1 else 0)
    b_st = (b._stride[-2] if K > 1 else 0, b._stride[-1] if N > 1 else 0)
    chunk_starts = range(k_begin, k_end, k_chunk) if k_end > k_begin else [k_begin]
    for outer_index in range(prod(outer)):
        rem, oa, ob = outer_index, a._offset, b._offset
        oc = bias._offset if bias is not None else 0
        for d in reversed(range(len(outer))):
            c = rem % outer[d]
            rem //= outer[d]
            oa, ob, oc = oa + c * sa[d], ob + c * sb[d], oc + c * sc[d]
        ia, ib, ic = ([0] * pad + s[len(outer):] for s in (sa, sb, sc))
        out_off = outer_index * inner_count * M * N
        for n, k0 in enumerate(chunk_starts):
            flags = FLAG_ACCUMULATE if n else first_flags
            if kernel is MATMUL_TILED:
                variant = {**variant, "EPILOGUE": flags}
            # without a bias (flags bit 0 clear) the kernel reads none: bind A again there
            kernel.launch(ins=[a, b, a if bias is None else bias], outs=[out], variant=variant,
                          **grid, M=M, N=N, K=K, batch=inner_count, k_begin=k0,
                          k_len=min(k_chunk, k_end - k0), tiles_n=tiles_n, flags=flags,
                          alpha=scalar_bits(alpha, scalar_t), beta=scalar_bits(beta, scalar_t),
                          ndim_batch=MAX_BATCH_DIMS, out_off=out_off,
                          off=(oa, ob, oc, out.numel()), a_st=a_st, b_st=b_st, c_st=c_st,
                          batch_shape=shape4, batch_a=ia, batch_b=ib, batch_c=ic)
