"""Resampling: interpolate (nearest, nearest-exact, linear, bilinear, area), pixel_shuffle.

Nearest and (bi)linear resizing are separable linear maps, so ``interpolate`` multiplies by
one small (out, in) interpolation matrix per spatial dim — built on the host with PyTorch's
exact source-index rules, cached on the GPU — using the tiled matmul. Autograd then needs
nothing of its own (the backward is the transposed matrices), and every coordinate rule
lives in one function.
"""

import math

import numpy as np

from ...tensor import Tensor
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

_MATRICES = {}
_MAX_CACHED = 64


def _source_index(mode, out_size, in_size, align_corners, scale):
    """Float source coordinate of each output index, PyTorch's area_pixel_compute_source_index
    (``scale`` is 1/scale_factor when one was given, else in/out)."""
    dst = np.arange(out_size, dtype=np.float64)
    if mode == "nearest":
        return np.minimum(np.floor(dst * scale), in_size - 1)
    if mode == "nearest-exact":
        return np.minimum(np.floor((dst + 0.5) * scale), in_size - 1)
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return dst * ratio
    return np.maximum((dst + 0.5) * scale - 0.5, 0.0)


def _matrix(mode, in_size, out_size, align_corners, scale, dtype, device):
    """(out, in) interpolation matrix along one dim, as a cached GPU tensor."""
    key = (mode, in_size, out_size, align_corners, scale, dtype.name, str(device))
    m = _MATRICES.get(key)
    if m is None:
        src = _source_index(mode, out_size, in_size, align_corners, scale)
        a = np.zeros((out_size, in_size), dtype=np.float64)
        rows = np.arange(out_size)
        if mode.startswith("nearest"):
            a[rows, src.astype(np.int64)] = 1.0
        else:
            i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
            i1 = np.minimum(i0 + 1, in_size - 1)
            frac = src - i0
            np.add.at(a, (rows, i0), 1.0 - frac)
            np.add.at(a, (rows, i1), frac)
        if len(_MATRICES) >= _MAX_CACHED:
            _MATRICES.clear()
        m = _MATRICES[key] = Tensor._from_numpy(a.astype(np.float32), dtype, device)
    return m


def _output_sizes(input, size, scale_factor, dims, recompute_scale_factor):
    spatial = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(sizes) != dims:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {list(spatial)} and output size of "
                f"{list(sizes)}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                "and output size in (o1, o2, ...,oK) format."
            )
        return tuple(int(s) for s in sizes), tuple(i / o for i, o in zip(spatial, sizes))
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else \
        (scale_factor,) * dims
    if len(factors) != dims:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {list(spatial)} and scale_factor of shape "
            f"{list(factors)}."
        )
    sizes = tuple(int(math.floor(i * f)) for i, f in zip(spatial, factors))
    if recompute_scale_factor:
        return sizes, tuple(i / o for i, o in zip(spatial, sizes))
    return sizes, tuple(1.0 / f for f in factors)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) input; modes 'nearest', 'nearest-exact', 'linear'
    (3-D), 'bilinear' (4-D) and 'area'.

    Example: ``F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)``.
    """
    dims = input.ndim - 2
    if dims not in (1, 2):
        raise NotImplementedError(
            f"Input Error: Only 3D and 4D input Tensors supported (got {input.ndim}D) for the "
            f"modes: nearest | linear | bilinear | area | nearest-exact (got {mode})"
        )
    linear_modes = {"linear": 1, "bilinear": 2}
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif mode in linear_modes:
        if linear_modes[mode] != dims:
            raise NotImplementedError(
                f"Got {input.ndim}D input, but {mode} mode needs {linear_modes[mode] + 2}D input"
            )
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(
            f"Input Error: Only 3D and 4D input Tensors supported (got {input.ndim}D) for the "
            f"modes: nearest | linear | bilinear | area | nearest-exact (got {mode})"
        )
    if antialias:
        raise NotImplementedError("wgtorch: interpolate(antialias=True) is not implemented")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f'"upsample_{mode}" not implemented for '
                           f"'{input.dtype.name.capitalize()}'")
    sizes, scales = _output_sizes(input, size, scale_factor, dims, recompute_scale_factor)
    if mode == "area":
        return adaptive_avg_pool1d(input, sizes) if dims == 1 else adaptive_avg_pool2d(input,
                                                                                       sizes)
    in_sizes = tuple(input.shape[2:])
    mats = [_matrix(mode, i, o, align_corners, s, input.dtype, input.device)
            for i, o, s in zip(in_sizes, sizes, scales)]
    out = input @ mats[-1].t()  # (N, C, [H,] OW): one 2-D product over all rows
    if dims == 2:
        out = mats[0] @ out  # (OH, H) @ (N, C, H, OW) -> (N, C, OH, OW)
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """(*, C * r**2, H, W) -> (*, C, H * r, W * r)."""
    r = upscale_factor
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    n = len(lead)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r**2, H, W)."""
    r = downscale_factor
    *lead, c, hr, wr = input.shape
    if hr % r or wr % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, "
            f"got {hr}x{wr} and {r}"
        )
    h, w = hr // r, wr // r
    x = input.reshape(*lead, c, h, r, w, r)
    n = len(lead)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h, w)

