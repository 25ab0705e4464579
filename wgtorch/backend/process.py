"""What a process may do with the device: forbid creating it, or flush it if it exists.

A process that must never touch the GPU (a DataLoader worker: a forked child must not call
into its parent's driver) calls ``forbid_device(make_error)``; from then on the runtime is a
guard whose every use raises ``make_error()``. Code that only wants pending work submitted,
without creating a device for it (the loader's prefetcher), calls ``submit_pending()``.
"""

from . import runtime


class _Forbidden:
    """Stands in for the runtime in a process that must not use the GPU."""

    def __init__(self, make_error):
        self.make_error = make_error

    def __getattr__(self, name):
        raise self.make_error()


def forbid_device(make_error):
    """From now on, creating or using the device in this process raises ``make_error()``."""
    runtime._runtime = _Forbidden(make_error)


def is_initialized():
    """Whether this process has created its device."""
    return isinstance(runtime._runtime, runtime.Runtime)


def submit_pending():
    """Submit the GPU work recorded so far (no wait); nothing, and no device created, when
    this process has none."""
    if is_initialized():
        runtime._runtime.flush()
