"""``wgtorch.nn.functional``: PyTorch's ``torch.nn.functional`` on WebGPU.

One file per family: activation, dropout, linear (linear, bilinear, embedding), fold
(unfold/fold: im2col/col2im), conv, pooling, normalization, loss (cross_entropy in
cross_entropy.py), attention, sampling (interpolate). ``pad`` and ``one_hot`` are the ops
declared in ``wgtorch/ops``.
"""

from ...ops.padding import pad as _pad
from ...ops.scatter import one_hot as _one_hot
from .activation import (
    celu,
    celu_,
    elu,
    elu_,
    gelu,
    glu,
    gumbel_softmax,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    relu_,
    rrelu,
    selu,
    selu_,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
    threshold_,
)
from .attention import multi_head_attention_forward, scaled_dot_product_attention
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d
from .fold import fold, unfold
from .linear import bilinear, embedding, linear
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cosine_similarity,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    pairwise_distance,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from .normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    normalize,
    rms_norm,
)
from .pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    lp_pool1d,
    lp_pool2d,
    max_pool1d,
    max_pool2d,
    max_pool2d_with_indices,
)
from .sampling import (
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)``; modes
    'constant', 'reflect', 'replicate', 'circular' (``wgtorch.ops.padding.pad``)."""
    return _pad(input, pad, mode=mode, value=value)


def one_hot(tensor, num_classes=-1):
    """int64 (*, num_classes) with a 1 at each class index (``wgtorch.ops.scatter.one_hot``)."""
    return _one_hot(tensor, num_classes)
