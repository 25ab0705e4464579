"""One declaration per kernel: its WGSL, its bindings and its parameters by name.

A kernel is declared once, at module level, and launched by name::

    LAYER_NORM = Kernel(
        "layer_norm", "layer_norm.wgsl",
        inputs=("x: T", "weight: T", "bias: T"),
        outputs=("y: T", "mean_out: f32", "rstd_out: f32"),
        params=("R: u32", "D: u32", "x_off: u32", "flags: u32", "eps: f32", "w_off: u32",
                "b_off: u32"))
    LAYER_NORM.launch(ins=[x, w, b], outs=[y, mean, rstd], threads=rows, variant=dict(T=x.dtype),
                      R=rows, D=d, x_off=x._offset, flags=flags, eps=eps, w_off=0, b_off=0)

This is the only module above ``backend/`` that compiles or dispatches kernels. From the
declaration it generates, for each variant:

- the header of the WGSL module, in this order: the specialisation lines of ``variant``,
  ``const WORKGROUP``, ``struct Params`` (WGSL's uniform layout; padding is computed, never
  written by hand), the bindings (inputs ``var<storage, read>``, then outputs
  ``var<storage, read_write>``, then the runtime's error flag when ``errors=True``, then
  ``var<uniform> P: Params``), the error-flag functions (shaders/error_flag.wgsl), and the
  shared helpers the text calls (``wgsl.HELPERS``, ``linear_id``);
- the entry point, when the source defines ``fn run(i: u32)`` (called once per invocation
  id) rather than its own ``main`` (for kernels that use workgroup ids or memory);
- the Python packing of ``Params`` by field name: a missing or unknown field is a TypeError
  naming the kernel and the field (``defaults=`` may name fields a launch can leave out).

WGSL is assembled one way only: that header, then the source text (a ``shaders/`` file or
text generated in Python), whose ``//!include other.wgsl`` lines are replaced by that file and
whose ``//@NAME`` marker lines are replaced by the code ``generate(variant)`` returns for
NAME. WGSL resolves module-scope names in any order, so a file may use what the header
declares (``P``, the bindings, ``store_t``).

The variant is the kernel's compile-time specialisation: the runtime caches the compiled
kernel under ``(name, *variant values)`` (dtypes by name), so every launch of a kernel names
the same variant entries in the same order (a compile that does not is refused). UPPER_CASE
entries become declarations: ``bool`` -> ``const X: bool``, ``int`` -> ``const X: u32``,
``float`` -> ``const X: f32``, a string -> ``alias X = <type>``, a wgtorch dtype ->
``alias X = <storage type>`` plus ``fn store_x(v: X) -> X`` (the rounding the dtype needs on
store: float16 rounds, uint8 wraps). ``WORKGROUP`` overrides the declaration's workgroup
size. lower_case entries only parameterise ``generate`` and the source and binding functions.

Binding types name a WGSL element type, a variant alias (``T``), or ``vec4<T>``; ``inputs``
and ``outputs`` may each be a function of the variant (a varying number of bindings). The
Params fields are fixed per declaration (a variant that reads fewer fields, like the vec4 map
kernel, is its own declaration) because ``launch`` is generated from them: the fields are its
keyword-only arguments. A launch binds tensors, storages or raw buffers; ``None`` binds a
placeholder (an option the kernel does not read). Bad launches (wrong binding count, bad
field, no size) raise before anything is recorded.

Packed 16-/8-bit storage (issue 14) plugs in at ``_binding_lines`` (given the variant too):
a binding typed by a dtype-valued variant entry (``x: T`` with ``T=x.dtype``) is the one place
that knows its element's storage. When a dtype packs two or four elements per u32 word, that
function declares the binding as ``array<u32>`` (``atomic<u32>`` for outputs) and emits accessors
``fn read_x(i: u32) -> T`` and ``fn write_x(i: u32, v: T)`` (unpack2x16float, shifts and
masks; an atomic read-modify-write where two invocations may share a word), and a kernel
written against the accessors needs no other change. The cache key already holds the dtype.
"""

import re
import struct
import textwrap

from .. import dtypes as dt
from ..backend import get_runtime
from ..tensor import Storage, Tensor
from . import wgsl
from .shaders import load_shader

WORKGROUP = 64  # invocations per workgroup, unless a declaration or variant says otherwise
_LAUNCH_ARGS = frozenset(("ins", "outs", "threads", "workgroups", "variant"))
_SCALAR_FORMATS = {"u32": "I", "i32": "i", "f32": "f"}
_FIELD = re.compile(r"^(\w+)\s*:\s*(.+?)\s*$")
_ARRAY = re.compile(r"^array<\s*vec4<(u32|i32|f32)>\s*,\s*(\d+)\s*>$")
_VEC = re.compile(r"^vec([24])<(u32|i32|f32)>$")
_MARKER = re.compile(r"^([ \t]*)//@(\w+)[ \t]*\n", re.M)
_ERROR_FLAG_FILE = "error_flag.wgsl"

# NOTE: grids past 65,535 workgroups in X fold into Y and Z (Runtime.grid); every kernel's
# linear invocation id unfolds them.
LINEAR_ID = """
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * WORKGROUP + lid;
}"""
# The entry point of a kernel whose source defines ``fn run(i: u32)`` (one call per
# invocation id) rather than its own ``main`` (which may read the workgroup builtins).
RUN_ENTRY = """
@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    run(linear_id(wid, nwg, lid));
}"""
_RUN = re.compile(r"\bfn run\(")
_MAIN = re.compile(r"\bfn main\(")


def _split(spec, what, kernel):
    m = _FIELD.match(spec)
    if m is None:
        raise ValueError(f"kernel {kernel!r}: {what} {spec!r} is not 'name: type'")
    return m.group(1), m.group(2)


class _Params:
    """The uniform ``struct Params`` of a kernel: WGSL text and the packing by field name."""

    def __init__(self, kernel, specs, defaults):
        self.kernel = kernel
        self.fields = []  # (name, wgsl type, struct format char, values or None for a scalar)
        fmt, offset, align = "<", 0, 4
        for spec in specs:
            name, wtype = _split(spec, "param", kernel)
            if name in _LAUNCH_ARGS:
                raise ValueError(f"kernel {kernel!r}: param {name!r} shadows a launch argument")
            if wtype in _SCALAR_FORMATS:
                char, count, size, field_align = _SCALAR_FORMATS[wtype], None, 4, 4
            elif _VEC.match(wtype):
                width, scalar = _VEC.match(wtype).groups()
                count = int(width)
                char, size, field_align = _SCALAR_FORMATS[scalar], 4 * count, 4 * count
            elif _ARRAY.match(wtype):
                scalar, n = _ARRAY.match(wtype).groups()
                count = 4 * int(n)
                char, size, field_align = _SCALAR_FORMATS[scalar], 4 * count, 16
            else:
                raise ValueError(f"kernel {kernel!r}: param type {wtype!r} of {name!r} is not a "
                                 "uniform type (u32, i32, f32, vec2/vec4 of them, "
                                 "array<vec4<...>, N>)")
            pad = -offset % field_align
            fmt += "x" * pad + char * (count or 1)
            offset += pad + size
            align = max(align, field_align)
            self.fields.append((name, wtype, char, count))
        fmt += "x" * (-offset % align)
        self.struct = struct.Struct(fmt)
        self.defaults = dict(defaults or {})
        unknown = set(self.defaults) - {f[0] for f in self.fields}
        if unknown:
            raise ValueError(f"kernel {kernel!r}: defaults for unknown params {sorted(unknown)}")

    def wgsl(self):
        if not self.fields:
            return "struct Params { unused: u32 };"
        body = ",\n".join(f"    {name}: {wtype}" for name, wtype, _, _ in self.fields)
        return "struct Params {\n" + body + ",\n};"

    def launcher(self, record):
        """``Kernel.launch``, generated: the fields are its keyword-only arguments (so a
        missing or unknown one is Python's own TypeError, naming the kernel and the field)
        and the packing is one struct.pack. ``record(ins, outs, threads, workgroups, variant,
        data)`` dispatches; a value that does not pack goes through ``_pack_checked``."""
        fields, args = [], []
        for name, wtype, _, count in self.fields:
            fields.append(f"{name}=__default_{name}" if name in self.defaults else name)
            if count is None or wtype.startswith("vec"):  # a vecN takes exactly N values
                args.append(name if count is None else f"*{name}")
            else:  # an array takes a sequence of at most ``count`` values, zero-filled
                args.append(f"*{name}, *__zeros[{count} - len({name})]")
        longest = max((f[3] or 0 for f in self.fields), default=0)
        namespace = {"__pack": self.struct.pack, "__zeros": [(0,) * k for k in range(longest + 1)],
                     "__checked": self._pack_checked, "__record": record, "__error": struct.error,
                     **{f"__default_{k}": v for k, v in self.defaults.items()}}
        values = ", ".join(f"{name!r}: {name}" for name, _, _, _ in self.fields)
        exec(f"""def launch(*, ins=(), outs=(), threads=None, workgroups=None, variant=None,
                   {", ".join(fields)}):
    try:
        data = __pack({", ".join(args)})
    except (TypeError, IndexError, __error):
        data = __checked({{{values}}})
    __record(ins, outs, threads, workgroups, variant, data)""", namespace)
        launch = namespace["launch"]
        launch.__qualname__ = f"Kernel({self.kernel!r}).launch"
        return launch

    def _pack_checked(self, values):
        """``pack`` one field at a time, to say which field is wrong (or to wrap a negative
        u32)."""
        flat = []
        for name, wtype, char, count in self.fields:
            v = values[name]
            items = [v] if count is None else list(v)
            vector = wtype.startswith("vec")
            if count is not None and (len(items) > count or vector and len(items) != count):
                raise TypeError(f"kernel {self.kernel!r}: param {name!r} of type {wtype} takes "
                                f"{'' if vector else 'at most '}{count} values, got "
                                f"{len(items)}")
            for x in items + [0] * ((count or 1) - len(items)):
                if char == "I" and isinstance(x, int) and -(1 << 31) <= x < 0:
                    x &= 0xFFFFFFFF
                try:
                    struct.pack(char, x)
                except struct.error as exc:
                    raise TypeError(f"kernel {self.kernel!r}: param {name!r} = {x!r}: {exc}") \
                        from None
                flat.append(x)
        return self.struct.pack(*flat)


_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")


def scalar_bits(value, wgsl_type):
    """The 32 bits of a Python scalar as a kernel reads it from a u32 field: float32 bits for
    ``f32``, two's complement for ``i32``."""
    if wgsl_type == "f32":
        return _U32.unpack(_F32.pack(float(value)))[0]
    return int(value) & 0xFFFFFFFF


def _variant_lines(variant):
    lines = []
    for key, value in variant.items():
        if not key.isupper() or key == "WORKGROUP":
            continue
        if isinstance(value, bool):
            lines.append(f"const {key}: bool = {str(value).lower()};")
        elif isinstance(value, int):
            lines.append(f"const {key}: u32 = {value}u;")
        elif isinstance(value, float):
            lines.append(f"const {key}: f32 = {value!r};")
        elif isinstance(value, dt.dtype):
            store = wgsl.store_value(value, "v")
            lines.append(f"alias {key} = {value.wgsl};")
            lines.append(f"fn store_{key.lower()}(v: {key}) -> {key} {{ return {store}; }}")
        elif isinstance(value, str):
            lines.append(f"alias {key} = {value};")
        else:
            raise TypeError(f"variant entry {key}={value!r} is not a bool, int, float, str or "
                            "dtype")
    return lines


def _buffer(obj):
    """The GPU buffer a binding argument other than a tensor names: a storage's, a raw
    buffer, or None (a placeholder is bound there)."""
    if obj is None or not isinstance(obj, Storage):
        return obj
    return obj.buffer


_placeholders = {}


def _placeholder(slot):
    """A small buffer bound where a kernel does not read an optional binding; one per binding
    index, so no buffer is ever bound twice in one dispatch."""
    held = _placeholders.get(slot)
    if held is None or held.runtime is not get_runtime():
        held = _placeholders[slot] = Storage(4)
    return held.buffer


def _binding_lines(kernel, ins, outs, errors):
    """The binding declarations: inputs, outputs, the error flag, then P."""
    lines, binding = [], 0
    for specs, access in ((ins, "read"), (outs, "read_write")):
        for spec in specs:
            name, wtype = _split(spec, "binding", kernel)
            lines.append(f"@group(0) @binding({binding}) var<storage, {access}> "
                         f"{name}: array<{wtype}>;")
            binding += 1
    if errors:
        lines.append(f"@group(0) @binding({binding}) var<storage, read_write> errors: "
                     "array<atomic<u32>>;")
        binding += 1
    lines.append(f"@group(0) @binding({binding}) var<uniform> P: Params;")
    return lines


class Kernel:
    """A compute kernel declared once: name, WGSL source, bindings, parameters.

    ``source``: a ``shaders/`` file name (``*.wgsl``), WGSL text, or a function of the
    variant returning WGSL text. ``inputs``/``outputs``: ``"name: type"`` per binding (or a
    function of the variant returning them); ``params``: ``"name: type"`` per Params field;
    ``defaults``: values of fields a launch may leave out. ``errors``: bind the runtime's
    error flag (``flag_error``, see gpu_errors.py). ``generate``: a function of the variant
    returning ``{marker: wgsl}`` for the source's ``//@marker`` lines.

    ``launch(*, ins=(), outs=(), threads=None, workgroups=None, variant=None, **fields)``
    records one dispatch over the ``ins`` and ``outs`` bindings with the Params ``fields``
    (every field by name; vectors and arrays take a sequence, zero-filled; u32 fields take
    negative ints modulo 2**32, for wrapping strides). ``threads``: invocations wanted
    (rounded up to whole workgroups); or ``workgroups``: a count (folded into Y/Z past the
    adapter's limit) or an explicit (x, y, z). Nothing is recorded for zero of either.
    """

    def __init__(self, name, source, *, inputs=(), outputs=(), params=(), defaults=None,
                 errors=False, workgroup=WORKGROUP, generate=None):
        self.name = name
        self.source = source
        self.inputs = inputs
        self.outputs = outputs
        self.params = _Params(name, params, defaults)
        self.launch = self.params.launcher(self._record)
        self.errors = errors
        self.workgroup = workgroup
        self.generate = generate
        self._compiled = {}  # variant values -> the runtime's compiled kernel
        self._runtime = None
        self._variant_names = None  # every launch names the same variant entries, in order

    def __repr__(self):
        return f"Kernel({self.name!r})"

    # ---- WGSL ------------------------------------------------------------------------------

    def _bindings(self, variant):
        ins = self.inputs(variant) if callable(self.inputs) else self.inputs
        outs = self.outputs(variant) if callable(self.outputs) else self.outputs
        return tuple(ins), tuple(outs)

    def wgsl(self, variant=None):
        """The complete WGSL module of ``variant`` (what is compiled)."""
        variant = variant or {}
        body = self.source(variant) if callable(self.source) else self.source
        if body.endswith(".wgsl") and "\n" not in body:
            body = load_shader(body)
        body = self._fill_markers(body, variant)
        lines = [f"// kernel {self.name!r}: header generated by wgtorch/ops/kernel.py",
                 *_variant_lines(variant),
                 f"const WORKGROUP: u32 = {variant.get('WORKGROUP', self.workgroup)}u;",
                 self.params.wgsl(),
                 *_binding_lines(self.name, *self._bindings(variant), self.errors)]
        if self.errors:
            body = load_shader(_ERROR_FLAG_FILE) + body
        if _RUN.search(body) and not _MAIN.search(body):
            body += RUN_ENTRY
        header = "\n".join(lines)
        helpers = wgsl.helpers_for(header + "\n" + body)
        if re.search(r"\blinear_id\b", body):
            helpers += LINEAR_ID
        return f"{header}\n{helpers}\n\n{body}\n"

    def _fill_markers(self, body, variant):
        code = self.generate(variant) if self.generate is not None else {}
        used = set()

        def fill(m):  # the code, indented as the marker line
            indent, marker = m.groups()
            if marker not in code:
                raise KeyError(f"kernel {self.name!r}: no code for marker //@{marker}")
            used.add(marker)
            return "".join(indent + line + "\n" if line else "\n"
                           for line in textwrap.dedent(code[marker]).strip("\n").split("\n"))

        body = _MARKER.sub(fill, body)
        if set(code) - used:
            raise KeyError(f"kernel {self.name!r}: no //@ marker for {sorted(set(code) - used)}")
        return body

    # ---- launching -------------------------------------------------------------------------

    def _compile(self, rt, variant, call_key):
        if self._variant_names is None:
            self._variant_names = tuple(variant)
        elif tuple(variant) != self._variant_names:
            raise TypeError(f"kernel {self.name!r}: variant entries {list(variant)} differ from "
                            f"those of its other launches {list(self._variant_names)}")
        key = (self.name, *(v.name if isinstance(v, dt.dtype) else v for v in variant.values()))
        kern = rt.kernels.get(key)
        if kern is None:
            ins, outs = self._bindings(variant)
            kern = rt.kernel(key, lambda: self.wgsl(variant), len(ins),
                             len(outs) + self.errors, variant.get("WORKGROUP", self.workgroup))
        if self._runtime is not rt:
            self._compiled.clear()
            self._runtime = rt
        self._compiled[call_key] = kern
        return kern

    def _record(self, ins, outs, threads, workgroups, variant, data):
        """The dispatch of ``launch``, once the Params are packed into ``data``."""
        rt = get_runtime()
        call_key = tuple(variant.values()) if variant else ()
        kern = self._compiled.get(call_key)
        if kern is None or self._runtime is not rt:
            kern = self._compile(rt, variant or {}, call_key)
        buffers = [b._storage.buffer if isinstance(b, Tensor) else _buffer(b)
                   for b in (*ins, *outs)]
        if None in buffers:  # (buffers, unlike tensors, compare by identity)
            buffers = [_placeholder(k) if b is None else b for k, b in enumerate(buffers)]
        if self.errors:
            buffers.append(rt.error_buffer)
        if len(ins) != kern.n_in:  # (Runtime.dispatch refuses a wrong total)
            raise TypeError(f"kernel {self.name!r} takes {kern.n_in} inputs and "
                            f"{kern.n_out - self.errors} outputs, got {len(ins)} and {len(outs)}")
        if threads is not None:
            workgroups = -(-threads // kern.workgroup_size)
        elif workgroups is None:
            raise TypeError(f"kernel {self.name!r}: a launch needs threads= or workgroups=")
        rt.dispatch(kern, buffers, data, workgroups)


def launch_raw(name, source, n_in, n_out, buffers, params, workgroups):
    """Dispatch a complete WGSL module brought by a developer tool (``wgtorch.bench --wgsl``),
    which declares its own bindings and Params; ``params`` is its uniform's bytes."""
    rt = get_runtime()
    key = ("raw", name, source)
    kern = rt.kernels.get(key) or rt.kernel(key, lambda: source, n_in, n_out)
    rt.dispatch(kern, buffers, params, workgroups)
