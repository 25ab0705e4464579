// torch.optim.RAdam, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize)
//   decoupled_weight_decay: p = p * (1 - lr * weight_decay)    else: g = g + weight_decay * p
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
//   RECTIFY (rho_t > 5): p = p - m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * rect
//   else:                p = p - m / (1 - beta1^t) * lr
// with rho_t and the rectification term rect computed on the host (wgtorch/optim/radam.py).
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: exp_avg, exp_avg_sq.
// Params after optim_common's: lr, weight_decay, decay (1 - lr * weight_decay), w1 (1 - beta1),
//   beta2, w2 (1 - beta2), eps, bias_correction1, bias_correction2_sqrt, rect.

//!include optim_common.wgsl

const DECOUPLED: u32 = 4u;
const RECTIFY: u32 = 8u;

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    var p1 = p;
    var g1 = g;
    if (has(DECOUPLED)) {
        p1 = store(p * P.decay);
    } else {
        g1 = with_weight_decay(g, p);
    }
    let m = store(lerp(exp_avg[i], g1, P.w1));
    let v = store(exp_avg_sq[i] * P.beta2 + P.w2 * g1 * g1);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let corrected = m / P.bias_correction1 * P.lr;
    if (has(RECTIFY)) {
        return p1 - corrected * (P.bias_correction2_sqrt / (sqrt(v) + P.eps)) * P.rect;
    }
    return p1 - corrected;
}
