"""``torch.backends.mps``: not available. wgtorch reaches Apple GPUs through WebGPU (Metal)
as its ``wgpu``/``cuda`` device, so scripts that try ``cuda`` first get the GPU there."""


def is_available():
    """False: there is no MPS device (``"mps"`` strings still name the WebGPU device)."""
    return False


def is_built():
    """False: wgtorch is not built with PyTorch's MPS backend."""
    return False
