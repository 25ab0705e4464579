// torch.optim.Adagrad, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize) + weight_decay * p
//   sum = sum + g * g
//   p = p - clr * g / (sqrt(sum) + eps),  clr = lr / (1 + (t - 1) * lr_decay) (from the host)
// bindings: 0 grad (read)          array<vec4<f32>>, vec4 P.g_off / 4 + i
//           1 param (read_write)   array<vec4<f32>>, vec4 P.p_off / 4 + i
//           2 sum (read_write)     array<vec4<f32>>, vec4 i
//           3 P (uniform)          Params

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    clr: f32, eps: f32, weight_decay: f32, pad0: f32,
};

@group(0) @binding(2) var<storage, read_write> state_sum: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> P: Params;

// The update rule (see optim_common.wgsl, which holds the bindings grad and param and main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let s = store(state_sum[i] + gw * gw);
    state_sum[i] = s;
    return p - P.clr * gw / (sqrt(s) + P.eps);
}
