"""``F.unfold`` and ``F.fold``: argument checks around the im2col / col2im kernels
(wgtorch/ops/im2col.py), and the argument helpers the window ops share (``ntuple``,
``check_float``).
"""

from ...ops.im2col import Col2ImBackward0, Im2ColBackward0, make_geometry


def ntuple(v, n, name="value"):
    """An int (or a 1-tuple) repeated ``n`` times, or an n-tuple of ints, as PyTorch accepts
    for kernel_size, stride, padding and dilation."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return (int(v[0]),) * n
        if len(v) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
        return tuple(int(e) for e in v)
    return (int(v),) * n


def _pair(v, name="value"):
    return ntuple(v, 2, name)


def check_float(op, *tensors):
    for t in tensors:
        if t is not None and not t.dtype.is_floating_point:
            raise RuntimeError(f'"{op}" not implemented for \'{t.dtype.name.capitalize()}\'')


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) image as columns
    (N, C * prod(kernel_size), L) — PyTorch's ``F.unfold`` (im2col)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)"
        )
    check_float("im2col", input)
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    g = make_geometry(x.shape[2], x.shape[3], _pair(kernel_size), _pair(stride),
                      _pair(padding), _pair(dilation))
    if g.oh <= 0 or g.ow <= 0:
        raise RuntimeError(
            f"Given input with spatial size ({g.h}, {g.w}), kernel_size={_pair(kernel_size)}, "
            f"dilation={_pair(dilation)}, padding={_pair(padding)}, calculated shape of the "
            f"array of sliding blocks as ({g.oh}, {g.ow}), but its components must be at "
            "least one."
        )
    out = Im2ColBackward0.apply(x, g)
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C * prod(kernel_size), L) back into (N, C, *output_size) images —
    PyTorch's ``F.fold`` (col2im)."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
            f"(got {input.ndim}D)"
        )
    check_float("col2im", input)
    batched = input.ndim == 3
    cols = input if batched else input.unsqueeze(0)
    kh, kw = _pair(kernel_size)
    h, w = _pair(output_size)
    g = make_geometry(h, w, (kh, kw), _pair(stride), _pair(padding), _pair(dilation))
    if cols.shape[1] % (kh * kw):
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={cols.shape[1]} and "
            f"kernel_size=({kh}, {kw})"
        )
    if cols.shape[2] != g.oh * g.ow:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size=({kh}, {kw}), "
            f"dilation={_pair(dilation)}, padding={_pair(padding)}, stride={_pair(stride)}, "
            f"expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {g.oh} * {g.ow} = {g.oh * g.ow}, but got input.size(2)={cols.shape[2]}."
        )
    out = Col2ImBackward0.apply(cols, g, cols.shape[1] // (kh * kw))
    return out if batched else out.squeeze(0)
