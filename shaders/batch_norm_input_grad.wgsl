// batch_norm_input_grad.wgsl (see batch_norm.wgsl): the input gradient from the channel totals of
// sg and sgx. Bindings: g, x, mean, var_, w, sg, sgx (read), dx (read_write).

//!include batch_norm.wgsl

fn run(i: u32) {
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
