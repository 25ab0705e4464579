// torch.optim.Adadelta, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   v = rho * v + (1 - rho) * g * g                               (square_avg)
//   delta = sqrt(u + eps) / sqrt(v + eps) * g                     (u = acc_delta)
//   u = rho * u + (1 - rho) * delta * delta
//   p = p - lr * delta
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: square_avg, acc_delta.
// Params after optim_common's: lr, rho, w (1 - rho), eps, weight_decay.

//!include optim_common.wgsl

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let v = store(square_avg[i] * P.rho + P.w * gw * gw);
    square_avg[i] = v;
    let u = acc_delta[i];
    let delta = store(sqrt(u + P.eps) / sqrt(v + P.eps) * gw);
    acc_delta[i] = store(u * P.rho + P.w * delta * delta);
    return p - P.lr * delta;
}
