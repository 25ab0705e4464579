// Cross-entropy forward, fused: one invocation per row (sample, spatial position) walks its
// C logits once with an online log-sum-exp, and writes that row's loss.
// x is [N, C, S] (S = product of the spatial dims, 1 for (N, C) input); row r = n * S + s.
//   MODE 0 (class indices t, TT = i32): with w = weight (or 1) and ls = label smoothing,
//     loss[r] = (1 - ls) * w[t] * (lse - x[t]) + ls / C * sum_c w[c] * (lse - x[c])
//     wrow[r] = w[t]  (the 'mean' denominator);  rows with t == ignore_index give 0 and 0;
//     a target outside [0, C) (not ignore_index) is flagged as error P.site (raised at the
//     next host readback: "Target t is out of bounds.") and its row counts as ignored, so
//     nothing is read out of bounds.
//   MODE 1 (class probabilities t, TT = f32):  q[c] = t[c] * (1 - ls) + ls / C,
//     loss[r] = sum_c w[c] * q[c] * (lse - x[c]),  wrow[r] = sum_c w[c] * q[c].
//   lse[r] = log(sum_c exp(x[c])) is kept for the backward.
// REDUCE (the loss reduced in the same dispatch, one workgroup): each invocation sums the
// rows lid, lid + WORKGROUP, ..., a tree in workgroup memory adds the partial sums, and
//     loss[0] = sum_r loss[r] / D  with D = 1 ('sum', P.reduce 1), sum_r wrow[r] ('mean' by
//     the target weights, P.reduce 2; D is kept in wrow[0] for the backward) or R ('mean'
//     of class probabilities, P.reduce 3; wrow[r] is kept per row, as MODE 1's backward
//     reads it).
// The launcher keeps C (and with REDUCE, C times the rows per invocation) under the loop
// limit.
//
// Bindings (declared in wgtorch/ops/cross_entropy.py): x (read; contiguous from P.x_off),
//   tgt (read; TT, contiguous from P.t_off), weight (read; [C] from P.w_off, when P.flags
//   bit 0 is set), loss (read_write; [R], or as REDUCE says; store_t rounds), wrow
//   (read_write; [R], or as REDUCE says), lse_out (read_write; [R]), the error flag.
// Params: R (rows), C, S, flags, ignore_index, ls (label smoothing), x_off, t_off, w_off,
//   site (the error's id), reduce (1 sum, 2 mean by target weights, 3 mean by rows).

var<workgroup> partial: array<vec2<f32>, WORKGROUP>;

fn w_at(c: u32) -> f32 {
    if ((P.flags & 1u) != 0u) { return weight[P.w_off + c]; }
    return 1.0;
}

// (loss, wrow) of row r, unrounded; writes lse_out[r]
fn row(r: u32) -> vec2<f32> {
    let n = r / P.S;
    let s = r % P.S;
    let base = P.x_off + n * P.C * P.S + s;
    var t = 0;
    if (MODE == 0u) {
        t = i32(tgt[P.t_off + r]);
        if (t == P.ignore_index || t < 0 || u32(t) >= P.C) {
            if (t != P.ignore_index) { flag_error_i32(P.site, t); }
            lse_out[r] = 0.0;
            return vec2<f32>(0.0, 0.0);
        }
    }
    let tbase = P.t_off + n * P.C * P.S + s;
    let ls_per_class = P.ls / f32(P.C);
    var m = x[base];
    var sum_exp = 0.0;   // sum exp(x - m)
    var sum_a = 0.0;     // MODE 0: sum w*x        MODE 1: sum w*q*x
    var sum_b = 0.0;     // MODE 0: sum w          MODE 1: sum w*q
    for (var c = 0u; c < P.C; c++) {
        let v = x[base + c * P.S];
        if (v > m) { sum_exp = sum_exp * exp(m - v); m = v; }
        sum_exp += exp(v - m);
        var a = w_at(c);
        if (MODE == 1u) { a = a * (f32(tgt[tbase + c * P.S]) * (1.0 - P.ls) + ls_per_class); }
        sum_a += a * v;
        sum_b += a;
    }
    let lse = m + log(sum_exp);
    lse_out[r] = lse;
    if (MODE == 1u) {
        return vec2<f32>(sum_b * lse - sum_a, sum_b);
    }
    let wt = w_at(u32(t));
    let nll = wt * (lse - x[base + u32(t) * P.S]);
    return vec2<f32>((1.0 - P.ls) * nll + ls_per_class * (sum_b * lse - sum_a), wt);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    if (REDUCE) {
        var acc = vec2<f32>(0.0, 0.0);
        for (var r = lid; r < P.R; r += WORKGROUP) {
            let v = row(r);
            acc += v;
            if (MODE == 1u) { wrow[r] = v.y; }
        }
        partial[lid] = acc;
        workgroupBarrier();
        for (var span = WORKGROUP / 2u; span > 0u; span = span / 2u) {
            if (lid < span) { partial[lid] += partial[lid + span]; }
            workgroupBarrier();
        }
        if (lid == 0u) {
            let total = partial[0];
            var d = 1.0;
            if (P.reduce == 2u) { d = total.y; wrow[0] = d; }
            if (P.reduce == 3u) { d = f32(P.R); }
            loss[0] = store_t(total.x / d);
        }
        return;
    }
    let r = linear_id(wid, nwg, lid);
    if (r >= P.R) { return; }
    let v = row(r);
    loss[r] = store_t(v.x);
    wrow[r] = v.y;
}
