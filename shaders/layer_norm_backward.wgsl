// Layer normalisation backward, from the forward's saved per-row mean and rstd.
//   MODE 0 (one invocation per row):   xhat = (x - mean) * rstd,  gw = g * weight
//       dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))          -> out0 [R, D]
//   MODE 1 (one invocation per (row chunk, column)): partial column sums over at most
//       P.chunk rows:  out0[chunk, d] = sum g * xhat (dweight),  out1[chunk, d] = sum g (dbias)
// Loops stay under lavapipe's 65,535 iterations per invocation (2*D in MODE 0, P.chunk in 1).
//
// Bindings (declared in wgtorch/ops/normalization.py): g (read; contiguous [R, D] from
//           P.g_off), x (read; contiguous [R, D] from P.x_off), mean, rstd (read; [R]),
//           weight (read; [D] from P.w_off, used when P.flags bit 0 is set), out0
//           (read_write), out1 (read_write; MODE 1 only, else a placeholder).
// Params: R, D, x_off, flags, g_off, w_off, chunk (rows per MODE 1 invocation), chunks.

fn w_at(k: u32) -> f32 {
    if ((P.flags & 1u) != 0u) { return weight[P.w_off + k]; }
    return 1.0;
}

fn run(i: u32) {
    if (MODE == 0u) {
        if (i >= P.R) { return; }
        let xb = P.x_off + i * P.D;
        let gb = P.g_off + i * P.D;
        let m = mean[i];
        let rs = rstd[i];
        var c1 = 0.0;
        var c2 = 0.0;
        for (var k = 0u; k < P.D; k++) {
            let gw = g[gb + k] * w_at(k);
            c1 += gw;
            c2 += gw * (x[xb + k] - m) * rs;
        }
        let n = f32(P.D);
        c1 = c1 / n;
        c2 = c2 / n;
        for (var k = 0u; k < P.D; k++) {
            let xhat = (x[xb + k] - m) * rs;
            out0[i * P.D + k] = store_t(rs * (g[gb + k] * w_at(k) - c1 - xhat * c2));
        }
        return;
    }
    if (i >= P.chunks * P.D) { return; }
    let d = i % P.D;
    let chunk = i / P.D;
    let r0 = chunk * P.chunk;
    let r1 = min(r0 + P.chunk, P.R);
    var sw = 0.0;
    var sb = 0.0;
    for (var r = r0; r < r1; r++) {
        let gv = g[P.g_off + r * P.D + d];
        sw += gv * (x[P.x_off + r * P.D + d] - mean[r]) * rstd[r];
        sb += gv;
    }
    out0[i] = store_t(sw);
    out1[i] = store_t(sb);
}
