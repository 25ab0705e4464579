// Cross-entropy backward, fused: one invocation per logit, p = exp(x - lse[r]),
//   MODE 0: dx = g[r] * ((1 - ls) * w[t] * (p - [c == t]) + ls / C * (W * p - w[c]))
//           with W = sum_c w[c] (aux[0] when P.flags bit 1 is set, else C); 0 where t is ignored
//           or out of range (the forward flagged it)
//   MODE 1: dx = g[r] * (p * wrow[r] - w[c] * q[c]),  q[c] = t[c] * (1 - ls) + ls / C
// g[r] is the upstream gradient of row r's loss, read with stride P.g_stride (0 when one
// value is broadcast, as after a 'mean' or 'sum' reduction), times P.g_scale, and divided
// by den[0] when P.flags bit 2 is set (the forward's fused 'mean' by target weights).
// The launcher prepends `const MODE: u32` and `alias TT`, and `fn store_t(v: f32) -> f32`.
//
// Bindings: 0 x (read; as the forward), 1 tgt (read), 2 weight (read; [C]),
//           3 lse (read; [R]), 4 aux (read; MODE 0: W as 1 element, MODE 1: wrow [R]),
//           5 g (read; from P.g_off), 6 den (read; 1 element when P.flags bit 2 is set),
//           7 dx (read_write; contiguous like x), 8 P (uniform Params).

struct Params {
    R: u32, C: u32, S: u32, flags: u32,
    ignore_index: i32, ls: f32, x_off: u32, t_off: u32,
    w_off: u32, g_off: u32, g_stride: u32, total: u32,
    g_scale: f32, p1: u32, p2: u32, p3: u32,
};

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> tgt: array<TT>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> aux: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read> den: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

fn w_at(c: u32) -> f32 {
    if ((P.flags & 1u) != 0u) { return weight[P.w_off + c]; }
    return 1.0;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
    if (i >= P.total) { return; }
    let s = i % P.S;
    let c = (i / P.S) % P.C;
    let n = i / (P.S * P.C);
    let r = n * P.S + s;
    let p = exp(x[P.x_off + i] - lse[r]);
    var gr = g[P.g_off + r * P.g_stride] * P.g_scale;
    if ((P.flags & 4u) != 0u) { gr = gr / den[0]; }
    let ls_per_class = P.ls / f32(P.C);
    if (MODE == 1u) {
        let q = f32(tgt[P.t_off + i]) * (1.0 - P.ls) + ls_per_class;
        dx[i] = store_t(gr * (p * aux[r] - w_at(c) * q));
        return;
    }
    let t = i32(tgt[P.t_off + r]);
    if (t == P.ignore_index || t < 0 || u32(t) >= P.C) { dx[i] = 0.0; return; }
    var total_w = f32(P.C);
    if ((P.flags & 2u) != 0u) { total_w = aux[0]; }
    let onehot = select(0.0, 1.0, u32(t) == c);
    let d = (1.0 - P.ls) * w_at(u32(t)) * (p - onehot) + ls_per_class * (total_w * p - w_at(c));
    dx[i] = store_t(gr * d);
}
