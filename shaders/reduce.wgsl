// reduce.wgsl: one pass of a parallel tree reduction (template; wgtorch/ops/reduce_kernel.py
// fills in the placeholders per op and dtype).
//
// The input is a strided 3-D view x[base + o*so + r*sr + i*si] (o < outer, r < R, i < inner):
// the kept dims before the reduced ones merged into o, the reduced dims merged into r, the
// kept dims after them merged into i. Invocation (o, p, i) combines the positions
// r = p*pstride + k*kstride, k < steps: consecutive blocks on CPU adapters (pstride = steps,
// kstride = 1), interleaved on GPUs so that neighbouring invocations read neighbouring
// addresses (pstride = 1, kstride = parts). It stores its accumulator at [o, p, i] of
// contiguous (outer, parts, inner) outputs. The host repeats the pass over those partials
// until parts == 1, when the store writes the result. No invocation loops more than P.steps <= CHUNK times (lavapipe stops a
// loop silently after 65,535 iterations).
//
// The reduced dims may also form two groups that do not merge (N and H*W of an NCHW tensor
// reduced per channel): r = r1 * P.rin + r2 is then at r1*P.sr1 + r2*P.sr (a single group has
// P.rin >= R and P.sr1 = 0). The loop steps (r1, r2) along with r, dividing only once.
//
// In the vec4 variant (inner == 1, sr == 1, 16-byte aligned rows) R and the row offset are
// counted in vec4s and each step combines four elements pairwise.
//
// Bindings: inputs (x, or one array per accumulator field holding the previous pass's
// partials), then outputs (one array per accumulator field, or the op's final results),
// then, for a final pass whose op checks its result (int64 overflow), the runtime's error
// flag (error_flag.wgsl; P.site is the error's id), then P. The op supplies struct Acc and
// init(), lift(), combine(), load(), store().

struct Params {
    total: u32, outer: u32, R: u32, inner: u32,
    parts: u32, steps: u32, base: u32, so: u32,
    sr: u32, si: u32, scale: f32, correction: f32,
    pstride: u32, kstride: u32, site: u32, rin: u32,
    sr1: u32, kin: u32, kout: u32, pad0: u32,   // kin, kout: kstride % rin, kstride / rin
};
$BINDINGS
@group(0) @binding($PARAMS_BINDING) var<uniform> P: Params;
$INDEX
$HELPERS
$OPS

$ENTRY
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
        $BODY
        r += P.kstride;
        r1 += P.kout;
        r2 += P.kin;
        if (r2 >= P.rin) { r2 -= P.rin; r1 += 1u; }
    }
    store(i, acc);
}
