// torch.optim.SGD, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   if momentum != 0:
//       buf = g                                         on the first step (FIRST)
//       buf = momentum * buf + (1 - dampening) * g      afterwards
//       g = g + momentum * buf  (nesterov)   or   g = buf
//   p = p - lr * g
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: momentum_buf (a placeholder without
//   momentum).
// Params after optim_common's: lr, momentum, dampening, weight_decay.

//!include optim_common.wgsl

const MOMENTUM: u32 = 4u;
const NESTEROV: u32 = 8u;
const FIRST: u32 = 16u;

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    var gw = with_weight_decay(g, p);
    if (has(MOMENTUM)) {
        var buf = gw;
        if (!has(FIRST)) {
            buf = P.momentum * momentum_buf[i] + (1.0 - P.dampening) * gw;
        }
        buf = store(buf);
        momentum_buf[i] = buf;
        gw = select(buf, gw + P.momentum * buf, has(NESTEROV));
    }
    return p - P.lr * gw;
}
