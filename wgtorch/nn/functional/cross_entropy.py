"""``F.cross_entropy``: one fused kernel forward, one backward (shaders/cross_entropy*.wgsl).

The forward kernel computes each row's log-sum-exp in one online pass over its C logits and
writes the row's loss (class indices with weight, ignore_index and label smoothing, or class
probabilities). With reduction 'mean' ('mean' divides by the summed target weights, as
PyTorch) or 'sum', the same dispatch reduces the rows in one workgroup while they fit its
loop budget (a training step's batch does), else the reduction is ordinary sums. The
backward kernel writes each logit's gradient from the saved log-sum-exp (and the 'mean'
denominator).

When a graph of the backward is recorded (``create_graph=True``), or C is past what one
invocation may loop over on lavapipe, the same formulas run as wgtorch ops instead.

A class index outside [0, C) that is not ``ignore_index`` raises PyTorch's
``IndexError: Target 12 is out of bounds.``: at the call when the target's exact range is
known on the host (an uploaded target, see ops/value_range.py), else at the next host
readback, flagged by the kernel (which counts the row as ignored, reading nothing out of
bounds). No readback is added: a training step never waits for the check.
"""

import struct

from ... import dtypes as dt
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...backend import get_runtime
from ...device import check_same_device
from ...ops import index_kernels as ik
from ...ops import value_range
from ...ops.elementwise import where
from ...ops.gpu_errors import flag_wgsl, site
from ...ops.scatter import GatherBackward0
from ...ops.shaders import load_shader
from ...tensor import Tensor, prod
from .fold import _store_prelude, check_float

FUSED_MAX_C = 60000  # one invocation walks a row of C logits (lavapipe: 65,535 iterations)
FUSED_REDUCE_MAX = 60000  # ... and with the reduction fused, its rows' logits in turn
_PARAMS = struct.Struct("<4Iif6I")
_BACKWARD_PARAMS = struct.Struct("<4Iif6If3I")
SUM, MEAN_BY_WEIGHT, MEAN_BY_ROWS = 1, 2, 3  # P.reduce of the fused forward
WORKGROUP = 64
TARGET_OUT_OF_BOUNDS = "Target {value} is out of bounds."


def target_site(target, c, ignore_index):
    """The error site of a class index outside [0, c) other than ``ignore_index``, for the
    kernel that reads ``target``. Raises IndexError now when target's exact range is known
    and shows a bad class (value_range.py); never reads back."""
    known = value_range.exact(target) if target.numel() else None
    if known is not None:
        for v in (known[1], known[0]):
            if v != ignore_index and not 0 <= v < c:
                raise IndexError(TARGET_OUT_OF_BOUNDS.format(value=v))
    return site(IndexError, TARGET_OUT_OF_BOUNDS)


def pick_targets(x, index):
    """``x.gather(1, index)`` (differentiable) whose kernel flags an index outside
    [0, x.shape[1]) as PyTorch's "Target ... is out of bounds." (clamping it)."""
    check = ik.BoundsCheck(TARGET_OUT_OF_BOUNDS, allow_negative=False)
    dim_map = [None if k == 1 else k for k in range(index.ndim)]
    term = ik.IndexTerm(index, 0, index.ndim, 1, check=check)
    return GatherBackward0.apply(x, ik.IndexPlan(index.shape, dim_map, [term]))


def _source(name, probs, dtype, error_binding=None, reduce=False):
    prelude = (f"const MODE: u32 = {1 if probs else 0}u;\nconst REDUCE: bool = "
               f"{str(reduce).lower()};\nalias TT = {'f32' if probs else 'i32'};\n")
    flag = flag_wgsl(error_binding) if error_binding is not None else ""
    return prelude + _store_prelude(dtype) + load_shader(name) + flag


def _forward_kernel(x, target, weight, ignore_index, ls, probs, n, c, s, err_site, reduce=0):
    """(loss, wrow, lse): per row, or with ``reduce`` (SUM, MEAN_BY_WEIGHT, MEAN_BY_ROWS) the
    0-d loss and wrow as the backward needs it (the weight sum, or per row for probabilities)."""
    rt = get_runtime()
    r = n * s
    loss = Tensor._empty(() if reduce else (r,), x.dtype, x.device)
    wrow = Tensor._empty((1,) if reduce and not probs else (r,), dt.float32, x.device)
    lse = Tensor._empty((r,), dt.float32, x.device)
    if r or reduce:  # NOTE: an empty 'mean' is still written (NaN, as PyTorch)
        fused = bool(reduce)
        kern = rt.kernel(("cross_entropy", probs, fused, x.dtype.name),
                         lambda: _source("cross_entropy.wgsl", probs, x.dtype, 6, fused), 3, 4)
        w = weight if weight is not None else x
        params = _PARAMS.pack(r, c, s, 1 if weight is not None else 0, ignore_index, ls,
                              x._offset, target._offset, w._offset, err_site, reduce, 0)
        rt.dispatch(kern, [x._storage.buffer, target._storage.buffer, w._storage.buffer,
                           loss._storage.buffer, wrow._storage.buffer, lse._storage.buffer,
                           rt.error_buffer], params, 1 if fused else -(-r // WORKGROUP))
    return loss, wrow, lse


def _backward_kernel(g, x, target, weight, lse, aux, ignore_index, ls, probs, n, c, s, flags,
                     den=None, g_scale=1.0):
    rt = get_runtime()
    dx = Tensor._empty(x.shape, g.dtype, x.device)
    total = dx.numel()
    if total:
        kern = rt.kernel(("cross_entropy_backward", probs, g.dtype.name),
                         lambda: _source("cross_entropy_backward.wgsl", probs, g.dtype), 7, 1)
        w = weight if weight is not None else x
        g_stride = g._stride[0] if g.ndim else 0
        params = _BACKWARD_PARAMS.pack(n * s, c, s, flags, ignore_index, ls, x._offset,
                                       target._offset, w._offset, g._offset, g_stride, total,
                                       g_scale, 0, 0, 0)
        den = den if den is not None else lse  # bound but not read
        rt.dispatch(kern, [x._storage.buffer, target._storage.buffer, w._storage.buffer,
                           lse._storage.buffer, aux._storage.buffer, g._storage.buffer,
                           den._storage.buffer, dx._storage.buffer], params,
                    -(-total // WORKGROUP))
    return dx


def _class_view(t, c):
    """(C,) weight as (1, C, 1) against (N, C, S) logits; None stays None."""
    return t.view(1, c, 1) if t is not None else None


def _composite_rows(x3, target, weight, ignore_index, ls, probs):
    """Row losses and 'mean' weights in wgtorch ops; x3 is (N, C, S), target (N, S) or x3's
    shape. Used past FUSED_MAX_C and to differentiate the backward."""
    n, c, s = x3.shape
    logp = x3.log_softmax(1)  # (N, C, S)
    w = _class_view(weight, c)
    if probs:
        q = target * (1.0 - ls) + ls / c
        wq = q * w if w is not None else q
        return -(wq * logp).sum(1).reshape(-1), wq.sum(1).reshape(-1).detach()
    valid = target != ignore_index  # (N, S)
    safe = where(valid, target, 0)  # ignored rows read class 0, then count for nothing
    picked = pick_targets(logp, safe.view(n, 1, s).long()).view(n, s)  # flags a bad target
    wt = weight[safe] if weight is not None else 1.0
    nll = -picked * wt
    smooth = -(logp * w).sum(1) if w is not None else -logp.sum(1)
    rows = (1.0 - ls) * nll + (ls / c) * smooth
    rows = rows * valid
    wrow = (valid * wt) if weight is not None else valid.to(x3.dtype)
    return rows.reshape(-1), wrow.reshape(-1).to(x3.dtype).detach()


class CrossEntropyLossBackward0(Function):
    """Cross-entropy of (N, C, S) logits -> (loss, weight): per row (R = N * S values each),
    or with ``reduce`` the reduced 0-d loss (and what its backward needs, see
    ``_forward_kernel``)."""

    @staticmethod
    def forward(ctx, x3, target, weight, ignore_index, ls, probs, err_site, reduce=0):
        n, c, s = x3.shape
        loss, wrow, lse = _forward_kernel(x3, target, weight, ignore_index, ls, probs, n, c, s,
                                          err_site, reduce)
        ctx.mark_non_differentiable(wrow)
        ctx.set_materialize_grads(False)  # no zeros kernel for wrow's (unused) gradient
        ctx.consts = (ignore_index, ls, probs, reduce)
        ctx.save_for_backward(x3, target, weight, lse, wrow)
        return loss, wrow

    @staticmethod
    def backward(ctx, g, _g_wrow):
        x3, target, weight, lse, wrow = ctx.saved_tensors
        ignore_index, ls, probs, reduce = ctx.consts
        n, c, s = x3.shape
        need_x, need_t = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        g_scale = 1.0 / max(n * s, 1) if reduce == MEAN_BY_ROWS else 1.0
        if is_grad_enabled():  # create_graph: the backward as differentiable wgtorch ops
            # NOTE: wrow is non-differentiable, but unpacked as an output it carries this node
            g_rows = g / wrow.detach() if reduce == MEAN_BY_WEIGHT else \
                g * g_scale if reduce else g
            gx = _composite_grad(g_rows, x3, target, weight, ignore_index, ls, probs) \
                if need_x else None
        elif need_x:
            flags = 1 if weight is not None else 0
            if probs:
                aux = wrow
            elif weight is not None and ls > 0:
                aux, flags = weight.sum().view(1), flags | 2
            else:
                aux = lse
            den = wrow if reduce == MEAN_BY_WEIGHT else None
            flags |= 4 if den is not None else 0
            gx = _backward_kernel(g, x3, target, weight, lse, aux, ignore_index, ls, probs,
                                  n, c, s, flags, den, g_scale)
        else:
            gx = None
        gt = None
        if probs and need_t:  # d loss / d q = -w * log p, and q = t * (1 - ls) + ls / C
            w = _class_view(weight, c)
            logp = x3.log_softmax(1)
            g3 = (g * g_scale).reshape(1, 1, 1) if reduce else g.view(n, 1, s)
            gt = -(1.0 - ls) * logp * g3
            gt = gt * w if w is not None else gt
        return gx, gt, None, None, None, None, None, None


def _composite_grad(g, x3, target, weight, ignore_index, ls, probs):
    n, c, s = x3.shape
    p = x3.softmax(1)  # (N, C, S)
    w = _class_view(weight, c)
    g3 = g.reshape(n, 1, s) if g.numel() == n * s else g.reshape(1, 1, 1)
    if probs:
        q = target * (1.0 - ls) + ls / c
        wq = q * w if w is not None else q
        return (p * wq.sum(1, keepdim=True) - wq) * g3
    from ...ops.creation import arange

    valid = (target != ignore_index).view(n, 1, s)
    onehot = arange(c, device=x3.device).view(1, c, 1) == target.view(n, 1, s)
    wt = (onehot * w).sum(1, keepdim=True) if w is not None else 1.0
    total_w = weight.sum() if w is not None else float(c)
    d = (1.0 - ls) * wt * (p - onehot.to(p.dtype))
    if ls > 0:
        d = d + (ls / c) * (total_w * p - (w if w is not None else 1.0))
    return d * valid * g3


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
        rows, wrow = _composite_rows(x3, t2, weight, ignore_index, label_smoothing, probs)
    else:
        reduce = 0
        if reduction != "none" and -(-(n * s) // WORKGROUP) * (c + 1) <= FUSED_REDUCE_MAX:
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
