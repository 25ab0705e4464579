// lstm_cell_backward.wgsl: the gradient of one LSTM time step (lstm_cell.wgsl) for every
// active batch row, walking backward through time. One invocation per (row b, unit j):
//   dm = grad of m + (b < n_rec ? dh_rec : grad of m_n),  dc = (b < n_rec ? dc carried : grad
//   of c_n);  dc += dm * o * (1 - tanh(c)^2);  gate gradients da_i = dc g i (1 - i),
//   da_f = dc c_prev f (1 - f), da_g = dc i (1 - g^2), da_o = dm tanh(c) o (1 - o);
//   dc_prev = dc * f goes to the previous step's row (or to dc0).
//
// Bindings (read): gm the gradient of m_all, rows at g_off + r * g_rs (has_grad); dh_rec
// (n_rec, H) the next step's gate gradients @ W; gm_n, gc_n the gradients of the final
// state, rows at gn_off + b * gn_rs and gc_off + b * gc_rs (has_grad_n, has_grad_c); saved
// (R, 7H) from the forward kernel. (read_write): dbuf (R, 5H): the 4 gate gradients of each
// row, and in slot 4 the dc that the next step processed carries into the row; d0 (B, 5H): the
// gate gradients of the rows that started from the initial state (the gradient of h0proj),
// and dc0 in slot 4.
// Params: rows, hidden (H), n_carry, n_rec, row_base, row_stride, prev_base (the step's rows,
// see wgtorch/ops/rnn_cells.py), g_off, g_rs, gn_off, gn_rs, gc_off, gc_rs, has_grad,
// has_grad_n, has_grad_c.

fn run(i: u32) {
    let H = P.hidden;
    if (i >= P.rows * H) { return; }
    let b = i / H;
    let j = i % H;
    let r = P.row_base + b * P.row_stride;
    var dm = 0.0;
    if (P.has_grad != 0u) { dm = gm[P.g_off + r * P.g_rs + j]; }
    var dc = 0.0;
    if (b < P.n_rec) {
        dm += dh_rec[b * H + j];
        dc = dbuf[r * 5u * H + 4u * H + j];
    } else {
        if (P.has_grad_n != 0u) { dm += gm_n[P.gn_off + b * P.gn_rs + j]; }
        if (P.has_grad_c != 0u) { dc = gc_n[P.gc_off + b * P.gc_rs + j]; }
    }
    let s = r * 7u * H + j;
    let ig = saved[s];
    let fg = saved[s + H];
    let gg = saved[s + 2u * H];
    let og = saved[s + 3u * H];
    let tc = tanh_f(saved[s + 4u * H]);
    let c_prev = saved[s + 5u * H];
    dc += dm * og * (1.0 - tc * tc);
    let da_i = dc * gg * ig * (1.0 - ig);
    let da_f = dc * c_prev * fg * (1.0 - fg);
    let da_g = dc * ig * (1.0 - gg * gg);
    let da_o = dm * tc * og * (1.0 - og);
    let dc_prev = dc * fg;
    let d = r * 5u * H + j;
    dbuf[d] = da_i;
    dbuf[d + H] = da_f;
    dbuf[d + 2u * H] = da_g;
    dbuf[d + 3u * H] = da_o;
    if (b < P.n_carry) {
        let p = P.prev_base + b * P.row_stride;
        dbuf[p * 5u * H + 4u * H + j] = dc_prev;
    } else {
        let z = b * 5u * H + j;
        d0[z] = da_i;
        d0[z + H] = da_f;
        d0[z + 2u * H] = da_g;
        d0[z + 3u * H] = da_o;
        d0[z + 4u * H] = dc_prev;
    }
}
