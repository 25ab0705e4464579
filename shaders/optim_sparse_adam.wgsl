// torch.optim.SparseAdam, one parameter, in place (t = the step number, from 1), for the
// elements whose gradient is not zero (the entries a sparse gradient would hold; see
// wgtorch/optim/sparse_adam.py); the other elements, and their state, are left alone:
//   g = grad (negated if maximize)
//   dm = (g - m) * (1 - beta1);  dv = (g * g - v) * (1 - beta2)
//   m = m + dm;  v = v + dv
//   p = p - step_size * m / (sqrt(v) + eps),  step_size = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: exp_avg, exp_avg_sq.
// Params after optim_common's: w1 (1 - beta1), w2 (1 - beta2), eps, neg_step_size.

//!include optim_common.wgsl

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let stored = g != vec4<f32>(0.0);
    let m_old = exp_avg[i];
    let v_old = exp_avg_sq[i];
    let dm = (g - m_old) * P.w1;
    let dv = (g * g - v_old) * P.w2;
    let m = store(m_old + dm);
    let v = store(v_old + dv);
    exp_avg[i] = select(m_old, m, stored);
    exp_avg_sq[i] = select(v_old, v, stored);
    return select(p, p + P.neg_step_size * (m / (sqrt(v) + P.eps)), stored);
}
