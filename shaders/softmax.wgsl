// softmax.wgsl: fused softmax / log_softmax along one dim, one invocation per row
// (declared in wgtorch/ops/softmax.py, which generates result() at //@RESULT and the loop
// bodies that read the row at //@PUSH and //@WRITE).
//
// The input is a strided 3-D view x[base + o*so + r*sr + i*si] (o < outer, r < L, i < inner)
// with the softmax dim as r; row (o, i) is written to y[(o*L + r)*inner + i], the contiguous
// layout of the input's shape. Pass 1 keeps a running max m and sum s of exp(x - m) (online
// softmax: one read of the row), pass 2 writes result(): exp(x - m) / s or x - m - log(s).
// In the vec4 variant (ELEM = vec4<f32>: inner == 1, sr == 1, aligned rows) base, so and L
// count vec4s.
//
// Bindings: x (input, read), y (output, read_write). Params: rows, L, inner, base, so, sr, si.
// NOTE: the host keeps 2 * L below lavapipe's 65,535-iteration loop limit; longer rows use
// the multi-pass logsumexp reduction instead.

var<private> m: f32;
var<private> s: f32;

fn push(v: f32) {
    if (v > m) {
        s = s * exp(m - v) + 1.0;
        m = v;
    } else {
        // NOTE: exp(m - m) written as 1 so that -inf entries before the max give 0, not NaN
        s += select(exp(v - m), 1.0, v == m);
    }
}

//@RESULT

fn run(i: u32) {
    if (i >= P.rows) { return; }
    let ii = i % P.inner;
    let o = i / P.inner;
    let src = P.base + o * P.so + ii * P.si;
    let dst = o * P.L * P.inner + ii;
    m = -inf_f();
    s = 0.0;
    for (var r = 0u; r < P.L; r++) {
        //@PUSH
    }
    let inv_s = 1.0 / s;
    let log_s = log(s);
    for (var r = 0u; r < P.L; r++) {
        //@WRITE
    }
}
