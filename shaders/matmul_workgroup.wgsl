// Workgroup-memory tiled batched matmul (the usual kernel for discrete and integrated GPUs):
//     C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n]  (+ beta * bias[b, m, n])  (+ C[b, m, n])
// A workgroup of 16x16 invocations computes a 64x64 tile of C; each invocation holds 4x4
// outputs (rows ly + 16 r, columns lx + 16 c). Per step of 16 k values the workgroup stages a
// 64x16 block of A and a 16x64 block of B in workgroup memory, loading along whichever dim
// has unit stride so the global reads coalesce (transposed operands are read in place).
// Any strides, any sizes: out-of-range elements are loaded as zero.
// T is f32, i32 or u32; the launcher gives each dispatch at most choice.k_chunk values of k
// (later chunks accumulate into C: P.flags bit 1).
//
// Bindings: A (read), B (read), bias (read; any buffer when P.flags bit 0 is clear),
//           C (read_write, contiguous [batch, M, N] from element P.out_off).
// Dispatch: one workgroup (WORKGROUP = 256 invocations) per 64x64 tile of C, tiles of one
// batch entry consecutive.

//!include matmul_common.wgsl

const BM = 64u;
const BN = 64u;
const BK = 16u;

var<workgroup> As: array<T, 1024>;   // [BK][BM]
var<workgroup> Bs: array<T, 1024>;   // [BK][BN]

fn store_c(bidx: u32, oc: u32, m: u32, n: u32, acc: T) {
    if (m >= P.M || n >= P.N) { return; }
    var v = bitcast<T>(P.alpha) * acc;
    if ((P.flags & 1u) != 0u) {
        v += bitcast<T>(P.beta) * bias[oc + m * P.c_st.x + n * P.c_st.y];
    }
    let idx = P.out_off + (bidx * P.M + m) * P.N + n;
    if ((P.flags & 2u) != 0u) {
        v += C[idx];
    }
    C[idx] = store_t(v);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = (wid.z * nwg.y + wid.y) * nwg.x + wid.x;
    let tiles_m = (P.M + BM - 1u) / BM;
    let per_batch = tiles_m * P.tiles_n;
    if (w >= per_batch * P.batch) { return; }
    let bidx = w / per_batch;
    let t = w % per_batch;
    let m0 = (t / P.tiles_n) * BM;
    let n0 = (t % P.tiles_n) * BN;
    let lx = lid % 16u;
    let ly = lid / 16u;

    let offsets = batch_offsets(bidx);
    let oa = offsets.x;
    let ob = offsets.y;
    let oc = offsets.z;

    var acc: array<array<T, 4>, 4>;
    for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) { acc[r][c] = T(0); }
    }
    let k_end = P.k_begin + P.k_len;
    let a_k_fast = P.a_st.y == 1u;   // A rows contiguous: neighbours load neighbouring k
    let b_n_fast = P.b_st.y == 1u;   // B rows contiguous: neighbours load neighbouring n
    for (var k0 = P.k_begin; k0 < k_end; k0 += BK) {
        for (var q = 0u; q < 4u; q++) {
            let e = lid + 256u * q;
            var mm = e / BK;
            var kk = e % BK;
            if (!a_k_fast) { mm = e % BM; kk = e / BM; }
            let m = m0 + mm;
            let ka = k0 + kk;
            var va = T(0);
            if (m < P.M && ka < k_end) { va = A[oa + m * P.a_st.x + ka * P.a_st.y]; }
            As[kk * BM + mm] = va;

            var nn = e % BN;
            var kb = e / BN;
            if (!b_n_fast) { nn = e / BK; kb = e % BK; }
            let n = n0 + nn;
            let kg = k0 + kb;
            var vb = T(0);
            if (n < P.N && kg < k_end) { vb = B[ob + kg * P.b_st.x + n * P.b_st.y]; }
            Bs[kb * BN + nn] = vb;
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k++) {
            var a: array<T, 4>;
            var b: array<T, 4>;
            for (var r = 0u; r < 4u; r++) { a[r] = As[k * BM + ly + 16u * r]; }
            for (var c = 0u; c < 4u; c++) { b[c] = Bs[k * BN + lx + 16u * c]; }
            for (var r = 0u; r < 4u; r++) {
                for (var c = 0u; c < 4u; c++) { acc[r][c] += a[r] * b[c]; }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) {
            store_c(bidx, oc, m0 + ly + 16u * r, n0 + lx + 16u * c, acc[r][c]);
        }
    }
}
