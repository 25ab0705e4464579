// Register-tiled batched matmul (the fast variant for CPU-type adapters such as lavapipe):
//     C[b, m, n] = alpha * sum_k A[b, m, k] * B[b, k, n]  (+ beta * bias[b, m, n])  (+ C[b, m, n])
// Each invocation computes a TM x TN tile of C held in registers, reading A and B as vec4s
// along whichever of their two matrix dims has unit stride (so a transposed operand is read
// in place, without a copy). The loop over K moves 4 values of k per iteration; when K may end
// inside a group of four (K_ROUND = 3), the launcher masks every load past it to zero.
//
// wgtorch/ops/matmul_kernels.py declares it with T = f32|i32|u32 and the consts TM, TN (tile),
// WORKGROUP, K_ROUND (3 to round the group count up, else 0) and EPILOGUE (the P.flags bits
// this variant applies: the kernel reads EPILOGUE, not P.flags), and generates the code at
// the //@ markers, unrolled for the tile size and the operands' layouts:
//   //@ACCUMULATORS  TM*TN/4 `var c_r_q: vec4<T>` (row r, columns 4q..4q+3)
//   //@PROLOGUE      per-tile row/column base addresses (vec4 units), clamped into range
//   //@LOOP_BODY     the vec4 loads of one group of 4 k values and the TM*TN*4 multiply-adds
//   //@STORE         a loop over rows: store row 0 with TN calls of store_c, shift rows up
// Lavapipe runs loops for at most 65,535 iterations per invocation, so the launcher gives each
// dispatch at most choice.k_chunk values of k; later chunks accumulate into C (EPILOGUE bit 1).
//
// Bindings: A (read, vec4<T>), B (read, vec4<T>), bias (read, T; any buffer when EPILOGUE
//           bit 0 is clear), C (read_write, T, contiguous [batch, M, N] from element
//           P.out_off, plus one junk element P.off.w).
// Requirements checked by the launcher: A's and B's offsets, batch strides and non-unit
// matrix strides are multiples of 4.

//!include matmul_common.wgsl

// NOTE: branch-free on purpose: store_c is inlined TM*TN times, and branches there multiply
// LLVM's compile time on lavapipe. Out-of-range outputs go to the junk element C[P.off.w].
// The epilogue is the constant EPILOGUE (the P.flags bits of this kernel variant), so a
// product without bias or accumulation loads nothing but its operands.
fn store_c(bidx: u32, oc: u32, m: u32, n: u32, acc: T) {
    let mc = min(m, P.M - 1u);
    let nc = min(n, P.N - 1u);
    let idx = select(P.off.w, P.out_off + (bidx * P.M + mc) * P.N + nc, m < P.M && n < P.N);
    var v = bitcast<T>(P.alpha) * acc;
    if ((EPILOGUE & 1u) != 0u) {
        v += bitcast<T>(P.beta) * bias[oc + mc * P.c_st.x + nc * P.c_st.y];
    }
    if ((EPILOGUE & 2u) != 0u) {
        v += C[idx];
    }
    C[idx] = store_t(v);
}

fn run(i: u32) {
    let tiles_m = (P.M + TM - 1u) / TM;
    let per_batch = tiles_m * P.tiles_n;
    if (i >= per_batch * P.batch) { return; }
    let bidx = i / per_batch;
    let t = i % per_batch;
    let m0 = (t / P.tiles_n) * TM;
    let n0 = (t % P.tiles_n) * TN;

    let offsets = batch_offsets(bidx);
    let oa = offsets.x;
    let ob = offsets.y;
    let oc = offsets.z;

    let m_last = P.M - 1u;
    let n_last = P.N - 1u;
    //@ACCUMULATORS
    //@PROLOGUE
    let groups = (P.k_len + K_ROUND) / 4u;
    for (var g = 0u; g < groups; g++) {
        let k = P.k_begin + g * 4u;
        //@LOOP_BODY
    }
    //@STORE
}
