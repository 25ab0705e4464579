"""``nn.Parameter``: a Tensor that a Module registers as a learnable parameter.

A Parameter shares its data with the tensor it wraps (no copy), is a leaf, and requires
grad by default. Ops on it return plain Tensors.
"""

from ..ops.creation import empty
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    Example::

        w = nn.Parameter(torch.randn(3, 4))
        w.requires_grad      # True
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): argument 'data' must be a Tensor, not {type(data).__name__}"
            )
        p = object.__new__(cls)
        p._init_from(data._storage, data.shape, data._stride, data._offset, data.dtype,
                     data.device)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


def _register_weight_and_bias(module, weight_shape, bias_shape, device=None, dtype=None):
    """Register ``module.weight`` then ``module.bias`` as fresh (uninitialised) Parameters of
    these shapes; a shape of None registers None instead (``bias=False``, ``affine=False``)."""
    for name, shape in (("weight", weight_shape), ("bias", bias_shape)):
        param = None if shape is None else Parameter(empty(shape, device=device, dtype=dtype))
        module.register_parameter(name, param)


class Buffer(Tensor):
    """``nn.Buffer(data, persistent=True)``: assigning it to a Module attribute registers a
    buffer (PyTorch 2.5+)."""

    def __new__(cls, data, *, persistent=True):
        b = object.__new__(cls)
        b._init_from(data._storage, data.shape, data._stride, data._offset, data.dtype,
                     data.device)
        b.persistent = persistent
        return b

    def __init__(self, data, *, persistent=True):
        pass


def is_lazy(param):
    return False
