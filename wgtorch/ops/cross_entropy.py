"""Cross-entropy's fused kernels (shaders/cross_entropy*.wgsl) and its autograd Function;
``F.cross_entropy`` (``nn/functional/cross_entropy.py``) checks the arguments and picks the
path.

The forward kernel computes each row's log-sum-exp in one online pass over its C logits and
writes the row's loss (class indices with weight, ignore_index and label smoothing, or class
probabilities). With reduction 'mean' ('mean' divides by the summed target weights, as
PyTorch) or 'sum', the same dispatch reduces the rows in one workgroup while they fit its
loop budget (``reduce_steps``), else the reduction is ordinary sums. The backward kernel
writes each logit's gradient from the saved log-sum-exp (and the 'mean' denominator).

When a graph of the backward is recorded (``create_graph=True``), or C is past what one
invocation may loop over on lavapipe, the same formulas run as wgtorch ops instead
(``composite_rows``).

A class index outside [0, C) that is not ``ignore_index`` raises PyTorch's
``IndexError: Target 12 is out of bounds.``: at the call when the target's exact range is
known on the host (an uploaded target, see ops/value_range.py), else at the next host
readback, flagged by the kernel (which counts the row as ignored, reading nothing out of
bounds). No readback is added: a training step never waits for the check.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import index_kernels as ik
from . import value_range
from .elementwise import where
from .gpu_errors import site
from .kernel import WORKGROUP, Kernel
from .scatter import GatherBackward0

SUM, MEAN_BY_WEIGHT, MEAN_BY_ROWS = 1, 2, 3  # P.reduce of the fused forward
TARGET_OUT_OF_BOUNDS = "Target {value} is out of bounds."

CROSS_ENTROPY = Kernel(
    "cross_entropy", "cross_entropy.wgsl", inputs=("x: T", "tgt: TT", "weight: T"),
    outputs=("loss: T", "wrow: f32", "lse_out: f32"), errors=True,
    params=("R: u32", "C: u32", "S: u32", "flags: u32", "ignore_index: i32", "ls: f32",
            "x_off: u32", "t_off: u32", "w_off: u32", "site: u32", "reduce: u32"))
CROSS_ENTROPY_BACKWARD = Kernel(
    "cross_entropy_backward", "cross_entropy_backward.wgsl",
    inputs=("x: T", "tgt: TT", "weight: T", "lse: f32", "aux: f32", "g: T", "den: f32"),
    outputs=("dx: T",),
    params=("R: u32", "C: u32", "S: u32", "flags: u32", "ignore_index: i32", "ls: f32",
            "x_off: u32", "t_off: u32", "w_off: u32", "g_off: u32", "g_stride: u32",
            "total: u32", "g_scale: f32"))


def reduce_steps(rows, c):
    """Loop steps of one invocation when the forward reduces ``rows`` rows of ``c`` logits in
    one workgroup (each invocation walks every WORKGROUP-th row)."""
    return -(-rows // WORKGROUP) * (c + 1)


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


def _forward_kernel(x, target, weight, ignore_index, ls, probs, n, c, s, err_site, reduce=0):
    """(loss, wrow, lse): per row, or with ``reduce`` (SUM, MEAN_BY_WEIGHT, MEAN_BY_ROWS) the
    0-d loss and wrow as the backward needs it (the weight sum, or per row for probabilities)."""
    r = n * s
    loss = Tensor._empty(() if reduce else (r,), x.dtype, x.device)
    wrow = Tensor._empty((1,) if reduce and not probs else (r,), dt.float32, x.device)
    lse = Tensor._empty((r,), dt.float32, x.device)
    # NOTE: one workgroup reduces all rows; an empty 'mean' is still written (NaN, as PyTorch)
    grid = dict(workgroups=1) if reduce else dict(threads=r)
    CROSS_ENTROPY.launch(ins=[x, target, weight], outs=[loss, wrow, lse], **grid,
                         variant=dict(MODE=int(probs), REDUCE=bool(reduce),
                                      TT="f32" if probs else "i32", T=x.dtype),
                         R=r, C=c, S=s, flags=1 if weight is not None else 0,
                         ignore_index=ignore_index, ls=ls, x_off=x._offset, t_off=target._offset,
                         w_off=weight._offset if weight is not None else 0, site=err_site,
                         reduce=reduce)
    return loss, wrow, lse


def _backward_kernel(g, x, target, weight, lse, aux, ignore_index, ls, probs, n, c, s, flags,
                     den=None, g_scale=1.0):
    dx = Tensor._empty(x.shape, g.dtype, x.device)
    total = dx.numel()
    CROSS_ENTROPY_BACKWARD.launch(
        ins=[x, target, weight, lse, aux, g, den], outs=[dx], threads=total,
        variant=dict(MODE=int(probs), TT="f32" if probs else "i32", T=g.dtype), R=n * s, C=c,
        S=s, flags=flags, ignore_index=ignore_index, ls=ls, x_off=x._offset,
        t_off=target._offset, w_off=weight._offset if weight is not None else 0,
        g_off=g._offset, g_stride=g._stride[0] if g.ndim else 0, total=total, g_scale=g_scale)
    return dx


def _class_view(t, c):
    """(C,) weight as (1, C, 1) against (N, C, S) logits; None stays None."""
    return t.view(1, c, 1) if t is not None else None


def composite_rows(x3, target, weight, ignore_index, ls, probs):
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
    from .creation import arange

    valid = (target != ignore_index).view(n, 1, s)
    onehot = arange(c, device=x3.device).view(1, c, 1) == target.view(n, 1, s)
    wt = (onehot * w).sum(1, keepdim=True) if w is not None else 1.0
    total_w = weight.sum() if w is not None else float(c)
    d = (1.0 - ls) * wt * (p - onehot.to(p.dtype))
    if ls > 0:
        d = d + (ls / c) * (total_w * p - (w if w is not None else 1.0))
    return d * valid * g3
