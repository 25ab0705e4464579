// block_copy: copy a [rows, cols] block between two row-major layouts, the kernel behind cat
// (each contiguous input is one block: rows = the dims before the cat dim, cols = the rest,
// written at its column offset in the output's rows).
//     dst[P.dst_off + r * P.dst_row + c] = src[P.src_off + r * P.src_row + c]
// in units of ELEM (vec4<u32> when every offset, row length and width is a multiple of 4,
// else u32): raw bits, so any dtype.
//
// Bindings (declared in wgtorch/ops/index_kernels.py): src (read), dst (read_write).
// Params: count (elements of the block), cols, src_off, src_row, dst_off, dst_row.

fn run(i: u32) {
    if (i >= P.count) { return; }
    let r = i / P.cols;
    let c = i % P.cols;
    dst[P.dst_off + r * P.dst_row + c] = src[P.src_off + r * P.src_row + c];
}
