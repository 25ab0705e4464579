// col2im (PyTorch's F.fold): the adjoint of im2col. Each image element sums every column
// entry that im2col would have copied from it:
//   x[n, c, h, w] = sum over (kh, kw) with h = oh*SH - PH + kh*DH, w = ow*SW - PW + kw*DW
//                   of cols[n, (c * KH + kh) * KW + kw, oh * OW + ow].
// One invocation per image element gathers its KH*KW candidates (no atomics, no races).
// This is the input gradient of a convolution and the forward of a transposed convolution.
// UNIT_STRIDE (stride 1, the common case) skips the divisibility tests and divisions, which
// a CPU adapter scalarises. ROWS (CPU adapters): one invocation per image row (n, c, h)
// walks its W elements, so the index decoding (divisions again) is paid once per row.
// The launcher keeps W * KH * KW under the loop limit when ROWS.
//
// Bindings (declared in wgtorch/ops/im2col.py): cols (read; contiguous [N, C*KH*KW, OH*OW]
//           from element P.x_off), x (read_write; contiguous [N, C, H, W]; store_t rounds).
// Params: the geometry as im2col's (N, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW),
//         total (elements, or rows when ROWS), x_off.

// x[n, c, h, w] from the columns of plane (n, c), which start at element `base`
fn pixel(base: u32, h: u32, w: u32) -> f32 {
    let L = P.OH * P.OW;
    var acc = 0.0;
    // NOTE: predicated (select) rather than `continue`: lanes then share one control flow,
    // which a CPU adapter's SIMD lanes need to run the loop at full width.
    for (var kh = 0u; kh < P.KH; kh++) {
        let yy = i32(h + P.PH) - i32(kh * P.DH);
        var oh = u32(max(yy, 0));
        var ok_h = yy >= 0;
        if (!UNIT_STRIDE) {
            ok_h = ok_h && oh % P.SH == 0u;
            oh = oh / P.SH;
        }
        ok_h = ok_h && oh < P.OH;
        for (var kw = 0u; kw < P.KW; kw++) {
            let xx = i32(w + P.PW) - i32(kw * P.DW);
            var ow = u32(max(xx, 0));
            var ok = ok_h && xx >= 0;
            if (!UNIT_STRIDE) {
                ok = ok && ow % P.SW == 0u;
                ow = ow / P.SW;
            }
            ok = ok && ow < P.OW;
            let j = select(0u, (kh * P.KW + kw) * L + oh * P.OW + ow, ok);
            acc += select(0.0, cols[base + j], ok);
        }
    }
    return acc;
}

fn run(i: u32) {
    if (i >= P.total) { return; }
    var t = i;
    var w0 = 0u;
    if (!ROWS) { w0 = t % P.W; t = t / P.W; }
    let h = t % P.H; t = t / P.H;  // t is the plane n * C + c here
    let base = P.x_off + t * P.KH * P.KW * P.OH * P.OW;
    if (!ROWS) {
        x[i] = store_t(pixel(base, h, w0));
        return;
    }
    let row = i * P.W;
    for (var w = 0u; w < P.W; w++) {
        x[row + w] = store_t(pixel(base, h, w));
    }
}
