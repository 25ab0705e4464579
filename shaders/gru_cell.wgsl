// gru_cell.wgsl: one GRU time step for every active batch row, PyTorch's equations (gate
// order r, z, n; the reset gate multiplies the hidden projection, bias included):
//   r = sigmoid(x_r + hh_r), z = sigmoid(x_z + hh_z), n = tanh(x_n + r * hh_n)
//   h = (1 - z) * n + z * h_prev
// with x = xproj[row] (b_ih included) and hh = h_prev @ W_hh^T + b_hh. One invocation per
// (batch row b, hidden unit j). Declared in wgtorch/ops/rnn_cells.py.
//
// Bindings (read): xproj (R, 3H); hproj (n_carry, 3H) this step's hh; h0proj the initial
// state's hh, rows at h0_off + b * h0_rs (has_h0proj, else 0); h0 (B, H) the initial state
// (has_state0, else 0). (read_write): h_all (R, H) the outputs (the previous step's rows are
// read back); saved (R, 5H): r, z, n, hh_n, h_prev; h_n (B, H) the final state of the rows
// that end at this step (b >= n_rec).
// Params: rows, hidden (H), n_carry, n_rec, row_base, row_stride, prev_base (the step's rows,
// see wgtorch/ops/rnn_cells.py), h0_off, h0_rs, has_h0proj, has_state0.

fn hidden_part(k: u32, b: u32, j: u32) -> f32 {
    let H = P.hidden;
    if (b < P.n_carry) { return hproj[b * 3u * H + k * H + j]; }
    if (P.has_h0proj != 0u) { return h0proj[P.h0_off + b * P.h0_rs + k * H + j]; }
    return 0.0;
}

fn run(i: u32) {
    let H = P.hidden;
    if (i >= P.rows * H) { return; }
    let b = i / H;
    let j = i % H;
    let r = P.row_base + b * P.row_stride;
    let x = r * 3u * H + j;
    let rg = sigmoid_f(xproj[x] + hidden_part(0u, b, j));
    let zg = sigmoid_f(xproj[x + H] + hidden_part(1u, b, j));
    let hn = hidden_part(2u, b, j);
    let ng = tanh_f(xproj[x + 2u * H] + rg * hn);
    var h_prev = 0.0;
    if (b < P.n_carry) {
        h_prev = h_all[(P.prev_base + b * P.row_stride) * H + j];
    } else if (P.has_state0 != 0u) {
        h_prev = h0[b * H + j];
    }
    let h = (1.0 - zg) * ng + zg * h_prev;
    let s = r * 5u * H + j;
    saved[s] = rg;
    saved[s + H] = zg;
    saved[s + 2u * H] = ng;
    saved[s + 3u * H] = hn;
    saved[s + 4u * H] = h_prev;
    h_all[r * H + j] = h;
    if (b >= P.n_rec) { h_n[b * H + j] = h; }
}
