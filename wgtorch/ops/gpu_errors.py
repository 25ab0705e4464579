"""Errors found inside kernels: the launcher side of the runtime's sticky error flag.

A kernel that can detect an error (an index out of range, an int64 result that does not fit
in the 32-bit storage) is declared with ``errors=True`` (ops/kernel.py binds the flag after
its outputs and adds ``shaders/error_flag.wgsl``) and calls ``flag_error(site, lo, hi,
flags)`` with the ``site`` id its launcher put in the kernel's parameters. The runtime raises
the site's message at the next host readback (see ``wgtorch/backend/runtime.py`` and, for
when indices are checked, ``value_range.py``).
"""

from ..backend import get_runtime
from .kernel import Kernel

INT64_OVERFLOW = ("{op}(): the result {{value}} does not fit in wgtorch's 32-bit integer "
                  "storage (int64 is stored as int32)")

INT64_CHECK = Kernel("int64_check", "int64_check.wgsl", inputs=("low: i32", "high: i32"),
                     params=("n: u32", "site: u32"), errors=True)


def site(exc_type, message):
    """The id a kernel reports for this error (``message`` may hold ``{value}``)."""
    return get_runtime().error_site(exc_type, message)


def overflow_site(op):
    """The site of "``op``(): the result ... does not fit in ... 32-bit integer storage"."""
    return site(RuntimeError, INT64_OVERFLOW.format(op=op))


def check_int64(low, high, op):
    """Flag the first element whose 64-bit value ``high * 2**32 + (u32) low`` does not fit in
    int32 (``low``, ``high``: contiguous int32 tensors of one shape, offset 0). One dispatch."""
    n = low.numel()
    INT64_CHECK.launch(ins=[low, high], threads=n, n=n, site=overflow_site(op))

