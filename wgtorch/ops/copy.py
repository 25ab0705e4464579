"""Copies and casts: contiguous, clone, to(), copy_, and the in-place machinery.

In-place ops compute their result out of place, then write it into the target (which may be
a strided view) with one copy kernel, bump the storage's version counter and hand the
result's autograd history to the target, as PyTorch's in-place semantics require.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import as_device
from ..tensor import Tensor, contiguous_strides, tensor_method
from .pointwise import launch_map

# NOTE: nz_f tests the bits: NaN is true, as in PyTorch (a compiler may assume no NaN).
_TO_BOOL = {"f32": "select(0u, 1u, nz_f({0}))", "i32": "select(0u, 1u, {0} != 0)",
            "u32": "select(0u, 1u, {0} != 0u)"}


def _cast_args(src, dst_dtype):
    if dst_dtype is dt.bool_:
        return _TO_BOOL[src.dtype.wgsl], [src.dtype.wgsl]
    return "{0}", [dst_dtype.wgsl]


def copy_into(dst, src):
    """Write ``src`` (broadcast to dst's shape, cast to dst's dtype) into ``dst``. No autograd."""
    if not isinstance(src, Tensor):
        fill_value(dst, src)
        return dst
    if src._storage is dst._storage:
        src = _cast(src, src.dtype)  # NOTE: never read and write one buffer in one dispatch
    expr, casts = _cast_args(src, dst.dtype)
    launch_map("copy", expr, [src], casts, dst.dtype, out=dst)
    return dst


def fill_value(dst, value):
    """Write a Python scalar into every element of ``dst``."""
    value = _check_scalar_for(dst.dtype, value)
    launch_map("fill", "{0}", [value], [dst.dtype.wgsl], dst.dtype, out=dst) if dst.numel() else None
    return dst


def _check_scalar_for(dtype, value):
    if isinstance(value, Tensor):
        return value.item()
    if dtype is dt.bool_:
        return bool(value)
    if not dtype.is_floating_point:
        if isinstance(value, float):
            value = int(value)
        if not dt.INT32_MIN <= value <= dt.INT32_MAX:
            raise RuntimeError(f"value {value} does not fit in wgtorch's {dtype.name} storage")
    return value


def _cast(x, dtype):
    out = Tensor._empty(x.shape, dtype, x.device)
    expr, casts = _cast_args(x, dtype)
    return launch_map("copy", expr, [x], casts, dtype, out=out)


class CloneBackward0(Function):
    @staticmethod
    def forward(ctx, x):
        return _cast(x, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopyBackward0(Function):
    @staticmethod
    def forward(ctx, x, dtype, device):
        ctx.dtype = x.dtype
        out = _cast(x, dtype)
        out.device = device
        return out

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.dtype) if ctx.dtype.is_floating_point else None, None, None


@tensor_method()
def clone(input, *, memory_format=None):
    """A copy with its own storage (differentiable)."""
    return CloneBackward0.apply(input)


@tensor_method()
def contiguous(self, memory_format=None):
    """Self when already contiguous, else a contiguous copy."""
    return self if self.is_contiguous() else CloneBackward0.apply(self)


def _parse_to(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dt.dtype) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, bool):
            continue
        elif a is not None:
            try:
                device = as_device(a)
            except RuntimeError:
                dtype = dt.as_dtype(a)
    return (as_device(device) if device is not None else None,
            dt.as_dtype(dtype) if dtype is not None else None)


@tensor_method()
def to(self, *args, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``: PyTorch's forms.

    Returns self when nothing changes. Moving between ``cpu`` and the GPU keeps the data on
    the adapter (see wgtorch/device.py) and costs one copy kernel.
    """
    device, dtype = _parse_to(args, dict(kwargs))
    device = device or self.device
    dtype = dtype or self.dtype
    flags = [a for a in args if isinstance(a, bool)]  # positional (non_blocking, copy)
    copy = kwargs.get("copy", len(flags) > 1 and flags[1])
    if device == self.device and dtype is self.dtype and not copy:
        return self
    return ToCopyBackward0.apply(self, dtype, device)


def _converter(name, target):
    def convert(self, memory_format=None):
        return self.to(target)

    convert.__name__ = name
    convert.__doc__ = f"``self.to({target!r})``."
    tensor_method(name)(convert)


for _name, _dt in (("float", dt.float32), ("half", dt.float16), ("int", dt.int32),
                   ("long", dt.int64), ("bool", dt.bool_), ("byte", dt.uint8)):
    _converter(_name, _dt)


@tensor_method()
def double(self, memory_format=None):
    raise dt.float64_error("Tensor.double()")


@tensor_method()
def cpu(self, memory_format=None):
    return self.to("cpu")


@tensor_method()
def cuda(self, device=None, non_blocking=False, memory_format=None):
    return self.to("wgpu")


@tensor_method("new_tensor")
def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from .creation import tensor

    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


# ---- in-place ---------------------------------------------------------------------------


class CopySlices(Function):
    """History of a base tensor after an in-place write into one of its views."""

    @staticmethod
    def forward(ctx, base, value, geometry):
        ctx.geometry = geometry
        ctx.value_shape = value.shape
        return base._alias()

    @staticmethod
    def backward(ctx, g):
        shape, stride, offset = ctx.geometry
        g = g.contiguous()
        region = g._view_of(shape, stride, offset)
        g_value = region.clone() if ctx.needs_input_grad[1] else None
        g_base = g.clone()
        copy_into(g_base._view_of(shape, stride, offset), 0.0)
        from .reduce import sum_to

        return g_base, sum_to(g_value, ctx.value_shape) if g_value is not None else None, None


def _check_inplace(self, result_dtype=None):
    if is_grad_enabled() and self.requires_grad and self.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    if result_dtype is not None and not _can_cast(result_dtype, self.dtype):
        raise RuntimeError(
            f"result type {result_dtype.legacy_name} can't be cast to the desired output "
            f"type {self.dtype.legacy_name}"
        )


def _can_cast(src, dst):
    order = {"b": 0, "i": 1, "f": 2}
    return order[src.kind] <= order[dst.kind]


def apply_inplace(self, result):
    """Make ``self`` hold ``result`` (an out-of-place result): data, version and history."""
    _check_inplace(self, result.dtype)
    if tuple(result.shape) != tuple(self.shape):
        from .pointwise import broadcast_shapes

        if broadcast_shapes(result.shape, self.shape) != tuple(self.shape):
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(broadcast_shapes(result.shape, self.shape))}"
            )
    copy_into(self, result)
    _record_inplace(self, result)
    return self


def _record_inplace(view, value):
    """Bump the version and give ``view`` (and its base) the history of writing ``value``."""
    view._storage.version += 1
    if not (is_grad_enabled() and isinstance(value, Tensor)):
        return
    base = view._base
    if value.requires_grad or view.requires_grad:
        if base is not None and (base.requires_grad or value.requires_grad):
            if base.grad_fn is None and base.requires_grad:
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation."
                )
            if base._stride != contiguous_strides(base.shape):
                raise RuntimeError(
                    "wgtorch: in-place writes into a view of a non-contiguous tensor are not "
                    "differentiable; call .contiguous() on the base first"
                )
            geometry = (view.shape, view._stride, view._offset - base._offset)
            value = value.expand(view.shape).to(base.dtype)
            new_base = CopySlices.apply(base, value, geometry)
            base.grad_fn, base._output_nr = new_base.grad_fn, 0
            base.requires_grad = True
        if value.requires_grad:
            view.grad_fn, view._output_nr = value.grad_fn, value._output_nr
            view.requires_grad = True
            if value.grad_fn is None:  # a leaf was copied in: route through an identity node
                alias = CloneBackward0.apply(value)
                view.grad_fn, view._output_nr = alias.grad_fn, 0


@tensor_method()
def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast) into self in place."""
    _check_inplace(self)
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    copy_into(self, src)
    _record_inplace(self, src if src.dtype.is_floating_point else None)
    return self


@tensor_method()
def fill_(self, value):
    _check_inplace(self)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions."
            )
        copy_into(self, value)
        _record_inplace(self, value)
        return self
    fill_value(self, value)
    _record_inplace(self, None)
    return self


@tensor_method()
def zero_(self):
    return self.fill_(0)


def setitem(self, key, value):
    """``self[key] = value`` for basic keys (views); advanced keys go to index_put_."""
    from . import views

    if not views.is_basic_index(key):
        from . import indexing

        indexing.advanced_setitem(self, key, value)
        return
    _check_inplace(self)
    target = views.basic_view(self, key)
    if isinstance(value, Tensor):
        copy_into(target, value)
        _record_inplace(target, value)
    else:
        fill_value(target, value)
        self._storage.version += 1


Tensor.__setitem__ = setitem
