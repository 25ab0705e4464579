// Shared prelude of the fused optimizer kernels (optim_*.wgsl): the invocation index and the
// store rounding for float16 parameters. Each optimizer file declares its own Params struct
// (first four words: numel, p_off, g_off, flags) and bindings; WGSL resolves module-scope
// names in any order, so these helpers may use P before it is declared.
// One invocation updates one element: reads grad[P.g_off + i] and param[P.p_off + i], reads and
// writes the state buffers at element i (state tensors are contiguous with offset 0).

const MAXIMIZE: u32 = 1u;   // negate the gradient (maximize=True)
const HALF: u32 = 2u;       // the parameter is float16: round every store to half precision

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return ((wid.z * nwg.y + wid.y) * nwg.x + wid.x) * 64u + lid;
}

fn has(flag: u32) -> bool {
    return (P.flags & flag) != 0u;
}

// float16 tensors are stored as f32 rounded to half precision (see wgtorch/dtypes.py).
fn store(x: f32) -> f32 {
    if (has(HALF)) {
        return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
    }
    return x;
}

// The gradient as the update rule sees it: negated when maximizing.
fn load_grad(i: u32) -> f32 {
    let g = grad[P.g_off + i];
    return select(g, -g, has(MAXIMIZE));
}

// g + weight_decay * p, skipped when weight_decay == 0 as PyTorch does (so p = inf stays finite).
fn with_weight_decay(g: f32, p: f32) -> f32 {
    if (P.weight_decay != 0.0) {
        return g + P.weight_decay * p;
    }
    return g;
}
