"""Adapter choice and device creation.

``WGTORCH_ADAPTER`` picks the adapter: a comma-separated list of terms, each either a backend
name (``vulkan``, ``metal``, ``d3d12``, ``opengl``) or a substring of the adapter's name
(``WGTORCH_ADAPTER=vulkan,llvmpipe``; ``WGTORCH_ADAPTER=nvidia``). Every term must match.
Without it the best adapter wins: discrete GPU > integrated > virtual > CPU (software), and
Vulkan/Metal/D3D12 before OpenGL.

Several GPUs (data-parallel ranks on one machine): when n adapters tie for best (after the
``WGTORCH_ADAPTER`` filter), the process with local rank r (``LOCAL_RANK``, set by
``python -m wgtorch.distributed.run`` or derived from ``mpiexec``'s variables) takes the
(r mod n)-th of them in the order wgpu lists them. So each rank of a node gets its own GPU,
and ranks share one when there are fewer GPUs than ranks. To pin a rank to an adapter, give
it its own ``WGTORCH_ADAPTER``.
"""

import os

import wgpu

from .errors import NoAdapterError

_TYPE_RANK = {"DiscreteGPU": 0, "IntegratedGPU": 1, "VirtualGPU": 2, "CPU": 3, "Unknown": 4}
_BACKEND_RANK = {"Vulkan": 0, "Metal": 0, "D3D12": 0, "OpenGL": 2, "OpenGLES": 2}
# Features wgtorch uses when present; none is required.
OPTIONAL_FEATURES = ("shader-f16", "timestamp-query", "subgroup", "shader-int64")
# The limits that matter for compute; requested at the adapter's real values.
COMPUTE_LIMITS = (
    "max-buffer-size",
    "max-storage-buffer-binding-size",
    "max-uniform-buffer-binding-size",
    "max-storage-buffers-per-shader-stage",
    "max-compute-workgroup-storage-size",
    "max-compute-invocations-per-workgroup",
    "max-compute-workgroup-size-x",
    "max-compute-workgroup-size-y",
    "max-compute-workgroup-size-z",
    "max-compute-workgroups-per-dimension",
    "max-bind-groups",
    "max-bindings-per-bind-group",
    "max-dynamic-uniform-buffers-per-pipeline-layout",
)

HOW_TO_GET_ONE = (
    "wgtorch found no WebGPU adapter. Install a GPU driver with Vulkan/Metal/D3D12 support, "
    "or Mesa's software Vulkan driver: `apt-get install mesa-vulkan-drivers` (Debian/Ubuntu)."
)


def _describe(adapter):
    info = adapter.info
    return f"{info['device']} ({info['backend_type']}, {info['adapter_type']})"


def _matches(adapter, terms):
    info = adapter.info
    text = " ".join(str(info[k]) for k in ("device", "vendor", "description")).lower()
    backend = info["backend_type"].lower()
    return all(t == backend or t in text for t in terms)


def _rank(adapter):
    info = adapter.info
    return (_TYPE_RANK.get(info["adapter_type"], 5), _BACKEND_RANK.get(info["backend_type"], 1))


def choose_adapter():
    """The adapter named by WGTORCH_ADAPTER, else the best one found."""
    adapters = wgpu.gpu.enumerate_adapters_sync()
    if not adapters:
        raise NoAdapterError(HOW_TO_GET_ONE)
    wanted = os.environ.get("WGTORCH_ADAPTER", "").strip().lower()
    if wanted:
        terms = [t.strip() for t in wanted.split(",") if t.strip()]
        chosen = [a for a in adapters if _matches(a, terms)]
        if not chosen:
            found = "; ".join(_describe(a) for a in adapters)
            raise NoAdapterError(f"WGTORCH_ADAPTER={wanted!r} matches no adapter. Found: {found}")
        adapters = chosen
    best = min(_rank(a) for a in adapters)
    tied = [a for a in adapters if _rank(a) == best]
    return tied[_local_rank() % len(tied)]


def _local_rank():
    """This process's rank on its node (0 outside a data-parallel job)."""
    value = os.environ.get("LOCAL_RANK", "").strip()
    return int(value) if value.isdigit() else 0


def create_device(adapter):
    """A device with the adapter's real compute limits and the optional features it has."""
    features = [f for f in OPTIONAL_FEATURES if f in adapter.features]
    limits = {k: adapter.limits[k] for k in COMPUTE_LIMITS if k in adapter.limits}
    return adapter.request_device_sync(required_features=features, required_limits=limits)
