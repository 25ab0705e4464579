// batch_norm_running.wgsl (see batch_norm.wgsl): blend the batch statistics into the running ones,
// in place. Bindings: mean, var_ (read), running_mean, running_var (read_write).

//!include batch_norm.wgsl

fn run(c: u32) {
    if (c >= P.C) { return; }
    let m = P.momentum;
    if ((P.flags & 1u) != 0u) {
        let k = P.rm_off + c;
        running_mean[k] = store_t((1.0 - m) * running_mean[k] + m * mean[c]);
    }
    if ((P.flags & 2u) != 0u) {
        let k = P.rv_off + c;
        running_var[k] = store_t((1.0 - m) * running_var[k] + m * var_[c] * P.unbias);
    }
}
