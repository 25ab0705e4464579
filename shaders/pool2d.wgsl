// 2-D pooling forward over planes (N*C of them): one invocation per output element.
//   MODE 0 max:          out = max over the (dilated) window, idx = argmax as h * W + w
//                        (padding never wins; NaN propagates: a later NaN wins, as PyTorch).
//   MODE 1 avg:          out = window sum / divisor (count_include_pad, divisor_override).
//   MODE 2 adaptive avg: window rows [floor(oh*H/OH), ceil((oh+1)*H/OH)), same for columns.
//   MODE 3 adaptive max: that window, max with argmax.
//   MODE 4 gather:       out = x[plane, idx_in[o]] (the adjoint of max pooling's backward,
//                        used for its second derivative).
// ROWS (CPU adapters): one invocation per output row (plane, oh) walks its OW outputs, so the
// index decoding (integer divisions, scalarised there) is paid once per row.
// The launcher keeps OW times the window under the loop limit when ROWS.
//
// Bindings (declared in wgtorch/ops/pooling.py):
//   x (read; [N, C, H, W] with strides P.st, element offset P.x_off),
//   idx_in (read; i32 [N*C, OH, OW], MODE 4 only — else a placeholder),
//   out (read_write; contiguous [N*C, OH, OW]; store_t rounds),
//   idx (read_write; i32 [N*C, OH, OW], modes 0 and 3 only — else a placeholder).
// Params: total (outputs, or output rows when ROWS), C, H, W, OH, OW, KH, KW, SH, SW, PH, PW,
//   DH, DW, flags (bit 0: count_include_pad), divisor (divisor_override or 0), st (x's
//   strides of n, c, h, w), x_off.

fn run(i: u32) {
    if (i >= P.total) { return; }
    var t = i;
    var ow = 0u;
    if (!ROWS) { ow = t % P.OW; t = t / P.OW; }
    let oh = t % P.OH;
    let plane = t / P.OH;
    let base = P.x_off + (plane / P.C) * P.st.x + (plane % P.C) * P.st.y;
    if (!ROWS) {
        pool_one(i, base, oh, ow);
        return;
    }
    for (var w = 0u; w < P.OW; w++) {
        pool_one(i * P.OW + w, base, oh, w);
    }
}

// output element i, at (oh, ow) of the plane whose input starts at element `base`
fn pool_one(i: u32, base: u32, oh: u32, ow: u32) {
    if (MODE == 4u) {
        let j = u32(idx_in[i]);
        out[i] = x[base + (j / P.W) * P.st.z + (j % P.W) * P.st.w];
        return;
    }
    var hs: i32; var he: i32; var ws: i32; var we: i32;
    if (MODE >= 2u) {
        hs = i32((oh * P.H) / P.OH); he = i32(((oh + 1u) * P.H + P.OH - 1u) / P.OH);
        ws = i32((ow * P.W) / P.OW); we = i32(((ow + 1u) * P.W + P.OW - 1u) / P.OW);
    } else {
        hs = i32(oh * P.SH) - i32(P.PH); he = hs + i32((P.KH - 1u) * P.DH + 1u);
        ws = i32(ow * P.SW) - i32(P.PW); we = ws + i32((P.KW - 1u) * P.DW + 1u);
    }
    let dh = select(1, i32(P.DH), MODE == 0u);
    let dw = select(1, i32(P.DW), MODE == 0u);
    if (MODE == 0u || MODE == 3u) {
        var best = bitcast<f32>(0xff800000u);  // -inf
        var best_j = -1;
        // NOTE: predicated updates (select), no `continue`/`break`: the SIMD lanes of a CPU
        // adapter then run the window loops together.
        for (var h = hs; h < he; h += dh) {
            let ok_h = h >= 0 && h < i32(P.H);
            let row = base + u32(clamp(h, 0, i32(P.H) - 1)) * P.st.z;
            for (var w = ws; w < we; w += dw) {
                let ok = ok_h && w >= 0 && w < i32(P.W);
                let v = x[row + u32(clamp(w, 0, i32(P.W) - 1)) * P.st.w];
                // PyTorch's rule: a later NaN or a larger value wins
                let take = ok && (best_j < 0 || v > best || isnan_f(v));
                best = select(best, v, take);
                best_j = select(best_j, h * i32(P.W) + w, take);
            }
        }
        out[i] = best;
        idx[i] = best_j;
        return;
    }
    // average: the divisor counts the window as PyTorch does before clipping to the image
    var count: i32;
    if (MODE == 1u) {
        let ph_end = min(he, i32(P.H + P.PH)); let pw_end = min(we, i32(P.W + P.PW));
        count = (ph_end - hs) * (pw_end - ws);
    }
    let h0 = max(hs, 0); let h1 = min(he, i32(P.H));
    let w0 = max(ws, 0); let w1 = min(we, i32(P.W));
    var acc = 0.0;
    for (var h = h0; h < h1; h++) {
        for (var w = w0; w < w1; w++) {
            acc += x[base + u32(h) * P.st.z + u32(w) * P.st.w];
        }
    }
    if (MODE == 2u || (P.flags & 1u) == 0u) { count = (h1 - h0) * (w1 - w0); }
    if (P.divisor != 0u) { count = i32(P.divisor); }  // i32 bits: the override may be < 0
    out[i] = store_t(acc / f32(count));
}
