"""Random numbers on the GPU: the Philox4x32-10 kernel (``shaders/philox.wgsl``).

``fill_random`` draws from a generator's next stream (``wgtorch.random.Generator``: seed and
stream), so results depend only on the seed and the order of calls, and are the same on
every adapter: the bits are integer arithmetic and uniform floats keep 24 of them. One
invocation turns one counter into four values.
"""

from .. import random as generators
from .kernel import Kernel

UNIFORM, NORMAL, INTEGER, BITS = 0, 1, 2, 3
_VALUES = {  # dist -> (stored type, WGSL of value k of the four from one counter)
    UNIFORM: ("f32", "return P.lo + unit(bits[k]) * (P.hi - P.lo);"),
    NORMAL: ("f32", """let u1 = 1.0 - unit(bits[k & 2u]);
let u2 = unit(bits[k | 1u]);
let r = sqrt(-2.0 * log(u1));
let a = 6.283185307179586 * u2;
return P.lo + P.hi * select(r * sin(a), r * cos(a), (k & 1u) == 0u);"""),
    INTEGER: ("i32", "return P.ilo + i32(bits[k] % P.range);"),
    BITS: ("u32", "return bits[k];"),
}


def _value_code(variant):
    return {"VALUE": _VALUES[variant["dist"]][1]}


PHILOX = Kernel("philox", "philox.wgsl", outputs=("out: OUT",), generate=_value_code,
                params=("numel: u32", "seed_lo: u32", "seed_hi: u32", "stream_lo: u32",
                        "stream_hi: u32", "range: u32", "ilo: i32", "lo: f32", "hi: f32"))


def fill_random(out, dist, lo=0.0, hi=1.0, generator=None):
    """Fill the fresh contiguous tensor ``out`` from distribution ``dist``: UNIFORM [lo, hi),
    NORMAL (mean lo, std hi), INTEGER [lo, hi) or raw BITS."""
    n = out.numel()
    if n == 0:
        return out
    gen = generator or generators.default_generator
    stream = gen.next_stream()
    if dist == INTEGER:
        ilo, rng, flo, fhi = int(lo), int(hi) - int(lo), 0.0, 0.0
    else:
        ilo, rng, flo, fhi = 0, 1, float(lo), float(hi)
    PHILOX.launch(outs=[out], threads=-(-n // 4),
                  variant=dict(dist=dist, OUT=_VALUES[dist][0]),
                  numel=n, seed_lo=gen._seed & 0xFFFFFFFF, seed_hi=gen._seed >> 32,
                  stream_lo=stream & 0xFFFFFFFF, stream_hi=stream >> 32, range=rng, ilo=ilo,
                  lo=flo, hi=fhi)
    return out
