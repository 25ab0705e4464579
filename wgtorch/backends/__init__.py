"""``torch.backends``: PyTorch's backend switches, settable so that scripts run unchanged.

wgtorch has one implementation of each op (a WGSL kernel on the WebGPU adapter), so most
switches select nothing. Each submodule says what its flags do here:

- ``cudnn`` (``benchmark``, ``deterministic``, ``enabled``, ``allow_tf32``...): no effect.
  There is no cuDNN; wgtorch's convolutions are deterministic (no atomics) and matmul already
  picks its kernel variant by a timing on first use (``WGTORCH_AUTOTUNE``).
- ``cuda.matmul.allow_tf32`` and ``torch.set_float32_matmul_precision``: one setting, read
  back consistently; float32 matmuls always compute in float32 (WGSL has no TF32).
- ``cuda`` SDPA switches (``enable_flash_sdp``...), ``mha`` fast path: recorded, no effect
  (one attention kernel, the math path).
- ``mps``, ``mkldnn``, ``openmp``, ``opt_einsum``: not available here.
"""

from . import cpu, cuda, cudnn, mha, mkl, mkldnn, mps, openmp, opt_einsum  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mha", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
