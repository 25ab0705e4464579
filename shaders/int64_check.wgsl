// int64_check: flag the first 64-bit integer (split in two int32 words) that does not fit in
// int32 storage. Used by int64 cumsum, which scans the low words and the high words apart.
//
// Bindings: 0 low (i32: the value's low 32 bits), 1 high (i32: its high 32 bits),
//           2 errors (the runtime's error flag, see error_flag.wgsl), 3 P.
// The value fits when high is the sign extension of low.

struct Params { n: u32, site: u32, pad0: u32, pad1: u32 };
@group(0) @binding(0) var<storage, read> low: array<i32>;
@group(0) @binding(1) var<storage, read> high: array<i32>;
@group(0) @binding(3) var<uniform> P: Params;
$INDEX
$ERROR_FLAG

$ENTRY
    if (i >= P.n) { return; }
    let lo = low[i];
    let hi = high[i];
    if (hi != (lo >> 31u)) { flag_error(P.site, bitcast<u32>(lo), bitcast<u32>(hi), 0u); }
}
