// index_map: gather and scatter through index tensors. The one kernel behind advanced
// indexing, index_select/add/copy/fill, gather, scatter*, take, roll, pad and their
// backward passes (declared in wgtorch/ops/index_kernels.py, which generates the index terms
// at //@INDEX_TERMS and the gather/scatter at //@BODY).
//
// The iteration space is an N-d shape (P.shape, N <= 8) numbered row-major by i. Element i
// addresses one element t of the target T (the source of a gather, the destination of a
// scatter):
//     t = P.base + sum_d coord_d(i) * P.st[d] + sum_j wrap_j(index_j[b_j(i)]) * dimstride_j
//     b_j(i) = offset_j + ((i / inner_j) % blk_j) * stride_j
// so index tensor j follows a contiguous run of iteration dims, read through one stride.
// wrap_j adds size_j to a negative index and clamps into [0, size_j), so no index reads or
// writes outside T. Where the launcher asks for it (a nonzero site), an index outside
// [0, size_j) (or [-size_j, size_j) when negative indices count from the end) also raises
// the runtime's error flag (error_flag.wgsl): the host reports it at its next readback.
// Strides are u32 and wrap, so negative strides (flip) work.
//
// Bindings
//   gather:  src (u32 bits, any dtype), index0..indexK-1 (i32), out (u32 bits, contiguous
//            over the iteration space)
//   scatter: src = the values (u32 bits, read at P.voff + sum_d coord_d * P.vst[d]; a
//            placeholder when the value is the scalar P.scalar), index0..indexK-1 (i32),
//            out = the destination (written or combined by the reduce mode; atomic when
//            combining)
//   both:    the error flag
// Params: numel, ndim, nidx, base, voff, scalar, shape, st, vst (each array<vec4<u32>, 2>:
// up to 8 dims), and per index j: ix[2j] = (offset, stride, inner, blk),
// ix[2j + 1] = (size, dimstride, error site or 0, 1 if negative indices count).

fn wrap_index(k: i32, s: vec4<u32>) -> u32 {
    let n = i32(s.x);
    if (s.z != 0u && (k >= n || k < select(0, -n, s.w == 1u))) { flag_error_i32(s.z, k); }
    return u32(clamp(select(k, k + n, k < 0), 0, max(n - 1, 0)));
}

fn run(i: u32) {
    if (i >= P.numel) { return; }
    var rem = i;
    var t = P.base;
    var v = P.voff;
    for (var d = i32(P.ndim) - 1; d >= 0; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let n = P.shape[q][r];
        let c = rem % n;
        rem = rem / n;
        t += c * P.st[q][r];
        v += c * P.vst[q][r];
    }
    //@INDEX_TERMS
    //@BODY
}
