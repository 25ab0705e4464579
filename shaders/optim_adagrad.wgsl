// torch.optim.Adagrad, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize) + weight_decay * p
//   sum = sum + g * g
//   p = p - clr * g / (sqrt(sum) + eps),  clr = lr / (1 + (t - 1) * lr_decay) (from the host)
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: state_sum.
// Params after optim_common's: clr, eps, weight_decay.

//!include optim_common.wgsl

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let s = store(state_sum[i] + gw * gw);
    state_sum[i] = s;
    return p - P.clr * gw / (sqrt(s) + P.eps);
}
