// reduce.wgsl: one pass of a parallel tree reduction (wgtorch/ops/reduce_kernel.py declares
// the kernel and generates the op's code at //@OPS and the loop step at //@STEP).
//
// The input is a strided 3-D view x[base + o*so + r*sr + i*si] (o < outer, r < R, i < inner):
// the kept dims before the reduced ones merged into o, the reduced dims merged into r, the
// kept dims after them merged into i. Invocation (o, p, i) combines the positions
// r = p*pstride + k*kstride, k < steps: consecutive blocks on CPU adapters (pstride = steps,
// kstride = 1), interleaved on GPUs so that neighbouring invocations read neighbouring
// addresses (pstride = 1, kstride = parts). It stores its accumulator at [o, p, i] of
// contiguous (outer, parts, inner) outputs. The host repeats the pass over those partials
// until parts == 1, when the store writes the result. No invocation loops more than
// P.steps <= CHUNK times (lavapipe stops a loop silently after 65,535 iterations).
//
// The reduced dims may also form two groups that do not merge (N and H*W of an NCHW tensor
// reduced per channel): r = r1 * P.rin + r2 is then at r1*P.sr1 + r2*P.sr (a single group has
// P.rin >= R and P.sr1 = 0). The loop steps (r1, r2) along with r, dividing only once
// (P.kin, P.kout: kstride % rin and kstride / rin).
//
// In the vec4 variant (inner == 1, sr == 1, 16-byte aligned rows) R and the row offset are
// counted in vec4s and each step combines four elements pairwise.
//
// Bindings: inputs (x, or one array per accumulator field holding the previous pass's
// partials), then outputs (one array per accumulator field, or the op's final results),
// then, for a final pass whose op checks its result (int64 overflow), the error flag
// (P.site is the error's id). Params: total (invocations), outer, R, inner, parts, steps,
// base, so, sr, si, scale (mean's 1/R), correction (var's), pstride, kstride, site, rin,
// sr1, kin, kout. The op supplies struct Acc and init(), lift(), combine(), load(), store().

//@OPS

fn run(i: u32) {
    if (i >= P.total) { return; }
    let ii = i % P.inner;
    let t = i / P.inner;
    let p = t % P.parts;
    let o = t / P.parts;
    let row = P.base + o * P.so + ii * P.si;
    var acc = init();
    var r = p * P.pstride;
    var r1 = r / P.rin;
    var r2 = r % P.rin;
    for (var k = 0u; k < P.steps; k++) {
        if (r >= P.R) { break; }
        let at = row + r1 * P.sr1 + r2 * P.sr;
        //@STEP
        r += P.kstride;
        r1 += P.kout;
        r2 += P.kin;
        if (r2 >= P.rin) { r2 -= P.rin; r1 += 1u; }
    }
    store(i, acc);
}
