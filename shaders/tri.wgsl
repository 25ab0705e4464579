// tri: tril / triu of a batch of matrices (the last two dims).
//     out[i] = keep(row, col) ? x[strided offset of i] : 0
//     keep = col - row <= diagonal (tril)  or  col - row >= diagonal (triu)
//
// Bindings: 0 x (u32 bits, strided: P.off + sum_d coord_d * P.st[d]), 1 out (u32 bits,
// contiguous), 2 params. P.rows, P.cols: the matrix shape; P.diag: the diagonal (i32
// bits); P.upper: 1 for triu.

struct Params {
    numel: u32, ndim: u32, rows: u32, cols: u32,
    diag: i32, upper: u32, off: u32, pad0: u32,
    shape: array<vec4<u32>, 2>,
    st: array<vec4<u32>, 2>,
};

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
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
