"""``torch.backends.cudnn``: settable flags with no effect here, and ``is_available()`` False.

There is no cuDNN under wgtorch. ``benchmark``: matmul already chooses its kernel variant by
a timing on first use (``WGTORCH_AUTOTUNE=0`` turns that off); ``deterministic``: the conv and
pooling kernels use no atomics, so they give the same bits on every run already;
``enabled``/``allow_tf32``: the WGSL kernels run whatever they say, in float32.
"""

import contextlib

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True
fp32_precision = "none"


def is_available():
    """False: wgtorch does not use cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True, fp32_precision="none"):
    """Set the flags for a block and restore them after, as PyTorch's ``cudnn.flags``."""
    module = globals()
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32",
             "fp32_precision")
    before = {n: module[n] for n in names}
    module.update(zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32,
                              fp32_precision)))
    try:
        yield
    finally:
        module.update(before)
