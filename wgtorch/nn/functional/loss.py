"""Loss functions with ``reduction='mean' | 'sum' | 'none'`` (and PyTorch's legacy
``size_average``/``reduce`` arguments).

cross_entropy is a fused kernel (cross_entropy.py); binary_cross_entropy and its logits form
are elementwise primitives (one kernel each way, and one that checks binary_cross_entropy's
arguments are in [0, 1]); the others are short compositions. Bad class indices and
probabilities raise PyTorch's errors without a readback (see ops/value_range.py).
"""

import warnings

from ...device import check_same_device
from ...ops import elementwise as ew
from ...ops import elementwise_args as ewa
from ...ops.cross_entropy import pick_targets, target_site
from ...ops.loss_kernels import check_unit_interval
from ...ops.shape import broadcast_tensors
from .cross_entropy import cross_entropy_loss

_LOG_CLAMP = -100.0  # PyTorch clamps log() in binary_cross_entropy to >= -100


def legacy_reduction(size_average, reduce, emit_warning=True):
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = ("mean" if size_average else "sum") if reduce else "none"
    if emit_warning:
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{ret}' instead.", stacklevel=3,
        )
    return ret


def _reduction(reduction, size_average, reduce):
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _warn_size(name, input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", stacklevel=3,
        )


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C, *) or (C,) against class indices (N, *) or
    class probabilities (input's shape), fused in one kernel each way.

    Example::

        loss = F.cross_entropy(model(x), labels)               # labels: int64 (N,)
        loss = F.cross_entropy(logits, labels, label_smoothing=0.1, ignore_index=0)
    """
    reduction = _reduction(reduction, size_average, reduce)
    _check_reduction(reduction)
    return cross_entropy_loss(input, target, weight, ignore_index, label_smoothing, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, *) at class indices."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"nll_loss\" not implemented for '{input.dtype.legacy_name}'")
    reduction = _reduction(reduction, size_average, reduce)
    _check_reduction(reduction)
    check_same_device("nll_loss", (input, target, weight))
    if input.ndim < 1 or (input.ndim > 1 and target.ndim != input.ndim - 1) or \
            (input.ndim == 1 and target.ndim != 0):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0] if input.ndim else 0}) to match target "
            f"batch_size ({target.shape[0] if target.ndim else 0})."
            if input.ndim == 2 else
            f"Expected target size {[input.shape[0], *input.shape[2:]]}, got "
            f"{list(target.shape)}"
        )
    if input.ndim >= 2 and target.shape[0] != input.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0]})."
        )
    x = input if input.ndim > 1 else input.unsqueeze(0)
    t = target if input.ndim > 1 else target.unsqueeze(0)
    target_site(target, x.shape[1], ignore_index)  # a known bad class raises now
    valid = t != ignore_index
    safe = ew.where(valid, t, 0)
    picked = pick_targets(x, safe.unsqueeze(1)).squeeze(1)  # (N, *); flags a bad class
    w = weight[safe] * valid if weight is not None else valid.to(x.dtype)
    loss = -picked * w
    if input.ndim == 1:
        loss, w = loss.squeeze(0), w.squeeze(0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error."""
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size("mse_loss", input, target)
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error."""
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size("l1_loss", input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta."""
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(ew.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size("huber_loss", input, target)
    d = (input - target).abs()
    loss = ew.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_grads(g, out, x, t):
    gx = g * (x - t) / ((1.0 - x) * x).clamp_min(1e-12)
    gt = g * ((1.0 - x).log().clamp_min(_LOG_CLAMP) - x.log().clamp_min(_LOG_CLAMP))
    return gx, gt


_BinaryCrossEntropy = ew._make_function(
    "binary_cross_entropy",
    {"f32": f"-({{1}} * max(log({{0}}), {_LOG_CLAMP}) + "
            f"(1.0 - {{1}}) * max(log(1.0 - {{0}}), {_LOG_CLAMP}))"},
    ew.FLOAT, _bce_grads, 2)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t * log(x) + (1 - t) * log(1 - x)) for probabilities ``input`` (logs clamped at -100).

    An element of input or target outside [0, 1] raises PyTorch's RuntimeError ("all elements
    of input should be between 0 and 1") at the next host readback: the values are on the GPU,
    so a kernel checks them and flags the error (as CUDA's device-side assert).
    """
    reduction = _reduction(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    check_unit_interval(input, target)
    loss = _BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_logits_grads(g, out, x, t, pos_weight):
    sp = ewa.softplus(-x)
    lw = (pos_weight - 1.0) * t + 1.0
    gx = g * ((1.0 - t) - lw * (-x).sigmoid())
    gt = g * ((pos_weight - 1.0) * sp - x)
    gp = g * t * sp if not isinstance(pos_weight, float) else None
    return gx, gt, gp


_BinaryCrossEntropyWithLogits = ew._make_function(
    "binary_cross_entropy_with_logits",
    {"f32": "(1.0 - {1}) * {0} + (({2} - 1.0) * {1} + 1.0) * softplus_f(-{0}, 1.0, 20.0)"},
    ew.FLOAT, _bce_logits_grads, 3)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable kernel; ``pos_weight`` weighs positives
    (broadcast along the last dim)."""
    reduction = _reduction(reduction, size_average, reduce)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    pw = pos_weight if pos_weight is not None else 1.0
    loss = _BinaryCrossEntropyWithLogits.apply(input, target, pw)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` as log-probabilities: target * (log(target) - input).

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematically correct
    KL); 'mean' averages over all elements, as PyTorch (with its warning).
    """
    reduction = _reduction(reduction, size_average, reduce)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = ew.where(target > 0, target * target.clamp_min(1e-38).log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * 3.141592653589793 * target).log()
        loss = loss + ew.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if var.ndim == input.ndim - 1 and tuple(var.shape) == tuple(input.shape[:-1]):
        var = var.unsqueeze(-1)
    v = var.clamp_min(eps)
    loss = 0.5 * (v.log() + (input - target) ** 2 / v)
    if full:
        loss = loss + 0.9189385332046727  # 0.5 * log(2 * pi)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    return _reduce((-target * (input1 - input2) + margin).relu(), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    # PyTorch's rule for any target: the margin term where target != 1, input where != -1
    loss = ew.where(target != -1, input, 0.0) + ew.where(target != 1, (margin - input).relu(),
                                                          0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    return _reduce(ewa.softplus(-target * input), reduction)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (broadcasting)."""
    x1, x2 = broadcast_tensors(x1, x2)  # the norms run over the broadcast dim too
    dot = (x1 * x2).sum(dim)
    n1 = (x1 * x1).sum(dim).sqrt().clamp_min(eps)
    n2 = (x2 * x2).sum(dim).sqrt().clamp_min(eps)
    return dot / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim."""
    d = (x1 - x2 + eps).abs()
    if p == 2:
        return (d * d).sum(-1, keepdim=keepdim).sqrt()
    return d.pow(p).sum(-1, keepdim=keepdim).pow(1.0 / p)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-12)
    loss = ew.where(target == 1, 1.0 - cos, (cos - margin).relu())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).relu(), reduction)
