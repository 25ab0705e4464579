"""Random numbers on the GPU: Philox4x32-10, seeded by ``manual_seed``.

A generator is (seed, stream). Every call draws from a fresh stream (the counter's upper
words), so results depend only on the seed and the order of calls, and are the same on
every adapter: the bits are integer arithmetic and uniform floats keep 24 of them.
"""

import struct
import time

from .backend import get_runtime
from .ops.shaders import load_shader
from .tensor import Tensor

UNIFORM, NORMAL, INTEGER, BITS = 0, 1, 2, 3
_PARAMS = struct.Struct("<6IiI4f")
_BODIES = {
    UNIFORM: "return P.lo + unit(bits[k]) * (P.hi - P.lo);",
    NORMAL: (
        "let u1 = 1.0 - unit(bits[k & 2u]);\n"
        "    let u2 = unit(bits[k | 1u]);\n"
        "    let r = sqrt(-2.0 * log(u1));\n"
        "    let a = 6.283185307179586 * u2;\n"
        "    return P.lo + P.hi * select(r * sin(a), r * cos(a), (k & 1u) == 0u);"
    ),
    INTEGER: "return P.ilo + i32(bits[k] % P.range);",
    BITS: "return bits[k];",
}
_OUT_T = {UNIFORM: "f32", NORMAL: "f32", INTEGER: "i32", BITS: "u32"}


class Generator:
    """PyTorch's ``torch.Generator``: ``manual_seed``, ``seed``, ``initial_seed``,
    ``get_state``/``set_state``."""

    def __init__(self, device="wgpu"):
        self.device = device
        self._seed = 67280421310721  # PyTorch's default seed
        self._stream = 0

    def manual_seed(self, seed):
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} is out of range")
        self._seed = seed & 0xFFFFFFFFFFFFFFFF
        self._stream = 0
        return self

    def seed(self):
        self.manual_seed(time.time_ns())
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return _State(self._seed, self._stream)

    def set_state(self, state):
        self._seed, self._stream = state.seed, state.stream
        return self

    def next_stream(self):
        s = self._stream
        self._stream += 1
        return s


class _State:
    """An opaque generator state for get_state/set_state."""

    def __init__(self, seed, stream):
        self.seed, self.stream = seed, stream


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator: same seed, same numbers on every adapter."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def fill_random(out, dist, lo=0.0, hi=1.0, generator=None):
    """Fill the fresh contiguous tensor ``out`` from distribution ``dist``."""
    n = out.numel()
    if n == 0:
        return out
    gen = generator or default_generator
    stream = gen.next_stream()
    rt = get_runtime()
    key = ("philox", dist)
    kern = rt.kernel(
        key,
        lambda: load_shader("philox.wgsl")
        .replace("OUT_T", _OUT_T[dist])
        .replace("DIST_BODY", _BODIES[dist]),
        0,
        1,
    )
    if dist == INTEGER:
        ilo, rng, flo, fhi = int(lo), int(hi) - int(lo), 0.0, 0.0
    else:
        ilo, rng, flo, fhi = 0, 1, float(lo), float(hi)
    params = _PARAMS.pack(
        n, gen._seed & 0xFFFFFFFF, gen._seed >> 32, stream & 0xFFFFFFFF, stream >> 32, rng,
        ilo, 0, flo, fhi, 0.0, 0.0,
    )
    rt.dispatch(kern, [out._storage.buffer], params, -(-n // 256))
    return out
