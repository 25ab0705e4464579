// im2col (PyTorch's F.unfold): gather the sliding k_h x k_w windows of a batch of images into
// columns, so a convolution becomes one matrix product with the weight.
//   cols[n, (c * KH + kh) * KW + kw, oh * OW + ow] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]
// (zero where the window reaches into the padding).
// ROWS false: one invocation per element of cols, no loops (coalesced writes on GPUs).
// ROWS true:  one invocation per row (n, c, kh, kw, oh) walking its OW outputs, so the index
//             decoding (integer divisions, slow when a CPU adapter scalarises them) is paid
//             once per row.
//
// Bindings (declared in wgtorch/ops/im2col.py): x (read; any strides, element offset
//           P.x_off), cols (read_write; [N, C*KH*KW, OH*OW], rows P.cols_row apart).
// Params: the geometry N, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, DH, DW (sizes, kernel,
//         stride, padding before the data, dilation), total (elements, or rows when ROWS),
//         x_off, st_n, st_c, st_h, st_w (x's strides), cols_row (elements from one row of
//         cols to the next: OH*OW, or more when padded).

fn run(i: u32) {
    if (i >= P.total) { return; }
    var t = i;
    var ow0 = 0u;
    if (!ROWS) { ow0 = t % P.OW; t = t / P.OW; }
    let oh = t % P.OH; t = t / P.OH;
    let out = t * P.cols_row + oh * P.OW;  // t is the row (n, c, kh, kw) of cols here
    let kw = t % P.KW; t = t / P.KW;
    let kh = t % P.KH; t = t / P.KH;
    let c = t % P.C;
    let n = t / P.C;
    let ih = i32(oh * P.SH + kh * P.DH) - i32(P.PH);
    let row_ok = ih >= 0 && ih < i32(P.H);
    let base = P.x_off + n * P.st_n + c * P.st_c + u32(max(ih, 0)) * P.st_h;
    let iw0 = i32(kw * P.DW) - i32(P.PW);
    if (!ROWS) {
        let iw = iw0 + i32(ow0 * P.SW);
        var v = 0.0;
        if (row_ok && iw >= 0 && iw < i32(P.W)) { v = x[base + u32(iw) * P.st_w]; }
        cols[out + ow0] = v;
        return;
    }
    for (var ow = 0u; ow < P.OW; ow++) {
        let iw = iw0 + i32(ow * P.SW);
        let ok = row_ok && iw >= 0 && iw < i32(P.W);
        // NOTE: a predicated load (select), not a branch, keeps the SIMD lanes together
        cols[out + ow] = select(0.0, x[base + u32(select(0, iw, ok)) * P.st_w], ok);
    }
}
