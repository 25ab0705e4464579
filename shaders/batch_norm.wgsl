// Batch normalisation in training mode over x viewed as (N, C, S), S the product of the
// spatial dims, with per-channel batch statistics mean[c] and var[c] (biased) and
// rstd = 1 / sqrt(var + eps). One kernel per section below; the launcher
// (wgtorch/nn/functional/normalization.py) keeps the common part and one section, and
// prepends `const ROWS: bool` and `fn store_t(v: f32) -> f32` (float16 rounding).
//   NORMALIZE   y = (x - mean[c]) * rstd[c] * w[c] + b[c]
//   PARTIALS    for chunk k of channel c's M = N*S elements (P.chunk of them):
//               sg[k, c] = sum g,  sgx[k, c] = sum g * xhat,  xhat = (x - mean[c]) * rstd[c]
//   INPUT_GRAD  dx = w[c] * rstd[c] * (g - (sg[c] + xhat * sgx[c]) / M)  (sg, sgx: totals)
//   RUNNING     in place: rm = (1 - m) * rm + m * mean,  rv = (1 - m) * rv + m * var * P.unbias
// NORMALIZE and INPUT_GRAD: with ROWS (CPU adapters) one invocation per segment of at most
// P.chunk elements of a row (n, c), so the channel is decoded once per segment; else one
// invocation per element. PARTIALS walks its chunk in (n, s) order, dividing only once.
// w and b are read only when P.flags bit 0 / bit 1 is set (affine=False binds any buffer).
// x and g are contiguous (N, C, S) from elements P.x_off and P.g_off; y and dx from 0.
// RUNNING updates running_mean when P.flags bit 0 is set, running_var when bit 1 is.
// Bindings: as each section declares, then P (uniform Params) after them.

struct Params {
    N: u32, C: u32, S: u32, flags: u32,
    eps: f32, momentum: f32, unbias: f32, chunk: u32,
    count: u32, segs: u32, x_off: u32, w_off: u32,
    b_off: u32, g_off: u32, rm_off: u32, rv_off: u32,
};

fn rstd_of(c: u32) -> f32 {
    return inverseSqrt(var_[c] + P.eps);
}

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
}

// The elements [start, end) of x (as flat (N, C, S) indices) that invocation i handles, and
// their channel: a segment of a row (ROWS) or one element (P.count counts whichever).
fn span_of(i: u32) -> vec3<u32> {
    if (ROWS) {
        let row = i / P.segs;
        let start = row * P.S + (i % P.segs) * P.chunk;
        return vec3<u32>(start, min(start + P.chunk, (row + 1u) * P.S), row % P.C);
    }
    return vec3<u32>(i, i + 1u, (i / P.S) % P.C);
}

//@NORMALIZE
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> var_: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.count) { return; }
    let span = span_of(i);
    let c = span.z;
    var scale = rstd_of(c);
    var shift = 0.0;
    if ((P.flags & 1u) != 0u) { scale *= w[P.w_off + c]; }
    if ((P.flags & 2u) != 0u) { shift = b[P.b_off + c]; }
    shift -= mean[c] * scale;
    for (var e = span.x; e < span.y; e++) {
        y[e] = store_t(x[P.x_off + e] * scale + shift);
    }
}

//@PARTIALS
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> var_: array<f32>;
@group(0) @binding(4) var<storage, read_write> sg: array<f32>;
@group(0) @binding(5) var<storage, read_write> sgx: array<f32>;
@group(0) @binding(6) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);  // (chunk k, channel c)
    if (i >= P.count) { return; }
    let c = i % P.C;
    let first = (i / P.C) * P.chunk;  // position in channel c's (n, s) order
    let last = min(first + P.chunk, P.N * P.S);
    var n = first / P.S;
    var s = first % P.S;
    let m = mean[c];
    var acc_g = 0.0;
    var acc_gx = 0.0;
    for (var k = first; k < last; k++) {
        let e = (n * P.C + c) * P.S + s;
        let gv = g[P.g_off + e];
        acc_g += gv;
        acc_gx += gv * (x[P.x_off + e] - m);
        s += 1u;
        if (s == P.S) { s = 0u; n += 1u; }
    }
    sg[i] = acc_g;
    sgx[i] = acc_gx * rstd_of(c);
}

//@INPUT_GRAD
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> var_: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> sg: array<f32>;
@group(0) @binding(6) var<storage, read> sgx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.count) { return; }
    let span = span_of(i);
    let c = span.z;
    let rstd = rstd_of(c);
    let inv_m = 1.0 / f32(P.N * P.S);
    var scale = rstd;
    if ((P.flags & 1u) != 0u) { scale *= w[P.w_off + c]; }
    let m = mean[c];
    let mean_g = sg[c] * inv_m;
    let mean_gx = sgx[c] * inv_m;
    for (var e = span.x; e < span.y; e++) {
        let xhat = (x[P.x_off + e] - m) * rstd;
        dx[e] = store_t(scale * (g[P.g_off + e] - mean_g - xhat * mean_gx));
    }
}

//@RUNNING
@group(0) @binding(0) var<storage, read> mean: array<f32>;
@group(0) @binding(1) var<storage, read> var_: array<f32>;
@group(0) @binding(2) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let c = linear_id(wid, nwg, lid);
    if (c >= P.C) { return; }
    let m = P.momentum;
    if ((P.flags & 1u) != 0u) {
        let k = P.rm_off + c;
        running_mean[k] = store_t((1.0 - m) * running_mean[k] + m * mean[c]);
    }
    if ((P.flags & 2u) != 0u) {
        let k = P.rv_off + c;
        running_var[k] = store_t((1.0 - m) * running_var[k] + m * var_[c] * P.unbias);
    }
}
