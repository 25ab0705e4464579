// torch.optim.NAdam, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize)
//   decoupled_weight_decay: p = p * (1 - lr * weight_decay)    else: g = g + weight_decay * p
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   p = p + grad_coef * g / denom + avg_coef * m / denom
// with grad_coef = -lr * (1 - mu_t) / (1 - mu_1...mu_t) and avg_coef = -lr * mu_{t+1} /
// (1 - mu_1...mu_{t+1}), mu_t = beta1 * (1 - 0.96^(t * momentum_decay) / 2), computed on the
// host (wgtorch/optim/nadam.py) as PyTorch does.
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: exp_avg, exp_avg_sq.
// Params after optim_common's: weight_decay, decay (1 - lr * weight_decay), w1 (1 - beta1),
//   beta2, w2 (1 - beta2), eps, bias_correction2, grad_coef, avg_coef.

//!include optim_common.wgsl

const DECOUPLED: u32 = 4u;

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
    let denom = sqrt(v / P.bias_correction2) + P.eps;
    let p2 = store(p1 + P.grad_coef * g1 / denom);
    return p2 + P.avg_coef * m / denom;
}
