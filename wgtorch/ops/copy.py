"""Copies and casts: contiguous, clone, to(), copy_, and the in-place machinery.

In-place ops compute their result out of place, then write it into the target (which may be
a strided view) with one copy kernel, bump the storage's version counter and hand the
result's autograd history to the target, as PyTorch's in-place semantics require.
"""

from .. import dtypes as dt
from ..autograd.function import Function, SavedTensor
from ..autograd.grad_mode import grad_state
from ..device import as_device
from ..tensor import Tensor, tensor_method
from .naming import named
from .pointwise import broadcast_shapes, launch_map
from .value_range import derive

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
    if dst.numel():
        launch_map("fill", "{0}", [value], [dst.dtype.wgsl], dst.dtype, out=dst)
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
    return derive(launch_map("copy", expr, [x], casts, dtype, out=out), x, same_values=True)


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
        ctx.dtype, ctx.device = x.dtype, x.device
        out = _cast(x, dtype)
        out.device = device
        return out

    @staticmethod
    def backward(ctx, g):
        if not ctx.dtype.is_floating_point:
            return None, None, None
        return g.to(ctx.dtype, device=ctx.device), None, None


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

    named(convert, name, __name__, f"Tensor.{name}", f"``self.to({target!r})``.")
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


# ---- in-place ---------------------------------------------------------------------------
#
# An in-place op computes its result out of place, checks (_check_inplace), writes it into
# the target with one copy kernel and records history (_record_inplace), as PyTorch does:
# - a target that is not a view takes the result's grad_fn (copy_/fill_ get CopyBackwards);
# - a target that is a differentiable view of ``base`` (t._view_version is set) gives the base
#   a CopySlices node: the written region's gradient goes to the written value, the rest to
#   the base's old history. The view itself, and every other view of the base, then has a
#   stale version: its grad_fn is regenerated from the base on next use (Tensor.grad_fn ->
#   _refresh_view -> AsStridedBackward0).
# Geometries are (shape, stride, offset) relative to the base's offset; the base must be
# contiguous for them to describe a region of a base-shaped gradient.


def _geometry(view, base):
    return tuple(view.shape), tuple(view._stride), view._offset - base._offset


def _region(t, geometry):
    """The view of contiguous ``t`` (base-shaped) at ``geometry``."""
    shape, stride, offset = geometry
    return t._view_of(shape, stride, t._offset + offset)


class AsStridedBackward0(Function):
    """The view of ``base`` at ``geometry``: the regenerated history of a stale view."""

    @staticmethod
    def forward(ctx, base, geometry):
        ctx.base_shape, ctx.geometry = base.shape, geometry
        return _region(base, geometry)

    @staticmethod
    def backward(ctx, g):
        return AsStridedScatterBackward0.apply(g, ctx.base_shape, ctx.geometry), None


class NonContiguousBaseViewBackward(AsStridedBackward0):
    """A view of a non-contiguous base written in place: not differentiable here."""

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(
            "wgtorch: cannot backpropagate through a view of a non-contiguous tensor that was "
            "modified in place; call .contiguous() on the tensor before taking the view"
        )


class AsStridedScatterBackward0(Function):
    """zeros(base_shape) with ``g`` added into the region at ``geometry`` (AsStrided's
    backward)."""

    @staticmethod
    def forward(ctx, g, base_shape, geometry):
        ctx.geometry = geometry
        shape, stride, offset = geometry
        # NOTE: a dim of stride 0 (an expanded view) sends many elements to one: sum them.
        summed = tuple(d for d, (n, st) in enumerate(zip(shape, stride)) if st == 0 and n > 1)
        if summed:
            g = g.sum(summed, keepdim=True)
        out = g.new_zeros(base_shape)
        copy_into(_region(out, (g.shape, stride, offset)), g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return AsStridedBackward0.apply(gg.contiguous(), ctx.geometry), None, None


class ZeroRegionBackward0(Function):
    """A copy of ``g`` with the region at ``geometry`` set to zero (CopySlices' base gradient)."""

    @staticmethod
    def forward(ctx, g, geometry):
        ctx.geometry = geometry
        out = _cast(g, g.dtype)
        fill_value(_region(out, geometry), 0)
        return out

    @staticmethod
    def backward(ctx, gg):
        return ZeroRegionBackward0.apply(gg.contiguous(), ctx.geometry), None


class CopySlices(Function):
    """History of a base tensor after ``src`` (a tensor, or None for a constant) was written
    into the region of it at ``geometry``."""

    @staticmethod
    def forward(ctx, base, src, geometry):
        ctx.geometry = geometry
        return base._alias()

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous()
        g_base = ZeroRegionBackward0.apply(g, ctx.geometry) if ctx.needs_input_grad[0] else None
        # the engine sums a broadcast src's gradient back to src's shape and casts its dtype
        g_src = AsStridedBackward0.apply(g, ctx.geometry) if ctx.needs_input_grad[1] else None
        return g_base, g_src, None


class CopyBackwards(Function):
    """History of a tensor (not a view) overwritten in place by ``src`` (a tensor, or None
    for a constant): its old value gets a zero gradient, ``src`` the gradient."""

    @staticmethod
    def forward(ctx, dst, src):
        return dst._alias()

    @staticmethod
    def backward(ctx, g):
        return g.new_zeros(g.shape) if ctx.needs_input_grad[0] else None, g


def _refresh_view(view):
    """Regenerate the grad_fn of a differentiable view whose storage was written in place."""
    view._view_version = view._storage.version
    base = view._base
    if not base.requires_grad:
        view._grad_fn = None
        return
    # NOTE: a region of a non-contiguous base has no base-shaped geometry: such a view still
    # gets a history, one that raises if backward reaches it (never a silently wrong grad).
    fn = AsStridedBackward0 if base.is_contiguous() else NonContiguousBaseViewBackward
    prev = grad_state.enabled
    grad_state.enabled = True
    try:
        out = fn.apply(base, _geometry(view, base))
    finally:
        grad_state.enabled = prev
    _move_history(view, out._grad_fn, 0)


Tensor._refresh_view = _refresh_view


def _check_inplace(self, src=None, result_dtype=None):
    """Refuse an in-place write into ``self`` that PyTorch refuses (before anything is
    written)."""
    if self._is_inference and not grad_state.inference:
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed. You can "
            "make a clone to get a normal tensor before doing inplace update."
        )
    if grad_state.enabled:
        if self._view_version is not None:
            base = self._base
            if base._grad_fn is None and base._requires_grad:
                raise RuntimeError(
                    "a view of a leaf Variable that requires grad is being used in an in-place "
                    "operation."
                )
            src_grad = isinstance(src, Tensor) and src.requires_grad
            if (src_grad or base.requires_grad) and not base.is_contiguous():
                raise RuntimeError(
                    "wgtorch: in-place writes into a view of a non-contiguous tensor are not "
                    "differentiable; call .contiguous() on the base first"
                )
        elif self._grad_fn is None and self._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
    if result_dtype is not None and not _can_cast(result_dtype, self.dtype):
        raise RuntimeError(
            f"result type {result_dtype.legacy_name} can't be cast to the desired output "
            f"type {self.dtype.legacy_name}"
        )


def _check_no_overlap(self):
    """An op whose result differs per element cannot write into an expanded tensor (fill_
    can, as in PyTorch)."""
    if any(st == 0 and n > 1 for n, st in zip(self.shape, self._stride)):
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )


def _can_cast(src, dst):
    order = {"b": 0, "i": 1, "f": 2}
    return order[src.kind] <= order[dst.kind]


def apply_inplace(self, result):
    """Make ``self`` hold ``result`` (an out-of-place result): data, version and history."""
    _check_no_overlap(self)
    _check_inplace(self, result, result.dtype)
    if tuple(result.shape) != tuple(self.shape):
        if broadcast_shapes(result.shape, self.shape) != tuple(self.shape):
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(broadcast_shapes(result.shape, self.shape))}"
            )
    if result._grad_fn is not None:
        _keep_saved_copies(self, result._grad_fn)
    copy_into(self, result)
    _record_inplace(self, result, own=True)
    return self


def inplace_method(name, fn):
    """Attach ``Tensor.<name>`` (``add_``, ``addmm_``...): ``fn``'s result put in place."""

    def method(self, *args, **kwargs):
        return apply_inplace(self, fn(self, *args, **kwargs))

    named(method, name, fn.__module__, f"Tensor.{name}", f"In-place version of ``{fn.__name__}``.")
    return tensor_method(name)(method)


def _keep_saved_copies(self, node, depth=2):
    """Before ``self`` is overwritten by the result of ``node``: where the op's nodes saved
    ``self`` for backward, save a copy instead (PyTorch saves ``self.clone()`` for in-place
    ops, so ``y *= a`` or ``y.sin_()`` work). Only still-valid saved tensors are copied."""
    for saved in getattr(node, "_saved", ()):
        if (type(saved) is SavedTensor and saved.output_nr is None
                and saved.data._storage is self._storage
                and saved.version == self._storage.version):
            saved.data = saved.data.clone()
            saved.version = saved.data._storage.version
    if depth > 1:
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt is not self._grad_fn:
                _keep_saved_copies(self, nxt, depth - 1)


def _record_inplace(self, src, own=False):
    """After ``src`` (a tensor, or None for a constant) was written into ``self``: bump the
    version and update the history. With ``own``, ``src`` is a temporary result whose grad_fn
    ``self`` may take over instead of getting a CopyBackwards node."""
    self._storage.version += 1
    if not grad_state.enabled:
        return
    src_grad = isinstance(src, Tensor) and src.requires_grad
    if self._view_version is not None:
        base = self._base
        if src_grad or base.requires_grad:
            new = CopySlices.apply(base, src if src_grad else None, _geometry(self, base))
            base._grad_fn, base._output_nr = new._grad_fn, 0
        return  # self's own grad_fn is regenerated from the base when next used
    if (src_grad and own and src._grad_fn is not None and src.shape == self.shape
            and src.dtype is self.dtype):
        _move_history(self, src._grad_fn, src._output_nr)
    elif src_grad or self.requires_grad:
        new = CopyBackwards.apply(self, src if src_grad else None)
        _move_history(self, new._grad_fn, 0)


def _move_history(t, node, output_nr):
    """Give ``t`` the history ``(node, output_nr)``; retain_grad moves with it (hooks stay)."""
    if t._retains_grad and t._grad_fn is not None:
        t._grad_fn._unretain(t._output_nr)
        node._retain(output_nr, t)
    t._grad_fn, t._output_nr = node, output_nr


@tensor_method()
def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast) into self in place."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    _check_no_overlap(self)
    _check_inplace(self, src)
    copy_into(self, src)
    _record_inplace(self, src if src.dtype.is_floating_point else None)
    return self


@tensor_method()
def fill_(self, value):
    """Fill self with ``value`` (a number or a 0-d tensor) in place."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions."
            )
        _check_inplace(self, value)
        copy_into(self, value)
        _record_inplace(self, value)
        return self
    _check_inplace(self)
    fill_value(self, value)
    _record_inplace(self, None)
    return self


@tensor_method()
def zero_(self):
    return self.fill_(0)
