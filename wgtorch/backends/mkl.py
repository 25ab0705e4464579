"""``torch.backends.mkl``: not available (wgtorch computes on the WebGPU adapter)."""

enabled = False


def is_available():
    return False
