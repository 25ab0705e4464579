// torch.optim.Rprop, one parameter, in place:
//   g = grad (negated if maximize);  s = sign(g * prev)
//   factor = etaplus where s > 0, etaminus where s < 0, 1 elsewhere
//   step_size = clamp(step_size * factor, step_size_min, step_size_max)
//   g = 0 where s < 0 (the sign flipped: skip this step)
//   p = p - sign(g) * step_size;  prev = g
// Bindings (declared in wgtorch/ops/optim_kernels.py): grad, param (vec4s from P.g_off / 4 and
//   P.p_off / 4), then the state, indexed by vec4 i: prev, step_size.
// Params after optim_common's: etaminus, etaplus, step_size_min, step_size_max.

//!include optim_common.wgsl

// The update rule (optim_common.wgsl holds main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let s = sign(g * prev[i]);
    let one = vec4<f32>(1.0);
    let factor = select(select(one, one * P.etaminus, s < vec4<f32>(0.0)), one * P.etaplus,
                        s > vec4<f32>(0.0));
    let size = store(clamp(step_size[i] * factor, one * P.step_size_min, one * P.step_size_max));
    let g1 = select(g, vec4<f32>(0.0), s < vec4<f32>(0.0));
    step_size[i] = size;
    prev[i] = store(g1);
    return p - sign(g1) * size;
}
