// torch.optim.RMSprop, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   v = alpha * v + (1 - alpha) * g * g                       (square_avg)
//   centered: ga = ga + (1 - alpha) * (g - ga); avg = sqrt(v - ga * ga) + eps
//   else:     avg = sqrt(v) + eps
//   momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
//   else:         p = p - lr * g / avg
// bindings: 0 grad (read)                array<vec4<f32>>, vec4 P.g_off / 4 + i
//           1 param (read_write)         array<vec4<f32>>, vec4 P.p_off / 4 + i
//           2 square_avg (read_write)    array<vec4<f32>>, vec4 i
//           3 momentum_buf (read_write)  array<vec4<f32>>, vec4 i (a placeholder without momentum)
//           4 grad_avg (read_write)      array<vec4<f32>>, vec4 i (a placeholder unless centered)
//           5 P (uniform)                Params

const MOMENTUM: u32 = 4u;
const CENTERED: u32 = 8u;

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    lr: f32, alpha: f32, eps: f32, weight_decay: f32,
    momentum: f32, pad0: f32, pad1: f32, pad2: f32,
};

@group(0) @binding(2) var<storage, read_write> square_avg: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> momentum_buf: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> grad_avg: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> P: Params;

// The update rule (see optim_common.wgsl, which holds the bindings grad and param and main).
fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32> {
    let gw = with_weight_decay(g, p);
    let v = store(P.alpha * square_avg[i] + (1.0 - P.alpha) * gw * gw);
    square_avg[i] = v;
    var avg: vec4<f32>;
    if (has(CENTERED)) {
        let ga = store(grad_avg[i] + (1.0 - P.alpha) * (gw - grad_avg[i]));
        grad_avg[i] = ga;
        avg = sqrt(v - ga * ga) + P.eps;
    } else {
        avg = sqrt(v) + P.eps;
    }
    if (has(MOMENTUM)) {
        let buf = store(P.momentum * momentum_buf[i] + gw / avg);
        momentum_buf[i] = buf;
        return p - P.lr * buf;
    }
    return p - P.lr * gw / avg;
}
