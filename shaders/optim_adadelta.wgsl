// torch.optim.Adadelta, one parameter, in place:
//   g = grad (negated if maximize) + weight_decay * p
//   v = rho * v + (1 - rho) * g * g                               (square_avg)
//   delta = sqrt(u + eps) / sqrt(v + eps) * g                     (u = acc_delta)
//   u = rho * u + (1 - rho) * delta * delta
//   p = p - lr * delta
// bindings: 0 grad (read)               array<f32>, element P.g_off + i
//           1 param (read_write)        array<f32>, element P.p_off + i
//           2 square_avg (read_write)   array<f32>, element i
//           3 acc_delta (read_write)    array<f32>, element i
//           4 P (uniform)               Params

struct Params {
    numel: u32, p_off: u32, g_off: u32, flags: u32,
    lr: f32, rho: f32, eps: f32, weight_decay: f32,
};

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> square_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc_delta: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.numel) { return; }
    let p = param[P.p_off + i];
    let g = with_weight_decay(load_grad(i), p);
    let v = store(P.rho * square_avg[i] + (1.0 - P.rho) * g * g);
    square_avg[i] = v;
    let u = acc_delta[i];
    let delta = store(sqrt(u + P.eps) / sqrt(v + P.eps) * g);
    acc_delta[i] = store(P.rho * u + (1.0 - P.rho) * delta * delta);
    param[P.p_off + i] = store(p - P.lr * delta);
}
