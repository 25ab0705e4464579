// index_bounds: min and max of a run of int32 indices, for what needs the values on the host
// (one_hot's class count; bounds checks do not: see wgtorch/ops/value_range.py).
//
// Bindings
//   0 idx (i32): element k is idx[P.offset + k * P.stride], k < P.count
//   1 out (atomic i32): out[2 * P.slot] = min, out[2 * P.slot + 1] = max; the host
//     initialises them to (i32 max, i32 min)
//   2 params
// Each invocation reduces CHUNK consecutive elements (bounded loop), then one atomic each.

struct Params { count: u32, offset: u32, stride: u32, slot: u32 };

const CHUNK: u32 = 256u;

@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<atomic<i32>>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
    let start = i * CHUNK;
    if (start >= P.count) { return; }
    let n = min(CHUNK, P.count - start);
    var lo = 2147483647;
    var hi = -2147483647 - 1;
    for (var k = 0u; k < n; k++) {
        let x = idx[P.offset + (start + k) * P.stride];
        lo = min(lo, x);
        hi = max(hi, x);
    }
    atomicMin(&out[2u * P.slot], lo);
    atomicMax(&out[2u * P.slot + 1u], hi);
}
