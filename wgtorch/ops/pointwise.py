"""Generate and launch elementwise ("map") kernels.

``launch_map(name, expr, operands, casts, out_dtype)`` evaluates a WGSL expression over the
broadcast shape of its operands. Operands are tensors (read through their strides, so views
need no copy) or Python scalars (passed in the params slot, so they need no buffer).

Two variants per op: contiguous same-shape tensors take a vec4 kernel (four elements per
invocation, 16-byte loads); anything else takes the general indexed kernel, after merging
dims that are contiguous in every operand so the index loop stays short.
"""

import struct

from ..backend import get_runtime
from ..device import result_device
from ..tensor import Tensor, contiguous_strides, prod
from . import wgsl
from .wgsl import MAX_DIMS, WORKGROUP

_pack_f32 = struct.Struct("<f").pack
_unpack_u32 = struct.Struct("<I").unpack
PARAMS = struct.Struct("<52I")  # the whole Params struct (wgsl.PARAMS_STRUCT)
VEC4_PARAMS = struct.Struct("<12I")  # numel, ndim, 2 unused, sc, off: all a vec4 kernel reads


def broadcast_shapes(*shapes):
    """PyTorch's broadcast of several shapes; RuntimeError when they do not match."""
    if len(shapes) == 1 or all(s == shapes[0] for s in shapes):
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


def scalar_bits(value, wgsl_type):
    if wgsl_type == "f32":
        return _unpack_u32(_pack_f32(float(value)))[0]
    return int(value) & 0xFFFFFFFF


def _source(expr, operand_kinds, casts, out_dtype, vec4, out_strided):
    """WGSL for one map kernel. ``operand_kinds``: storage type, or 's' for a scalar."""
    out_t = out_dtype.wgsl
    lines = [wgsl.PARAMS_STRUCT]
    binding = 0
    for k, kind in enumerate(operand_kinds):
        if kind != "s":
            elem = f"vec4<{kind}>" if vec4 else kind
            lines.append(
                f"@group(0) @binding({binding}) var<storage, read> in{k}: array<{elem}>;"
            )
            binding += 1
    out_elem = f"vec4<{out_t}>" if vec4 else out_t
    lines.append(f"@group(0) @binding({binding}) var<storage, read_write> out0: array<{out_elem}>;")
    lines.append(f"@group(0) @binding({binding + 1}) var<uniform> P: Params;")
    body = []
    lanes = range(4) if vec4 else [None]
    if vec4:
        slot = 0
        for k, kind in enumerate(operand_kinds):
            if kind != "s":  # P.off holds each tensor's offset in vec4 units (out's in .w)
                body.append(f"    let v{k} = in{k}[i + P.off.{'xyzw'[slot]}];")
                slot += 1
        body.append(f"    var r: vec4<{out_t}>;")
    else:
        if len([k for k in operand_kinds if k != "s"]) or out_strided:
            body.append(wgsl.strided_offsets(4))
    for lane in lanes:
        names = []
        tensor_slot = 0
        for k, kind in enumerate(operand_kinds):
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
    code = "\n".join(lines) + wgsl.INDEX + wgsl.helpers_for(expr + wgsl.store_value(out_dtype, "x"))
    guard = "    if (i >= P.numel) { return; }"
    return "\n".join([code, wgsl.ENTRY, guard, *body, "}", ""])


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
    shape = broadcast_shapes(*[t.shape for t in tensors])
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
    rt = get_runtime()
    vec4 = (
        all(t.shape == shape and t._stride == contiguous and t._offset % 4 == 0 for t in tensors)
        and out._stride == contiguous
        and out._offset % 4 == 0
        # the last vec4 may write past n: only into padding that no other tensor owns
        and (n % 4 == 0 or (out._offset == 0 and out._storage.numel == n))
    )
    out_strided = not vec4 and not (out._offset == 0 and out._stride == contiguous)
    key = ("map", name, expr, kinds, tuple(casts), out_dtype.name, vec4, out_strided)
    kern = rt.kernels.get(key) or rt.kernel(
        key, lambda: _source(expr, kinds, casts, out_dtype, vec4, out_strided), len(tensors), 1
    )
    pad = [0] * (3 - len(tensors))
    if vec4:
        count = -(-n // 4)
        offs = [t._offset // 4 for t in tensors] + pad + [out._offset // 4]
        params = VEC4_PARAMS.pack(count, 0, 0, 0, *sc, *offs)
    else:
        count = n
        offs = [t._offset for t in tensors] + pad + [out._offset]
        params = _strided_params(name, shape, tensors, out, out_strided, sc, offs)
    buffers = [t._storage.buffer for t in tensors] + [out._storage.buffer]
    rt.dispatch(kern, buffers, params, -(-count // WORKGROUP))
    return out


def _strided_params(name, shape, tensors, out, out_strided, sc, offs):
    """The Params of the indexed kernel: merged shape and each operand's strides."""
    strides = [broadcast_strides(t, shape) for t in tensors]
    strides += [[0] * len(shape)] * (3 - len(tensors))
    strides.append(list(out._stride if out_strided else contiguous_strides(shape)))
    dims, merged = merge_dims(shape, strides)
    if len(dims) > MAX_DIMS:
        raise RuntimeError(f"{name}: tensors with more than {MAX_DIMS} dims are not supported")
    words = [0] * 52
    words[0:2] = (prod(shape), len(dims))
    words[4:8] = sc
    words[8:12] = offs
    words[12:12 + len(dims)] = dims
    for k, st in enumerate(merged):
        words[20 + 8 * k:20 + 8 * k + len(st)] = st
    return PARAMS.pack(*words)
