// rnn_cell_backward.wgsl: the gradient of one Elman RNN time step (rnn_cell.wgsl) for every
// active batch row, walking backward through time. One invocation per (row b, unit j):
//   dh = grad of h + (b < n_rec ? dh_rec : grad of h_n),  da = dh * act'(h)
// with tanh' = 1 - h^2 and relu' = (h > 0).
//
// Bindings (read): gh the gradient of h_all, rows at g_off + r * g_rs (has_grad); dh_rec
// (n_rec, H) the next step's da @ W_hh; gh_n the gradient of the final state, rows at
// gn_off + b * gn_rs (has_grad_n); h_all (R, H) the forward outputs. (read_write): dbuf (R, H)
// the pre-activation gradient of every row; d0 (B, H) that of the rows that started from the
// initial state (the gradient of h0proj).
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
        dh += dh_rec[b * H + j];
    } else if (P.has_grad_n != 0u) {
        dh += gh_n[P.gn_off + b * P.gn_rs + j];
    }
    let h = h_all[r * H + j];
    var da = dh * (1.0 - h * h);
    if (RELU) { da = select(0.0, dh, h > 0.0); }
    dbuf[r * H + j] = da;
    if (b >= P.n_carry) { d0[b * H + j] = da; }
}
