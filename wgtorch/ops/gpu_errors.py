"""Errors found inside kernels: the WGSL side of the runtime's sticky error flag.

A kernel that can detect an error (an index out of range, an int64 result that does not fit
in the 32-bit storage) declares the flag with ``flag_wgsl(binding)`` as its last read_write
binding, is launched with ``rt.error_buffer`` there, and calls
``flag_error(site, lo, hi, flags)`` with the ``site`` id its launcher put in the kernel's
parameters. The runtime raises the site's message at the next host readback (see
``wgtorch/backend/runtime.py`` and, for when indices are checked, ``value_range.py``).
"""

import struct
from string import Template

from ..backend import get_runtime
from . import wgsl
from .shaders import load_shader

INT64_OVERFLOW = ("{op}(): the result {{value}} does not fit in wgtorch's 32-bit integer "
                  "storage (int64 is stored as int32)")
_CHECK_PARAMS = struct.Struct("<4I")


def flag_wgsl(binding):
    """WGSL declaring the error flag at ``binding`` and ``flag_error``/``flag_error_i32``."""
    return Template(load_shader("error_flag.wgsl")).substitute(ERROR_BINDING=binding)


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
    if n == 0:
        return
    rt = get_runtime()
    kern = rt.kernel(("int64_check",), lambda: Template(load_shader("int64_check.wgsl"))
                     .substitute(INDEX=wgsl.INDEX, ERROR_FLAG=flag_wgsl(2), ENTRY=wgsl.ENTRY),
                     2, 1)
    rt.dispatch(kern, [low._storage.buffer, high._storage.buffer, rt.error_buffer],
                _CHECK_PARAMS.pack(n, overflow_site(op), 0, 0), -(-n // wgsl.WORKGROUP))
