"""Convolutions (im2col + matmul), unfold/fold and pooling against numpy references."""

import numpy as np
import pytest
from helpers import assert_close, check_op

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F

# ---- numpy references ----------------------------------------------------------------------


def ref_conv2d(x, w, b=None, stride=(1, 1), pad=((0, 0), (0, 0)), dil=(1, 1), groups=1):
    """Direct convolution; ``pad`` is ((top, bottom), (left, right))."""
    x = np.pad(x, ((0, 0), (0, 0), *pad))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = x[:, g * cg:(g + 1) * cg,
                          i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                          j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch,
                                                         w[g * og:(g + 1) * og, :, i, j])
    return out if b is None else out + b[None, :, None, None]


def ref_conv_transpose2d(x, w, b=None, stride=(1, 1), pad=(0, 0), out_pad=(0, 0), dil=(1, 1),
                         groups=1):
    """Scatter form: every input pixel adds weight * value into the output."""
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    full_h = (h - 1) * stride[0] + dil[0] * (kh - 1) + 1 + out_pad[0]
    full_w = (wd - 1) * stride[1] + dil[1] * (kw - 1) + 1 + out_pad[1]
    out = np.zeros((n, og * groups, full_h, full_w))
    cg = cin // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", x[:, g * cg:(g + 1) * cg],
                                    w[g * cg:(g + 1) * cg, :, i, j])
                out[:, g * og:(g + 1) * og,
                    i * dil[0]:i * dil[0] + stride[0] * (h - 1) + 1:stride[0],
                    j * dil[1]:j * dil[1] + stride[1] * (wd - 1) + 1:stride[1]] += contrib
    out = out[:, :, pad[0]:full_h - pad[0], pad[1]:full_w - pad[1]]
    return out if b is None else out + b[None, :, None, None]


def ref_unfold(x, k, dil=(1, 1), pad=(0, 0), stride=(1, 1)):
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (xp.shape[2] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    cols = np.zeros((n, c, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            cols[:, :, i, j] = xp[:, :, i * dil[0]:i * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                                  j * dil[1]:j * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
    return cols.reshape(n, c * k[0] * k[1], oh * ow)


def ref_pool2d(x, k, s, p, d=(1, 1), ceil_mode=False, mode="max", count_include_pad=True,
               divisor=None):
    n, c, h, w = x.shape

    def out_size(size, k_, s_, p_, d_):
        num = size + 2 * p_ - d_ * (k_ - 1) - 1 + (s_ - 1 if ceil_mode else 0)
        o = num // s_ + 1
        if ceil_mode and (o - 1) * s_ >= size + p_:
            o -= 1
        return o

    oh, ow = out_size(h, k[0], s[0], p[0], d[0]), out_size(w, k[1], s[1], p[1], d[1])
    out = np.zeros((n, c, oh, ow))
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            if mode == "max":
                rows = [hs + a * d[0] for a in range(k[0]) if 0 <= hs + a * d[0] < h]
                cols = [ws + b * d[1] for b in range(k[1]) if 0 <= ws + b * d[1] < w]
                win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
                am = win.argmax(-1)
                out[:, :, i, j] = win.max(-1)
                rows_a, cols_a = np.array(rows), np.array(cols)
                idx[:, :, i, j] = rows_a[am // len(cols)] * w + cols_a[am % len(cols)]
            else:
                he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
                size = (he - hs) * (we - ws)
                h0, h1, w0, w1 = max(hs, 0), min(he, h), max(ws, 0), min(we, w)
                total = x[:, :, h0:h1, w0:w1].sum((2, 3))
                cnt = divisor or (size if count_include_pad else (h1 - h0) * (w1 - w0))
                out[:, :, i, j] = total / cnt
    return out, idx


def ref_adaptive(x, osize, mode="avg"):
    n, c, h, w = x.shape
    out = np.zeros((n, c) + tuple(osize))
    for i in range(osize[0]):
        h0, h1 = (i * h) // osize[0], -(-((i + 1) * h) // osize[0])
        for j in range(osize[1]):
            w0, w1 = (j * w) // osize[1], -(-((j + 1) * w) // osize[1])
            win = x[:, :, h0:h1, w0:w1]
            out[:, :, i, j] = win.mean((2, 3)) if mode == "avg" else win.max((2, 3))
    return out


# ---- convolution ---------------------------------------------------------------------------


def test_conv2d_stride_padding_dilation_groups():
    check_op([(2, 4, 7, 6), (6, 2, 3, 2), (6,)],
             lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                      groups=2),
             ref=lambda x, w, b: ref_conv2d(x, w, b, (2, 1), ((1, 1), (2, 2)), (1, 2), 2))


def test_conv2d_same_padding_even_kernel_and_no_bias():
    # padding='same' with an even kernel pads one more after the data than before
    check_op([(1, 3, 5, 6), (4, 3, 2, 4)],
             lambda x, w: F.conv2d(x, w, padding="same"),
             ref=lambda x, w: ref_conv2d(x, w, None, pad=((0, 1), (1, 2))))


def test_conv2d_unbatched_and_module():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, kernel_size=3, stride=2, padding=1)
    x = np.random.default_rng(1).standard_normal((3, 9, 8))
    out = conv(torch.tensor(x, dtype=torch.float32))
    assert out.shape == torch.Size([5, 5, 4])
    ref = ref_conv2d(x[None], conv.weight.detach().numpy(), conv.bias.detach().numpy(), (2, 2),
                     ((1, 1), (1, 1)))[0]
    assert_close(out, ref, atol=1e-5)
    assert conv.weight.shape == torch.Size([5, 3, 3, 3]) and conv.bias.shape == torch.Size([5])


def test_conv2d_padding_modes():
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 5))
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    out = conv(torch.tensor(x, dtype=torch.float32))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    ref = ref_conv2d(xp, conv.weight.detach().numpy(), conv.bias.detach().numpy())
    assert_close(out, ref, atol=1e-5)


def test_conv1d():
    check_op([(2, 3, 9), (4, 3, 3), (4,)],
             lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
             ref=lambda x, w, b: ref_conv2d(x[:, :, None], w[:, :, None], b, (1, 2),
                                            ((0, 0), (1, 1)), (1, 2))[:, :, 0])
    assert nn.Conv1d(3, 4, 3)(torch.randn(3, 10)).shape == torch.Size([4, 8])


def test_conv_transpose2d():
    check_op([(2, 4, 3, 4), (4, 3, 3, 2), (6,)],
             lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0),
                                                output_padding=(1, 0), groups=2),
             ref=lambda x, w, b: ref_conv_transpose2d(x, w, b, (2, 1), (1, 0), (1, 0),
                                                      groups=2))
    m = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    assert m.weight.shape == torch.Size([4, 2, 3, 3])
    assert m(torch.randn(1, 4, 5, 5)).shape == torch.Size([1, 2, 9, 9])
    assert m(torch.randn(1, 4, 5, 5), output_size=[10, 10]).shape == torch.Size([1, 2, 10, 10])


def test_conv_transpose1d():
    check_op([(1, 2, 5), (2, 3, 3)],
             lambda x, w: F.conv_transpose1d(x, w, stride=2, dilation=2),
             ref=lambda x, w: ref_conv_transpose2d(x[:, :, None], w[:, :, None], None, (1, 2),
                                                   dil=(1, 2))[:, :, 0])


def test_conv_errors():
    w = torch.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                                           r"to conv2d, but got input of size: \[2, 3\]"):
        F.conv2d(torch.randn(2, 3), w)
    with pytest.raises(RuntimeError, match=r"expected input\[1, 2, 5, 5\] to have 3 channels, "
                                           r"but got 2 channels instead"):
        F.conv2d(torch.randn(1, 2, 5, 5), w)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input"):
        F.conv2d(torch.randn(1, 3, 2, 2), w)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(torch.randn(1, 3, 5, 5), w, stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(RuntimeError, match="Expected 2D \\(unbatched\\) or 3D \\(batched\\) "
                                           "input to conv1d"):
        F.conv1d(torch.randn(2, 3, 4, 5), torch.randn(2, 3, 3))


def test_unfold_fold():
    check_op([(2, 3, 5, 6)], lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1,
                                                stride=(1, 2)),
             ref=lambda x: ref_unfold(x, (2, 3), (2, 1), (1, 1), (1, 2)))
    # fold is unfold's adjoint: <unfold(x), y> == <x, fold(y)>
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5, 6))
    cols = ref_unfold(x, (3, 2), (1, 1), (1, 0), (2, 1))
    y = rng.standard_normal(cols.shape)
    folded = F.fold(torch.tensor(y, dtype=torch.float32), (5, 6), (3, 2), padding=(1, 0),
                    stride=(2, 1)).numpy()
    assert abs((cols * y).sum() - (x * folded).sum()) < 1e-3


# ---- pooling -------------------------------------------------------------------------------


def test_max_pool2d_values_indices_and_grad():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))
    out, idx = F.max_pool2d(torch.tensor(x, dtype=torch.float32), 3, stride=2, padding=1,
                            dilation=(1, 2), ceil_mode=True, return_indices=True)
    ref, ref_idx = ref_pool2d(x, (3, 3), (2, 2), (1, 1), (1, 2), ceil_mode=True)
    assert_close(out, ref)
    assert idx.dtype == torch.int64 and (idx.numpy() == ref_idx).all()
    check_op([(2, 2, 6, 5)], lambda x: F.max_pool2d(x, (2, 3), stride=(2, 1), padding=(1, 1)),
             ref=lambda x: ref_pool2d(x, (2, 3), (2, 1), (1, 1))[0])


def test_max_pool_double_backward():
    # d/dv of <d/dx sum(out * v), gg> gathers gg at each window's argmax
    x = torch.randn(2, 2, 4, 6, requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    v = torch.randn(out.shape, requires_grad=True)
    (g,) = torch.autograd.grad((out * v).sum(), x, create_graph=True)
    gg = np.random.default_rng(5).standard_normal(x.shape)
    (gv,) = torch.autograd.grad((g * torch.tensor(gg, dtype=torch.float32)).sum(), v)
    expected = np.take_along_axis(gg.reshape(2, 2, -1), idx.numpy().reshape(2, 2, -1), 2)
    assert_close(gv, expected.reshape(out.shape))


def test_avg_pool2d_variants():
    for kw in ({"count_include_pad": True}, {"count_include_pad": False},
               {"ceil_mode": True}, {"divisor_override": 5}):
        check_op([(1, 2, 7, 6)],
                 lambda x, kw=kw: F.avg_pool2d(x, 3, stride=2, padding=1, **kw),
                 ref=lambda x, kw=kw: ref_pool2d(
                     x, (3, 3), (2, 2), (1, 1), mode="avg",
                     ceil_mode=kw.get("ceil_mode", False),
                     count_include_pad=kw.get("count_include_pad", True),
                     divisor=kw.get("divisor_override"))[0],
                 layouts=("contiguous",))


def test_adaptive_pools():
    check_op([(2, 3, 7, 5)], lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
             ref=lambda x: ref_adaptive(x, (3, 4)))
    check_op([(2, 3, 7, 5)], lambda x: F.adaptive_max_pool2d(x, (3, 2)),
             ref=lambda x: ref_adaptive(x, (3, 2), "max"))
    check_op([(2, 3, 6, 5)], lambda x: nn.AdaptiveAvgPool2d((1, 1))(x),
             ref=lambda x: x.mean((2, 3), keepdims=True))
    check_op([(2, 3, 9)], lambda x: F.adaptive_avg_pool1d(x, 4),
             ref=lambda x: ref_adaptive(x[:, :, None], (1, 4))[:, :, 0])


def test_pool1d_and_modules():
    check_op([(2, 3, 11)], lambda x: F.max_pool1d(x, 3, stride=2, padding=1),
             ref=lambda x: ref_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))[0][:, :, 0])
    check_op([(2, 3, 11)], lambda x: nn.AvgPool1d(4, stride=3)(x),
             ref=lambda x: ref_pool2d(x[:, :, None], (1, 4), (1, 3), (0, 0),
                                      mode="avg")[0][:, :, 0])
    assert nn.MaxPool2d(2)(torch.randn(3, 8, 8)).shape == torch.Size([3, 4, 4])


def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(torch.randn(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(torch.randn(5, 5), 2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.avg_pool2d(torch.randn(1, 1, 2, 2), 3)


def test_long_rows_past_the_loop_limit():
    # conv1d over a signal wider than im2col's row loop takes the one-element-per-invocation
    # path; the result must still be exact
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 1, 20000))
    w = rng.standard_normal((1, 1, 3))
    out = F.conv1d(torch.tensor(x, dtype=torch.float32), torch.tensor(w, dtype=torch.float32),
                   padding=1)
    ref = np.convolve(np.pad(x[0, 0], 1), w[0, 0, ::-1], mode="valid")
    assert_close(out[0, 0], ref, atol=1e-4)


def test_max_pool_nan_propagates():
    x = torch.tensor([[[[1.0, float("nan")], [3.0, 2.0]]]])
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(out.item()) and idx.item() == 1


def test_pool_windows_that_tile_the_input():
    # kernel == stride on divisible sizes: the backward writes each window from its output
    check_op([(2, 3, 4, 6)], lambda x: F.max_pool2d(x, 2),
             ref=lambda x: ref_pool2d(x, (2, 2), (2, 2), (0, 0))[0])
    check_op([(2, 3, 6, 4)], lambda x: F.avg_pool2d(x, (3, 2), divisor_override=5),
             ref=lambda x: ref_pool2d(x, (3, 2), (3, 2), (0, 0), mode="avg", divisor=5)[0])


def test_global_pools_and_window_limit():
    x = np.random.default_rng(8).standard_normal((2, 3, 300, 260))
    xt = torch.tensor(x, dtype=torch.float32)
    out, idx = F.adaptive_max_pool2d(xt, 1, return_indices=True)
    assert_close(out, x.max((2, 3), keepdims=True))
    assert (idx.numpy()[..., 0, 0] == x.reshape(2, 3, -1).argmax(-1)).all()
    assert_close(F.adaptive_avg_pool2d(xt, (1, 1)), x.mean((2, 3), keepdims=True), atol=1e-5)
    with pytest.raises(RuntimeError, match="pooling windows of 78000 elements"):
        F.max_pool2d(xt, (300, 260))
