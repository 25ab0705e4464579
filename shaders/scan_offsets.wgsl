// scan_offsets.wgsl: pass 2 of the blocked scan (see scan.wgsl): combine every block's
// exclusive prefix (the scanned block totals) into its elements, in place.
//
// out is the contiguous (outer, L, inner) result of pass 1; offsets is (outer, nb, inner).
// Element (o, r, i) belongs to block (r or L-1-r when reversed) / B.
//
// Bindings: offsets (read, the accumulator ACC), out (read_write, OUT).

//@OP

fn run(i: u32) {
    if (i >= P.total) { return; }
    let ii = i % P.inner;
    let t = i / P.inner;
    let r = t % P.L;
    let o = t / P.L;
    let b = select(r, P.L - 1u - r, P.reverse == 1u) / P.B;
    let acc = combine(offsets[(o * P.nb + b) * P.inner + ii], ACC(out[i]));
    out[i] = store_out(OUT(acc));
}
