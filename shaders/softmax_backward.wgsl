// softmax_backward.wgsl: fused gradient of softmax / log_softmax along one dim, one
// invocation per row (declared in wgtorch/ops/softmax.py, which generates term(), total()
// and result() at //@RULE).
//
// g (incoming gradient) and y (the forward output) are contiguous with the same shape,
// read as (outer, L, inner) with the dim as L: row (o, i) holds element r at
// (o*L + r)*inner + i. Pass 1 sums term() over the row (g*y for softmax, g for log_softmax),
// pass 2 writes dx = result() (y*(g - s), or g - exp(y)*s). In the vec4 variant
// (ELEM = vec4<f32>: inner == 1, aligned rows) L and the offsets count vec4s.
//
// Bindings: g (read), y (read), dx (read_write). Params: rows, L, inner, gbase, ybase.
// NOTE: the host keeps 2 * L below lavapipe's 65,535-iteration loop limit.

//@RULE

fn run(i: u32) {
    if (i >= P.rows) { return; }
    let ii = i % P.inner;
    let start = (i / P.inner) * P.L * P.inner + ii;
    var s = ELEM(0.0);
    for (var r = 0u; r < P.L; r++) {
        let e = start + r * P.inner;
        s += term(g[P.gbase + e], y[P.ybase + e]);
    }
    let t = total(s);
    for (var r = 0u; r < P.L; r++) {
        let e = start + r * P.inner;
        dx[e] = result(g[P.gbase + e], y[P.ybase + e], t);
    }
}
