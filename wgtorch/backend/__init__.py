"""The only package that imports wgpu: adapter, device, buffers, kernels, batching."""

from .errors import GPUError, NoAdapterError
from .process import forbid_device, is_initialized, submit_pending
from .runtime import Kernel, Runtime, get_runtime

__all__ = ["GPUError", "Kernel", "NoAdapterError", "Runtime", "forbid_device", "get_runtime",
           "is_initialized", "submit_pending"]
