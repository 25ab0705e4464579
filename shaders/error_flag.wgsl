// error_flag: report an error found on the GPU (an index out of range, an integer result too
// large for int32 storage) through the runtime's sticky error flag. wgtorch/ops/kernel.py
// adds this file, and the binding below, to every kernel declared with errors=True.
//
// Binding: errors (read_write, the runtime's error_buffer, 4 words; after the kernel's
// outputs): [0] site id of the first error (0: none), [1] value low word, [2] value high
// word, [3] flags (bit 0: the value is only a lower bound of the magnitude).
// The first error wins: later ones leave the flag alone. The host reads the flag with its
// next readback, raises the message registered for the site and clears it.

fn flag_error(site: u32, lo: u32, hi: u32, flags: u32) {
    // NOTE: a weak compare-exchange may fail spuriously: retry a few times (bounded loop)
    for (var k = 0u; k < 4u; k++) {
        let r = atomicCompareExchangeWeak(&errors[0], 0u, site);
        if (r.exchanged) {
            atomicStore(&errors[1], lo);
            atomicStore(&errors[2], hi);
            atomicStore(&errors[3], flags);
            return;
        }
        if (r.old_value != 0u) { return; }
    }
}

// the signed 32-bit value v as the (low, high) words of a 64-bit value
fn flag_error_i32(site: u32, v: i32) {
    flag_error(site, bitcast<u32>(v), select(0u, 0xffffffffu, v < 0), 0u);
}
