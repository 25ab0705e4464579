// tri: tril / triu of a batch of matrices (the last two dims).
//     out[i] = keep(row, col) ? x[strided offset of i] : 0
//     keep = col - row <= diagonal (tril)  or  col - row >= diagonal (triu)
//
// Bindings (declared in wgtorch/ops/index_kernels.py): x (read, u32 bits, strided:
// P.off + sum_d coord_d * P.st[d]), out (read_write, u32 bits, contiguous).
// Params: numel, ndim, rows and cols (the matrix shape), diag (the diagonal), upper (1 for
// triu), off, shape and st (array<vec4<u32>, 2>: up to 8 merged dims).

fn run(i: u32) {
    if (i >= P.numel) { return; }
    var rem = i;
    var o = P.off;
    for (var d = i32(P.ndim) - 1; d >= 0; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let n = P.shape[q][r];
        o += (rem % n) * P.st[q][r];
        rem = rem / n;
    }
    let col = i32(i % P.cols);
    let row = i32((i / P.cols) % P.rows);
    let keep = select(col - row <= P.diag, col - row >= P.diag, P.upper == 1u);
    // NOTE: zero bits are 0 for every storage type (f32 0.0, i32 0, u32 0)
    out[i] = select(0u, x[o], keep);
}
