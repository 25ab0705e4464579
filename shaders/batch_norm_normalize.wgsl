// batch_norm_normalize.wgsl (see batch_norm.wgsl): normalise x with the batch statistics and the
// affine weight and bias. Bindings: x, mean, var_, w, b (read), y (read_write).

//!include batch_norm.wgsl

fn run(i: u32) {
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
