// torch.optim.Adam and AdamW, one parameter, in place (t = the step number, from 1):
//   g = grad (negated if maximize)
//   AdamW (DECOUPLED): p = p * (1 - lr * weight_decay)    Adam: g = g + weight_decay * p
//   m = m + (1 - beta1) * (g - m)                          (exp_avg.lerp_(g, 1 - beta1))
//   v = beta2 * v + (1 - beta2) * g * g
//   amsgrad: vmax = max(vmax, v), and vmax replaces v below
//   p = p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bias_correction2_sqrt = sqrt(1 - beta2^t), both
// computed on the host in float64 as PyTorch does.
// bindings: 0 grad (read)                 array<vec4<f32>>, vec4 P.g_off / 4 + i
//           1 param (read_write)          array<vec4<f32>>, vec4 P.p_off / 4 + i
//           2 exp_avg (read_write)        array<vec4<f32>>, vec4 i
//           3 exp_avg_sq (read_write)     array<vec4<f32>>, vec4 i
//           4 max_exp_avg_sq (read_write) array<vec4<f32>>, vec4 i (a placeholder without amsgrad)
//           5 P (uniform)                 Params

const AMSGRAD: u32 = 4u;
const DECOUPLED: u32 = 8u;

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    lr: f32, beta1: f32, beta2: f32, eps: f32,
    weight_decay: f32, step_size: f32, bias_correction2_sqrt: f32, pad0: f32,
};

@group(0) @binding(2) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> max_exp_avg_sq: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> P: Params;

// The update rule (see optim_common.wgsl, which holds the bindings grad and param and main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    var p1 = p;
    var g1 = g;
    if (has(DECOUPLED)) {
        p1 = store(p * (1.0 - P.lr * P.weight_decay));
    } else {
        g1 = with_weight_decay(g, p);
    }
    let m = store(exp_avg[i] + (1.0 - P.beta1) * (g1 - exp_avg[i]));
    var v = store(P.beta2 * exp_avg_sq[i] + (1.0 - P.beta2) * g1 * g1);
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if (has(AMSGRAD)) {
        v = max(max_exp_avg_sq[i], v);
        max_exp_avg_sq[i] = v;
    }
    let denom = sqrt(v) / P.bias_correction2_sqrt + P.eps;
    return p1 - P.step_size * m / denom;
}
