"""Devices: what ``"wgpu"``, ``"cuda"`` and ``"cpu"`` mean in wgtorch.

Every wgtorch op runs as a WGSL shader on the WebGPU adapter. Tensors are created on the
``wgpu`` device by default, and ``"cuda"`` is an alias of it, so a script that says
``device = "cuda" if torch.cuda.is_available() else "cpu"`` runs on the GPU unchanged.

``"cpu"`` is a placement tag kept so that PyTorch code keeps working: a CPU tensor computes
correctly (its kernels also run on the adapter), ``.cpu()``/``.numpy()``/``.to("cpu")`` work,
and mixing a CPU and a GPU tensor in one op raises PyTorch's device-mismatch error.

A process uses one adapter, index 0. In a data-parallel job, ``cuda:<LOCAL_RANK>`` is accepted
as well and names the same adapter (the one chosen for that local rank), so the usual
``device = f"cuda:{local_rank}"`` runs unchanged.
"""

import os


def _local_rank():
    # A data-parallel rank's scripts say "cuda:<LOCAL_RANK>": that is this process's adapter
    # (one per local rank, see backend/adapter.py), so the index is accepted and means it.
    value = os.environ.get("LOCAL_RANK", "").strip()
    return int(value) if value.isdigit() else 0


_ALIASES = {"wgpu": "wgpu", "cuda": "wgpu", "gpu": "wgpu", "webgpu": "wgpu", "mps": "wgpu"}


class device:
    """``wgtorch.device("cuda")``, ``device("wgpu", 0)``, ``device("cpu")``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "wgpu", type
        name = str(type)
        if ":" in name:
            name, idx = name.split(":", 1)
            index = int(idx)
        if name == "cpu":
            self.type, self.index = "cpu", None
        elif name in _ALIASES:
            if index not in (None, 0, _local_rank()):
                raise RuntimeError(f"wgtorch uses one adapter; device index {index} is invalid")
            self.type, self.index = "wgpu", 0
        else:
            raise RuntimeError(
                f"Expected one of cpu, cuda, wgpu device type at start of device string: {type}"
            )

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


GPU = device("wgpu")
CPU = device("cpu")


def as_device(d):
    if d is None:
        return GPU
    return d if isinstance(d, device) else device(d)
