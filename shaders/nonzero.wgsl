// nonzero: the coordinates of the nonzero elements of a contiguous tensor, in row-major
// order, in two passes over chunks of CHUNK elements (loops stay far below lavapipe's
// 65,535-iteration limit). Between the passes the host reads the per-chunk counts, which
// it needs anyway for the output's size, and uploads their exclusive prefix sum.
//
// (declared in wgtorch/ops/index_kernels.py, which generates each pass's loop at //@BODY;
// CHUNK comes from its NONZERO_CHUNK, FLOAT says whether x holds float bits)
// Pass "count"
//   x (read, u32 bits; a float -0.0 counts as zero), counts (read_write, u32, one per chunk)
// Pass "write"
//   x, starts (read, u32, first output row of each chunk), out (read_write, i32,
//   [rows, P.ndim])
// Params: numel, ndim, shape (array<vec4<u32>, 2>: up to 8 dims).

fn is_nonzero(bits: u32) -> bool {
    return select(bits != 0u, (bits & 0x7fffffffu) != 0u, FLOAT);
}

fn run(c: u32) {
    let start = c * CHUNK;
    if (start >= P.numel) { return; }
    let n = min(CHUNK, P.numel - start);
    //@BODY
}
