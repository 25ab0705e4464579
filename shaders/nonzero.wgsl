// nonzero: the coordinates of the nonzero elements of a contiguous tensor, in row-major
// order, in two passes over chunks of CHUNK elements (loops stay far below lavapipe's
// 65,535-iteration limit). Between the passes the host reads the per-chunk counts, which
// it needs anyway for the output's size, and uploads their exclusive prefix sum.
//
// Pass "count"
//   0 x (u32 bits; a float -0.0 counts as zero), 1 counts (u32, one per chunk), 2 params
// Pass "write"
//   0 x, 1 starts (u32, first output row of each chunk), 2 out (i32, [rows, P.ndim]),
//   3 params

struct Params {
    numel: u32, ndim: u32, pad0: u32, pad1: u32,
    shape: array<vec4<u32>, 2>,
};

const CHUNK: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
$BINDINGS

fn is_nonzero(bits: u32) -> bool { return $TEST; }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let c = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
    let start = c * CHUNK;
    if (start >= P.numel) { return; }
    let n = min(CHUNK, P.numel - start);
$BODY
}
