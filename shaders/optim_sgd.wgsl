// torch.optim.SGD, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   if momentum != 0:
//       buf = g                                         on the first step (FIRST)
//       buf = momentum * buf + (1 - dampening) * g      afterwards
//       g = g + momentum * buf  (nesterov)   or   g = buf
//   p = p - lr * g
// bindings: 0 grad (read)               array<vec4<f32>>, vec4 P.g_off / 4 + i
//           1 param (read_write)        array<vec4<f32>>, vec4 P.p_off / 4 + i
//           2 momentum_buf (read_write) array<vec4<f32>>, vec4 i (a placeholder without momentum)
//           3 P (uniform)               Params

const MOMENTUM: u32 = 4u;
const NESTEROV: u32 = 8u;
const FIRST: u32 = 16u;

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    lr: f32, momentum: f32, dampening: f32, weight_decay: f32,
};

@group(0) @binding(2) var<storage, read_write> momentum_buf: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> P: Params;

// The update rule (see optim_common.wgsl, which holds the bindings grad and param and main).
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
