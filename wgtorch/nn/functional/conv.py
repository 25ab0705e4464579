"""Convolutions: im2col + the tiled batched matmul (forward and backward).

``conv2d``: columns = im2col(x) (N, C*KH*KW, L); out = W (O, C*KH*KW) @ columns, one batched
product with the bias added in the same kernel. Autograd composes the gradients: the input
gradient is col2im(W^T @ grad) (im2col's backward), the weight gradient a matmul with the
columns, the bias gradient a sum. Groups are a batch dim of the same product.

``conv_transpose2d`` is the adjoint: columns = W^T @ x, out = col2im(columns).
1-D convolutions are the 2-D ones on (N, C, 1, L).
"""

from ...autograd.function import Function
from ...device import check_same_device
from ...ops.im2col import Col2ImBackward0, Geometry, Im2ColBackward0, make_geometry
from ...ops.linalg import _product
from .fold import _pair, check_float


def _same_padding(kernel, dilation):
    """PyTorch's padding='same': total d*(k-1) per dim, the odd element after the data."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    before = [t // 2 for t in total]
    return tuple(before), tuple(t - b for t, b in zip(total, before))


def _check_input(op, input, dims):
    if input.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(
            f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {op}, but got "
            f"input of size: {list(input.shape)}"
        )


def _conv2d(op, x, weight, bias, stride, padding, dilation, groups):
    """The batched (N, C, H, W) convolution; ``padding`` is an int pair or 'same'/'valid'."""
    check_float(op, x, weight, bias)
    check_same_device(op, (x, weight, bias))
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if o % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {list(weight.shape)} instead"
        )
    if c != cg * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {cg * groups} channels, but got {c} channels instead"
        )
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(
            f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
            f"{o} elements, but got bias of size {list(bias.shape)} instead"
        )
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if isinstance(padding, str):
        if padding == "valid":
            before = after = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            before, after = _same_padding((kh, kw), dilation)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        before = after = _pair(padding, "padding")
        if min(before) < 0:
            raise RuntimeError("negative padding is not supported")
    g = make_geometry(h, w, (kh, kw), stride, before, dilation, after)
    if g.oh <= 0 or g.ow <= 0:
        ph, pw = h + before[0] + after[0], w + before[1] + after[1]
        raise RuntimeError(
            f"Calculated padded input size per channel: ({ph} x {pw}). Kernel size: "
            f"({(kh - 1) * dilation[0] + 1} x {(kw - 1) * dilation[1] + 1}). Kernel size can't "
            "be greater than actual input size"
        )
    # rows 16-byte aligned: the tiled matmul reads them in place (no aligning copy)
    cols = Im2ColBackward0.apply(x, g, 4)  # (N, C*KH*KW, L)
    k = cg * kh * kw
    if groups == 1:
        wmat = weight.reshape(o, k).expand(n, o, k)  # (N, O, K), stride 0 over N
        bias_shape = (o, 1)
    else:
        cols = cols.view(n, groups, k, g.oh * g.ow)  # (N, G, K, L)
        wmat = weight.reshape(groups, o // groups, k).expand(n, groups, o // groups, k)
        bias_shape = (groups, o // groups, 1)
    if bias is None:
        out = _product(wmat, cols)  # (N, O, L) or (N, G, O/G, L)
    else:
        # the bias is added inside the matmul kernel; its gradient comes from ConvBias
        out = _product(wmat, cols, bias.detach().view(bias_shape))
        out = ConvBiasBackward0.apply(out, bias)
    return out.view(n, o, g.oh, g.ow)


class ConvBiasBackward0(Function):
    """Identity on the convolution output that gives the bias its gradient: the sum over the
    contiguous last dim (positions) first, then over the batch, so no gradient-sized copy."""

    @staticmethod
    def forward(ctx, out, bias):
        ctx.bias_shape = bias.shape
        return out

    @staticmethod
    def backward(ctx, g):
        per_sample = g.sum(-1)  # (N, O) or (N, G, O/G)
        return g, per_sample.sum(0).reshape(ctx.bias_shape)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C, H, W) or (C, H, W) input; weight (O, C/groups, KH, KW).

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'``. Example::

        F.conv2d(torch.randn(8, 3, 32, 32), torch.randn(16, 3, 3, 3), padding=1)
    """
    _check_input("conv2d", input, 2)
    if weight.ndim != 4:
        raise RuntimeError(
            f"weight should have at least three dimensions, but got weight of size "
            f"{list(weight.shape)}" if weight.ndim < 3 else
            f"Expected 4-dimensional weight for 4-dimensional input {list(input.shape)}, but "
            f"got {weight.ndim}-dimensional weight of size {list(weight.shape)} instead"
        )
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    out = _conv2d("conv2d", x, weight, bias, stride, padding, dilation, groups)
    return out if batched else out.squeeze(0)


def _to_2d(v, default):
    """A 1-D conv argument (int, 1-tuple or str) as its 2-D form over (1, L)."""
    if isinstance(v, str):
        return v
    v = v[0] if isinstance(v, (tuple, list)) else v
    return (default, int(v))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) or (C, L) input; weight (O, C/groups, K)."""
    _check_input("conv1d", input, 1)
    if weight.ndim != 3:
        raise RuntimeError(
            f"Expected 3-dimensional weight for 3-dimensional input {list(input.shape)}, but got "
            f"{weight.ndim}-dimensional weight of size {list(weight.shape)} instead"
        )
    batched = input.ndim == 3
    x = (input if batched else input.unsqueeze(0)).unsqueeze(2)  # (N, C, 1, L)
    out = _conv2d("conv1d", x, weight.unsqueeze(2), bias, _to_2d(stride, 1),
                  _to_2d(padding, 0), _to_2d(dilation, 1), groups)
    out = out.squeeze(2)  # (N, O, L)
    return out if batched else out.squeeze(0)


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation):
    check_float("conv_transpose2d", x, weight, bias)
    check_same_device("conv_transpose2d", (x, weight, bias))
    n, c, h, w = x.shape
    cin, og, kh, kw = weight.shape
    if c != cin:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {cin} channels, but got {c} channels instead"
        )
    if cin % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {list(weight.shape)} instead"
        )
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation, output_padding = _pair(dilation, "dilation"), _pair(output_padding)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation, "
                               f"but got output_padding={output_padding}, stride={stride}, "
                               f"dilation={dilation}")
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input size per channel: ({h} x {w}). Calculated output size per channel: "
            f"({oh} x {ow}). Output size is too small"
        )
    cout = og * groups
    k = og * kh * kw
    xg = x.reshape(n, groups, cin // groups, h * w)  # (N, G, Cin/G, HW)
    wmat = weight.reshape(groups, cin // groups, k).transpose(1, 2)  # (G, K, Cin/G)
    cols = _product(wmat.expand(n, groups, k, cin // groups), xg)  # (N, G, K, HW)
    g = Geometry(kh, kw, stride[0], stride[1], padding[0], padding[1], dilation[0],
                 dilation[1], oh, ow, h, w)
    out = Col2ImBackward0.apply(cols.view(n, cout * kh * kw, h * w), g, cout)  # (N, Cout, OH, OW)
    return out if bias is None else out + bias.view(1, cout, 1, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution ("deconvolution"); weight (Cin, Cout/groups, KH, KW)."""
    _check_input("conv_transpose2d", input, 2)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    out = _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution; weight (Cin, Cout/groups, K)."""
    _check_input("conv_transpose1d", input, 1)
    batched = input.ndim == 3
    x = (input if batched else input.unsqueeze(0)).unsqueeze(2)
    out = _conv_transpose2d(x, weight.unsqueeze(2), bias, _to_2d(stride, 1), _to_2d(padding, 0),
                            _to_2d(output_padding, 0), groups, _to_2d(dilation, 1)).squeeze(2)
    return out if batched else out.squeeze(0)
