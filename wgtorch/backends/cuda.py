"""``torch.backends.cuda``: ``matmul`` flags and the SDPA switches.

``cuda`` is wgtorch's alias of the WebGPU device, so ``is_built()`` is True. The flags are
recorded and read back; none changes a result (see ``torch.backends``' docstring).
"""

import contextlib

from . import _precision

_FP32 = {"none", "ieee", "tf32"}
_REDUCTIONS = ("allow_fp16_reduced_precision_reduction",
               "allow_bf16_reduced_precision_reduction")


class cuBLASModule:
    """``torch.backends.cuda.matmul``: ``allow_tf32`` (one setting with
    ``torch.set_float32_matmul_precision``), ``fp32_precision``, the reduced-precision
    reduction flags. Unknown names raise AttributeError, as PyTorch's do."""

    _flags = {"allow_fp16_reduced_precision_reduction": True,
              "allow_bf16_reduced_precision_reduction": True,
              "allow_fp16_reduced_precision_reduction_split_k": True,
              "allow_bf16_reduced_precision_reduction_split_k": True,
              "allow_fp16_accumulation": False}

    def __getattr__(self, name):
        if name == "allow_tf32":
            return _precision.get_float32_matmul_precision() != "highest"
        if name == "fp32_precision":
            return "tf32" if self.allow_tf32 else self.__dict__.get("_ieee", "none")
        if name in self._flags:
            return self._flags[name]
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            _precision.set_float32_matmul_precision("high" if value else "highest")
        elif name == "fp32_precision":
            if value not in _FP32:
                raise RuntimeError(f"Invalid precision {value!r}: expected one of "
                                   f"{sorted(_FP32)}")
            _precision.set_float32_matmul_precision("high" if value == "tf32" else "highest")
            self.__dict__["_ieee"] = "none" if value == "tf32" else value
        elif name in _REDUCTIONS:
            reduced, split_k = (value, True) if isinstance(value, bool) else (
                [*value, True][:2])
            self._flags[name] = bool(reduced)
            self._flags[name + "_split_k"] = bool(split_k)
        elif name == "allow_fp16_accumulation":
            self._flags[name] = bool(value)
        else:
            raise AttributeError("Unknown attribute " + name)


matmul = cuBLASModule()

_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}
_linalg = {"library": "default"}


def is_built():
    """True: ``"cuda"`` is wgtorch's alias of the WebGPU device."""
    return True


def _switch(kind):
    def enable(enabled):
        _sdp[kind] = bool(enabled)

    def is_enabled():
        return _sdp[kind]

    enable.__name__ = f"enable_{kind}_sdp"
    enable.__doc__ = f"Record the {kind} SDPA switch (no effect: one attention kernel here)."
    is_enabled.__name__ = f"{kind}_sdp_enabled"
    is_enabled.__doc__ = f"The {kind} SDPA switch last set (True by default)."
    return enable, is_enabled


enable_flash_sdp, flash_sdp_enabled = _switch("flash")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _switch("mem_efficient")
enable_math_sdp, math_sdp_enabled = _switch("math")
enable_cudnn_sdp, cudnn_sdp_enabled = _switch("cudnn")


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
               enable_cudnn=True):
    """Set the SDPA switches for a block (PyTorch's deprecated context manager)."""
    before = dict(_sdp)
    _sdp.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient,
                cudnn=enable_cudnn)
    try:
        yield
    finally:
        _sdp.update(before)


def preferred_linalg_library(backend=None):
    """Record the preferred linear-algebra library (no effect: wgtorch's own kernels)."""
    if backend is not None:
        _linalg["library"] = str(backend)
    return _linalg["library"]
