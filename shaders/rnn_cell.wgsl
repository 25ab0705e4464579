// rnn_cell.wgsl: one Elman RNN time step for every active batch row:
//   h = act(xproj[row] + h_prev @ W_hh^T), act = tanh, or relu with the RELU variant
// (both biases are in xproj). One invocation per (batch row b, hidden unit j).
// Declared in wgtorch/ops/rnn_cells.py.
//
// Bindings (read): xproj (R, H); hproj (n_carry, H) this step's h_prev @ W_hh^T; h0proj the
// initial state's projection, rows at h0_off + b * h0_rs (has_h0proj, else 0).
// (read_write): h_all (R, H) the outputs (the previous step's rows are read back); saved
// (R, H): h_prev (0 where the state starts from h0); h_n (B, H) the final state of the rows
// that end at this step (b >= n_rec).
// Params: rows, hidden (H), n_carry, n_rec, row_base, row_stride, prev_base (the step's rows,
// see wgtorch/ops/rnn_cells.py), h0_off, h0_rs, has_h0proj, has_state0.

fn run(i: u32) {
    let H = P.hidden;
    if (i >= P.rows * H) { return; }
    let b = i / H;
    let j = i % H;
    let r = P.row_base + b * P.row_stride;
    var a = xproj[r * H + j];
    var h_prev = 0.0;
    if (b < P.n_carry) {
        a += hproj[b * H + j];
        h_prev = h_all[(P.prev_base + b * P.row_stride) * H + j];
    } else if (P.has_h0proj != 0u) {
        a += h0proj[P.h0_off + b * P.h0_rs + j];
    }
    var h = tanh_f(a);
    if (RELU) { h = max(a, 0.0); }
    saved[r * H + j] = h_prev;
    h_all[r * H + j] = h;
    if (b >= P.n_rec) { h_n[b * H + j] = h; }
}
