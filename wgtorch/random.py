"""Generators: PyTorch's ``torch.Generator``, ``manual_seed`` and the RNG state.

A generator is (seed, stream). Every call that draws random numbers takes a fresh stream
(the Philox counter's upper words, see ``wgtorch/ops/random.py``), so results depend only on
the seed and the order of calls, and are the same on every adapter.
"""

import time


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
