// softmax_backward.wgsl: fused gradient of softmax / log_softmax along one dim, one
// invocation per row (template; wgtorch/ops/softmax.py fills in the placeholders).
//
// g (incoming gradient) and y (the forward output) are contiguous with the same shape,
// read as (outer, L, inner) with the dim as L: row (o, i) holds element r at
// (o*L + r)*inner + i. Pass 1 sums $TERM over the row (g*y for softmax, g for log_softmax),
// pass 2 writes dx = $RESULT (y*(g - s), or g - exp(y)*s). In the vec4 variant (inner == 1,
// aligned rows) L and the offsets count vec4s.
//
// Bindings: 0 g (read), 1 y (read), 2 dx (read_write), 3 P.
// NOTE: the host keeps 2 * L below lavapipe's 65,535-iteration loop limit.

struct Params { rows: u32, L: u32, inner: u32, gbase: u32, ybase: u32, pad0: u32, pad1: u32, pad2: u32 };
@group(0) @binding(0) var<storage, read> g: array<$ELEM>;
@group(0) @binding(1) var<storage, read> y: array<$ELEM>;
@group(0) @binding(2) var<storage, read_write> dx: array<$ELEM>;
@group(0) @binding(3) var<uniform> P: Params;
$INDEX
$HELPERS

$ENTRY
    if (i >= P.rows) { return; }
    let ii = i % P.inner;
    let start = (i / P.inner) * P.L * P.inner + ii;
    var s = $ELEM(0.0);
    for (var r = 0u; r < P.L; r++) {
        let e = start + r * P.inner;
        let gv = g[P.gbase + e];
        let yv = y[P.ybase + e];
        s += $TERM;
    }
    let total = $TOTAL;
    for (var r = 0u; r < P.L; r++) {
        let e = start + r * P.inner;
        let gv = g[P.gbase + e];
        let yv = y[P.ybase + e];
        dx[e] = $RESULT;
    }
}
