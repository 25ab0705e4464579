"""Masked ops: masked_fill, masked_select and masked_scatter (a bool mask that broadcasts to
the input), built on ``where`` and the indexing kernels."""

from .. import dtypes as dt
from ..tensor import Tensor, tensor_method
from . import index_kernels as ik
from .copy import _check_scalar_for, apply_inplace, inplace_method
from .elementwise import where
from .indexing import IndexPutBackward0, _Adv, _plan, advanced_getitem
from .pointwise import broadcast_shapes


def _check_mask(op, mask):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype is not dt.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.name}")


@tensor_method()
def masked_fill(input, mask, value):
    """``value`` where ``mask`` is True, else ``input`` (mask broadcasts to input)."""
    _check_mask("masked_fill_", mask)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s).")
        value = value.to(input.dtype)
    else:
        value = _check_scalar_for(input.dtype, value)
        if not input.dtype.is_floating_point and input.dtype is not dt.bool_:
            value = int(value)
    return where(mask, value, input)


inplace_method("masked_fill_", masked_fill)


@tensor_method()
def masked_select(input, mask):
    """The elements of input where mask is True (both broadcast), as a 1-D tensor."""
    _check_mask("masked_select", mask)
    shape = broadcast_shapes(input.shape, mask.shape)
    return advanced_getitem(input.expand(shape), mask.expand(shape).contiguous())


@tensor_method()
def masked_scatter(input, mask, source):
    """A copy of input with the elements where mask is True taken in order from source."""
    _check_mask("masked_scatter_", mask)
    shape = broadcast_shapes(input.shape, mask.shape)
    coords = ik.nonzero_coords(mask.expand(shape))
    n = coords.shape[0]
    if source.numel() < n:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           f"as ones in mask ({n}), got {source.numel()}")
    base = input.expand(shape)
    adv = [_Adv(coords[:, j], j, True, j) for j in range(len(shape))]
    plan = _plan(base, adv)
    return IndexPutBackward0.apply(base, source.reshape(-1)[:n], plan, "store")


@tensor_method()
def masked_scatter_(self, mask, source):
    return apply_inplace(self, masked_scatter(self, mask, source))
