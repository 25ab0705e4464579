"""``torch.cuda`` as scripts use it: ``cuda`` is an alias of the WebGPU device here."""

from .backend import NoAdapterError, get_runtime


def is_available():
    """True when a WebGPU adapter exists (scripts then move tensors to "cuda" = the GPU)."""
    try:
        get_runtime()
    except NoAdapterError:
        return False
    return True


def device_count():
    return 1 if is_available() else 0


def current_device():
    return 0


def set_device(device):
    """Accept the device a data-parallel script selects (``cuda:<LOCAL_RANK>``); a process
    uses one adapter, so nothing changes. RuntimeError for an index it cannot mean."""
    from .device import device as as_device

    as_device(device if not isinstance(device, int) else f"cuda:{device}")


def get_device_name(device=None):
    return get_runtime().info["device"]


def synchronize(device=None):
    get_runtime().synchronize()


def manual_seed(seed):
    from .random import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed


def memory_allocated(device=None):
    """Bytes held by live tensors (in pool size classes); also ``wgtorch.memory_allocated``."""
    return get_runtime().pool.allocated_bytes


def memory_reserved(device=None):
    """Bytes held by the buffer pool, live or cached; also ``wgtorch.memory_reserved``."""
    return get_runtime().pool.reserved_bytes


def empty_cache():
    """Release cached (unused) GPU buffers; also ``wgtorch.empty_cache``."""
    get_runtime().empty_cache()
