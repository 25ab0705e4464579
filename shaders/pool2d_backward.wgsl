// 2-D pooling backward: one invocation per input element gathers the gradient of every
// output window that contains it (no atomics, no races). Modes as in pool2d.wgsl:
//   MODE 0 max / 3 adaptive max: sum g[o] over windows o whose argmax idx[o] is this element.
//   MODE 1 avg / 2 adaptive avg: sum g[o] / divisor(o) over windows o containing it.
// NONOVERLAP (modes 0 and 1 with kernel <= stride and no dilation: MaxPool2d(2) and the like)
// has at most one candidate window per input element: found with one division per dim, and
// read without loops.
// PARTITION (kernel == stride, no padding or dilation, sizes divisible: MaxPool2d(2) on even
// sizes) inverts the loop: one invocation per OUTPUT writes its whole window, since the
// windows tile the input exactly; P.total then counts outputs.
// ROWS (CPU adapters, with NONOVERLAP or PARTITION): one invocation per row (plane, h), or
// per output row with PARTITION, walks it, so the index decoding (integer divisions,
// scalarised there) is paid once per row; P.total then counts rows.
// The launcher keeps each row's loop under the loop limit.
//
// Bindings (declared in wgtorch/ops/pooling.py):
//   g (read; contiguous [N*C, OH, OW] from element P.x_off),
//   idx (read; i32 [N*C, OH, OW], max modes only — else a placeholder),
//   dx (read_write; contiguous [N*C, H, W]; store_t rounds).
// Params: the forward's (st unused).

// The window of output o along one dim: [start, end) and step, for the forward's geometry.
fn window(o: u32, size: u32, osize: u32, k: u32, s: u32, p: u32, d: u32) -> vec3<i32> {
    if (MODE >= 2u) {
        return vec3<i32>(i32((o * size) / osize), i32(((o + 1u) * size + osize - 1u) / osize), 1);
    }
    let dd = select(1u, d, MODE == 0u);
    let start = i32(o * s) - i32(p);
    return vec3<i32>(start, start + i32((k - 1u) * dd + 1u), i32(dd));
}

// The outputs whose window can contain input position v along one dim: [first, last].
fn candidates(v: u32, size: u32, osize: u32, k: u32, s: u32, p: u32, d: u32) -> vec2<i32> {
    if (MODE >= 2u) {
        let first = (v * osize) / size;
        let last = ((v + 1u) * osize + size - 1u) / size;
        return vec2<i32>(i32(first), min(i32(last), i32(osize) - 1));
    }
    let dd = select(1u, d, MODE == 0u);
    let span = i32((k - 1u) * dd);
    // start(o) = o*s - p must satisfy start <= v <= start + span
    let hi = i32(v + p);
    let lo = hi - span;
    let first = select((lo + i32(s) - 1) / i32(s), 0, lo <= 0);
    return vec2<i32>(first, min(hi / i32(s), i32(osize) - 1));
}

fn avg_divisor(oh: u32, ow: u32) -> f32 {
    if (P.divisor != 0u) { return f32(i32(P.divisor)); }
    let wh = window(oh, P.H, P.OH, P.KH, P.SH, P.PH, P.DH);
    let ww = window(ow, P.W, P.OW, P.KW, P.SW, P.PW, P.DW);
    if (MODE == 1u && (P.flags & 1u) != 0u) {
        let he = min(wh.y, i32(P.H + P.PH)); let we = min(ww.y, i32(P.W + P.PW));
        return f32((he - wh.x) * (we - ww.x));
    }
    return f32((min(wh.y, i32(P.H)) - max(wh.x, 0)) * (min(ww.y, i32(P.W)) - max(ww.x, 0)));
}

// PARTITION: output i, at (oh, ow) of `plane`, writes its whole window
fn partition_one(i: u32, plane: u32, oh: u32, ow: u32) {
    let gv = g[P.x_off + i];
    let j = idx[i];
    var share = gv / f32(P.KH * P.KW);
    if (P.divisor != 0u) { share = gv / f32(i32(P.divisor)); }
    let base = plane * P.H * P.W;
    for (var a = 0u; a < P.KH; a++) {
        for (var b = 0u; b < P.KW; b++) {
            let me = (oh * P.KH + a) * P.W + ow * P.KW + b;
            var v = share;
            if (MODE == 0u) { v = select(0.0, gv, j == i32(me)); }
            dx[base + me] = store_t(v);
        }
    }
}

// NONOVERLAP: the gradient of input (h, w) of `plane`; at most one window holds it, so
// straight-line code, no loops
fn nonoverlap_one(plane: u32, h: u32, w: u32) -> f32 {
    let oh = (h + P.PH) / P.SH;
    let ow = (w + P.PW) / P.SW;
    var v = 0.0;
    if (oh < P.OH && ow < P.OW && h + P.PH < oh * P.SH + P.KH && w + P.PW < ow * P.SW + P.KW) {
        let o = P.x_off + (plane * P.OH + oh) * P.OW + ow;
        if (MODE == 0u) {
            if (idx[o - P.x_off] == i32(h * P.W + w)) { v = g[o]; }
        } else {
            v = g[o] / avg_divisor(oh, ow);
        }
    }
    return v;
}

fn run(i: u32) {
    if (i >= P.total) { return; }
    if (PARTITION) {
        if (ROWS) {
            for (var ow = 0u; ow < P.OW; ow++) {
                partition_one(i * P.OW + ow, i / P.OH, i % P.OH, ow);
            }
            return;
        }
        partition_one(i, i / (P.OW * P.OH), (i / P.OW) % P.OH, i % P.OW);
        return;
    }
    if (NONOVERLAP && ROWS) {
        let plane = i / P.H;
        let h = i % P.H;
        for (var w = 0u; w < P.W; w++) {
            dx[i * P.W + w] = store_t(nonoverlap_one(plane, h, w));
        }
        return;
    }
    let w = i % P.W;
    let h = (i / P.W) % P.H;
    let plane = i / (P.W * P.H);
    if (NONOVERLAP) {
        dx[i] = store_t(nonoverlap_one(plane, h, w));
        return;
    }
    let obase = P.x_off + plane * P.OH * P.OW;
    let ch = candidates(h, P.H, P.OH, P.KH, P.SH, P.PH, P.DH);
    let cw = candidates(w, P.W, P.OW, P.KW, P.SW, P.PW, P.DW);
    let me = i32(h * P.W + w);
    var acc = 0.0;
    for (var oh = ch.x; oh <= ch.y; oh++) {
        let wh = window(u32(oh), P.H, P.OH, P.KH, P.SH, P.PH, P.DH);
        if (i32(h) < wh.x || i32(h) >= wh.y) { continue; }
        if (wh.z != 1 && (i32(h) - wh.x) % wh.z != 0) { continue; }
        for (var ow = cw.x; ow <= cw.y; ow++) {
            let ww = window(u32(ow), P.W, P.OW, P.KW, P.SW, P.PW, P.DW);
            if (i32(w) < ww.x || i32(w) >= ww.y) { continue; }
            if (ww.z != 1 && (i32(w) - ww.x) % ww.z != 0) { continue; }
            let o = obase + u32(oh) * P.OW + u32(ow);
            if (MODE == 0u || MODE == 3u) {
                if (idx[o - P.x_off] == me) { acc += g[o]; }
            } else {
                acc += g[o] / avg_divisor(u32(oh), u32(ow));
            }
        }
    }
    dx[i] = store_t(acc);
}
