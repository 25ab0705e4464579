// Shared by the matmul kernels (matmul_strided.wgsl, matmul_tiled.wgsl, matmul_workgroup.wgsl
// each start with `//!include matmul_common.wgsl`): the Params struct that
// wgtorch/ops/matmul_kernels.py packs, and the walk from a batch index to operand offsets.
// Each kernel declares its own bindings, P among them.

struct Params {
    M: u32, N: u32, K: u32, batch: u32,
    k_begin: u32, k_len: u32, tiles_n: u32, flags: u32,
    alpha: u32, beta: u32, ndim_batch: u32, out_off: u32,
    off: vec4<u32>,            // element offsets of A, B, bias; then (tiled) the junk element of C
    a_st: vec4<u32>,           // A strides: m, k
    b_st: vec4<u32>,           // B strides: k, n
    c_st: vec4<u32>,           // bias strides: m, n
    batch_shape: vec4<u32>,    // up to 4 batch dims, innermost last
    batch_a: vec4<u32>,
    batch_b: vec4<u32>,
    batch_c: vec4<u32>,
};

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
