// torch.optim.Adadelta, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   v = rho * v + (1 - rho) * g * g                               (square_avg)
//   delta = sqrt(u + eps) / sqrt(v + eps) * g                     (u = acc_delta)
//   u = rho * u + (1 - rho) * delta * delta
//   p = p - lr * delta
// bindings: 0 grad (read)               array<vec4<f32>>, vec4 P.g_off / 4 + i
//           1 param (read_write)        array<vec4<f32>>, vec4 P.p_off / 4 + i
//           2 square_avg (read_write)   array<vec4<f32>>, vec4 i
//           3 acc_delta (read_write)    array<vec4<f32>>, vec4 i
//           4 P (uniform)               Params

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    lr: f32, rho: f32, eps: f32, weight_decay: f32,
};

@group(0) @binding(2) var<storage, read_write> square_avg: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> acc_delta: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> P: Params;

// The update rule (see optim_common.wgsl, which holds the bindings grad and param and main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let v = store(P.rho * square_avg[i] + (1.0 - P.rho) * gw * gw);
    square_avg[i] = v;
    let u = acc_delta[i];
    let delta = store(sqrt(u + P.eps) / sqrt(v + P.eps) * gw);
    acc_delta[i] = store(P.rho * u + (1.0 - P.rho) * delta * delta);
    return p - P.lr * delta;
}
