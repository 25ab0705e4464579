"""The float32 matmul precision, shared by ``torch.set_float32_matmul_precision`` and
``torch.backends.cuda.matmul.allow_tf32`` (PyTorch keeps them as one setting too).

Recorded only: wgtorch's float32 matmul always multiplies and accumulates in float32, so
every precision gives what PyTorch calls "highest".
"""

import warnings

PRECISIONS = ("highest", "high", "medium")
_state = {"precision": "highest"}


def set_float32_matmul_precision(precision):
    """Set the float32 matmul precision: ``"highest"``, ``"high"`` or ``"medium"``.

    Recorded (``get_float32_matmul_precision`` and ``backends.cuda.matmul.allow_tf32`` read
    it back); results are float32 whatever is chosen.
    """
    if precision not in PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _state["precision"] = precision


def get_float32_matmul_precision():
    """The float32 matmul precision last set (``"highest"`` by default)."""
    return _state["precision"]
