// unique: compact sorted values (wgtorch/ops/sort.py). Element k is in run u(k) = ends[k - 1]
// (0 for k == 0) and starts it when u(k) != u(k - 1).
//
// Bindings: values (read; sorted, KEY), order (read; their input positions), ends (read;
// cumsum of run starts after the first), uniq (read_write; KEY), inverse (read_write),
// starts (read_write; run start offsets, then n). Params: n, n_unique.

fn run(i: u32) {
    if (i >= P.n) { return; }
    var u = 0;
    if (i > 0u) { u = ends[i - 1u]; }
    var before = -1;
    if (i > 1u) { before = ends[i - 2u]; } else if (i == 1u) { before = 0; }
    inverse[order[i]] = u;
    // NOTE: run starts come from ends (so NaNs stay distinct, as in PyTorch), not from
    // comparing values again, which a compiler may treat as NaN-free
    if (u != before) {
        uniq[u] = values[i];
        starts[u] = i32(i);
    }
    if (i == 0u) { starts[P.n_unique] = i32(P.n); }
}
