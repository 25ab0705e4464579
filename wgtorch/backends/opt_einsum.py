"""``torch.backends.opt_einsum``: not available (``einsum`` contracts left to right)."""

enabled = False
strategy = None


def is_available():
    return False


def get_opt_einsum():
    return None
