"""Launchers for the index kernels: gather / scatter through index tensors, the bounds check
and nonzero. Everything above (indexing.py, scatter.py, shape.py) speaks in ``IndexPlan``s.

An ``IndexPlan`` says how an iteration space maps onto a target tensor T: each iteration dim
either walks one dim of T (``dim_map[d]``) or none, and each ``IndexTerm`` adds
``index[...] * T.stride(term.dim)``, its index tensor following iteration dims
``[lo, hi)``. The same plan gathers (``x[idx]``, ``gather``...) and scatters back
(their backward, ``index_put_``, ``scatter_add``...), so forward and backward share it.

Every index is clamped into its dim, so no kernel reads or writes outside the tensor; an
``IndexTerm`` with a ``BoundsCheck`` also has the kernel flag an out-of-range index on the GPU
(reported at the next host readback; value_range.py says when an op raises at once instead).

Scatter modes: ``store`` (plain write; duplicates: one of the values wins, as in PyTorch),
``add``, ``mul``, ``amax``, ``amin`` (atomic: native ``atomicAdd`` for int32 sums, a
compare-and-swap loop on the bits otherwise). Float sums through atomics are not
bit-deterministic in their order, as on CUDA.
"""

from typing import NamedTuple

import numpy as np

from .. import dtypes as dt
from ..tensor import Tensor, prod
from . import value_range, wgsl
from .gpu_errors import site
from .kernel import Kernel, scalar_bits
from .pointwise import broadcast_strides, merge_dims

MAX_DIMS = 8
MAX_TERMS = 4
# NOTE: a compare-and-swap loop must end: lavapipe stops loops silently past 65,535
# iterations anyway, and a GPU could hang. Only contention on one address retries.
CAS_LIMIT = 16384
BOUNDS_CHUNK = 256
NONZERO_CHUNK = 256
_DIMS = f"array<vec4<u32>, {MAX_DIMS // 4}>"  # up to MAX_DIMS u32 values


class BoundsCheck(NamedTuple):
    """Have the kernel flag an index outside [0, size) (``allow_negative``: [-size, size))
    as ``error(message)``, ``{value}`` in the message being the index."""

    message: str
    allow_negative: bool = True
    error: type = IndexError


class IndexTerm:
    """``index`` (an int tensor over iteration dims ``[lo, hi)``) selects along T's ``dim``.

    ``size`` is the extent the index wraps and clamps into (T.shape[dim] by default);
    ``check`` a BoundsCheck for indices that come from the user, None for internal ones.
    """

    __slots__ = ("check", "dim", "hi", "index", "lo", "size")

    def __init__(self, index, lo, hi, dim, size=None, check=None):
        self.index, self.lo, self.hi, self.dim, self.size = index, lo, hi, dim, size
        self.check = check


class IndexPlan:
    """Iteration ``shape``; ``dim_map[d]``: the dim of T that iteration dim d walks, or None."""

    __slots__ = ("dim_map", "shape", "terms")

    def __init__(self, shape, dim_map, terms):
        self.shape, self.dim_map, self.terms = tuple(shape), tuple(dim_map), list(terms)
        assert len(self.dim_map) == len(self.shape)

    @property
    def indices(self):
        return [t.index for t in self.terms]


# ---- kernel sources ----------------------------------------------------------------------

def _cas_combine(mode, dtype):
    """WGSL of the new bits from ``old`` and ``val`` bits, or None for a native atomic."""
    w = dtype.wgsl
    if w == "f32":
        a, b = "bitcast<f32>(old)", "bitcast<f32>(val)"
        expr = {"add": f"{a} + {b}", "mul": f"{a} * {b}", "amax": f"max_f({a}, {b})",
                "amin": f"min_f({a}, {b})"}[mode]
        return f"bitcast<u32>({wgsl.store_value(dtype, expr)})"
    if w == "i32":
        if mode == "add":
            return None
        a, b = "bitcast<i32>(old)", "bitcast<i32>(val)"
        expr = {"mul": f"{a} * {b}", "amax": f"max({a}, {b})", "amin": f"min({a}, {b})"}[mode]
        return f"bitcast<u32>({expr})"
    if dtype is dt.bool_:
        return {"add": "old | val", "mul": "old & val", "amax": "old | val",
                "amin": "old & val"}[mode]
    if mode in ("amax", "amin"):
        return None
    return {"add": "(old + val) & 255u", "mul": "(old * val) & 255u"}[mode]


def _index_map_code(variant):
    """The index terms and the gather/scatter of index_map (a gather when mode is None)."""
    mode, dtype = variant["mode"], variant["dtype"]
    terms = "\n".join(
        f"{{ let a = P.ix[{2 * j}u]; let s = P.ix[{2 * j + 1}u];\n"
        f"  t += wrap_index(index{j}[a.x + ((i / a.z) % a.w) * a.y], s) * s.y; }}"
        for j in range(variant["n_terms"])
    )
    value = "P.scalar" if variant["scalar"] else "src[v]"
    if mode is None:
        body = "out[i] = src[t];"
    elif mode == "store":
        body = f"out[t] = {value};"
    else:
        combine = _cas_combine(mode, dtype)
        if combine is None:
            native = {"add": "atomicAdd", "amax": "atomicMax", "amin": "atomicMin"}[mode]
            body = f"{native}(&out[t], {value});"
        else:
            body = f"""let val = {value};
var old = atomicLoad(&out[t]);
for (var k = 0u; k < {CAS_LIMIT}u; k++) {{
    let r = atomicCompareExchangeWeak(&out[t], old, {combine});
    if (r.exchanged) {{ break; }}
    old = r.old_value;
}}"""
    return {"INDEX_TERMS": terms or "// no index tensors", "BODY": body}


def _index_map_inputs(variant):
    return ("src: u32", *(f"index{j}: i32" for j in range(variant["n_terms"])))


def _index_map_outputs(variant):
    return ("out: u32",) if variant["mode"] in (None, "store") else ("out: atomic<u32>",)


INDEX_MAP = Kernel("index_map", "index_map.wgsl", inputs=_index_map_inputs,
                   outputs=_index_map_outputs, errors=True, generate=_index_map_code,
                   params=("numel: u32", "ndim: u32", "nidx: u32", "base: u32", "voff: u32",
                           "scalar: u32", f"shape: {_DIMS}", f"st: {_DIMS}", f"vst: {_DIMS}",
                           f"ix: array<vec4<u32>, {2 * MAX_TERMS}>"))
INDEX_BOUNDS = Kernel("index_bounds", "index_bounds.wgsl", inputs=("idx: i32",),
                      outputs=("out: atomic<i32>",),
                      params=("count: u32", "offset: u32", "stride: u32", "slot: u32"))
TRI = Kernel("tri", "tri.wgsl", inputs=("x: u32",), outputs=("out: u32",),
             params=("numel: u32", "ndim: u32", "rows: u32", "cols: u32", "diag: i32",
                     "upper: u32", "off: u32", f"shape: {_DIMS}", f"st: {_DIMS}"))
BLOCK_COPY = Kernel("block_copy", "block_copy.wgsl", inputs=("src: ELEM",), outputs=("dst: ELEM",),
                    params=("count: u32", "cols: u32", "src_off: u32", "src_row: u32",
                            "dst_off: u32", "dst_row: u32"))


# ---- launching ---------------------------------------------------------------------------

def linear_view(index, shape):
    """(offset, stride) reading ``index`` (of ``shape``) in row-major order, or None."""
    dims = [(n, s) for n, s in zip(shape, index._stride) if n != 1]
    if not dims:
        return index._offset, 0
    step = dims[-1][1]
    acc = step
    for n, s in reversed(dims):
        if s != acc:
            return None
        acc *= n
    return index._offset, step


def _term_words(plan, term, target):
    shape = plan.shape
    run = shape[term.lo:term.hi]
    index = term.index
    view = linear_view(index, run) if tuple(index.shape) == tuple(run) else None
    if view is None:  # broadcast or oddly strided: read a row-major copy
        index = index.expand(run).contiguous()
        view = linear_view(index, run)
    size = target.shape[term.dim] if term.size is None else term.size
    inner, blk = prod(shape[term.hi:]), max(prod(run), 1)
    error_site, negative = 0, 0
    if term.check is not None:
        error_site = site(term.check.error, term.check.message)
        negative = int(term.check.allow_negative)
    return index, [view[0], view[1], max(inner, 1), blk, size, target._stride[term.dim],
                   error_site, negative]


def _launch(plan, target, out, values, mode, dtype, base, strides):
    """Record one index_map dispatch; ``target`` is read (gather) or ``out`` is written."""
    n = prod(plan.shape)
    if n == 0:
        return
    if len(plan.terms) > MAX_TERMS:
        raise RuntimeError(f"wgtorch: more than {MAX_TERMS} index tensors in one indexing op")
    ix, indices = [], []
    for term in plan.terms:
        index, words = _term_words(plan, term, target)
        indices.append(index)
        ix += words
    stride_lists = [list(strides)]
    scalar = mode is not None and not isinstance(values, Tensor)
    tensor_values = mode is not None and not scalar
    if tensor_values:
        stride_lists.append(broadcast_strides(values, plan.shape))
    dims, merged = merge_dims(plan.shape, stride_lists)
    if len(dims) > MAX_DIMS:
        raise RuntimeError(f"wgtorch: indexing over more than {MAX_DIMS} dims is not supported")
    variant = dict(n_terms=len(plan.terms), mode=mode, scalar=scalar,
                   dtype=dtype if mode not in (None, "store") else None)
    # a scatter of a scalar has no values tensor: its binding is a placeholder
    first = target if mode is None else (None if scalar else values)
    INDEX_MAP.launch(ins=[first, *indices], outs=[out], threads=n, variant=variant, numel=n,
                     ndim=len(dims), nidx=len(plan.terms), base=base,
                     voff=values._offset if tensor_values else 0,
                     scalar=scalar_bits(values, dtype.wgsl) if scalar else 0, shape=dims,
                     st=merged[0], vst=merged[1] if tensor_values else (), ix=ix)


def gather(x, plan, strides=None, base=None):
    """A new contiguous tensor of ``plan.shape``: x read through the plan.

    ``strides``/``base`` override x's (e.g. negative strides for flip).
    """
    out = Tensor._empty(plan.shape, x.dtype, x.device)
    if strides is None:
        strides = [0 if m is None else x._stride[m] for m in plan.dim_map]
    _launch(plan, x, out, x, None, x.dtype, x._offset if base is None else base, strides)
    return value_range.derive(out, x)


def scatter_into(dst, plan, values, mode="store"):
    """Write (``mode='store'``) or combine ``values`` into ``dst`` in place, through the plan.

    ``values``: a tensor broadcastable to ``plan.shape`` (cast to dst's dtype here) or a
    Python scalar. No autograd and no version bump: callers do both.
    """
    if isinstance(values, Tensor) and values.dtype is not dst.dtype:
        values = values.to(dst.dtype)
    elif isinstance(values, Tensor) and values._storage is dst._storage:
        values = values.clone()
    if any(t.index._storage is dst._storage for t in plan.terms):
        plan = IndexPlan(plan.shape, plan.dim_map, [
            IndexTerm(t.index.clone(), t.lo, t.hi, t.dim, t.size, t.check)
            for t in plan.terms])
    strides = [0 if m is None else dst._stride[m] for m in plan.dim_map]
    _launch(plan, dst, dst, values, mode, dst.dtype, dst._offset, strides)
    value_range.forget(dst)
    return dst


# ---- bounds checks -------------------------------------------------------------------------


def index_range(index):
    """(min, max) of an int tensor: exact from value_range, else one GPU pass and a readback
    (for what needs the values themselves, e.g. one_hot's class count)."""
    if index.numel() == 0:
        return 0, -1
    known = value_range.exact(index)
    if known is not None:
        return known
    view = linear_view(index, index.shape)
    if view is None:
        index = index.contiguous()
        view = linear_view(index, index.shape)
    init = np.array([dt.INT32_MAX, dt.INT32_MIN], dtype=np.int64)
    out = Tensor._from_numpy(init, dt.int32, index.device)
    count = index.numel()
    INDEX_BOUNDS.launch(ins=[index], outs=[out], threads=-(-count // BOUNDS_CHUNK),
                        variant=dict(CHUNK=BOUNDS_CHUNK), count=count, offset=view[0],
                        stride=view[1], slot=0)
    lo, hi = (int(v) for v in out._storage_array())
    value_range.note(index, lo, hi, exact=True)
    return lo, hi


def out_of_bounds(lo, hi, size, allow_negative=True):
    """The first offending value of an index range into ``size`` elements, or None.

    Negative indices count from the end where ``allow_negative`` (indexing, take,
    index_fill); gather, scatter, index_select/add/copy refuse them, as PyTorch does.
    """
    if hi >= size:
        return hi
    if lo < (-size if allow_negative else 0):
        return lo
    return None


def bounds_check(op, index, size, dim, allow_negative=True):
    """The BoundsCheck for ``index`` into ``size`` elements along ``dim`` of ``op`` (a prefix
    such as ``"gather(): "``), for its IndexTerm. Raises IndexError now when the index's exact
    range is known and out of bounds (see value_range.py); never reads back."""
    message = f"{op}index {{value}} is out of bounds for dimension {dim} with size {size}"
    known = value_range.exact(index) if index.numel() else None
    if known is not None:
        bad = out_of_bounds(known[0], known[1], size, allow_negative)
        if bad is not None:
            raise IndexError(message.replace("{value}", str(bad)))
    return BoundsCheck(message, allow_negative)


# ---- nonzero ------------------------------------------------------------------------------

_NONZERO_WRITE = """var row = starts[c];
for (var k = 0u; k < n; k++) {
    if (!is_nonzero(x[start + k])) { continue; }
    var rem = start + k;
    for (var d = i32(P.ndim) - 1; d >= 0; d--) {
        let size = P.shape[u32(d) / 4u][u32(d) % 4u];
        out[row * P.ndim + u32(d)] = i32(rem % size);
        rem = rem / size;
    }
    row += 1u;
}"""
_NONZERO_COUNT = """var count = 0u;
for (var k = 0u; k < n; k++) { count += select(0u, 1u, is_nonzero(x[start + k])); }
counts[c] = count;"""


def _nonzero_code(variant):
    return {"BODY": _NONZERO_WRITE if variant["write"] else _NONZERO_COUNT}


def _nonzero_inputs(variant):
    return ("x: u32", "starts: u32") if variant["write"] else ("x: u32",)


def _nonzero_outputs(variant):
    return ("out: i32",) if variant["write"] else ("counts: u32",)


NONZERO = Kernel("nonzero", "nonzero.wgsl", inputs=_nonzero_inputs, outputs=_nonzero_outputs,
                 params=("numel: u32", "ndim: u32", f"shape: {_DIMS}"), generate=_nonzero_code)


def nonzero_coords(x):
    """[n, x.ndim] int64 coordinates of x's nonzero elements (reads the count back)."""
    if x.ndim == 0:
        return nonzero_coords(x.reshape(1))[:, :0].contiguous()
    x = x.contiguous()
    n = x.numel()
    chunks = -(-n // NONZERO_CHUNK) if n else 0
    if chunks == 0:
        return Tensor._empty((0, x.ndim), dt.int64, x.device)
    if x._offset:
        x = x.clone()
    counts = Tensor._empty((chunks,), dt.int32, x.device)
    fields = dict(numel=n, ndim=x.ndim, shape=x.shape)
    floating = x.dtype.wgsl == "f32"
    NONZERO.launch(ins=[x], outs=[counts], threads=chunks,
                   variant=dict(write=False, FLOAT=floating, CHUNK=NONZERO_CHUNK), **fields)
    host = counts._storage_array().astype(np.int64)
    total = int(host.sum())
    out = Tensor._empty((total, x.ndim), dt.int64, x.device)
    value_range.note(out, 0, max(x.shape) - 1)
    if total:
        starts = Tensor._from_numpy(np.cumsum(host) - host, dt.int32, x.device)
        NONZERO.launch(ins=[x, starts], outs=[out], threads=chunks,
                       variant=dict(write=True, FLOAT=floating, CHUNK=NONZERO_CHUNK), **fields)
    return out


# ---- tril / triu ---------------------------------------------------------------------------

def tri(x, diagonal, upper):
    """tril (upper=False) or triu of the last two dims of x: a new contiguous tensor."""
    out = Tensor._empty(x.shape, x.dtype, x.device)
    n = x.numel()
    if n == 0:
        return out
    dims, (st,) = merge_dims(x.shape, [list(x._stride)])
    TRI.launch(ins=[x], outs=[out], threads=n, numel=n, ndim=len(dims) or 1, rows=x.shape[-2],
               cols=x.shape[-1], diag=int(diagonal), upper=int(upper), off=x._offset,
               shape=dims or [1], st=st or [0])
    return out


# ---- block copy (cat) ------------------------------------------------------------------------

def block_copy(src, dst, rows, cols, dst_row, dst_col):
    """Copy contiguous ``src`` (viewed [rows, cols]) into contiguous ``dst`` (rows of
    ``dst_row`` elements) at column ``dst_col``: one dispatch, raw bits (same dtype)."""
    count = rows * cols
    if count == 0:
        return
    words = (cols, src._offset, cols, dst._offset + dst_col, dst_row)
    vec = all(w % 4 == 0 for w in words)
    unit = 4 if vec else 1
    cols, src_off, src_row, dst_off, dst_row = (w // unit for w in words)
    BLOCK_COPY.launch(ins=[src], outs=[dst], threads=rows * cols,
                      variant=dict(ELEM="vec4<u32>" if vec else "u32"), count=rows * cols,
                      cols=cols, src_off=src_off, src_row=src_row, dst_off=dst_off,
                      dst_row=dst_row)
