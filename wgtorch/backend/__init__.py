"""The only package that imports wgpu: adapter, device, buffers, kernels, batching."""

from .errors import GPUError, NoAdapterError
from .runtime import Kernel, Runtime, get_runtime

__all__ = ["GPUError", "Kernel", "NoAdapterError", "Runtime", "get_runtime"]
