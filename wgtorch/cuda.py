"""``torch.cuda`` as scripts use it: ``cuda`` is an alias of the WebGPU device here, and the
queries answer for the adapter wgtorch chose (``python -m wgtorch info`` prints the same).

WebGPU has no CUDA compute capability: ``get_device_capability()`` is ``(0, 0)`` so that
capability-gated CUDA paths in user code (TF32, flash attention, Triton) stay off.

Besides PyTorch's names (``is_initialized()``: whether this process has created its device)
it holds the two process-level controls the DataLoader uses: ``forbid_device(make_error)``
(a worker process must never create a device: any later GPU use raises ``make_error()``) and
``submit_pending()`` (submit recorded work now, without creating a device when none exists).
"""

import contextlib
import os

from .backend import NoAdapterError, get_runtime
from .backend import forbid_device, is_initialized, submit_pending  # noqa: F401  (public)


def is_available():
    """True when a WebGPU adapter exists (scripts then move tensors to "cuda" = the GPU)."""
    try:
        get_runtime()
    except NoAdapterError:
        return False
    return True


def init():
    get_runtime()


def device_count():
    return 1 if is_available() else 0


def _check_device(device, optional=True):
    """Refuse a device other than the one adapter (None, 0, "cuda", "cuda:0", a device)."""
    if device is None and optional:
        return
    from .device import _local_rank, as_device

    if isinstance(device, int) and not isinstance(device, bool):
        if device not in (-1, 0, _local_rank()):  # cuda:<LOCAL_RANK>: see device.py
            raise RuntimeError(f"wgtorch uses one adapter; device index {device} is invalid")
        return
    d = as_device(device)
    if d.type != "wgpu":
        raise ValueError(f"Expected a cuda device, but got: {d}")


def current_device():
    return 0


def set_device(device):
    """Select the device: only the one adapter exists (index 0, which a data-parallel rank may
    also call ``cuda:<LOCAL_RANK>``)."""
    _check_device(device)


@contextlib.contextmanager
def device(device):
    """``with torch.cuda.device(0): ...``: the one adapter is always current."""
    _check_device(device)
    yield


def get_device_name(device=None):
    """The adapter's name, e.g. ``'llvmpipe (LLVM 15.0.6, 256 bits)'``."""
    _check_device(device)
    return get_runtime().info["device"]


def get_device_capability(device=None):
    """``(0, 0)``: WebGPU adapters have no CUDA compute capability (see the module doc)."""
    _check_device(device)
    get_runtime()
    return (0, 0)


def _host_memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


class _WgpuDeviceProperties:
    """What ``get_device_properties`` answers: PyTorch's field names for the adapter, plus
    WebGPU's own (``backend_type``, ``adapter_type``, ``limits``, ``features``).

    WebGPU does not report an adapter's memory or core count: ``total_memory`` and
    ``multi_processor_count`` are the host's RAM and CPU count for a software (CPU) adapter,
    and 0 (unknown) for a GPU.
    """

    def __init__(self, runtime):
        info = runtime.info
        self.name = info["device"]
        self.vendor = info.get("vendor", "")
        self.backend_type = info.get("backend_type", "")
        self.adapter_type = info.get("adapter_type", "")
        self.major, self.minor = get_device_capability()
        cpu = self.adapter_type == "CPU"
        self.is_integrated = self.adapter_type in ("IntegratedGPU", "CPU")
        self.is_multi_gpu_board = False
        self.total_memory = _host_memory_bytes() if cpu else 0
        self.multi_processor_count = (os.cpu_count() or 0) if cpu else 0
        self.limits = dict(runtime.limits)
        self.features = sorted(runtime.features)

    def __repr__(self):
        return (f"_WgpuDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count}, "
                f"backend_type='{self.backend_type}', adapter_type='{self.adapter_type}')")


def get_device_properties(device=None):
    """The adapter's properties (``.name``, ``.major``, ``.minor``, ``.total_memory``...)."""
    _check_device(device)
    return _WgpuDeviceProperties(get_runtime())


def is_bf16_supported(including_emulation=True):
    """True when wgtorch has a ``bfloat16`` dtype (stored packed in 32-bit words on any
    adapter, i.e. emulated). No WebGPU adapter computes in bfloat16 natively, so
    ``including_emulation=False`` is always False."""
    from . import dtypes

    return bool(including_emulation) and hasattr(dtypes, "bfloat16") and is_available()


def synchronize(device=None):
    _check_device(device)
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
