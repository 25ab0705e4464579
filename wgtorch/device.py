"""Devices: what ``"wgpu"``, ``"cuda"`` and ``"cpu"`` mean in wgtorch.

Every wgtorch op runs as a WGSL shader on the WebGPU adapter. Tensors are created on the
``wgpu`` device by default, and ``"cuda"`` is an alias of it, so a script that says
``device = "cuda" if torch.cuda.is_available() else "cpu"`` runs on the GPU unchanged.

``"cpu"`` tensors keep PyTorch's device rules so that PyTorch code behaves the same: a CPU
tensor computes correctly (its kernels also run on the adapter: "cpu" is where PyTorch would
compute, not where wgtorch does), ``.cpu()``/``.numpy()``/``.to("cpu")`` work, results stay
on the device of their inputs, and ``check_same_device`` below, the one device check every
op calls, refuses a CPU and a GPU tensor in one op with PyTorch's error. As in PyTorch, a
0-d CPU tensor counts as a scalar and may join tensors of either device, indices may be CPU
tensors when indexing a GPU tensor (``x[idx]``), and ``copy_``/``to`` move data across.
``torch.load`` restores each tensor on the device it was saved from (serialization.py).

A process uses one adapter, index 0. In a data-parallel job, ``cuda:<LOCAL_RANK>`` is accepted
as well and names the same adapter (the one chosen for that local rank, see
``backend/adapter.py``), so the usual ``device = f"cuda:{local_rank}"`` runs unchanged.
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


def _is_cpu_scalar(t, d):
    return d.type == "cpu" and not t.shape


def check_same_device(op, tensors):
    """The device check of every op: raise PyTorch's RuntimeError when the tensors among
    ``tensors`` (others, such as None and numbers, are skipped) are on two devices. A 0-d
    cpu tensor is a scalar and matches any device. Returns the device of the result: the
    tensors' device (None when there is no tensor).

    Example::

        check_same_device("mm", (a, b))      # inside an op, before anything is launched
    """
    common = scalar = None
    for t in tensors:
        d = getattr(t, "device", None)
        if d.__class__ is not device:  # not a tensor (numpy 2 arrays have a str .device)
            continue
        if _is_cpu_scalar(t, d):
            scalar = scalar or d
        elif common is None:
            common = d
        elif d.type != common.type:
            a, b = sorted((str(common), str(d)))
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two "
                f"devices, {b} and {a}! (when checking argument for {op.lstrip('_')})")
    return common or scalar


def result_device(tensors):
    """The device an op's result goes to (the first tensor that is not a cpu scalar), for
    ops whose operands ``check_same_device`` already accepted."""
    first = None
    for t in tensors:
        d = getattr(t, "device", None)
        if d.__class__ is not device:
            continue
        if not _is_cpu_scalar(t, d):
            return d
        first = first or d
    return first
