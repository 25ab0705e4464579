// Layer normalisation forward over rows: one invocation normalises one row of D elements.
//   mean = sum(x) / D,  var = sum((x - mean)^2) / D,  rstd = 1 / sqrt(var + eps)
//   y = (x - mean) * rstd * weight + bias          (weight/bias when P.flags bits 0/1 are set)
// The sums are taken about the row's first element (a shifted one-pass variance), so the
// row is read twice in all: 2*D loop iterations, which the launcher keeps under lavapipe's
// 65,535-per-invocation limit (longer rows take the composite path).
// The launcher prepends `fn store_t(v: f32) -> f32` (rounding for float16 storage).
//
// Bindings: 0 x (read; contiguous [R, D] from element P.x_off), 1 weight (read; [D]),
//           2 bias (read; [D]), 3 y (read_write; [R, D]), 4 mean (read_write; [R]),
//           5 rstd (read_write; [R]), 6 P (uniform Params).

struct Params {
    R: u32, D: u32, x_off: u32, flags: u32,
    eps: f32, w_off: u32, b_off: u32, p0: u32,
};

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd_out: array<f32>;
@group(0) @binding(6) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
    if (r >= P.R) { return; }
    let base = P.x_off + r * P.D;
    let shift = x[base];
    var s = 0.0;
    var ss = 0.0;
    for (var k = 0u; k < P.D; k++) {
        let v = x[base + k] - shift;
        s += v;
        ss += v * v;
    }
    let n = f32(P.D);
    let m = s / n;
    let var_ = max(ss / n - m * m, 0.0);
    let rstd = inverseSqrt(var_ + P.eps);
    let mean = m + shift;
    mean_out[r] = mean;
    rstd_out[r] = rstd;
    let out_base = r * P.D;
    for (var k = 0u; k < P.D; k++) {
        var v = (x[base + k] - mean) * rstd;
        if ((P.flags & 1u) != 0u) { v = v * weight[P.w_off + k]; }
        if ((P.flags & 2u) != 0u) { v = v + bias[P.b_off + k]; }
        y[out_base + k] = store_t(v);
    }
}
