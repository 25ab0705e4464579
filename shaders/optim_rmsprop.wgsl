// torch.optim.RMSprop, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   v = alpha * v + (1 - alpha) * g * g                       (square_avg)
//   centered: ga = ga + (1 - alpha) * (g - ga); avg = sqrt(v - ga * ga) + eps
//   else:     avg = sqrt(v) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
//   else:         p = p - lr * g / avg
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: square_avg, momentum_buf (a placeholder
//   without momentum), grad_avg (a placeholder unless centered).
// Params after optim_common's: lr, alpha, w (1 - alpha), eps, weight_decay, momentum.

//!include optim_common.wgsl

const MOMENTUM: u32 = 4u;
const CENTERED: u32 = 8u;

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let v = store(square_avg[i] * P.alpha + P.w * gw * gw);
    square_avg[i] = v;
    var avg: vec4<f32>;
    if (has(CENTERED)) {
        let ga = store(lerp(grad_avg[i], gw, P.w));
        grad_avg[i] = ga;
        avg = sqrt(v - ga * ga) + P.eps;
    } else {
        avg = sqrt(v) + P.eps;
    }
    if (has(MOMENTUM)) {
        let buf = store(momentum_buf[i] * P.momentum + gw / avg);
        momentum_buf[i] = buf;
        return p - P.lr * buf;
    }
    return p - P.lr * gw / avg;
}
