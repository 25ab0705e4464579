// lstm_cell.wgsl: one LSTM time step for every active batch row, gates and state update
// fused (PyTorch's gate order i, f, g, o):
//   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//   c = f * c_prev + i * g,  m = o * tanh(c)
// where a = xproj[row] + (the hidden projection of the previous state). One invocation per
// (batch row b, hidden unit j). Declared in wgtorch/ops/rnn_cells.py.
//
// Bindings (read): xproj (R, 4H) input projection of every row, biases included; hproj
// (n_carry, 4H) this step's m_prev @ W^T; h0proj the initial state's projection, rows at
// h0_off + b * h0_rs (has_h0proj, else 0); c0 (B, H) initial cell state (has_state0,
// else 0). (read_write): m_all (R, H) the cell outputs (the previous step's rows are read
// back); saved (R, 7H): i, f, g, o, c, c_prev, m_prev (0 where the state starts from h0, so
// the weight gradient of W over all rows leaves them out); m_n, c_n (B, H): the final state of
// the rows that end at this step (b >= n_rec).
// Params: rows, hidden (H), n_carry, n_rec, row_base, row_stride, prev_base (the step's rows,
// see wgtorch/ops/rnn_cells.py), h0_off, h0_rs, has_h0proj, has_state0.

fn preact(k: u32, b: u32, j: u32, r: u32) -> f32 {
    let H = P.hidden;
    var h = 0.0;
    if (b < P.n_carry) {
        h = hproj[b * 4u * H + k * H + j];
    } else if (P.has_h0proj != 0u) {
        h = h0proj[P.h0_off + b * P.h0_rs + k * H + j];
    }
    return xproj[r * 4u * H + k * H + j] + h;
}

fn run(i: u32) {
    let H = P.hidden;
    if (i >= P.rows * H) { return; }
    let b = i / H;
    let j = i % H;
    let r = P.row_base + b * P.row_stride;
    let ig = sigmoid_f(preact(0u, b, j, r));
    let fg = sigmoid_f(preact(1u, b, j, r));
    let gg = tanh_f(preact(2u, b, j, r));
    let og = sigmoid_f(preact(3u, b, j, r));
    var c_prev = 0.0;
    var m_prev = 0.0;
    if (b < P.n_carry) {
        let p = P.prev_base + b * P.row_stride;
        c_prev = saved[p * 7u * H + 4u * H + j];
        m_prev = m_all[p * H + j];
    } else if (P.has_state0 != 0u) {
        c_prev = c0[b * H + j];
    }
    let c = fg * c_prev + ig * gg;
    let m = og * tanh_f(c);
    let s = r * 7u * H + j;
    saved[s] = ig;
    saved[s + H] = fg;
    saved[s + 2u * H] = gg;
    saved[s + 3u * H] = og;
    saved[s + 4u * H] = c;
    saved[s + 5u * H] = c_prev;
    saved[s + 6u * H] = m_prev;
    m_all[r * H + j] = m;
    if (b >= P.n_rec) {
        m_n[b * H + j] = m;
        c_n[b * H + j] = c;
    }
}
