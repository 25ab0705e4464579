// torch.optim.ASGD, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   p = p * (1 - lambd * eta);  p = p - eta * g
//   AVERAGE (mu != 1): ax = ax + (p - ax) * mu       else: ax = p
// eta and mu (per-parameter scalars PyTorch keeps in 0-d tensors) live on the host
// (wgtorch/optim/asgd.py), which updates them after the step.
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: ax.
// Params after optim_common's: weight_decay, decay (1 - lambd * eta), neg_eta, mu.

//!include optim_common.wgsl

const AVERAGE: u32 = 4u;

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let p1 = store(store(p * P.decay) + P.neg_eta * gw);
    if (has(AVERAGE)) {
        ax[i] = store(ax[i] + (p1 - ax[i]) * P.mu);
    } else {
        ax[i] = p1;
    }
    return p1;
}
