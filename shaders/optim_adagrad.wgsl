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

@group(0) @binding(0) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> state_sum: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (out_of_range(i)) { return; }
    let p = load_param(i);
    let g = with_weight_decay(load_grad(i), p);
    let s = store(state_sum[i] + g * g);
    state_sum[i] = s;
    store_param(i, p, p - P.clr * g / (sqrt(s) + P.eps));
}
