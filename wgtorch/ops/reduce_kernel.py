"""The reduction engine: every reduction is one op of the table below run by ``reduce``.

``reduce(x, dims, op, out_dtypes)`` views ``x`` as a strided 3-D array (outer, R, inner) with
the reduced dims merged into R, without a copy when the strides allow it, or when the reduced
dims form two strided groups around the kept ones (per-channel statistics of NCHW: N and H*W;
one permute + contiguous copy otherwise), and runs ``shaders/reduce.wgsl`` in passes: each pass
splits every row into ``parts`` partial reductions of at most ``CHUNK`` steps,
the next pass reduces the partials, until one value per row is left. That is a parallel
tree reduction: many invocations per row, a pairwise-ish summation order (sum of 1e7 ones in
float32 is exactly 1e7), and no loop past lavapipe's 65,535-iteration limit.

An op is an accumulator struct with ``init``, ``lift`` (an element and its position in the
reduced dim -> accumulator) and ``combine``; the final pass stores one or more results
computed from the accumulator (``a.v * P.scale`` for mean, ``m + log(s)`` for logsumexp...).
An optional ``pre`` expression maps each input element first (``abs``, ``x != 0`` ...), so
``norm`` or ``count_nonzero`` is still one kernel.

int64 is stored as int32 (dtypes.py), so ``sum_int64`` and ``prod_int64`` accumulate exactly
(a 64-bit sum in two words; a product as sign, 32-bit magnitude and an overflow bit) and their
``check`` flags a result that does not fit on the GPU (gpu_errors.py): the RuntimeError is
raised at the next host readback, never a silent wrap.
"""

from typing import NamedTuple

from .. import dtypes as dt
from ..autograd.grad_mode import no_grad
from ..backend import get_runtime
from ..tensor import Tensor
from . import wgsl
from .gpu_errors import overflow_site
from .kernel import Kernel

CHUNK = 1024  # most loop steps per invocation and pass
GPU_TARGET_INVOCATIONS = 1 << 15  # on real GPUs, split rows further until this many run
GPU_MIN_STEPS = 32


class Op(NamedTuple):
    """A reduction, in WGSL over the accumulator element type ``A`` (f32, i32 or u32), with
    ``low()``/``high()`` (its extremes), ``max_a``/``min_a`` and ``is_nan`` for it."""

    fields: tuple  # ((name, wgsl type), ...); "A" is the accumulator's element type
    init: str  # WGSL expression of type Acc
    lift: str  # WGSL expression of type Acc from v: A and r: u32 (position in the dim)
    combine: str  # WGSL body of fn combine(a: Acc, b: Acc) -> Acc
    finals: tuple  # WGSL expressions over a: Acc, one per final output
    helpers: str = ""  # WGSL functions combine() calls
    check: str = ""  # WGSL run on the final a: Acc before it is stored; may call flag_error


def _better(cmp):
    return f"""
fn better(b: Acc, a: Acc) -> bool {{
    // b wins over a: NaN first (PyTorch propagates it), then {cmp} values, then lower index
    if (is_nan(b.v)) {{ return !is_nan(a.v) || b.j < a.j; }}
    if (is_nan(a.v)) {{ return false; }}
    return b.v {cmp} a.v || (b.v == a.v && b.j < a.j);
}}"""


OPS = {
    "sum": Op((("v", "A"),), "Acc(A(0))", "Acc(v)", "return Acc(a.v + b.v);", ("a.v",)),
    "mean": Op((("v", "A"),), "Acc(A(0))", "Acc(v)", "return Acc(a.v + b.v);",
               ("a.v * P.scale",)),
    "prod": Op((("v", "A"),), "Acc(A(1))", "Acc(v)", "return Acc(a.v * b.v);", ("a.v",)),
    "max": Op((("v", "A"),), "Acc(low())", "Acc(v)", "return Acc(max_a(a.v, b.v));", ("a.v",)),
    "min": Op((("v", "A"),), "Acc(high())", "Acc(v)", "return Acc(min_a(a.v, b.v));", ("a.v",)),
    "argmax": Op((("v", "A"), ("j", "i32")), "Acc(low(), 2147483647)", "Acc(v, i32(r))",
                 "\n    if (better(b, a)) { return b; } return a;", ("a.v", "a.j"), _better(">")),
    "argmin": Op((("v", "A"), ("j", "i32")), "Acc(high(), 2147483647)", "Acc(v, i32(r))",
                 "\n    if (better(b, a)) { return b; } return a;", ("a.v", "a.j"), _better("<")),
    # running (max, sum of exp(x - max)): logsumexp and the long-row softmax
    "logsumexp": Op((("m", "f32"), ("s", "f32")), "Acc(-inf_f(), 0.0)", "Acc(v, 1.0)", """
    let m = max_f(a.m, b.m);
    // NOTE: exp(m - m) is written as 1 so that rows of +-inf give PyTorch's results, not NaN
    let ea = select(exp(a.m - m), 1.0, a.m == m);
    let eb = select(exp(b.m - m), 1.0, b.m == m);
    return Acc(m, a.s * ea + b.s * eb);""", ("a.m + log(a.s)",)),
    # Welford / Chan: (count, mean, sum of squared deviations), stable in one pass
    "var": Op((("n", "f32"), ("mean", "f32"), ("m2", "f32")), "Acc(0.0, 0.0, 0.0)",
              "Acc(1.0, v, 0.0)", """
    let n = a.n + b.n;
    if (n == 0.0) { return a; }
    let d = b.mean - a.mean;
    let f = b.n / n;
    return Acc(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f);""",
              ("a.m2 / max(a.n - P.correction, 0.0)", "a.mean")),
}
OPS["std"] = OPS["var"]._replace(
    finals=("sqrt(a.m2 / max(a.n - P.correction, 0.0))", "a.mean")
)
_NEGATIVE = "bitcast<i32>(v) < 0"
# the exact 64-bit sum of int32 (or u32 < 2**31) values, as (low, high) words
OPS["sum_int64"] = Op(
    (("lo", "u32"), ("hi", "u32")), "Acc(0u, 0u)",
    f"Acc(bitcast<u32>(v), select(0u, 0xffffffffu, {_NEGATIVE}))", """
    let lo = a.lo + b.lo;
    return Acc(lo, a.hi + b.hi + select(0u, 1u, lo < a.lo));""", ("bitcast<i32>(a.lo)",),
    check="if (bitcast<i32>(a.hi) != (bitcast<i32>(a.lo) >> 31u)) "
          "{ flag_error(P.site, a.lo, a.hi, 0u); }")
# a product as sign, magnitude (exact below 2**32) and big (the magnitude reached 2**32: no
# product of nonzero integers gets smaller, so the result cannot fit; a zero still gives 0)
OPS["prod_int64"] = Op(
    (("m", "u32"), ("neg", "u32"), ("big", "u32")), "Acc(1u, 0u, 0u)",
    f"Acc(select(bitcast<u32>(v), 0u - bitcast<u32>(v), {_NEGATIVE}), "
    f"select(0u, 1u, {_NEGATIVE}), 0u)", """
    if ((a.m == 0u && a.big == 0u) || (b.m == 0u && b.big == 0u)) { return Acc(0u, 0u, 0u); }
    let w = mul_wide(a.m, b.m);
    return Acc(w.x, a.neg ^ b.neg, a.big | b.big | select(0u, 1u, w.y != 0u));""",
    ("bitcast<i32>(select(a.m, 0u - a.m, a.neg == 1u))",), """
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    // the 64-bit product of two u32 as (low, high) words, from 16-bit halves
    let p00 = (a & 0xffffu) * (b & 0xffffu);
    let p01 = (a & 0xffffu) * (b >> 16u);
    let p10 = (a >> 16u) * (b & 0xffffu);
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    let hi = (a >> 16u) * (b >> 16u) + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), hi);
}""", """if (a.big != 0u) { flag_error(P.site, 0u, 1u, 1u); }
    else if (a.m > select(0x7fffffffu, 0x80000000u, a.neg == 1u)) {
        flag_error(P.site, select(a.m, 0u - a.m, a.neg == 1u),
                   select(0u, 0xffffffffu, a.neg == 1u), 0u);
    }""")

# the accumulator type's extremes, max/min and NaN test, per type
_ACC_FUNCTIONS = {
    "f32": ("-inf_f()", "inf_f()", "max_f(a, b)", "min_f(a, b)", "isnan_f(v)"),
    "i32": ("i32(-2147483648)", "2147483647", "max(a, b)", "min(a, b)", "false"),
    "u32": ("0u", "4294967295u", "max(a, b)", "min(a, b)", "false"),
}


def _field_types(variant):
    return [variant["A"] if t == "A" else t for _, t in OPS[variant["op"]].fields]


def _inputs(variant):
    if variant["first"]:
        return (f"x: vec4<{variant['IN']}>" if variant["vec4"] else f"x: {variant['IN']}",)
    return tuple(f"in{k}: {t}" for k, t in enumerate(_field_types(variant)))


def _outputs(variant):
    types = [d.wgsl for d in variant["outs"]] if variant["outs"] else _field_types(variant)
    return tuple(f"out{k}: {t}" for k, t in enumerate(types))


def _generate(variant):
    """The op's WGSL (//@OPS) and one step of the loop over r (//@STEP)."""
    op, first, vec4 = OPS[variant["op"]], variant["first"], variant["vec4"]
    finals = variant["outs"]
    low, high, max_a, min_a, is_nan = _ACC_FUNCTIONS[variant["A"]]
    fields = ", ".join(f"{n}: {t}" for (n, _), t in zip(op.fields, _field_types(variant)))
    code = [f"struct Acc {{ {fields} }};",
            f"fn low() -> A {{ return {low}; }}", f"fn high() -> A {{ return {high}; }}",
            f"fn max_a(a: A, b: A) -> A {{ return {max_a}; }}",
            f"fn min_a(a: A, b: A) -> A {{ return {min_a}; }}",
            f"fn is_nan(v: A) -> bool {{ return {is_nan}; }}",
            f"fn init() -> Acc {{ return {op.init}; }}",
            f"fn lift(v: A, r: u32) -> Acc {{ return {op.lift}; }}",
            op.helpers,
            f"fn combine(a: Acc, b: Acc) -> Acc {{{op.combine}\n}}"]
    if first:
        pre = variant["pre"].format(x="x", A="A", T="IN")
        code.append(f"fn pre(x: IN) -> A {{ return {pre}; }}")
    if first and not vec4:
        code.append("fn load(e: u32, r: u32) -> Acc { return lift(pre(x[e]), r); }")
    elif not first:
        loads = ", ".join(f"in{k}[e]" for k in range(len(op.fields)))
        code.append(f"fn load(e: u32, r: u32) -> Acc {{ return Acc({loads}); }}")
    if finals:
        stores = [f"out{k}[k] = {wgsl.store_value(d, f'{d.wgsl}({expr})')};"
                  for k, (d, expr) in enumerate(zip(finals, op.finals))]
        if op.check:
            stores.insert(0, op.check)
    else:
        stores = [f"out{k}[k] = a.{n};" for k, (n, _) in enumerate(op.fields)]
    code.append("fn store(k: u32, a: Acc) {\n    " + "\n    ".join(stores) + "\n}")
    if vec4:
        step = """let v = x[at];
let r4 = 4u * r;
acc = combine(acc, combine(combine(lift(pre(v.x), r4), lift(pre(v.y), r4 + 1u)),
                           combine(lift(pre(v.z), r4 + 2u), lift(pre(v.w), r4 + 3u))));"""
    else:
        step = "acc = combine(acc, load(at, r));"
    return {"OPS": "\n".join(code), "STEP": step}


_PARAMS = ("total: u32", "outer: u32", "R: u32", "inner: u32", "parts: u32", "steps: u32",
           "base: u32", "so: u32", "sr: u32", "si: u32", "scale: f32", "correction: f32",
           "pstride: u32", "kstride: u32", "site: u32", "rin: u32", "sr1: u32", "kin: u32",
           "kout: u32")
REDUCE = Kernel("reduce", "reduce.wgsl", inputs=_inputs, outputs=_outputs, params=_PARAMS,
                generate=_generate)
# a final pass whose op checks its result (int64 overflow) binds the error flag
REDUCE_CHECKED = Kernel("reduce_checked", "reduce.wgsl", inputs=_inputs, outputs=_outputs,
                        params=_PARAMS, generate=_generate, errors=True)


# ---- geometry --------------------------------------------------------------------------


def _merge(shape, stride, dims):
    """(size, stride) of ``dims`` read as one dim, or None when their strides don't allow it."""
    if any(shape[d] == 0 for d in dims):
        return 0, 1  # empty: strides are meaningless
    dims = [d for d in dims if shape[d] != 1]
    if not dims:
        return 1, 0
    size, st = shape[dims[-1]], stride[dims[-1]]
    for d in reversed(dims[:-1]):
        if stride[d] != st * size:
            return None
        size *= shape[d]
    return size, st


def geometry(x, dims):
    """``x`` (or a contiguous copy) as (tensor, outer, R, inner, so, sr, si): element
    (o, r, i) is at ``tensor._offset + o*so + r*sr + i*si``, R spans the reduced ``dims``."""
    shape, stride = x.shape, x._stride
    kept = [d for d in range(x.ndim) if d not in dims]
    lo, hi = (min(dims), max(dims)) if dims else (x.ndim, x.ndim - 1)
    if list(dims) == list(range(lo, hi + 1)):
        groups = [[d for d in kept if d < lo], list(dims), [d for d in kept if d > hi]]
        merged = [_merge(shape, stride, g) for g in groups]
        if all(m is not None for m in merged):
            (outer, so), (r, sr), (inner, si) = merged
            return x, outer, r, inner, so, sr, si
    groups = (list(range(len(kept))), list(range(len(kept), x.ndim)))
    with no_grad():  # a kernel's operand, never part of the graph
        moved = x.permute(*kept, *dims)
        merged = [_merge(moved.shape, moved._stride, g) for g in groups]
        if any(m is None for m in merged):
            moved = moved.contiguous()
            merged = [_merge(moved.shape, moved._stride, g) for g in groups]
    (outer, so), (r, sr) = merged
    return moved, outer, r, 1, so, sr, 0


def along(x, dim):
    """``geometry`` of ``x`` with rows along wrapped ``dim`` (any dim of a 0-d tensor), for
    kernels whose output keeps ``x``'s shape: strides that do not merge read a contiguous copy
    rather than a permuted one."""
    dims = (dim,) if x.ndim else ()
    found = geometry(x, dims)
    if found[0] is not x and tuple(found[0].shape) != tuple(x.shape):
        found = geometry(x.contiguous(), dims)
    return found


def _two_groups(x, dims):
    """For reduced ``dims`` that do not merge into one strided dim but split into two that do,
    with the kept dims merging into one: (outer, so, R1, s1, R2, s2); else None."""
    shape, stride = x.shape, x._stride
    kept = [d for d in range(x.ndim) if d not in dims]
    if len(dims) < 2 or _merge(shape, stride, dims) is not None:
        return None
    merged_kept = _merge(shape, stride, kept)
    if merged_kept is None:
        return None
    for k in range(1, len(dims)):
        first, second = _merge(shape, stride, dims[:k]), _merge(shape, stride, dims[k:])
        if first is not None and second is not None:
            return (*merged_kept, *first, *second)
    return None


def _plan(rows, steps_total, first):
    """How many parts each row is split into for one pass."""
    parts = max(1, -(-steps_total // CHUNK))
    if first and not get_runtime().is_cpu_adapter and rows * parts < GPU_TARGET_INVOCATIONS:
        # a real GPU needs many invocations in flight; later passes are small anyway
        wanted = -(-GPU_TARGET_INVOCATIONS // max(rows, 1))
        parts = max(parts, min(wanted, steps_total // GPU_MIN_STEPS))
    return parts


# ---- the driver ------------------------------------------------------------------------


def acc_type(dtype):
    return "f32" if dtype.is_floating_point else ("u32" if dtype.wgsl == "u32" else "i32")


def reduce(x, dims, op, out_dtypes, out_shape, acc_t=None, pre="{A}({x})", scale=1.0,
           correction=0.0):
    """Reduce ``x`` over ``dims`` with ``op``; returns one tensor of ``out_shape`` per final
    output (``out_dtypes``). ``pre`` maps each element (``{x}``, of storage type ``{T}``) to
    the accumulator type ``{A}`` (``acc_t``)."""
    rt = get_runtime()
    acc_t = acc_t or acc_type(x.dtype)
    split = _two_groups(x, dims)
    if split is not None:  # read in place, without the copy geometry() would make
        outer, so, r_out, sr1, rin, sr = split
        src, R, inner, si = x, r_out * rin, 1, 0
    else:
        src, outer, R, inner, so, sr, si = geometry(x, dims)
        rin, sr1 = max(R, 1), 0
    base = src._offset
    rows = outer * inner
    n_fields = len(OPS[op].fields)
    ins = [src]
    first = True
    while True:
        vec4 = (first and inner == 1 and sr == 1 and R % 4 == 0 and R > 0 and base % 4 == 0
                and (so % 4 == 0 or outer == 1) and rin % 4 == 0 and sr1 % 4 == 0)
        steps_total = R // 4 if vec4 else R
        parts = _plan(rows, steps_total, first)
        steps = -(-steps_total // parts)
        final = parts == 1
        if final:
            outs = [Tensor._empty(out_shape, d, x.device) for d in out_dtypes]
        else:
            fdt = {"f32": dt.float32, "i32": dt.int32, "u32": dt.int32}
            outs = [Tensor._empty((outer, parts, inner), fdt[acc_t], x.device)
                    for _ in range(n_fields)]
        checked = final and bool(OPS[op].check)
        kernel = REDUCE_CHECKED if checked else REDUCE
        site = overflow_site(op.removesuffix("_int64")) if checked else 0
        variant = dict(op=op, A=acc_t, IN=src.dtype.wgsl if first else acc_t,
                       pre=pre if first else "", first=first, vec4=vec4,
                       outs=tuple(out_dtypes) if final else ())
        # part p takes steps p*steps.. on CPU adapters (sequential streams: ~4x faster on
        # lavapipe), p, p+parts, .. on GPUs (neighbouring invocations read neighbouring words)
        pstride, kstride = (steps, 1) if rt.is_cpu_adapter else (1, parts)
        unit = 4 if vec4 else 1
        runs = rin // unit
        kernel.launch(ins=ins, outs=outs, threads=rows * parts, variant=variant,
                      total=rows * parts, outer=outer, R=steps_total if vec4 else R,
                      inner=inner, parts=parts, steps=steps, base=base // unit, so=so // unit,
                      sr=1 if vec4 else sr, si=0 if vec4 else si, scale=scale,
                      correction=correction, pstride=pstride, kstride=kstride, site=site,
                      rin=runs, sr1=sr1 // unit, kin=kstride % runs, kout=kstride // runs)
        if final:
            return outs
        ins = outs
        R, base, so, sr, si, rin, sr1 = parts, 0, parts * inner, inner, 1, parts, 0
        first = False


def reduced_shape(shape, dims, keepdim):
    if keepdim:
        return tuple(1 if k in dims else s for k, s in enumerate(shape))
    return tuple(s for k, s in enumerate(shape) if k not in dims)


def normalize_dims(x, dim):
    """Sorted, wrapped dims to reduce (all when ``dim`` is None or empty); () for 0-d."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    wrapped = [x._wrap_dim(d) for d in dims]
    if len(set(wrapped)) != len(wrapped):
        dup = next(d for d in wrapped if wrapped.count(d) > 1)
        raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    if x.ndim == 0:
        return ()
    return tuple(sorted(wrapped))
