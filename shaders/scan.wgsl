// scan.wgsl: blocked inclusive/exclusive scan (cumsum, cumprod) along one dim, pass 1 of 2
// (declared in wgtorch/ops/scan.py, which generates combine() and IDENTITY at //@OP).
//
// The input is a strided 3-D view x[base + o*so + r*sr + i*si] (o < outer, r < L, i < inner)
// with the scanned dim as r, split into nb blocks of B consecutive positions (counted from
// the end when P.reverse == 1). Invocation (o, b, i) scans its block sequentially, writes
// the running values to out[(o*L + r)*inner + i] (the contiguous layout of the input's
// shape; the value before each element when P.exclusive == 1) and the block's total to
// totals[(o*nb + b)*inner + i]. The host scans the totals exclusively (recursively) and
// scan_offsets.wgsl combines them into every block.
// B <= 1024 keeps each loop under lavapipe's 65,535-iteration limit.
//
// Bindings: x (read, IN), out (read_write, OUT), totals (read_write, the accumulator ACC).

//@OP

fn run(i: u32) {
    if (i >= P.total) { return; }
    let ii = i % P.inner;
    let t = i / P.inner;
    let b = t % P.nb;
    let o = t / P.nb;
    let src = P.base + o * P.so + ii * P.si;
    let dst = o * P.L * P.inner + ii;
    var acc = IDENTITY;
    for (var k = 0u; k < P.B; k++) {
        let q = b * P.B + k;
        if (q >= P.L) { break; }
        let r = select(q, P.L - 1u - q, P.reverse == 1u);
        let v = ACC(x[src + r * P.sr]);
        let next = combine(acc, v);
        out[dst + r * P.inner] = store_out(OUT(select(next, acc, P.exclusive == 1u)));
        acc = next;
    }
    totals[i] = acc;
}
