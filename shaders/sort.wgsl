// sort.wgsl: stable bitonic sort of rows along one dim (declared in wgtorch/ops/sort.py,
// which generates one of the bodies below at //@BODY and key_is_nan() at //@KEY_IS_NAN).
//
// Rows are padded to P = next power of two >= max(L, 16) in two scratch arrays: keys (the
// values) and idx (each key's position in its row; idx >= L marks padding). Position q of row
// row lives at row * P + q, where row = o * inner + i for the strided 3-D input view
// x[base + o*so + r*sr + i*si]. The bodies (generated in sort.py, register arrays unrolled):
//   init:    an invocation loads 16 consecutive positions of x and runs every stage
//            k <= 16 of the bitonic network on them in registers.
//   groupN:  an invocation runs N consecutive steps (distances P.j << (N-1) .. P.j) of
//            stage P.k on the 2^N positions it owns, in registers; sorting up where
//            (position & k) == 0. The host issues ceil(log2(k) / 4) of them per stage k.
//   out:     values/indices <- the first K (L for sort, k for topk) of each row, in the
//            contiguous layout of the input's shape with K along the dim.
//   gather / scatter: values picked at / written to indices along the dim (sort's backward).
// No loops: nothing to bound for lavapipe's 65,535-iteration limit.
// The order is total, so the sort is stable: real keys before padding, then by value (NaN
// after every number ascending, before it descending, as PyTorch sorts), then by idx.
//
// Bindings: init: x, keys, idx; groupN: keys, idx; out: keys, idx, values, indices;
// gather/scatter: src, indices, values/out (KEY: the values' storage type; idx and indices
// i32). Params: total (invocations), P, L, inner, k, j, base, so, sr, si, K.

//@KEY_IS_NAN

// a comes before b in the sorted row
fn before(ka: KEY, ia: i32, kb: KEY, ib: i32) -> bool {
    let pa = ia >= i32(P.L);
    let pb = ib >= i32(P.L);
    if (pa || pb) { return select(!pa, ia < ib, pa && pb); }
    let na = key_is_nan(ka);
    let nb = key_is_nan(kb);
    if (na || nb) {
        if (na && nb) { return ia < ib; }
        if (DESCENDING) { return na; }
        return nb;
    }
    if (ka == kb) { return ia < ib; }
    if (DESCENDING) { return ka > kb; }
    return ka < kb;
}

fn run(i: u32) {
    if (i >= P.total) { return; }
    //@BODY
}
