// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11).
// Invocation i turns counter (i, P.stream_lo, P.stream_hi, 0) and key (P.seed_lo, P.seed_hi)
// into 4 u32, so a seed gives the same numbers on every adapter.
// Binding (declared in wgtorch/ops/random.py): out (read_write, OUT) of P.numel values.
// The distribution's transform of the bits is generated at //@VALUE: uniform [P.lo, P.hi),
// normal(mean=P.lo, std=P.hi), integers in [P.ilo, P.ilo + P.range), or raw u32 bits.
// Params: numel, seed_lo, seed_hi, stream_lo, stream_hi, range, ilo, lo, hi.

fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    // 32x32 -> 64-bit product as (hi, lo) with 16-bit halves (WGSL has no u64)
    let a_lo = a & 0xffffu; let a_hi = a >> 16u;
    let b_lo = b & 0xffffu; let b_hi = b >> 16u;
    let ll = a_lo * b_lo; let lh = a_lo * b_hi; let hl = a_hi * b_lo; let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(ctr_in: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
    var c = ctr_in;
    var k = key_in;
    for (var r = 0u; r < 10u; r++) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

fn unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);  // [0, 1) with 24 random bits
}

fn value(bits: vec4<u32>, k: u32) -> OUT {
    //@VALUE
}

fn run(i: u32) {
    if (i * 4u >= P.numel) { return; }
    let bits = philox(vec4<u32>(i, P.stream_lo, P.stream_hi, 0u), vec2<u32>(P.seed_lo, P.seed_hi));
    for (var k = 0u; k < 4u; k++) {
        let j = i * 4u + k;
        if (j < P.numel) { out[j] = value(bits, k); }
    }
}
