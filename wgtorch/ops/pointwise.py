"""Generate and launch elementwise ("map") kernels.

``launch_map(name, expr, operands, casts, out_dtype)`` evaluates a WGSL expression over the
broadcast shape of its operands. Operands are tensors (read through their strides, so views
need no copy) or Python scalars (passed in the params slot, so they need no buffer).

Two variants per op: contiguous same-shape tensors take a vec4 kernel (four elements per
invocation, 16-byte loads); anything else takes the general indexed kernel, after merging
dims that are contiguous in every operand so the index loop stays short.
"""

from ..device import result_device
from ..tensor import Tensor, contiguous_strides, prod
from . import wgsl
from .kernel import Kernel, scalar_bits

MAX_DIMS = 8  # dims of the indexed kernel after merging


def broadcast_shapes(*shapes):
    """PyTorch's broadcast of several shapes; RuntimeError when they do not match."""
    if len(shapes) == 1 or len(shapes) == 2 and shapes[0] == shapes[1] \
            or all(s == shapes[0] for s in shapes):
        return tuple(shapes[0]) if shapes else ()
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for k, n in enumerate(s, ndim - len(s)):
            if n != out[k] and n != 1 and out[k] != 1:
                raise RuntimeError(
                    "The size of tensor a ({}) must match the size of tensor b ({}) at "
                    "non-singleton dimension {}".format(out[k], n, k)
                )
            if out[k] == 1:
                out[k] = n
    return tuple(out)


def broadcast_strides(t, shape):
    """Strides of tensor ``t`` read as ``shape`` (0 where broadcast)."""
    pad = len(shape) - t.ndim
    st = [0] * pad + [
        0 if n == 1 and s != 1 else st for n, s, st in zip(t.shape, shape[pad:], t._stride)
    ]
    return [0 if shape[k] == 1 else st[k] for k in range(len(shape))]


def merge_dims(shape, stride_lists):
    """Drop size-1 dims and merge dims that are contiguous in every operand."""
    dims = [(n, [s[k] for s in stride_lists]) for k, n in enumerate(shape) if n != 1]
    merged = []
    for n, st in dims:
        if merged:
            pn, pst = merged[-1]
            if all(p == c * n for p, c in zip(pst, st)):
                merged[-1] = (pn * n, st)
                continue
        merged.append((n, st))
    return [n for n, _ in merged], [[st[i] for _, st in merged] for i in range(len(stride_lists))]


def _elem(wgsl_type, vec4):
    return f"vec4<{wgsl_type}>" if vec4 else wgsl_type


def _map_inputs(variant):
    return tuple(f"in{k}: {_elem(kind, variant['vec4'])}"
                 for k, kind in enumerate(variant["kinds"]) if kind != "s")


def _map_outputs(variant):
    return (f"out0: {_elem(variant['out'].wgsl, variant['vec4'])}",)


def _map_source(variant):
    """The body of one map kernel. ``kinds``: each operand's storage type, or 's' for a
    scalar (read from P.sc)."""
    expr, kinds, casts = variant["expr"], variant["kinds"], variant["casts"]
    out_dtype, vec4, out_strided = variant["out"], variant["vec4"], variant["out_strided"]
    body = []
    lanes = range(4) if vec4 else [None]
    if vec4:
        slot = 0
        for k, kind in enumerate(kinds):
            if kind != "s":  # P.off holds each tensor's offset in vec4 units (out's in .w)
                body.append(f"    let v{k} = in{k}[i + P.off.{'xyzw'[slot]}];")
                slot += 1
        body.append(f"    var r: vec4<{out_dtype.wgsl}>;")
    elif any(k != "s" for k in kinds) or out_strided:
        body.append(_STRIDED_OFFSETS)
    for lane in lanes:
        names = []
        tensor_slot = 0
        for k, kind in enumerate(kinds):
            name = f"a{k}" if lane is None else f"a{k}_{lane}"
            if kind == "s":
                comp = "xyzw"[k]
                raw = f"P.sc.{comp}" if casts[k] == "u32" else f"bitcast<{casts[k]}>(P.sc.{comp})"
                body.append(f"    let {name} = {raw};")
            else:
                src = f"v{k}[{lane}]" if vec4 else f"in{k}[o.{'xyzw'[tensor_slot]}]"
                body.append(f"    let {name} = {casts[k]}({src});")
                tensor_slot += 1
            names.append(name)
        value = wgsl.store_value(out_dtype, expr.format(*names))
        if vec4:
            body.append(f"    r[{lane}] = {value};")
        else:
            target = "o.w" if out_strided else "i"
            body.append(f"    out0[{target}] = {value};")
    if vec4:
        body.append("    out0[i + P.off.w] = r;")
    guard = "    if (i >= P.numel) { return; }"
    return "\n".join(["fn run(i: u32) {", guard, *body, "}", ""])


# ``o``: the element offsets of invocation ``i`` in the (up to 3) tensor operands and out
_STRIDED_OFFSETS = """
    var rem = i;
    var o = P.off;
    for (var d = i32(P.ndim) - 1; d >= 0; d--) {
        let q = u32(d) / 4u; let r = u32(d) % 4u;
        let s = P.shape[q][r];
        let c = rem % s;
        rem = rem / s;
        o += c * vec4<u32>(P.st[q][r], P.st[2u + q][r], P.st[4u + q][r], P.st[6u + q][r]);
    }"""

# The generated map kernels: one generator, two Params layouts (both named "map"). The
# strided variant reads P.shape (merged dims, innermost last) and P.st (strides of operand k
# in st[2k], st[2k + 1]; out's in st[6], st[7]); the vec4 variant only P.numel (in vec4s),
# P.sc (the scalar operands' bits) and P.off (offsets in vec4s).
MAP = Kernel("map", _map_source, inputs=_map_inputs, outputs=_map_outputs,
             params=("numel: u32", "ndim: u32", "sc: vec4<u32>", "off: vec4<u32>",
                     f"shape: array<vec4<u32>, {MAX_DIMS // 4}>",
                     f"st: array<vec4<u32>, {MAX_DIMS}>"))
MAP_VEC4 = Kernel("map", _map_source, inputs=_map_inputs, outputs=_map_outputs,
                  params=("numel: u32", "sc: vec4<u32>", "off: vec4<u32>"))


def launch_map(name, expr, operands, casts, out_dtype, out=None):
    """Evaluate ``expr`` (``{0}``, ``{1}``... name the operands) elementwise.

    ``casts`` is the WGSL type each operand is converted to before ``expr``; the result is
    stored as ``out_dtype``. With ``out`` given, the result is written into that (possibly
    strided) tensor, which must not share a buffer with a tensor operand.
    """
    tensors, kinds, sc = [], [], [0, 0, 0, 0]
    for k, op in enumerate(operands):  # tensors are read from buffers, scalars from P.sc
        if isinstance(op, Tensor):
            tensors.append(op)
            kinds.append(op.dtype.wgsl)
        else:
            kinds.append("s")
            sc[k] = scalar_bits(op, casts[k])
    kinds = tuple(kinds)
    shape = tuple(tensors[0].shape) if len(tensors) == 1 else \
        broadcast_shapes(*[t.shape for t in tensors])
    if out is not None:
        shape = broadcast_shapes(shape, out.shape)
        if shape != tuple(out.shape):
            raise RuntimeError(
                f"{name}: output with shape {list(out.shape)} doesn't match the broadcast shape "
                f"{list(shape)}"
            )
        contiguous = contiguous_strides(shape)
    else:
        if not tensors:
            raise TypeError(f"{name.lstrip('_')}(): argument 'input' (position 1) must be "
                            f"Tensor, not {type(operands[0]).__name__}")
        out = Tensor._empty(shape, out_dtype, result_device(tensors))
        contiguous = out._stride
    n = prod(shape)
    if n == 0:
        return out
    # the last vec4 may write past n: only into padding that no other tensor owns
    vec4 = (out._stride == contiguous and out._offset % 4 == 0
            and (n % 4 == 0 or (out._offset == 0 and out._storage.numel == n)))
    for t in tensors:
        if not vec4:
            break
        vec4 = t.shape == shape and t._stride == contiguous and t._offset % 4 == 0
    out_strided = not vec4 and not (out._offset == 0 and out._stride == contiguous)
    variant = dict(name=name, expr=expr, kinds=kinds, casts=tuple(casts), out=out_dtype,
                   vec4=vec4, out_strided=out_strided)
    pad = [0] * (3 - len(tensors))
    if vec4:
        offs = [t._offset // 4 for t in tensors] + pad + [out._offset // 4]
        MAP_VEC4.launch(ins=tensors, outs=[out], threads=-(-n // 4), variant=variant,
                        numel=-(-n // 4), sc=sc, off=offs)
    else:
        offs = [t._offset for t in tensors] + pad + [out._offset]
        dims, strides = _strided_dims(name, shape, tensors, out, out_strided)
        MAP.launch(ins=tensors, outs=[out], threads=n, variant=variant, numel=n, ndim=len(dims),
                   sc=sc, off=offs, shape=dims, st=strides)
    return out


def _strided_dims(name, shape, tensors, out, out_strided):
    """The indexed kernel's merged shape and each operand's strides (P.shape, P.st)."""
    strides = [broadcast_strides(t, shape) for t in tensors]
    strides += [[0] * len(shape)] * (3 - len(tensors))
    strides.append(list(out._stride if out_strided else contiguous_strides(shape)))
    dims, merged = merge_dims(shape, strides)
    if len(dims) > MAX_DIMS:
        raise RuntimeError(f"{name}: tensors with more than {MAX_DIMS} dims are not supported")
    words = [0] * (4 * MAX_DIMS)
    for k, st in enumerate(merged):
        words[8 * k:8 * k + len(st)] = st
    return dims, words
