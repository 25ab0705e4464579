// block_copy: copy a [rows, cols] block between two row-major layouts, the kernel behind cat
// (each contiguous input is one block: rows = the dims before the cat dim, cols = the rest,
// written at its column offset in the output's rows).
//     dst[P.dst_off + r * P.dst_row + c] = src[P.src_off + r * P.src_row + c]
// in units of $ELEM (vec4<u32> when every offset, row length and width is a multiple of 4,
// else u32): raw bits, so any dtype.
//
// Bindings: 0 src, 1 dst, 2 params.

struct Params {
    count: u32, cols: u32, src_off: u32, src_row: u32,
    dst_off: u32, dst_row: u32, pad0: u32, pad1: u32,
};

@group(0) @binding(0) var<storage, read> src: array<$ELEM>;
@group(0) @binding(1) var<storage, read_write> dst: array<$ELEM>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
    if (i >= P.count) { return; }
    let r = i / P.cols;
    let c = i % P.cols;
    dst[P.dst_off + r * P.dst_row + c] = src[P.src_off + r * P.src_row + c];
}
