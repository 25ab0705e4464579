"""WGSL helper functions shared by kernels (erf, pow, NaN tests, float16 rounding...) and the
store conversion of each dtype.

``helpers_for(code)`` returns the helpers ``code`` calls, with their dependencies; ops/kernel.py
adds them to every kernel's header, so any kernel (a shaders/ file or generated WGSL) may
call them.
"""

import re

from ..dtypes import bool_, float16, uint8

# NOTE: compilers may assume no NaN/Inf in float math, so these test the bits.
HELPERS = {
    "isnan_f": """
fn isnan_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }""",
    "isinf_f": """
fn isinf_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }""",
    "nz_f": """
fn nz_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) != 0u; }""",
    "nan_f": """
fn nan_f() -> f32 { return bitcast<f32>(0x7fc00000u); }""",
    "inf_f": """
fn inf_f() -> f32 { return bitcast<f32>(0x7f800000u); }""",
    "round_f16": """
fn round_f16(x: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x; }""",
    "tanh_f": """
fn tanh_f(x: f32) -> f32 {
    let e = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - e) / (1.0 + e);
}""",
    "sigmoid_f": """
fn sigmoid_f(x: f32) -> f32 {
    if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
    let e = exp(x);
    return e / (1.0 + e);
}""",
    "softplus_f": """
fn softplus_f(x: f32, beta: f32, threshold: f32) -> f32 {
    if (x * beta > threshold) { return x; }
    return log1p_f(exp(x * beta)) / beta;
}""",
    # NOTE: log and exp near 1 and 0 are not accurate enough on every adapter (lavapipe's are
    # off by ~1e-7 absolute), so small arguments take a Taylor series (relative error < 1e-9).
    "log1p_f": """
fn log1p_f(x: f32) -> f32 {
    if (abs(x) < 0.0625) {
        return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * (0.2 - x * (1.0 / 6.0
            - x * (1.0 / 7.0 - x * 0.125)))))));
    }
    return log(1.0 + x);
}""",
    "expm1_f": """
fn expm1_f(x: f32) -> f32 {
    if (abs(x) < 0.0625) {
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
            + x * (1.0 / 720.0))))));
    }
    return exp(x) - 1.0;
}""",
    "erf_f": """
fn erf_f(x: f32) -> f32 {
    // Abramowitz & Stegun 7.1.26 refined: |error| < 1.2e-7
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return select(1.0 - r, r - 1.0, x < 0.0);
}""",
    # NOTE: lavapipe's asin/acos lose ~4e-4 near +-1 (1 - x*x cancels). Cephes' asinf: a
    # polynomial on |x| <= 0.5, and asin(x) = pi/2 - 2 asin(sqrt((1 - |x|) / 2)) above, where
    # 1 - |x| is exact; within ~1e-7 of the true value everywhere (NaN outside [-1, 1]).
    "asin_small": """
fn asin_small(x: f32) -> f32 {
    let z = x * x;
    return x + x * z * ((((0.042163199048 * z + 0.024181311049) * z + 0.045470025998) * z
        + 0.074953002686) * z + 0.16666752422);
}""",
    "asin_f": """
fn asin_f(x: f32) -> f32 {
    let a = abs(x);
    if (a <= 0.5) { return asin_small(x); }
    let r = 1.5707963267948966 - 2.0 * asin_small(sqrt(0.5 * (1.0 - a)));
    return select(r, -r, x < 0.0);
}""",
    "acos_f": """
fn acos_f(x: f32) -> f32 {
    if (x > 0.5) { return 2.0 * asin_small(sqrt(0.5 * (1.0 - x))); }
    if (x < -0.5) { return 3.141592653589793 - 2.0 * asin_small(sqrt(0.5 * (1.0 + x))); }
    return 1.5707963267948966 - asin_small(x);
}""",
    # NOTE: lavapipe's atan2 gives 3pi/4 for (0, 0), drops the sign of a zero y and returns
    # numbers for NaN inputs: C's (and PyTorch's) rules for zeros, infinities and NaN.
    "atan2_f": """
fn atan2_f(y: f32, x: f32) -> f32 {
    if (isnan_f(y) || isnan_f(x)) { return nan_f(); }
    var r: f32;
    if (!nz_f(y)) {
        r = select(0.0, 3.141592653589793, (bitcast<u32>(x) >> 31u) == 1u);
    } else if (isinf_f(y) && isinf_f(x)) {
        r = select(0.7853981633974483, 2.356194490192345, x < 0.0);
    } else {
        return atan2(y, x);
    }
    return select(r, -r, (bitcast<u32>(y) >> 31u) == 1u);
}""",
    "pow_f": """
fn pow_f(a: f32, b: f32) -> f32 {
    // C's pow special cases: x^0 = 1 and 1^y = 1 even for NaN; (-1)^(+-inf) = 1.
    if (b == 0.0 || a == 1.0) { return 1.0; }
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    if (b == 0.5) { return sqrt(a); }
    if (abs(b) <= 64.0 && floor(b) == b) {
        // small integral exponents by squaring: exact where the result is representable
        var r = 1.0; var base = a; var e = u32(abs(b));
        for (var k = 0; k < 7 && e > 0u; k++) {
            if ((e & 1u) == 1u) { r = r * base; }
            base = base * base; e = e >> 1u;
        }
        return select(r, 1.0 / r, b < 0.0);
    }
    if (a == -1.0 && isinf_f(b)) { return 1.0; }
    if (a == 0.0) { return select(0.0, inf_f(), b < 0.0); }
    let r = exp2(b * log2(abs(a)));
    if (a > 0.0) { return r; }
    let integral = floor(b) == b;
    if (!integral && !isinf_f(a)) { return nan_f(); }
    return select(r, -r, integral && !isinf_f(b) && abs(b % 2.0) == 1.0);
}""",
    "pow_i": """
fn pow_i(a: i32, b: i32) -> i32 {
    if (b < 0) {
        if (a == 1) { return 1; }
        if (a == -1) { return select(-1, 1, (b & 1) == 0); }
        return 0;
    }
    var r = 1; var base = a; var e = b;
    for (var k = 0; k < 32 && e > 0; k++) {
        if ((e & 1) == 1) { r = r * base; }
        base = base * base; e = e >> 1u;
    }
    return r;
}""",
    "fmod_py": """
fn fmod_py(a: f32, b: f32) -> f32 {
    let r = a - b * floor(a / b);
    return r;
}""",
    "imod_py": """
fn imod_py(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    let r = a % b;
    return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));
}""",
    "idiv_floor": """
fn idiv_floor(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    let q = a / b;
    return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0)));
}""",
    "max_f": """
fn max_f(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, isnan_f(a) || isnan_f(b)); }""",
    "min_f": """
fn min_f(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, isnan_f(a) || isnan_f(b)); }""",
}
_DEPS = {
    "softplus_f": ("log1p_f",),
    "atan2_f": ("nz_f", "isinf_f", "isnan_f", "nan_f"),
    "asin_f": ("asin_small",),
    "acos_f": ("asin_small",),
    "pow_f": ("inf_f", "nan_f", "isnan_f", "isinf_f"),
    "max_f": ("isnan_f",),
    "min_f": ("isnan_f",),
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def helpers_for(code):
    """The helper functions ``code`` calls, with their dependencies, in order."""
    names, stack = [], [w for w in _WORD.findall(code) if w in HELPERS]
    while stack:
        n = stack.pop()
        if n not in names:
            names.append(n)
            stack.extend(_DEPS.get(n, ()))
    return "\n".join(HELPERS[n] for n in sorted(names))


def store_value(dtype, value):
    """WGSL that turns ``value`` (of the dtype's compute type) into its stored form."""
    if dtype is float16:
        return f"round_f16({value})"
    if dtype is uint8:
        return f"(({value}) & 255u)"
    if dtype is bool_:
        return f"select(0u, 1u, ({value}) != 0u)"
    return value
