// Batched matmul over arbitrary strides: C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n]
//                                                    (+ beta * bias[b, m, n]) (+ C[b, m, n]).
// The general variant: any strides (transposed, expanded, sliced operands are read in place),
// any dtype T (f32, i32 or u32).
// Each invocation computes a 4x4 tile of C with scalar loads; the k loop covers only
// [P.k_begin, P.k_begin + P.k_len), so a long K is split over several dispatches that
// accumulate (lavapipe stops any loop after 65,535 iterations per invocation).
//
// Bindings: A (read), B (read), bias (read; any buffer when P.flags bit 0 is clear),
//           C (read_write, contiguous [batch, M, N] from element P.out_off).
// P.flags: bit 0 add beta * bias, bit 1 add the current C (a later K chunk).

//!include matmul_common.wgsl

fn scalar(bits: u32) -> T {
    // alpha/beta arrive as bits of T
    return bitcast<T>(bits);
}

fn run(i: u32) {
    let tiles_m = (P.M + 3u) / 4u;
    let per_batch = tiles_m * P.tiles_n;
    if (i >= per_batch * P.batch) { return; }
    let bidx = i / per_batch;
    let t = i % per_batch;
    let m0 = (t / P.tiles_n) * 4u;
    let n0 = (t % P.tiles_n) * 4u;

    let offsets = batch_offsets(bidx);
    let oa = offsets.x;
    let ob = offsets.y;
    let oc = offsets.z;

    // clamp rows/columns so edge tiles load in bounds; their results are not stored
    let ms = vec4<u32>(min(m0, P.M - 1u), min(m0 + 1u, P.M - 1u), min(m0 + 2u, P.M - 1u),
                       min(m0 + 3u, P.M - 1u));
    let ns = vec4<u32>(min(n0, P.N - 1u), min(n0 + 1u, P.N - 1u), min(n0 + 2u, P.N - 1u),
                       min(n0 + 3u, P.N - 1u));
    let arow = oa + ms * P.a_st.x;
    let bcol = ob + ns * P.b_st.y;
    var acc0 = vec4<T>(T(0));
    var acc1 = vec4<T>(T(0));
    var acc2 = vec4<T>(T(0));
    var acc3 = vec4<T>(T(0));
    let k_end = P.k_begin + P.k_len;
    for (var k = P.k_begin; k < k_end; k++) {
        let ka = k * P.a_st.y;
        let kb = k * P.b_st.x;
        let a = vec4<T>(A[arow.x + ka], A[arow.y + ka], A[arow.z + ka], A[arow.w + ka]);
        let b = vec4<T>(B[bcol.x + kb], B[bcol.y + kb], B[bcol.z + kb], B[bcol.w + kb]);
        acc0 += a.x * b;
        acc1 += a.y * b;
        acc2 += a.z * b;
        acc3 += a.w * b;
    }

    let alpha = scalar(P.alpha);
    let beta = scalar(P.beta);
    let accs = array<vec4<T>, 4>(acc0, acc1, acc2, acc3);
    for (var r = 0u; r < 4u; r++) {
        let m = m0 + r;
        if (m >= P.M) { break; }
        for (var c = 0u; c < 4u; c++) {
            let n = n0 + c;
            if (n >= P.N) { break; }
            var v = alpha * accs[r][c];
            if ((P.flags & 1u) != 0u) {
                v += beta * bias[oc + m * P.c_st.x + n * P.c_st.y];
            }
            let idx = P.out_off + (bidx * P.M + m) * P.N + n;
            if ((P.flags & 2u) != 0u) {
                v += C[idx];
            }
            C[idx] = store_t(v);
        }
    }
}
