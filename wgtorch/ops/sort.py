"""Sorting: sort, argsort, msort, topk, kthvalue, median, unique.

``sort`` is a bitonic network on the GPU (``shaders/sort.wgsl``): each row is padded to a
power of two; one dispatch sorts blocks of 16 in registers, then each further stage runs up
to 4 network steps per dispatch on 16 positions per invocation held in registers (about
log2(P)^2 / 8 loop-free dispatches in all). Ties are broken by original position, so every
sort is stable (``stable=`` is accepted and always honoured). NaN sorts after every number,
or first when descending, as in PyTorch. topk, kthvalue and median select from the sorted
rows; unique sorts the flattened input and compacts it with a cumsum (its output size needs
one read back to the host).

Gradients: values produced by a sort are a gather of the input at the returned indices, so
their backward rule scatters the gradient back through those indices (``ScatterAlong``),
and that scatter's own backward is the gather (``GatherAlong``): second derivatives work.
"""

from .. import dtypes as dt
from .. import return_types
from ..autograd.function import Function
from ..tensor import Tensor, tensor_method
from . import value_range
from .kernel import Kernel
from .reduce_kernel import along

BLOCK = 16  # positions one invocation sorts first, in registers (the stages k <= BLOCK)
GROUP_BITS = 4  # network steps one dispatch runs in registers afterwards (16 positions)

_BODIES = {
    "out": """
    let ii = i % P.inner;
    let t = i / P.inner;
    let e = ((t / P.K) * P.inner + ii) * P.P + t % P.K;
    values[i] = keys[e];
    indices[i] = idx[e];""",
    # values (outer, K, inner) picked along the dim of src (outer, L, inner) at indices
    "gather": """
    let ii = i % P.inner;
    let o = i / (P.K * P.inner);
    values[i] = src[(o * P.L + u32(indices[i])) * P.inner + ii];""",
    # out (outer, L, inner), zeroed first, gets src (outer, K, inner) at indices
    "scatter": """
    let ii = i % P.inner;
    let o = i / (P.K * P.inner);
    out[(o * P.L + u32(indices[i])) * P.inner + ii] = src[i];""",
}
_BINDINGS = {  # body -> (inputs, outputs)
    "init": (("x: KEY",), ("keys: KEY", "idx: i32")),
    **{f"group{s}": ((), ("keys: KEY", "idx: i32")) for s in range(1, GROUP_BITS + 1)},
    "out": (("keys: KEY", "idx: i32"), ("values: KEY", "indices: i32")),
    "gather": (("src: KEY", "indices: i32"), ("values: KEY",)),
    "scatter": (("src: KEY", "indices: i32"), ("out: KEY",)),
}


def _exchange(a, b, up):
    """WGSL compare-exchange of block slots a < b (sorting up when ``up``)."""
    return (f"    {{ let ka = kk[{a}]; let kb = kk[{b}]; let ia = ii[{a}]; let ib = ii[{b}];\n"
            f"      let s = select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), {up});\n"
            f"      kk[{a}] = select(ka, kb, s); kk[{b}] = select(kb, ka, s);\n"
            f"      ii[{a}] = select(ia, ib, s); ii[{b}] = select(ib, ia, s); }}")


def _network(first_j, slots, direction):
    """Compare-exchanges of the steps of distance first_j .. 1 over register slots 0..slots-1;
    ``direction(a)`` is the WGSL bool "sort up" for the pair starting at slot a."""
    lines, j = [], first_j
    while j >= 1:
        lines += [_exchange(a, a + j, direction(a)) for a in range(slots) if a & j == 0]
        j //= 2
    return lines


def _init_body():
    """One invocation loads BLOCK consecutive positions of a row (padding past L) and runs
    every stage k <= BLOCK of the network on them in registers."""
    lines = [f"    var kk: array<KEY, {BLOCK}>;", f"    var ii: array<i32, {BLOCK}>;",
             f"    let start = i * {BLOCK}u;  // first slot of the block, row-major (row, P)",
             "    let row = start / P.P;",
             f"    let block_up = ((start % P.P) & {BLOCK}u) == 0u;",
             "    let src = P.base + (row / P.inner) * P.so + (row % P.inner) * P.si;"]
    for a in range(BLOCK):
        lines.append(f"    {{ let q = start % P.P + {a}u; ii[{a}] = i32(q); kk[{a}] = KEY(0);"
                     f" if (q < P.L) {{ kk[{a}] = x[src + q * P.sr]; }} }}")
    k = 2
    while k <= BLOCK:
        # direction: ((position in row) & k) == 0, a's own bit below BLOCK
        lines += _network(k // 2, BLOCK, lambda a, k=k: "block_up" if k == BLOCK else
                          ("true" if a & k == 0 else "false"))
        k *= 2
    lines += [f"    keys[start + {a}u] = kk[{a}]; idx[start + {a}u] = ii[{a}];"
              for a in range(BLOCK)]
    return "\n".join(lines)


def _group_body(bits):
    """One invocation runs ``bits`` consecutive steps (distances P.j << (bits-1) .. P.j) of
    stage P.k on the 2^bits positions base + m * P.j it owns, in registers."""
    size = 1 << bits
    lines = [f"    var kk: array<KEY, {size}>;", f"    var ii: array<i32, {size}>;",
             f"    let per_row = P.P >> {bits}u;",
             "    let t = i % per_row;",
             f"    let base = (i / per_row) * P.P + (t / P.j) * (P.j << {bits}u) + t % P.j;",
             "    let up = ((base % P.P) & P.k) == 0u;"]
    lines += [f"    kk[{m}] = keys[base + {m}u * P.j]; ii[{m}] = idx[base + {m}u * P.j];"
              for m in range(size)]
    lines += _network(size // 2, size, lambda a: "up")
    lines += [f"    keys[base + {m}u * P.j] = kk[{m}]; idx[base + {m}u * P.j] = ii[{m}];"
              for m in range(size)]
    return "\n".join(lines)


_BODIES["init"] = _init_body()
for _bits in range(1, GROUP_BITS + 1):
    _BODIES[f"group{_bits}"] = _group_body(_bits)


def _sort_code(variant):
    is_nan = "isnan_f(k)" if variant["KEY"] == "f32" else "false"
    return {"BODY": _BODIES[variant["body"]],
            "KEY_IS_NAN": f"fn key_is_nan(k: KEY) -> bool {{ return {is_nan}; }}"}


def _sort_inputs(variant):
    return _BINDINGS[variant["body"]][0]


def _sort_outputs(variant):
    return _BINDINGS[variant["body"]][1]


SORT = Kernel("sort", "sort.wgsl", inputs=_sort_inputs, outputs=_sort_outputs,
              params=("total: u32", "P: u32", "L: u32", "inner: u32", "k: u32", "j: u32",
                      "base: u32", "so: u32", "sr: u32", "si: u32", "K: u32"),
              defaults=dict(P=0, L=0, inner=1, k=0, j=0, base=0, so=0, sr=0, si=0, K=0),
              generate=_sort_code)
UNIQUE = Kernel("unique", "unique.wgsl", inputs=("values: KEY", "order: i32", "ends: i32"),
                outputs=("uniq: KEY", "inverse: i32", "starts: i32"),
                params=("n: u32", "n_unique: u32"))


def _dispatch(body, key_t, tensors, total, descending=False, **fields):
    n_in = len(_BINDINGS[body][0])
    SORT.launch(ins=tensors[:n_in], outs=tensors[n_in:], threads=total,
                variant=dict(body=body, KEY=key_t, DESCENDING=descending), total=total,
                **fields)


def _sorted_rows(x, dim, descending, k=None):
    """(values, int64 indices) of ``x`` sorted along ``dim``, the first ``k`` of each row
    (all when None); contiguous, in x's shape with k along dim. No autograd."""
    L = x.shape[dim] if x.ndim else 1
    K = L if k is None else k
    shape = list(x.shape)
    if x.ndim:
        shape[dim] = K
    values = Tensor._empty(shape, x.dtype, x.device)
    indices = Tensor._empty(shape, dt.int64, x.device)
    if values.numel() == 0:
        return values, indices
    src, outer, L, inner, so, sr, si = along(x, dim)
    P = max(BLOCK, 1 << (L - 1).bit_length())
    rows = outer * inner
    key_t = x.dtype.wgsl
    keys = Tensor._empty((rows, P), x.dtype, x.device)
    idx = Tensor._empty((rows, P), dt.int32, x.device)
    blocks = rows * P // BLOCK
    _dispatch("init", key_t, [src, keys, idx], blocks, descending, P=P, L=L, inner=inner,
              base=src._offset, so=so, sr=sr, si=si)
    size = 2 * BLOCK
    while size <= P:
        # stage `size`: steps of distance size/2 .. 1, up to GROUP_BITS of them per dispatch
        steps, j_high = size.bit_length() - 1, size // 2
        while steps:
            bits = min(GROUP_BITS, steps)
            j_low = j_high >> (bits - 1)
            _dispatch(f"group{bits}", key_t, [keys, idx], rows * P >> bits, descending, P=P,
                      L=L, k=size, j=j_low)
            j_high, steps = j_low >> 1, steps - bits
        size *= 2
    _dispatch("out", key_t, [keys, idx, values, indices], values.numel(), P=P, L=L,
              inner=inner, K=K)
    return values, value_range.note(indices, 0, L - 1)


def _along(body, src, indices, dim, length):
    """gather (``length`` = src's size along dim) or scatter into zeros of that size."""
    from .creation import zeros

    src, indices = src.contiguous(), indices.contiguous()
    shape = list(indices.shape)
    K = shape[dim] if shape else 1
    inner = 1
    for s in shape[dim + 1:]:
        inner *= s
    if body == "gather":
        out = Tensor._empty(indices.shape, src.dtype, src.device)
    else:
        if shape:  # a 0-d input's gradient is 0-d (length 1)
            shape[dim] = length
        out = zeros(shape, dtype=src.dtype, device=src.device)
    if indices.numel():
        _dispatch(body, src.dtype.wgsl, [src, indices, out], indices.numel(), L=length, K=K,
                  inner=inner)
    return out


class GatherAlong(Function):
    """Values of ``x`` at ``indices`` along ``dim`` (indices known to be in range)."""

    @staticmethod
    def forward(ctx, x, indices, dim):
        ctx.dim, ctx.length = dim, x.shape[dim] if x.ndim else 1
        ctx.save_for_backward(indices)
        return _along("gather", x, indices, dim, ctx.length)

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        return ScatterAlong.apply(g, indices, ctx.dim, ctx.length), None, None


class ScatterAlong(Function):
    """Zeros of size ``length`` along ``dim`` with ``g`` at ``indices`` (distinct per row)."""

    @staticmethod
    def forward(ctx, g, indices, dim, length):
        ctx.dim = dim
        ctx.save_for_backward(indices)
        return _along("scatter", g, indices, dim, length)

    @staticmethod
    def backward(ctx, gg):
        (indices,) = ctx.saved_tensors
        return GatherAlong.apply(gg, indices, ctx.dim), None, None, None


class SortBackward0(Function):
    @staticmethod
    def forward(ctx, x, dim, descending, k):
        values, indices = _sorted_rows(x, dim, descending, k)
        ctx.dim, ctx.length = dim, x.shape[dim] if x.ndim else 1
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx, g, _g_indices=None):
        (indices,) = ctx.saved_tensors
        return ScatterAlong.apply(g, indices, ctx.dim, ctx.length), None, None, None


class TopkBackward0(SortBackward0):
    pass


def _dim_of(input, dim):
    d = input._wrap_dim(dim)
    return d if input.ndim else 0


@tensor_method()
def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` of ``input`` sorted along ``dim``; always stable.

    Example: ``values, order = scores.sort(descending=True)``.
    """
    if isinstance(dim, bool):  # sort(input, stable, dim=..., descending=...) overload
        dim = -1
    d = _dim_of(input, dim)
    values, indices = SortBackward0.apply(input, d, bool(descending), None)
    return return_types.sort(values, indices)


@tensor_method()
def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (stable)."""
    return _sorted_rows(input.detach(), _dim_of(input, dim), bool(descending))[1]


@tensor_method()
def msort(input):
    """``input`` sorted along its first dim."""
    return sort(input, 0).values


@tensor_method()
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``dim`` as ``(values, indices)``,
    in sorted order (also when ``sorted=False``)."""
    d = _dim_of(input, dim)
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    values, indices = TopkBackward0.apply(input, d, bool(largest), int(k))
    return return_types.topk(values, indices)


def _select_sorted(name, input, position, d, keepdim):
    """``(values, indices)``: the element at ``position`` (an int, or an int64 tensor with
    size 1 along ``d``) of each row of ``input`` sorted along ``d``."""
    from .creation import full, zeros

    if input.ndim == 0:
        return getattr(return_types, name)(input.clone(), zeros((), dtype=dt.int64,
                                                                device=input.device))
    _, order = _sorted_rows(input.detach(), d, False)
    if not isinstance(position, Tensor):
        shape = list(input.shape)
        shape[d] = 1
        position = full(shape, position, dtype=dt.int64, device=input.device)
    indices = _along("gather", order, position, d, input.shape[d])
    values = GatherAlong.apply(input, indices, d)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return getattr(return_types, name)(values, indices)


@tensor_method()
def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element along ``dim`` as ``(values, indices)``."""
    d = _dim_of(input, dim)
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    return _select_sorted("kthvalue", input, k - 1, d, keepdim)


@tensor_method()
def median(input, dim=None, keepdim=False):
    """Lower median: of all elements (a tensor) or along ``dim`` (``(values, indices)``).
    A row holding NaN has median NaN, as in PyTorch."""
    from .elementwise import where

    if dim is None:
        if input.numel() == 0:
            from .creation import full

            return full((), float("nan"), dtype=input.dtype, device=input.device)
        return median(input.reshape(-1), 0).values.reshape(())
    d = _dim_of(input, dim)
    size = input.shape[d] if input.ndim else 1
    if size == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    position = (size - 1) // 2
    if input.dtype.is_floating_point:
        # sorted rows put NaN last: a row with NaN takes its first NaN
        nans = input.detach().isnan().sum(d, keepdim=True)
        position = where(nans > 0, size - nans, position)
    return _select_sorted("median", input, position, d, keepdim)


@tensor_method()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of ``input`` (flattened), in ascending order; optionally the
    index of each input element in them and the count of each. ``dim`` is not supported."""
    if dim is not None:
        raise NotImplementedError("unique(dim=...) is not supported by wgtorch; use dim=None")
    flat = input.detach().reshape(-1)
    n = flat.numel()
    values, order = _sorted_rows(flat, 0, False)
    inverse = Tensor._empty(input.shape, dt.int64, input.device)
    if n == 0:
        counts = Tensor._empty((0,), dt.int64, input.device)
        return _unique_result(values, inverse, counts, return_inverse, return_counts)
    from .scan import scan

    # ends[k]: number of distinct values among values[:k + 2] minus one (k < n - 1)
    ends = scan(values[1:] != values[:-1], 0, "sum", dt.int64)
    n_unique = 1 + (ends[-1].item() if n > 1 else 0)
    uniq = Tensor._empty((n_unique,), input.dtype, input.device)
    starts = Tensor._empty((n_unique + 1,), dt.int64, input.device)
    UNIQUE.launch(ins=[values, order, ends], outs=[uniq, inverse, starts], threads=n,
                  variant=dict(KEY=input.dtype.wgsl), n=n, n_unique=n_unique)
    counts = starts[1:] - starts[:-1]
    return _unique_result(uniq, inverse, counts, return_inverse, return_counts)


def _unique_result(values, inverse, counts, return_inverse, return_counts):
    out = (values,) + ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return out[0] if len(out) == 1 else out


__all__ = ["argsort", "kthvalue", "median", "msort", "sort", "topk", "unique"]
