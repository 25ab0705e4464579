// batch_norm_normalize.wgsl (see batch_norm.wgsl): normalise x with the batch statistics and the
// affine weight and bias. Bindings: x, mean, var_, w, b (read), y (read_write).

//!include batch_norm.wgsl

@compute @workgroup_size(WORKGROUP)
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
