"""Tensor: a strided view of a GPU buffer, with dtype, device and autograd fields.

This file holds the core only (metadata, host transfers, autograd entry points; the GPU
buffer behind it is ``storage.py``).
Ops attach themselves as methods with ``tensor_method`` where they are declared, so each
op is declared once, in ``wgtorch/ops``.
"""

import warnings

import numpy as np

from . import dtypes as dt
from .autograd.function import RemovableHandle, grad_accumulator
from .autograd.grad_mode import grad_state, is_grad_enabled, no_grad
from .backend import get_runtime
from .device import CPU, GPU, as_device
from .storage import (  # noqa: F401  (ops import these from here)
    ELEMENT_BYTES,
    MAX_NUMEL,
    Storage,
    contiguous_strides,
    prod,
    to_storage_array,
)

class Tensor:
    """A multi-dimensional array on the WebGPU adapter, with PyTorch's API.

    Example::

        x = wgtorch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = (x * x).sum()
        y.backward()          # x.grad == 2 * x
    """

    __array_priority__ = 1000  # numpy scalars defer to Tensor's operators

    def __init__(self, *args, device=None, dtype=None):
        """``Tensor(data)`` copies data; ``Tensor(2, 3)`` is an uninitialised float tensor."""
        from .ops import creation

        if len(args) == 1 and not isinstance(args[0], int):
            src = creation.tensor(args[0], dtype=dtype or dt.get_default_dtype(), device=device)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            src = creation.empty(*shape, dtype=dtype, device=device)
        self._init_from(src._storage, src.shape, src._stride, src._offset, src.dtype, src.device)

    def _init_from(self, storage, shape, stride, offset, dtype, device):
        self._storage = storage
        self.shape = Size(shape)
        self._stride = tuple(stride)
        self._offset = offset
        self.dtype = dtype
        self.device = device
        if grad_state.inference:
            self._is_inference = True

    # Autograd fields, as class defaults (cheaper than setting them on every new tensor): a new
    # tensor is a leaf that does not require grad. See the "autograd" section below.
    _requires_grad = False
    _grad = None
    _grad_fn = None
    _output_nr = 0
    _grad_accumulator = None  # weak reference to the leaf's AccumulateGrad
    _hooks = None  # a leaf's tensor hooks
    _post_accumulate_hooks = None
    _base = None  # the tensor whose storage a view shares
    _view_version = None  # a differentiable view: the storage version its _grad_fn is for
    _retains_grad = False
    _is_inference = False

    @classmethod
    def _make(cls, storage, shape, stride, offset, dtype, device):
        t = object.__new__(cls)
        t._init_from(storage, shape, stride, offset, dtype, device)
        return t

    @classmethod
    def _empty(cls, shape, dtype, device=GPU):
        shape = tuple(shape)
        return cls._make(Storage(prod(shape)), shape, contiguous_strides(shape), 0, dtype, device)

    @classmethod
    def _from_numpy(cls, array, dtype, device=GPU):
        # NOTE: np.ascontiguousarray makes 0-d arrays 1-d; keep the caller's shape.
        data = to_storage_array(array, dtype).reshape(np.shape(array))
        t = cls._empty(data.shape, dtype, device)
        if data.size:
            get_runtime().write(t._storage.buffer, data)  # contiguous: uploaded without a copy
            if dtype is dt.int64 or dtype is dt.int32:  # index checks need no readback
                from .ops.value_range import note_values

                note_values(t, data)
        return t

    def _alias(self):
        """A new Tensor object over the same data, with no autograd history."""
        t = Tensor._make(self._storage, self.shape, self._stride, self._offset, self.dtype,
                         self.device)
        t._base = self._base
        return t

    def _view_of(self, shape, stride, offset):
        t = Tensor._make(self._storage, shape, stride, offset, self.dtype, self.device)
        t._base = self if self._base is None else self._base
        return t

    # ---- metadata --------------------------------------------------------------------

    @property
    def ndim(self):
        return len(self.shape)

    def dim(self):
        return len(self.shape)

    ndimension = dim

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[self._wrap_dim(dim)]

    def stride(self, dim=None):
        return self._stride if dim is None else self._stride[self._wrap_dim(dim)]

    def storage_offset(self):
        return self._offset

    def numel(self):
        return prod(self.shape)

    nelement = numel

    def element_size(self):
        return self.dtype.itemsize

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self.dtype.itemsize

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self.device.type == "wgpu"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    # Devices and layouts wgtorch does not have (the WebGPU device answers ``is_cuda``).
    is_xpu = is_mps = is_meta = is_mkldnn = is_vulkan = is_ipu = is_mtia = is_maia = False
    is_sparse = is_sparse_csr = is_quantized = is_nested = False

    @property
    def _version(self):
        return self._storage.version

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, other):
        self._storage = other._storage
        self.shape, self._stride, self._offset = other.shape, other._stride, other._offset
        self.dtype, self.device = other.dtype, other.device

    def __deepcopy__(self, memo):
        """A copy with its own storage, the same requires_grad, and a deep-copied ``.grad``."""
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        if id(self) in memo:
            return memo[id(self)]
        with no_grad():
            new = self.clone()
        new = type(self)._make(new._storage, new.shape, new._stride, new._offset, new.dtype,
                               new.device) if type(self) is not type(new) else new
        new.requires_grad = self.requires_grad
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return False

    def is_contiguous(self, memory_format=None):
        expected = 1
        for s, st in zip(reversed(self.shape), reversed(self._stride)):
            if s != 1 and st != expected:
                return False
            expected *= s
        return True

    def _wrap_dim(self, dim, ndim=None):
        n = self.ndim if ndim is None else ndim
        lo, hi = (-1, 0) if n == 0 else (-n, n - 1)
        if not isinstance(dim, int) or not lo <= dim <= hi:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
            )
        return dim % n if n else 0

    def type(self, dtype=None):
        if dtype is None:
            prefix = "torch.cuda." if self.device.type == "wgpu" else "torch."
            return f"{prefix}{self.dtype.legacy_name}Tensor"
        return self.to(dt.as_dtype(dtype))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    # ---- host transfers ------------------------------------------------------------------

    def _storage_array(self):
        """The elements as their 32-bit storage numpy array, in this tensor's shape."""
        src = self if self.is_contiguous() else self.contiguous()
        n = src.numel()
        raw = get_runtime().read(src._storage.buffer, src._offset * ELEMENT_BYTES,
                                 n * ELEMENT_BYTES)
        return np.frombuffer(raw, dtype=dt.STORAGE_NP[self.dtype.wgsl]).reshape(self.shape)

    def numpy(self, *, force=False):
        """A numpy copy of the data (reads back from the GPU; submits pending work)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._storage_array().astype(self.dtype.np_dtype)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        v = self._storage_array().reshape(-1)[0]
        if self.dtype is dt.bool_:
            return bool(v)
        return float(v) if self.dtype.is_floating_point else int(v)

    def pin_memory(self, device=None):
        """Self: there is no pinned host memory to stage through, every upload goes straight
        to the adapter (so ``x.pin_memory().to(device, non_blocking=True)`` runs as is)."""
        return self

    def is_pinned(self, device=None):
        return False

    def tolist(self):
        return self.detach().numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.detach().numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            what = "no values" if self.numel() == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __repr__(self):
        from .formatting import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)  # TypeError for a spec, as PyTorch

    # ---- autograd --------------------------------------------------------------------

    @property
    def requires_grad(self):
        """True when autograd records operations on this tensor (a leaf that requires grad,
        or the result of a recorded operation)."""
        return self._requires_grad or self.grad_fn is not None

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return
        if value and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if value and self._is_inference and not grad_state.inference:
            raise RuntimeError(
                "Setting requires_grad=True on inference tensor outside InferenceMode is not "
                "allowed."
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        """The node that made this tensor (None for a leaf), e.g. ``<MulBackward0 ...>``."""
        if self._view_version is not None and self._view_version != self._storage.version:
            self._refresh_view()  # NOTE: the base was written in place: regenerate (copy.py)
        return self._grad_fn

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (leaves, or after ``retain_grad()``)."""
        if self._grad is None and not self._retains_grad and self.grad_fn is not None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
                "mistake, make sure you access the leaf Tensor instead.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the "
                    "tensor are the same size"
                )
            if value.dtype is not self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor "
                    f"with dtype '{self.dtype}'. Please ensure that the gradient and the tensor "
                    "have the same dtype"
                )
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def output_nr(self):
        return self._output_nr

    def _get_accumulator(self):
        return grad_accumulator(self)

    def is_inference(self):
        """True for a tensor created inside ``inference_mode()``."""
        return self._is_inference

    def detach(self):
        """A tensor sharing this data (and its version counter), cut from the graph."""
        t = Tensor._make(self._storage, self.shape, self._stride, self._offset, self.dtype,
                         self.device)
        t._is_inference = self._is_inference
        return t

    def detach_(self):
        """Cut this tensor from the graph in place (it becomes a leaf)."""
        if self._view_version is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        if node is None or self._retains_grad:
            return
        node._retain(self._output_nr, self)
        self._retains_grad = True

    @property
    def retains_grad(self):
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters the hook.

        Example::

            h = x.register_hook(lambda g: g * 2)   # doubles x's gradient
            h.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is not None:
            return node._add_tensor_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a gradient was accumulated into this leaf's ``.grad``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return RemovableHandle(self._post_accumulate_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves.

        ``gradient`` is required unless this tensor has one element; ``retain_graph`` keeps
        the saved tensors for another backward; ``create_graph`` records the backward pass
        (for higher-order gradients); ``inputs`` restricts accumulation to those tensors.
        """
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)


class Size(tuple):
    """``tensor.shape``: a tuple of ints, printed as ``torch.Size([...])``."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        return prod(self)

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r


def tensor_method(*names):
    """Attach the decorated op to Tensor under ``names`` (the op is declared once, in ops/).

    A name Tensor already has is refused: the last import would silently win otherwise.
    """

    def attach(fn):
        for name in names or (fn.__name__,):
            if name in Tensor.__dict__:
                raise RuntimeError(f"Tensor.{name} is declared twice (again by "
                                   f"{fn.__module__}.{fn.__qualname__})")
            setattr(Tensor, name, fn)
        return fn

    return attach


def is_tensor(obj):
    return isinstance(obj, Tensor)


__all__ = ["Tensor", "Size", "tensor_method", "is_tensor", "CPU", "GPU", "as_device", "no_grad",
           "is_grad_enabled"]
