// unit_interval_check: binary_cross_entropy's argument check on the GPU. An element of x (of
// t) outside [0, 1], NaN included (PyTorch tests `v >= 0 && v <= 1`), flags error P.site_x
// (P.site_t) through the runtime's error flag; it is raised at the next host readback.
// The launcher prepends `alias TX` and `alias TT` (the storage types of x and t).
//
// Bindings: 0 x (read; [n] from P.x_off), 1 t (read; [n] from P.t_off),
//           2 errors (the runtime's error flag, see error_flag.wgsl), 3 P.

struct Params { n: u32, x_off: u32, t_off: u32, site_x: u32, site_t: u32, pad0: u32,
                pad1: u32, pad2: u32 };
@group(0) @binding(0) var<storage, read> x: array<TX>;
@group(0) @binding(1) var<storage, read> t: array<TT>;
@group(0) @binding(3) var<uniform> P: Params;
$INDEX
$ERROR_FLAG

// NOTE: compilers may assume no NaN in float compares: test the bits. The floats in [0, 1]
// are -0.0 and the non-negative ones up to 1.0's bits (0x3f800000); NaN bits lie above.
fn in_unit(v: f32) -> bool {
    let b = bitcast<u32>(v);
    return b <= 0x3f800000u || b == 0x80000000u;
}

$ENTRY
    if (i >= P.n) { return; }
    if (!in_unit(f32(x[P.x_off + i]))) {
        flag_error(P.site_x, 0u, 0u, 0u);
    } else if (!in_unit(f32(t[P.t_off + i]))) {
        flag_error(P.site_t, 0u, 0u, 0u);
    }
}
