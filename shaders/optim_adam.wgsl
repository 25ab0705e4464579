// torch.optim.Adam and AdamW, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize)
//   AdamW (DECOUPLED): p = p * (1 - lr * weight_decay)    Adam: g = g + weight_decay * p
//   m = lerp(m, g, 1 - beta1)
//   v = beta2 * v + (1 - beta2) * g * g
//   amsgrad: vmax = max(vmax, v), and vmax replaces v below
//   p = p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bias_correction2_sqrt = sqrt(1 - beta2^t), both
// computed on the host in float64 as PyTorch does.
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: exp_avg, exp_avg_sq, max_exp_avg_sq (a
//   placeholder without amsgrad).
// Params after optim_common's: beta2, w1 (1 - beta1), w2 (1 - beta2), eps, weight_decay,
//   decay (1 - lr * weight_decay), step_size, bias_correction2_sqrt.

//!include optim_common.wgsl

const AMSGRAD: u32 = 4u;
const DECOUPLED: u32 = 8u;

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
    var v = store(exp_avg_sq[i] * P.beta2 + P.w2 * g1 * g1);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if (has(AMSGRAD)) {
        v = max(max_exp_avg_sq[i], v);
        max_exp_avg_sq[i] = v;
    }
    let denom = sqrt(v) / P.bias_correction2_sqrt + P.eps;
    return p1 - P.step_size * m / denom;
}
