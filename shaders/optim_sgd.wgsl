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

@group(0) @binding(0) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> momentum_buf: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (out_of_range(i)) { return; }
    let p = load_param(i);
    var g = with_weight_decay(load_grad(i), p);
    if (has(MOMENTUM)) {
        var buf = g;
        if (!has(FIRST)) {
            buf = P.momentum * momentum_buf[i] + (1.0 - P.dampening) * g;
        }
        buf = store(buf);
        momentum_buf[i] = buf;
        g = select(buf, g + P.momentum * buf, has(NESTEROV));
    }
    store_param(i, p, p - P.lr * g);
}
