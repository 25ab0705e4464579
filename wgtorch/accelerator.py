"""``torch.accelerator``: PyTorch's device-agnostic accelerator API, answering for the WebGPU
adapter (the one accelerator wgtorch has; ``"cuda"`` is an alias of it, see device.py).

Example::

    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() \\
        else torch.device("cpu")
    model.to(device)
"""

import contextlib

from . import cuda
from .device import GPU, as_device

_NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def is_available():
    """True when a WebGPU adapter exists."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """The accelerator's device, ``device(type='wgpu', index=0)``.

    wgtorch is always built for WebGPU, so this answers even without an adapter unless
    ``check_available=True`` (then None when ``is_available()`` is False), as PyTorch does for
    the accelerator it was compiled with. NOTE: the index is 0, not PyTorch's None: wgtorch's
    devices always carry the index of the one adapter.
    """
    if check_available and not is_available():
        return None
    return GPU


def device_count():
    """How many accelerators there are: 1 with an adapter, else 0."""
    return cuda.device_count()


def current_device_index():
    """The index of the current accelerator (always 0: wgtorch uses one adapter)."""
    if not is_available():
        raise RuntimeError(_NONE_AVAILABLE)
    return 0


current_device_idx = current_device_index  # PyTorch's deprecated name


def _index_of(device):
    if isinstance(device, int):
        if device not in (-1, 0):
            raise RuntimeError(f"wgtorch uses one adapter; device index {device} is invalid")
        return 0
    d = as_device(device)
    if d.type != "wgpu":
        raise ValueError(f"{d.type} doesn't match the current accelerator wgpu.")
    return 0


def set_device_index(device, /):
    """Select the accelerator by index: only 0 (the one adapter) is valid."""
    if not is_available():
        raise RuntimeError(_NONE_AVAILABLE)
    _index_of(device)


set_device_idx = set_device_index  # PyTorch's deprecated name


@contextlib.contextmanager
def device_index(device, /):
    """``with torch.accelerator.device_index(0): ...`` (index 0 or None: one adapter)."""
    if device is not None:
        set_device_index(device)
    yield


def synchronize(device=None, /):
    """Wait until all work recorded for the adapter has finished."""
    if device is not None:
        _index_of(device)
    cuda.synchronize()


def memory_allocated(device_index=None, /):
    """Bytes held by live tensors (``torch.cuda.memory_allocated``)."""
    return cuda.memory_allocated()


def memory_reserved(device_index=None, /):
    """Bytes held by the buffer pool (``torch.cuda.memory_reserved``)."""
    return cuda.memory_reserved()


def empty_cache():
    """Release cached, unused GPU buffers."""
    cuda.empty_cache()
