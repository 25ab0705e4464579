"""Errors the backend raises instead of letting raw wgpu errors reach the user."""


class NoAdapterError(RuntimeError):
    """No WebGPU adapter could be found (the message says how to get one)."""


class GPUError(RuntimeError):
    """A GPU validation, out-of-memory or device-lost error, translated for the user."""


def translate(exc, what):
    """A GPUError naming what wgtorch was doing, with wgpu's first lines as the cause."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = " | ".join(lines[:6])
    kind = type(exc).__name__.replace("GPU", "")
    return GPUError(f"wgtorch: the GPU rejected {what} ({kind}): {detail}")
