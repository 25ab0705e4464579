"""ops/kernel.py: a kernel declared once. The generated WGSL Params struct and the Python
packing agree (a kernel copies every field back to the host), fields go by name, variants
specialise the source, and bad launches are refused before anything is recorded."""

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.backend import get_runtime
from wgtorch.ops.kernel import Kernel

# every uniform shape the declaration accepts, in an order that needs padding before the
# vectors and arrays (WGSL aligns vec2 to 8 bytes, vec4 and arrays to 16)
_FIELDS = ("a: u32", "b: f32", "c: vec2<u32>", "d: i32", "e: vec4<f32>", "f: u32",
           "g: array<vec4<i32>, 2>", "h: f32")
_ECHO = """
// echo: every Params field, as u32 bits, in declaration order (24 words).
fn run(i: u32) {
    if (i > 0u) { return; }
    out[0] = P.a; out[1] = bitcast<u32>(P.b); out[2] = P.c.x; out[3] = P.c.y;
    out[4] = bitcast<u32>(P.d);
    for (var k = 0u; k < 4u; k++) { out[5u + k] = bitcast<u32>(P.e[k]); }
    out[9] = P.f;
    for (var k = 0u; k < 8u; k++) { out[10u + k] = bitcast<u32>(P.g[k / 4u][k % 4u]); }
    out[18] = bitcast<u32>(P.h);
    out[19] = SHIFT + u32(FLAG);
}
"""
ECHO = Kernel("test_echo", _ECHO, outputs=("out: u32",), params=_FIELDS, defaults={"h": 0.5})


def _bits(values, dtype):
    return [int(v) for v in np.array(values, dtype=dtype).view(np.uint32)]


def test_params_layout_matches_wgsl():
    out = torch.zeros(24, dtype=torch.int32)
    ECHO.launch(outs=[out], threads=1, variant=dict(SHIFT=7, FLAG=True), a=3, b=1.25,
                c=(5, 6), d=-9, e=(1.0, -2.0, 3.5, 0.25), f=4000000000, g=[1, -2, 3, -4, 5])
    expected = ([3] + _bits([1.25], np.float32) + [5, 6] + _bits([-9], np.int32)
                + _bits([1.0, -2.0, 3.5, 0.25], np.float32) + [4000000000]
                + _bits([1, -2, 3, -4, 5, 0, 0, 0], np.int32) + _bits([0.5], np.float32) + [8])
    got = [int(v) for v in out.numpy()[:20].astype(np.int64) & 0xFFFFFFFF]
    assert got == expected
    header = ECHO.wgsl(dict(SHIFT=7, FLAG=True))
    assert "const SHIFT: u32 = 7u;" in header and "const FLAG: bool = true;" in header
    assert "var<storage, read_write> out: array<u32>;" in header
    assert "var<uniform> P: Params;" in header and "fn main(" in header


def test_fields_go_by_name():
    out = torch.zeros(24, dtype=torch.int32)
    fields = dict(a=1, b=0.0, c=(0, 0), d=0, e=(0.0,) * 4, f=0, g=())
    variant = dict(SHIFT=0, FLAG=False)
    with pytest.raises(TypeError, match=r"Kernel\('test_echo'\).*unexpected keyword.*'z'"):
        ECHO.launch(outs=[out], threads=1, variant=variant, z=1, **fields)
    missing = {k: v for k, v in fields.items() if k != "d"}
    with pytest.raises(TypeError, match=r"Kernel\('test_echo'\).*missing.*'d'"):
        ECHO.launch(outs=[out], threads=1, variant=variant, **missing)
    with pytest.raises(TypeError, match=r"kernel 'test_echo': param 'c' of type vec2<u32> takes "
                                        r"2 values, got 3"):
        ECHO.launch(outs=[out], threads=1, variant=variant, **{**fields, "c": (1, 2, 3)})
    with pytest.raises(TypeError, match="kernel 'test_echo': param 'a' = 1.5"):
        ECHO.launch(outs=[out], threads=1, variant=variant, **{**fields, "a": 1.5})
    # a negative u32 is taken modulo 2**32 (the kernels' wrapping strides)
    ECHO.launch(outs=[out], threads=1, variant=variant, **{**fields, "a": -1})
    assert int(out.numpy()[0]) == -1


def test_bad_launches_are_refused_before_recording():
    rt = get_runtime()
    out = torch.zeros(24, dtype=torch.int32)
    fields = dict(a=1, b=0.0, c=(0, 0), d=0, e=(0.0,) * 4, f=0, g=())
    before = rt.dispatch_count
    with pytest.raises(TypeError, match="kernel 'test_echo' takes 0 inputs and 1 outputs"):
        ECHO.launch(ins=[out], outs=[out], threads=1, variant=dict(SHIFT=0, FLAG=False),
                    **fields)
    with pytest.raises(TypeError, match="needs threads= or workgroups="):
        ECHO.launch(outs=[out], variant=dict(SHIFT=0, FLAG=False), **fields)
    with pytest.raises(TypeError, match="variant entries .* differ"):
        ECHO.launch(outs=[out], threads=1, variant=dict(FLAG=False, SHIFT=1), **fields)
    ECHO.launch(outs=[out], threads=0, variant=dict(SHIFT=0, FLAG=False), **fields)
    assert rt.dispatch_count == before  # nothing recorded, zero threads included


_SCALE = Kernel("test_scale", """
// y = x * P.k, stored as T; w is optional (flags bit 0)
fn run(i: u32) {
    if (i >= P.n) { return; }
    var v = x[i] * P.k;
    if ((P.flags & 1u) != 0u) { v += w[i]; }
    y[i] = store_t(v);
}
""", inputs=("x: T", "w: T"), outputs=("y: T",), params=("n: u32", "k: f32", "flags: u32"),
                defaults={"flags": 0})


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000])
def test_dtype_variants_placeholders_and_workgroup_rounding(n):
    x = np.linspace(-3, 3, n).astype(np.float32)
    for dtype in (torch.float32, torch.float16):
        xt = torch.tensor(x, dtype=dtype)
        y = torch.empty(n, dtype=dtype)
        _SCALE.launch(ins=[xt, None], outs=[y], threads=n, variant=dict(T=dtype), n=n,
                      k=1.0 / 3.0)
        ref = (xt.numpy().astype(np.float32) * np.float32(1.0 / 3.0)).astype(dtype.np_dtype)
        np.testing.assert_array_equal(y.numpy(), ref)  # float16: rounded on store
    w = torch.ones(n)
    y = torch.empty(n)
    _SCALE.launch(ins=[torch.tensor(x), w], outs=[y], threads=n,
                  variant=dict(T=torch.float32), n=n, k=2.0, flags=1)
    np.testing.assert_allclose(y.numpy(), x * 2 + 1, rtol=1e-6)
