// sort.wgsl: stable bitonic sort of rows along one dim (template; wgtorch/ops/sort.py fills
// in the placeholders and picks one of three bodies per dispatch).
//
// Rows are padded to P = next power of two >= L in two scratch arrays: keys (the values)
// and idx (each key's position in its row; idx >= L marks padding). Element (row, q) lives at
// row * P + q, where row = o * inner + i for the strided 3-D input view
// x[base + o*so + r*sr + i*si].
//   init:  keys/idx <- the input row and 0..P-1.
//   stage: one compare-exchange step (k, j) of the bitonic network; invocation t handles
//          the pair (a, a + j), a = 2j*(t / j) + t % j, sorting up where (a & k) == 0.
//          Loop-free: the host issues log2(P) * (log2(P) + 1) / 2 of them.
//   out:   values/indices <- the first K (L for sort, k for topk) of each row, in the
//          contiguous layout of the input's shape with K along the dim.
// The order is total, so the sort is stable: real keys before padding, then by value (NaN
// after every number ascending, before it descending, as PyTorch sorts), then by idx.
//
// Bindings: init: 0 x, 1 keys, 2 idx; stage: 0 keys, 1 idx; out: 0 keys, 1 idx, 2 values,
// 3 indices; then P.

struct Params {
    total: u32, P: u32, L: u32, inner: u32, k: u32, j: u32, base: u32, so: u32,
    sr: u32, si: u32, K: u32, pad: u32,
};
$BINDINGS
$INDEX
$HELPERS

// a comes before b in the sorted row
fn before(ka: $KEY, ia: i32, kb: $KEY, ib: i32) -> bool {
    let pa = ia >= i32(P.L);
    let pb = ib >= i32(P.L);
    if (pa || pb) { return select(!pa, ia < ib, pa && pb); }
    let na = $ISNAN(ka);
    let nb = $ISNAN(kb);
    if (na || nb) {
        if (na && nb) { return ia < ib; }
        if ($NAN_FIRST) { return na; }
        return nb;
    }
    if (ka == kb) { return ia < ib; }
    return ka $CMP kb;
}

$ENTRY
    if (i >= P.total) { return; }
$BODY
}
