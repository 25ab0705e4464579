// Shared by the matmul kernels (matmul_strided.wgsl, matmul_tiled.wgsl, matmul_workgroup.wgsl
// each start with `//!include matmul_common.wgsl`): the walk from a batch index to operand
// offsets. wgtorch/ops/matmul_kernels.py declares the kernels: bindings A, B, bias (read)
// and C (read_write), T the element type, store_t its store rounding, and Params:
//   M, N, K, batch (batch entries of this dispatch), k_begin, k_len (the K chunk),
//   tiles_n, flags (bit 0: add beta * bias, bit 1: add the current C), alpha and beta (bits
//   of T), ndim_batch, out_off (C's first element),
//   off      element offsets of A, B, bias; then (tiled) the junk element of C
//   a_st     A strides: m, k (vec2)     b_st  B strides: k, n         c_st  bias strides: m, n
//   batch_shape   up to 4 batch dims, innermost last; batch_a, batch_b, batch_c their strides

// batch index -> element offsets of this batch in A, B, bias
fn batch_offsets(bidx: u32) -> vec3<u32> {
    var rem = bidx;
    var o = P.off.xyz;
    for (var d = i32(P.ndim_batch) - 1; d >= 0; d--) {
        let s = P.batch_shape[d];
        let c = rem % s;
        rem = rem / s;
        o += c * vec3<u32>(P.batch_a[d], P.batch_b[d], P.batch_c[d]);
    }
    return o;
}
