// gru_cell_backward.wgsl: the gradient of one GRU time step (gru_cell.wgsl) for every active
// batch row, walking backward through time. One invocation per (row b, unit j):
//   dh = grad of h + (b < n_rec ? dh_rec + the direct term carried : grad of h_n)
//   dn = dh (1 - z), dz = dh (h_prev - n), da_n = dn (1 - n^2), da_r = da_n hh_n r (1 - r),
//   da_z = dz z (1 - z); the input side gets (da_r, da_z, da_n), the hidden side
//   (da_r, da_z, da_n * r); dh * z reaches h_prev directly.
//
// Bindings (read): gh the gradient of h_all, rows at g_off + r * g_rs (has_grad); dh_rec
// (n_rec, H) the next step's hidden-side gradients @ W_hh; gh_n the gradient of the final
// state, rows at gn_off + b * gn_rs (has_grad_n); saved (R, 5H). (read_write): dbuf (R, 7H):
// input-side gradients (3H), hidden-side ones (3H; 0 for rows that started from h0, whose
// hidden side is h0proj's), and in slot 6 the direct term the next step processed carries
// into the row; d0 (B, 4H): h0proj's gradient (3H) and the direct term into h0.
// Params: rows, hidden (H), n_carry, n_rec, row_base, row_stride, prev_base (the step's rows,
// see wgtorch/ops/rnn_cells.py), g_off, g_rs, gn_off, gn_rs, gc_off, gc_rs, has_grad,
// has_grad_n, has_grad_c.

fn run(i: u32) {
    let H = P.hidden;
    if (i >= P.rows * H) { return; }
    let b = i / H;
    let j = i % H;
    let r = P.row_base + b * P.row_stride;
    var dh = 0.0;
    if (P.has_grad != 0u) { dh = gh[P.g_off + r * P.g_rs + j]; }
    if (b < P.n_rec) {
        dh += dh_rec[b * H + j] + dbuf[r * 7u * H + 6u * H + j];
    } else if (P.has_grad_n != 0u) {
        dh += gh_n[P.gn_off + b * P.gn_rs + j];
    }
    let s = r * 5u * H + j;
    let rg = saved[s];
    let zg = saved[s + H];
    let ng = saved[s + 2u * H];
    let hn = saved[s + 3u * H];
    let h_prev = saved[s + 4u * H];
    let da_n = dh * (1.0 - zg) * (1.0 - ng * ng);
    let da_z = dh * (h_prev - ng) * zg * (1.0 - zg);
    let da_r = da_n * hn * rg * (1.0 - rg);
    let dhn = da_n * rg;
    let direct = dh * zg;
    let d = r * 7u * H + j;
    dbuf[d] = da_r;
    dbuf[d + H] = da_z;
    dbuf[d + 2u * H] = da_n;
    if (b < P.n_carry) {
        dbuf[d + 3u * H] = da_r;
        dbuf[d + 4u * H] = da_z;
        dbuf[d + 5u * H] = dhn;
        dbuf[(P.prev_base + b * P.row_stride) * 7u * H + 6u * H + j] = direct;
    } else {
        dbuf[d + 3u * H] = 0.0;
        dbuf[d + 4u * H] = 0.0;
        dbuf[d + 5u * H] = 0.0;
        let z = b * 4u * H + j;
        d0[z] = da_r;
        d0[z + H] = da_z;
        d0[z + 2u * H] = dhn;
        d0[z + 3u * H] = direct;
    }
}
