// batch_norm_partials.wgsl (see batch_norm.wgsl): per-chunk, per-channel partial sums of g and
// g * xhat (the backward). Bindings: g, x, mean, var_ (read), sg, sgx (read_write;
// [chunks, C]).

//!include batch_norm.wgsl

fn run(i: u32) {  // (chunk k, channel c)
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
