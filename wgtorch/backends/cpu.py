"""``torch.backends.cpu``: wgtorch's "cpu" tensors compute on the adapter too (device.py)."""


def get_cpu_capability():
    """``"DEFAULT"``: wgtorch runs no CPU kernels of its own (no AVX/NEON paths)."""
    return "DEFAULT"
