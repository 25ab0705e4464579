// index_bounds: min and max of a run of int32 indices, for what needs the values on the host
// (one_hot's class count; bounds checks do not: see wgtorch/ops/value_range.py).
//
// Bindings (declared in wgtorch/ops/index_kernels.py)
//   idx (read, i32): element k is idx[P.offset + k * P.stride], k < P.count
//   out (read_write, atomic i32): out[2 * P.slot] = min, out[2 * P.slot + 1] = max; the
//     host initialises them to (i32 max, i32 min)
// Each invocation reduces CHUNK consecutive elements (bounded loop; CHUNK comes from the
// launcher's BOUNDS_CHUNK), then one atomic each.

fn run(i: u32) {
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
