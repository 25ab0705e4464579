// unit_interval_check: binary_cross_entropy's argument check on the GPU. An element of x (of
// t) outside [0, 1], NaN included (PyTorch tests `v >= 0 && v <= 1`), flags error P.site_x
// (P.site_t) through the runtime's error flag; it is raised at the next host readback.
//
// Bindings (declared in wgtorch/ops/loss_kernels.py): x (read; TX, [n] from P.x_off),
// t (read; TT, [n] from P.t_off), the error flag. Params: n, x_off, t_off, site_x, site_t.

// NOTE: compilers may assume no NaN in float compares: test the bits. The floats in [0, 1]
// are -0.0 and the non-negative ones up to 1.0's bits (0x3f800000); NaN bits lie above.
fn in_unit(v: f32) -> bool {
    let b = bitcast<u32>(v);
    return b <= 0x3f800000u || b == 0x80000000u;
}

fn run(i: u32) {
    if (i >= P.n) { return; }
    if (!in_unit(f32(x[P.x_off + i]))) {
        flag_error(P.site_x, 0u, 0u, 0u);
    } else if (!in_unit(f32(t[P.t_off + i]))) {
        flag_error(P.site_t, 0u, 0u, 0u);
    }
}
