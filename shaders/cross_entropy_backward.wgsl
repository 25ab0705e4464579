// Cross-entropy backward, fused: one invocation per logit, p = exp(x - lse[r]),
//   MODE 0: dx = g[r] * ((1 - ls) * w[t] * (p - [c == t]) + ls / C * (W * p - w[c]))
//           with W = sum_c w[c] (aux[0] when P.flags bit 1 is set, else C); 0 where t is ignored
//           or out of range (the forward flagged it)
//   MODE 1: dx = g[r] * (p * wrow[r] - w[c] * q[c]),  q[c] = t[c] * (1 - ls) + ls / C
// g[r] is the upstream gradient of row r's loss, read with stride P.g_stride (0 when one
// value is broadcast, as after a 'mean' or 'sum' reduction), times P.g_scale, and divided
// by den[0] when P.flags bit 2 is set (the forward's fused 'mean' by target weights).
//
// Bindings (declared in wgtorch/ops/cross_entropy.py): x (read; as the forward), tgt (read),
//   weight (read; [C]), lse (read; [R]), aux (read; MODE 0: W as 1 element, MODE 1: wrow
//   [R]), g (read; from P.g_off), den (read; 1 element when P.flags bit 2 is set), dx
//   (read_write; contiguous like x; store_t rounds).
// Params: R, C, S, flags, ignore_index, ls, x_off, t_off, w_off, g_off, g_stride, total
//   (logits), g_scale.

fn w_at(c: u32) -> f32 {
    if ((P.flags & 1u) != 0u) { return weight[P.w_off + c]; }
    return 1.0;
}

fn run(i: u32) {
    if (i >= P.total) { return; }
    let s = i % P.S;
    let c = (i / P.S) % P.C;
    let n = i / (P.S * P.C);
    let r = n * P.S + s;
    let p = exp(x[P.x_off + i] - lse[r]);
    var gr = g[P.g_off + r * P.g_stride] * P.g_scale;
    if ((P.flags & 4u) != 0u) { gr = gr / den[0]; }
    let ls_per_class = P.ls / f32(P.C);
    if (MODE == 1u) {
        let q = f32(tgt[P.t_off + i]) * (1.0 - P.ls) + ls_per_class;
        dx[i] = store_t(gr * (p * aux[r] - w_at(c) * q));
        return;
    }
    let t = i32(tgt[P.t_off + r]);
    if (t == P.ignore_index || t < 0 || u32(t) >= P.C) { dx[i] = 0.0; return; }
    var total_w = f32(P.C);
    if ((P.flags & 2u) != 0u) { total_w = aux[0]; }
    let onehot = select(0.0, 1.0, u32(t) == c);
    let d = (1.0 - P.ls) * w_at(u32(t)) * (p - onehot) + ls_per_class * (total_w * p - w_at(c));
    dx[i] = store_t(gr * d);
}
