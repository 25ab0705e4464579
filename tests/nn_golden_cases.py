"""Cases shared by tests/data/make_nn_golden.py (run once with real PyTorch) and
tests/test_nn_golden.py (wgtorch): ``torch`` is whichever module is passed in.

Each module case is (constructor, input shapes); each loss case is (input shape, function).
Inputs and upstream gradients come from ``inputs(name, shapes)`` so both sides draw the same
numbers without storing them.
"""

import numpy as np


def inputs(name, shapes, out_shape=None):
    """Deterministic inputs (and, with ``out_shape``, the upstream gradient) for a case."""
    rng = np.random.default_rng(sum(map(ord, name)))
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if out_shape is None:
        return xs
    return xs, rng.standard_normal(out_shape).astype(np.float32)

def cases(torch):
    nn = torch.nn
    return {
        "conv_same_dil": (lambda: nn.Conv2d(3, 4, (2, 3), padding="same", dilation=(2, 1)),
                          [(2, 3, 7, 6)]),
        "conv_stride_groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2,
                                                 padding_mode="circular"), [(2, 4, 7, 8)]),
        "conv1d": (lambda: nn.Conv1d(3, 5, 4, stride=2, padding=2), [(2, 3, 11)]),
        "convT": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                             groups=2), [(2, 4, 5, 4)]),
        "maxpool_ceil": (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                         [(2, 3, 8, 7)]),
        "avgpool_ceil_nopad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                    count_include_pad=False), [(2, 3, 8, 7)]),
        "avgpool_ceil_pad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
                             [(2, 3, 8, 7)]),
        "adaptive_avg": (lambda: nn.AdaptiveAvgPool2d((3, 5)), [(2, 3, 7, 9)]),
        "adaptive_max": (lambda: nn.AdaptiveMaxPool2d((4, 3)), [(2, 3, 7, 9)]),
        "up_nearest_sf": (lambda: nn.Upsample(scale_factor=1.7, mode="nearest"), [(1, 2, 5, 4)]),
        "up_bilinear_sf": (lambda: nn.Upsample(scale_factor=2.5, mode="bilinear"),
                           [(1, 2, 3, 4)]),
        "up_bilinear_ac": (lambda: nn.Upsample(size=(7, 5), mode="bilinear", align_corners=True),
                           [(1, 2, 3, 4)]),
        "up_nearest_exact": (lambda: nn.Upsample(size=(7, 5), mode="nearest-exact"),
                             [(1, 2, 3, 4)]),
        "bn_train": (lambda: nn.BatchNorm2d(3), [(4, 3, 5, 5)]),
        "gn": (lambda: nn.GroupNorm(2, 4), [(3, 4, 5)]),
        "ln": (lambda: nn.LayerNorm([3, 4]), [(2, 5, 3, 4)]),
        "rms": (lambda: nn.RMSNorm(6), [(2, 3, 6)]),
        "mha_seq": (lambda: nn.MultiheadAttention(8, 2), [(5, 2, 8), (4, 2, 8), (4, 2, 8)]),
        "enc_post": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), [(5, 2, 8)]),
        "enc_pre_gelu": (lambda: nn.TransformerEncoderLayer(
            8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True),
            [(2, 5, 8)]),
        "bilinear": (lambda: nn.Bilinear(3, 4, 5), [(6, 3), (6, 4)]),
        "prelu": (lambda: nn.PReLU(3), [(2, 3, 4)]),
        "activations": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Hardswish(), nn.Mish(),
                                              nn.ELU(), nn.SELU(), nn.GELU("tanh")), [(3, 4)]),
    }


def losses(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    t = torch.tensor(rng.integers(0, 5, size=(6,)))
    t2 = torch.tensor(rng.integers(0, 5, size=(2, 3, 4)))
    w = torch.tensor(rng.uniform(0.5, 2, 5).astype(np.float32))
    probs = torch.tensor(rng.dirichlet(np.ones(5), 6).astype(np.float32))
    tb = torch.tensor(rng.uniform(size=(6, 5)).astype(np.float32))
    pw = torch.tensor(rng.uniform(0.5, 3, 5).astype(np.float32))
    return {
        "ce": ((6, 5), lambda x: F.cross_entropy(x, t, weight=w, ignore_index=2,
                                                 label_smoothing=0.15)),
        "ce_spatial": ((2, 5, 3, 4), lambda x: F.cross_entropy(x, t2, label_smoothing=0.1,
                                                               reduction="sum")),
        "ce_probs": ((6, 5), lambda x: F.cross_entropy(x, probs, weight=w, label_smoothing=0.2)),
        "nll": ((6, 5), lambda x: F.nll_loss(F.log_softmax(x, 1), t, weight=w)),
        "bce_logits": ((6, 5), lambda x: F.binary_cross_entropy_with_logits(x, tb,
                                                                           pos_weight=pw)),
        "bce": ((6, 5), lambda x: F.binary_cross_entropy(torch.sigmoid(x), tb)),
        "smooth_l1": ((6, 5), lambda x: F.smooth_l1_loss(x, tb, beta=0.3)),
        "huber": ((6, 5), lambda x: F.huber_loss(x, tb, delta=0.4)),
        "kl": ((6, 5), lambda x: F.kl_div(F.log_softmax(x, 1), probs, reduction="batchmean")),
        "sdpa_causal": ((2, 4, 6), lambda x: F.scaled_dot_product_attention(
            x, x * 0.5, x, is_causal=True).sum()),
    }
