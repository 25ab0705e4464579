"""``nn.DataParallel`` on wgtorch's one adapter.

PyTorch's DataParallel splits each batch over several GPUs of one process. wgtorch drives one
WebGPU adapter, so, as PyTorch does with a single device, it calls the wrapped module on the
whole batch: inputs move to the adapter, ``.module`` is the wrapped model and state_dict keys
carry PyTorch's ``module.`` prefix, so checkpoints move between the two. Without an adapter
(``device_ids`` empty) it calls the module as it is. For several GPUs or machines use
``DistributedDataParallel``.
"""

from ... import cuda
from ...device import GPU
from ...tensor import Tensor
from ..module import Module


def _to_device(obj, device):
    """Tensors inside nested tuples/lists/dicts moved to ``device`` (PyTorch's scatter)."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
        return type(obj)(*(_to_device(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, device)) for k, v in obj.items())
    return obj


def _device_index(d):
    index = d if isinstance(d, int) else (getattr(d, "index", None) or 0)
    if index != 0:
        raise RuntimeError(f"wgtorch uses one adapter; device index {index} is invalid")
    return 0


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``.

    Example::

        model = nn.DataParallel(Net()).to("cuda")
        out = model(x)                  # runs Net on the whole batch
        torch.save(model.module.state_dict(), "net.pt")
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            self.device_ids, self.output_device = [], None
            return
        ids = [0] if device_ids is None else [_device_index(d) for d in device_ids]
        self.device_ids = ids
        self.output_device = _device_index(output_device) if output_device is not None else 0
        self.src_device_obj = GPU

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in self.module.parameters():
            if t.device != self.src_device_obj:
                raise RuntimeError(
                    "module must have its parameters and buffers on device "
                    f"{self.src_device_obj} (device_ids[0]) but found one of them on device: "
                    f"{t.device}")
        inputs = _to_device(inputs, self.src_device_obj)
        kwargs = _to_device(kwargs, self.src_device_obj)
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """The functional ``DataParallel``: ``module(*inputs, **module_kwargs)`` on the one
    adapter (inputs moved there when an adapter exists)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    kwargs = module_kwargs or {}
    if cuda.is_available():
        for d in device_ids or ():
            _device_index(d)
        inputs, kwargs = _to_device(inputs, GPU), _to_device(kwargs, GPU)
    return module(*inputs, **kwargs)
