// scan_offsets.wgsl: pass 2 of the blocked scan (see scan.wgsl): combine every block's
// exclusive prefix (the scanned block totals) into its elements, in place.
//
// out is the contiguous (outer, L, inner) result of pass 1; offsets is (outer, nb, inner).
// Element (o, r, i) belongs to block (r or L-1-r when reversed) / B.
//
// Bindings: 0 offsets (read, accumulator type), 1 out (read_write), 2 P.

struct Params {
    total: u32, L: u32, inner: u32, nb: u32, B: u32, reverse: u32, pad0: u32, pad1: u32,
};
@group(0) @binding(0) var<storage, read> offsets: array<$ACC>;
@group(0) @binding(1) var<storage, read_write> out: array<$OUT>;
@group(0) @binding(2) var<uniform> P: Params;
$INDEX
$HELPERS

fn combine(a: $ACC, b: $ACC) -> $ACC { return $COMBINE; }

$ENTRY
    if (i >= P.total) { return; }
    let ii = i % P.inner;
    let t = i / P.inner;
    let r = t % P.L;
    let o = t / P.L;
    let b = select(r, P.L - 1u - r, P.reverse == 1u) / P.B;
    let acc = combine(offsets[(o * P.nb + b) * P.inner + ii], $ACC(out[i]));
    out[i] = $STORE;
}
