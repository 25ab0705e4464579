// scan.wgsl: blocked inclusive/exclusive scan (cumsum, cumprod) along one dim, pass 1 of 2
// (template; wgtorch/ops/scan.py fills in the placeholders).
//
// The input is a strided 3-D view x[base + o*so + r*sr + i*si] (o < outer, r < L, i < inner)
// with the scanned dim as r, split into nb blocks of B consecutive positions (counted from
// the end when P.reverse == 1). Invocation (o, b, i) scans its block sequentially, writes
// the running values to out[(o*L + r)*inner + i] (the contiguous layout of the input's
// shape) and the block's total to totals[(o*nb + b)*inner + i]. The host scans the totals
// exclusively (recursively) and scan_offsets.wgsl combines them into every block.
// B <= 1024 keeps each loop under lavapipe's 65,535-iteration limit.
//
// Bindings: 0 x (read), 1 out (read_write), 2 totals (read_write, accumulator type), 3 P.

struct Params {
    total: u32, L: u32, inner: u32, nb: u32, B: u32, base: u32, so: u32, sr: u32,
    si: u32, reverse: u32, exclusive: u32, pad: u32,
};
@group(0) @binding(0) var<storage, read> x: array<$IN>;
@group(0) @binding(1) var<storage, read_write> out: array<$OUT>;
@group(0) @binding(2) var<storage, read_write> totals: array<$ACC>;
@group(0) @binding(3) var<uniform> P: Params;
$INDEX
$HELPERS

fn combine(a: $ACC, b: $ACC) -> $ACC { return $COMBINE; }

$ENTRY
    if (i >= P.total) { return; }
    let ii = i % P.inner;
    let t = i / P.inner;
    let b = t % P.nb;
    let o = t / P.nb;
    let src = P.base + o * P.so + ii * P.si;
    let dst = o * P.L * P.inner + ii;
    var acc = $ACC($IDENTITY);
    for (var k = 0u; k < P.B; k++) {
        let q = b * P.B + k;
        if (q >= P.L) { break; }
        let r = select(q, P.L - 1u - q, P.reverse == 1u);
        let v = $ACC(x[src + r * P.sr]);
        let next = combine(acc, v);
        out[dst + r * P.inner] = $STORE;
        acc = next;
    }
    totals[i] = acc;
}
