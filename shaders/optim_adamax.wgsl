// torch.optim.Adamax, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize) + weight_decay * p
//   m = lerp(m, g, 1 - beta1)
//   u = max(beta2 * u, |g| + eps)                              (exp_inf)
//   p = p - lr / (1 - beta1^t) * m / u                         (neg_clr = -lr / (1 - beta1^t))
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: exp_avg, exp_inf.
// Params after optim_common's: weight_decay, w1 (1 - beta1), beta2, eps, neg_clr.

//!include optim_common.wgsl

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let m = store(lerp(exp_avg[i], gw, P.w1));
    let u = store(max(exp_inf[i] * P.beta2, abs(gw) + P.eps));
    exp_avg[i] = m;
    exp_inf[i] = u;
    return p + P.neg_clr * m / u;
}
