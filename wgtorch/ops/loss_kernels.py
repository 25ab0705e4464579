"""Kernels behind the loss functions besides cross-entropy (ops/cross_entropy.py): the GPU
check of binary_cross_entropy's arguments, which raises PyTorch's error at the next host
readback instead of reading the values back now."""

from .gpu_errors import site
from .kernel import Kernel

UNIT_INTERVAL_CHECK = Kernel("unit_interval_check", "unit_interval_check.wgsl",
                             inputs=("x: TX", "t: TT"), errors=True,
                             params=("n: u32", "x_off: u32", "t_off: u32", "site_x: u32",
                                     "site_t: u32"))


def check_unit_interval(input, target):
    """Flag on the GPU an element of input or target outside [0, 1] (NaN too), raised at the
    next host readback with PyTorch's message: one dispatch, no readback."""
    x, t = input.contiguous(), target.contiguous()
    n = x.numel()
    UNIT_INTERVAL_CHECK.launch(
        ins=[x, t], threads=n, variant=dict(TX=x.dtype.wgsl, TT=t.dtype.wgsl), n=n,
        x_off=x._offset, t_off=t._offset,
        site_x=site(RuntimeError, "all elements of input should be between 0 and 1"),
        site_t=site(RuntimeError, "all elements of target should be between 0 and 1"))
