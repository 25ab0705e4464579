// Shared part of the fused optimizer kernels (optim_*.wgsl, which include it): the entry point
// `main`, indexing, masking, float16 rounding and the gradient's sign and weight decay. Each
// optimizer file holds only its update rule:
//   fn update(i: u32, p: vec4<f32>, g: vec4<f32>) -> vec4<f32>
// given vec4 index i, the parameter p and the gradient g (already negated if maximizing), it
// updates its state buffers at index i and returns the new parameter values.
// wgtorch/ops/optim_kernels.py declares each kernel: bindings grad (read), param and the
// optimizer's state buffers (read_write, all array<vec4<f32>>), and Params numel, p_off,
// g_off, flags, then the optimizer's hyper-parameters (f32).
//
// One invocation updates FOUR consecutive elements with vec4 loads and stores (about 4x faster
// than one element per invocation on lavapipe, whose storage loads are slow). So every buffer
// is an array<vec4<f32>>: the parameter and gradient start at element P.p_off and P.g_off
// (multiples of 4, which the host guarantees) and the state buffers at 0. The last vec4 may
// reach past numel: state buffers own that padding, and the parameter's extra lanes are written
// back unchanged (they may belong to another tensor sharing the storage).

const MAXIMIZE: u32 = 1u;   // negate the gradient (maximize=True)
const HALF: u32 = 2u;       // the parameter is float16: round every store to half precision

fn has(flag: u32) -> bool {
    return (P.flags & flag) != 0u;
}

// float16 tensors are stored as f32 rounded to half precision (see wgtorch/dtypes.py).
fn store(x: vec4<f32>) -> vec4<f32> {
    if (has(HALF)) {
        return vec4<f32>(unpack2x16float(pack2x16float(x.xy)), unpack2x16float(pack2x16float(x.zw)));
    }
    return x;
}

// The gradient as the update rule sees it: negated when maximizing.
fn load_grad(i: u32) -> vec4<f32> {
    let g = grad[P.g_off / 4u + i];
    return select(g, -g, has(MAXIMIZE));
}

fn load_param(i: u32) -> vec4<f32> {
    return param[P.p_off / 4u + i];
}

// Write the new parameter values of lanes below numel; lanes past it keep `old`.
fn store_param(i: u32, old: vec4<f32>, new_value: vec4<f32>) {
    let lane = vec4<u32>(0u, 1u, 2u, 3u) + i * 4u;
    param[P.p_off / 4u + i] = select(old, store(new_value), lane < vec4<u32>(P.numel));
}

// g + weight_decay * p, skipped when weight_decay == 0 as PyTorch does (so p = inf stays finite).
fn with_weight_decay(g: vec4<f32>, p: vec4<f32>) -> vec4<f32> {
    if (P.weight_decay != 0.0) {
        return g + P.weight_decay * p;
    }
    return g;
}

// PyTorch's lerp (ATen's Lerp.h): a + w * (b - a) for |w| < 0.5, else b - (b - a) * (1 - w),
// so exp_avg.lerp_(g, 1 - beta1) rounds as PyTorch's does (w comes from the host, in float64).
fn lerp(a: vec4<f32>, b: vec4<f32>, w: f32) -> vec4<f32> {
    if (abs(w) < 0.5) {
        return a + w * (b - a);
    }
    return b - (b - a) * (1.0 - w);
}

fn out_of_range(i: u32) -> bool {
    return i >= (P.numel + 3u) / 4u;
}

fn run(i: u32) {
    if (out_of_range(i)) { return; }
    let p = load_param(i);
    store_param(i, p, update(i, p, load_grad(i)));
}
