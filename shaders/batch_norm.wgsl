// Batch normalisation in training mode over x viewed as (N, C, S), S the product of the
// spatial dims, with per-channel batch statistics mean[c] and var_[c] (biased) and
// rstd = 1 / sqrt(var + eps): the part shared by the four kernels below, each in its own
// file that includes this one (declared in wgtorch/ops/normalization.py):
//   batch_norm_normalize.wgsl    y = (x - mean[c]) * rstd[c] * w[c] + b[c]
//   batch_norm_partials.wgsl     for chunk k of channel c's M = N*S elements (P.chunk of
//                                them): sg[k, c] = sum g,  sgx[k, c] = sum g * xhat
//   batch_norm_input_grad.wgsl   dx = w[c] * rstd[c] * (g - (sg[c] + xhat * sgx[c]) / M)
//                                (sg, sgx: totals)
//   batch_norm_running.wgsl      in place: rm = (1 - m) * rm + m * mean,
//                                rv = (1 - m) * rv + m * var * P.unbias
// NORMALIZE and INPUT_GRAD: with ROWS (CPU adapters) one invocation per segment of at most
// P.chunk elements of a row (n, c), so the channel is decoded once per segment; else one
// invocation per element. PARTIALS walks its chunk in (n, s) order, dividing only once.
// w and b are read only when P.flags bit 0 / bit 1 is set (affine=False binds a placeholder).
// x and g are contiguous (N, C, S) from elements P.x_off and P.g_off; y and dx from 0.
// RUNNING updates running_mean when P.flags bit 0 is set, running_var when bit 1 is.
// Params (all four): N, C, S, flags, eps, momentum, unbias, chunk, count (invocations),
// segs (row segments), x_off, w_off, b_off, g_off, rm_off, rv_off. store_t rounds to T.

fn rstd_of(c: u32) -> f32 {
    return inverseSqrt(var_[c] + P.eps);
}

// The elements [start, end) of x (as flat (N, C, S) indices) that invocation i handles, and
// their channel: a segment of a row (ROWS) or one element (P.count counts whichever).
fn span_of(i: u32) -> vec3<u32> {
    if (ROWS) {
        let row = i / P.segs;
        let start = row * P.S + (i % P.segs) * P.chunk;
        return vec3<u32>(start, min(start + P.chunk, (row + 1u) * P.S), row % P.C);
    }
    return vec3<u32>(i, i + 1u, (i / P.S) % P.C);
}
