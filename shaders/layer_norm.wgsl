// Layer normalisation forward over rows: one invocation normalises one row of D elements.
//   mean = sum(x) / D,  var = sum((x - mean)^2) / D,  rstd = 1 / sqrt(var + eps)
//   y = (x - mean) * rstd * weight + bias          (weight/bias when P.flags bits 0/1 are set)
// The sums are taken about the row's first element (a shifted one-pass variance), so the
// row is read twice in all: 2*D loop iterations, which the launcher keeps under lavapipe's
// 65,535-per-invocation limit (longer rows take the composite path).
//
// Bindings (declared in wgtorch/ops/normalization.py): x (read; contiguous [R, D] from element
//           P.x_off), weight, bias (read; [D] from P.w_off, P.b_off), y (read_write; [R, D];
//           store_t rounds), mean_out, rstd_out (read_write; [R]).
// Params: R, D, x_off, flags, eps, w_off, b_off.

fn run(r: u32) {
    if (r >= P.R) { return; }
    let base = P.x_off + r * P.D;
    let shift = x[base];
    var s = 0.0;
    var ss = 0.0;
    for (var k = 0u; k < P.D; k++) {
        let v = x[base + k] - shift;
        s += v;
        ss += v * v;
    }
    let n = f32(P.D);
    let m = s / n;
    let var_ = max(ss / n - m * m, 0.0);
    let rstd = inverseSqrt(var_ + P.eps);
    let mean = m + shift;
    mean_out[r] = mean;
    rstd_out[r] = rstd;
    let out_base = r * P.D;
    for (var k = 0u; k < P.D; k++) {
        var v = (x[base + k] - mean) * rstd;
        if ((P.flags & 1u) != 0u) { v = v * weight[P.w_off + k]; }
        if ((P.flags & 2u) != 0u) { v = v + bias[P.b_off + k]; }
        y[out_base + k] = store_t(v);
    }
}
