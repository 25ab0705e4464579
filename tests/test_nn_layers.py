"""Linear, Bilinear, Embedding, normalisation, dropout, activations, flatten, interpolate."""

import math

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F

RNG = np.random.default_rng(7)


def np_erf(x):
    return np.vectorize(math.erf)(x)


def np_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---- linear layers -------------------------------------------------------------------------


def test_linear():
    check_op([(5, 3, 4), (6, 4), (6,)], F.linear, ref=lambda x, w, b: x @ w.T + b)
    lin = nn.Linear(4, 6, bias=False)
    assert lin.bias is None and lin.weight.shape == torch.Size([6, 4])
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(3x5 and 4x6\)"):
        lin(torch.randn(3, 5))


def test_bilinear():
    check_op([(3, 4), (3, 5), (2, 4, 5), (2,)], F.bilinear,
             ref=lambda a, b, w, bias: np.einsum("ni,oij,nj->no", a, w, b) + bias)
    m = nn.Bilinear(4, 5, 2)
    assert m.weight.shape == torch.Size([2, 4, 5]) and m(torch.randn(7, 4),
                                                         torch.randn(7, 5)).shape == (7, 2)


def test_embedding_grad_accumulates_and_padding_idx():
    emb = nn.Embedding(6, 3, padding_idx=2)
    assert (emb.weight.detach().numpy()[2] == 0).all()
    idx = torch.tensor([[1, 2, 1], [5, 2, 0]])
    out = emb(idx)
    assert out.shape == torch.Size([2, 3, 3])
    assert_close(out, emb.weight.detach().numpy()[idx.numpy()])
    g = RNG.standard_normal((2, 3, 3))
    (out * torch.tensor(g, dtype=torch.float32)).sum().backward()
    expected = np.zeros((6, 3))
    for (i, j), v in np.ndenumerate(idx.numpy()):
        if v != 2:
            expected[v] += g[i, j]
    assert_close(emb.weight.grad, expected, atol=1e-5)
    with pytest.raises(RuntimeError, match="indices"):
        emb(torch.tensor([1.0]))


def test_embedding_max_norm_and_pretrained():
    w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    emb = nn.Embedding.from_pretrained(w.clone(), max_norm=1.0)
    out = emb(torch.tensor([0, 1]))
    assert_close(out, np.array([[0.6, 0.8], [0.3, 0.4]]), atol=1e-4)
    assert not emb.weight.requires_grad


# ---- normalisation -------------------------------------------------------------------------


def ref_layer_norm(x, dims, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - dims, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = ((x - m) ** 2).mean(axes, keepdims=True)
    y = (x - m) / np.sqrt(v + eps)
    return y * (w if w is not None else 1) + (b if b is not None else 0)


def test_layer_norm_fused():
    check_op([(3, 5, 8), (8,), (8,)], lambda x, w, b: F.layer_norm(x, (8,), w, b),
             ref=lambda x, w, b: ref_layer_norm(x, 1, w, b))
    check_op([(4, 2, 3)], lambda x: F.layer_norm(x, (2, 3)), ref=lambda x: ref_layer_norm(x, 2))
    ln = nn.LayerNorm(8)
    assert ln.weight.shape == torch.Size([8]) and (ln.weight.detach().numpy() == 1).all()
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[2, 3\]"):
        F.layer_norm(torch.randn(2, 3), (4,))


def test_layer_norm_many_rows_and_shifted_values():
    # more rows than one weight-gradient chunk, and values far from zero (variance precision)
    x = RNG.standard_normal((4500, 4)) + 1000.0
    w = RNG.standard_normal(4)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float32, requires_grad=True)
    out = F.layer_norm(xt, (4,), wt)
    assert_close(out, ref_layer_norm(x.astype(np.float32).astype(np.float64), 1, w), atol=2e-3)
    out.sum().backward()
    xhat = ref_layer_norm(x.astype(np.float32).astype(np.float64), 1)
    assert_close(wt.grad, xhat.sum(0), atol=0.05, rtol=1e-3)


def test_layer_norm_double_backward():
    # the gradient itself checked against numpy, and its own gradient by finite differences
    G0 = RNG.standard_normal((3, 6))

    def grad_fn(x, w):
        out = F.layer_norm(x, (6,), w)
        return torch.autograd.grad((out * torch.tensor(G0, dtype=torch.float32)).sum(), x,
                                   create_graph=True)[0]

    def ref_grad(x, w, eps=1e-5):
        m = x.mean(-1, keepdims=True)
        rstd = 1 / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + eps)
        xhat = (x - m) * rstd
        gw = G0 * w
        return rstd * (gw - gw.mean(-1, keepdims=True) - xhat * (gw * xhat).mean(-1,
                                                                                keepdims=True))

    check_op([(3, 6), (6,)], grad_fn, ref=ref_grad, layouts=("contiguous",))


def test_group_norm_and_instance_norm():
    def ref_gn(x, w, b, groups):
        n, c = x.shape[:2]
        y = ref_layer_norm(x.reshape(n, groups, -1), 1).reshape(x.shape)
        return y * w.reshape(1, c, 1, 1) + b.reshape(1, c, 1, 1)

    check_op([(2, 6, 3, 2), (6,), (6,)], lambda x, w, b: F.group_norm(x, 3, w, b),
             ref=lambda x, w, b: ref_gn(x, w, b, 3))
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(torch.randn(2, 3, 4), 2)
    check_op([(2, 3, 5)], lambda x: nn.InstanceNorm1d(3)(x), ref=lambda x: ref_layer_norm(x, 1))


def test_batch_norm_train_eval_running_stats():
    x = RNG.standard_normal((8, 3, 4, 5)) * 2 + 1
    bn = nn.BatchNorm2d(3, momentum=0.2)
    out = bn(torch.tensor(x, dtype=torch.float32))
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    ref = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    assert_close(out, ref, atol=1e-4)
    n = x.size // 3
    assert_close(bn.running_mean, 0.2 * mean, atol=1e-5)
    assert_close(bn.running_var, 0.8 + 0.2 * var * n / (n - 1), atol=1e-4)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    out = bn(torch.tensor(x, dtype=torch.float32))
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    assert_close(out, (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5),
                 atol=1e-4)

    def ref_bn(x, w, b):
        m = x.mean(0)
        return (x - m) / np.sqrt(((x - m) ** 2).mean(0) + 1e-5) * w + b

    check_op([(6, 4), (4,), (4,)],
             lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), ref=ref_bn)
    with pytest.raises(ValueError, match="expected 4D input \\(got 2D input\\)"):
        nn.BatchNorm2d(3)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(torch.randn(1, 3))


def test_rms_norm():
    def ref(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1.1920928955078125e-07) * w

    check_op([(3, 5), (5,)], lambda x, w: F.rms_norm(x, (5,), w), ref=ref)
    assert repr(nn.RMSNorm(5)) == "RMSNorm((5,), eps=None, elementwise_affine=True)"


def test_normalize():
    check_op([(4, 5)], lambda x: F.normalize(x, dim=1),
             ref=lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))


# ---- dropout -------------------------------------------------------------------------------


def test_dropout_mask_scale_grad_and_eval():
    torch.manual_seed(3)
    x = torch.ones(200, 100, requires_grad=True)
    drop = nn.Dropout(0.3)
    out = drop(x)
    y = out.detach().numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    assert np.allclose(y[kept], 1 / 0.7)
    out.sum().backward()
    assert_close(x.grad, kept / 0.7)
    drop.eval()
    assert drop(x) is x
    torch.manual_seed(3)
    assert (nn.Dropout(0.3)(torch.ones(200, 100)).numpy() == y).all()  # same seed, same mask
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_zeroes_whole_channels():
    torch.manual_seed(0)
    y = F.dropout2d(torch.ones(4, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(4, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    # other ranks warn and keep PyTorch 2.13's masks: (N, C, L) per (N, C); (N, C) per element
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        y = F.dropout2d(torch.ones(4, 16, 9), 0.5).numpy()
    assert ((y == 0).all(-1) | (y == 2).all(-1)).all() and 0 < (y == 0).mean() < 1
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        assert F.dropout2d(torch.ones(40, 50), 0.5).shape == (40, 50)


# ---- activations ---------------------------------------------------------------------------

ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np_erf(x / np.sqrt(2)))),
    (nn.GELU("tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    (nn.SiLU(), lambda x: x * np_sigmoid(x)),
    (nn.Sigmoid(), np_sigmoid),
    (nn.Tanh(), np.tanh),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.CELU(1.3), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x / 1.3))),
    (nn.SELU(),
     lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    (nn.Mish(), lambda x: x * np.tanh(np_softplus(x))),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    (nn.Hardtanh(-0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.Softplus(beta=2.0), lambda x: np_softplus(2 * x) / 2),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.LogSigmoid(), lambda x: -np_softplus(-x)),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    (nn.GLU(), lambda x: x[:, :2] * np_sigmoid(x[:, 2:])),
]


@pytest.mark.parametrize("module,ref", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activation(module, ref):
    check_op([(3, 4)], module, ref=ref, low=-4.0, high=4.0, layouts=("contiguous",))


def test_prelu_and_inplace():
    m = nn.PReLU(3)
    assert m.weight.shape == torch.Size([3]) and float(m.weight[0]) == 0.25
    check_op([(2, 3, 4), (3,)], lambda x, w: F.prelu(x, w),
             ref=lambda x, w: np.where(x > 0, x, w[None, :, None] * x))
    x = torch.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x and x.numpy().tolist() == [0.0, 2.0]


def test_flatten_unflatten():
    x = torch.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == torch.Size([2, 60])
    assert nn.Flatten(0, 2)(x).shape == torch.Size([24, 5])
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == torch.Size([2, 3, 20])


# ---- interpolate ---------------------------------------------------------------------------


def ref_resize_1d(x, out, mode, align_corners=False, scale=None):
    """Along the last axis, by PyTorch's source-index rules, written as explicit loops."""
    n_in = x.shape[-1]
    res = np.zeros(x.shape[:-1] + (out,))
    s = scale if scale is not None else n_in / out
    for o in range(out):
        if mode == "nearest":
            res[..., o] = x[..., min(int(math.floor(o * s)), n_in - 1)]
            continue
        if align_corners:
            src = o * (n_in - 1) / (out - 1) if out > 1 else 0.0
        else:
            src = max((o + 0.5) * s - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = src - i0
        res[..., o] = (1 - lam) * x[..., i0] + lam * x[..., i1]
    return res


def test_interpolate_nearest_and_bilinear():
    def ref2d(x, size, mode, align_corners=False, scales=(None, None)):
        y = ref_resize_1d(x, size[1], mode, align_corners, scales[1])
        return np.swapaxes(ref_resize_1d(np.swapaxes(y, -1, -2), size[0], mode, align_corners,
                                         scales[0]), -1, -2)

    check_op([(1, 2, 3, 5)], lambda x: F.interpolate(x, size=(7, 4)),
             ref=lambda x: ref2d(x, (7, 4), "nearest"))
    check_op([(1, 2, 3, 5)], lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
             ref=lambda x: ref2d(x, (4, 7), "bilinear", scales=(1 / 1.5, 1 / 1.5)))
    check_op([(2, 1, 4, 3)], lambda x: F.interpolate(x, size=(5, 6), mode="bilinear",
                                                    align_corners=True),
             ref=lambda x: ref2d(x, (5, 6), "bilinear", True))
    check_op([(2, 3, 5)], lambda x: F.interpolate(x, size=8, mode="linear"),
             ref=lambda x: ref_resize_1d(x, 8, "linear"))
    up = nn.Upsample(scale_factor=2, mode="nearest")
    assert up(torch.randn(1, 1, 2, 3)).shape == torch.Size([1, 1, 4, 6])
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(torch.randn(1, 1, 2, 2), size=3, scale_factor=2)


def test_layer_norm_long_rows_composite_path():
    from wgtorch.nn.functional.normalization import FUSED_MAX_D

    x = RNG.standard_normal((2, FUSED_MAX_D + 10))
    out = F.layer_norm(torch.tensor(x, dtype=torch.float32), (x.shape[1],))
    assert_close(out, ref_layer_norm(x, 1), atol=1e-4)


def test_one_hot_and_pad_reexports():
    assert F.one_hot(torch.tensor([0, 2]), 3).numpy().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert F.pad(torch.ones(1, 2), (1, 2), value=0.5).numpy().tolist() == [[0.5, 1, 1, 0.5,
                                                                             0.5]]


def test_float16_layers_keep_dtype_and_values():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.LayerNorm([4, 5, 5]), nn.Flatten(),
                          nn.Linear(100, 3))
    x = torch.randn(2, 2, 5, 5)
    ref = F.cross_entropy(model(x), torch.tensor([0, 2]))
    model.half()
    out = F.cross_entropy(model(x.half()), torch.tensor([0, 2]))
    assert out.dtype == torch.float16
    assert abs(out.item() - ref.item()) < 2e-2
    out.backward()
    assert model[0].weight.grad.dtype == torch.float16
