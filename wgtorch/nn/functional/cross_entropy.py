"""``F.cross_entropy``: argument checks, then the fused kernels of
``wgtorch/ops/cross_entropy.py`` (one forward, one backward; with reduction 'mean' or 'sum'
the forward also reduces while the rows fit its loop budget), or the same formulas in
wgtorch ops when C is past what one invocation may loop over on lavapipe.
"""

from ... import dtypes as dt
from ...device import check_same_device
from ...ops.cross_entropy import (
    MEAN_BY_ROWS,
    MEAN_BY_WEIGHT,
    SUM,
    CrossEntropyLossBackward0,
    composite_rows,
    reduce_steps,
    target_site,
)
from ...tensor import prod
from .fold import check_float

FUSED_MAX_C = 60000  # one invocation walks a row of C logits (lavapipe: 65,535 iterations)
FUSED_REDUCE_MAX = 60000  # ... and with the reduction fused, its rows' logits in turn


def _target_error(input, target):
    if input.ndim == 2 and target.ndim == 1:
        return ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0]})."
        )
    expected = [input.shape[0], *input.shape[2:]] if input.ndim > 1 else []
    return RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")


def cross_entropy_loss(input, target, weight, ignore_index, label_smoothing, reduction):
    """``F.cross_entropy`` once its reduction argument is resolved ('none', 'mean', 'sum')."""
    check_float("cross_entropy", input)
    check_same_device("cross_entropy", (input, target, weight))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(
            f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least 1 dimension (C,)")
    probs = target.dtype.is_floating_point
    if probs:
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(
                f"Expected target size {list(input.shape)}, got {list(target.shape)}"
            )
        if target.dtype is not input.dtype:
            raise RuntimeError(
                f"expected scalar type {input.dtype.name.capitalize()} but found "
                f"{target.dtype.name.capitalize()}"
            )
    elif target.dtype in (dt.bool_, dt.uint8):
        raise RuntimeError(f'"nll_loss" not implemented for \'{target.dtype.name.capitalize()}\'')
    else:
        expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim > 1 else ()
        if tuple(target.shape) != expected:
            raise _target_error(input, target)
    x = input if input.ndim > 1 else input.unsqueeze(0)
    t = target if input.ndim > 1 else target.unsqueeze(0)
    n, c = x.shape[0], x.shape[1]
    s = prod(x.shape[2:])
    if weight is not None and tuple(weight.shape) != (c,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )
    err_site = 0 if probs else target_site(target, c, ignore_index)
    x3 = x.reshape(n, c, s)  # (N, C, S)
    t2 = t.reshape(n, c, s) if probs else t.reshape(n, s)
    if c > FUSED_MAX_C:
        rows, wrow = composite_rows(x3, t2, weight, ignore_index, label_smoothing, probs)
    else:
        reduce = 0
        if reduction != "none" and reduce_steps(n * s, c) <= FUSED_REDUCE_MAX:
            reduce = SUM if reduction == "sum" else MEAN_BY_ROWS if probs else MEAN_BY_WEIGHT
        rows, wrow = CrossEntropyLossBackward0.apply(
            x3.contiguous(), t2.contiguous(), weight.contiguous() if weight is not None else None,
            int(ignore_index), float(label_smoothing), probs, err_site, reduce)
        if reduce:
            return rows
    if reduction == "none":
        return rows.view((n, *input.shape[2:]) if input.ndim > 1 else ())
    if reduction == "sum":
        return rows.sum()
    if probs:
        return rows.sum() / rows.shape[0]
    return rows.sum() / wrow.sum().to(rows.dtype)
