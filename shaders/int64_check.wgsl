// int64_check: flag the first 64-bit integer (split in two int32 words) that does not fit in
// int32 storage. Used by int64 cumsum, which scans the low words and the high words apart.
// The value fits when high is the sign extension of low.
//
// Bindings (declared in wgtorch/ops/gpu_errors.py): low (i32: the value's low 32 bits),
// high (i32: its high 32 bits), the error flag. Params: n (values), site (the error's id).

fn run(i: u32) {
    if (i >= P.n) { return; }
    let lo = low[i];
    let hi = high[i];
    if (hi != (lo >> 31u)) { flag_error(P.site, bitcast<u32>(lo), bitcast<u32>(hi), 0u); }
}
