"""dtypes, their GPU storage, and PyTorch's type promotion.

WGSL has no 8-bit or bool storage and not every adapter has 64-bit integers, so every
wgtorch dtype is stored as one 32-bit word per element:

============  =============  ==================================================================
dtype         WGSL storage   what that means
============  =============  ==================================================================
float32       f32            exact.
float16       f32            values are rounded to half precision on every write (range and
                             precision of float16, storage of float32); works on every adapter.
int32         i32            exact.
int64         i32            values must fit in int32: uploading one that does not raises
                             ``RuntimeError`` (never a silent wrap). Arithmetic that overflows
                             int32 inside a kernel wraps, as int32 would.
bool          u32            0 or 1.
uint8         u32            kept in 0..255; arithmetic wraps modulo 256 as PyTorch's does.
============  =============  ==================================================================

float64 is refused with an error that names float32 as the alternative.
"""

import numpy as np


class dtype:
    """A tensor element type (``wgtorch.float32`` ...)."""

    __slots__ = ("name", "itemsize", "is_floating_point", "is_signed", "wgsl", "np_dtype", "rank",
                 "category")

    def __init__(self, name, itemsize, is_floating_point, is_signed, wgsl, np_dtype, rank):
        self.name = name
        self.itemsize = itemsize  # PyTorch's element size; GPU storage is always 4 bytes
        self.is_floating_point = is_floating_point
        self.is_signed = is_signed
        self.wgsl = wgsl
        self.np_dtype = np.dtype(np_dtype)
        self.rank = rank  # order in PyTorch's promotion lattice
        self.category = 2 if is_floating_point else (0 if name == "bool" else 1)  # see kind

    @property
    def is_complex(self):
        return False

    def to_real(self):
        return self

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))

    @property
    def legacy_name(self):
        """PyTorch's scalar-type name used in messages and tensor types: Float, Long..."""
        return LEGACY_NAMES[self.name]

    @property
    def kind(self):
        """'b' bool, 'i' integer, 'f' floating: PyTorch's promotion categories."""
        return "bif"[self.category]


bool_ = dtype("bool", 1, False, False, "u32", np.bool_, 0)
uint8 = dtype("uint8", 1, False, False, "u32", np.uint8, 1)
int32 = dtype("int32", 4, False, True, "i32", np.int32, 3)
int64 = dtype("int64", 8, False, True, "i32", np.int64, 4)
float16 = dtype("float16", 2, True, True, "f32", np.float16, 5)
float32 = dtype("float32", 4, True, True, "f32", np.float32, 7)

ALL = (bool_, uint8, int32, int64, float16, float32)
BY_NAME = {d.name: d for d in ALL}
BY_NAME.update(
    {"float": float32, "half": float16, "int": int32, "long": int64, "bool": bool_, "byte": uint8}
)
_NUMPY = {np.dtype(d.np_dtype): d for d in ALL}
_NUMPY.update(
    {np.dtype(np.int8): int32, np.dtype(np.int16): int32, np.dtype(np.uint16): int32}
)
LEGACY_NAMES = {"float32": "Float", "float16": "Half", "int32": "Int", "int64": "Long",
                "bool": "Bool", "uint8": "Byte"}
_BY_TENSOR_TYPE = {f"{v}Tensor": BY_NAME[k] for k, v in LEGACY_NAMES.items()}
STORAGE_NP = {"f32": np.float32, "i32": np.int32, "u32": np.uint32}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

_default = [float32]


class UnsupportedDtypeError(TypeError):
    """float64 and complex types: not representable in WGSL storage."""


class _Float64:
    """``wgtorch.float64`` / ``wgtorch.double``: exists so that asking for it gives a clear
    error naming float32, instead of an AttributeError."""

    __slots__ = ()
    name = "float64"

    def __repr__(self):
        return "torch.float64"

    def __reduce__(self):
        return "float64"


float64 = _Float64()


def float64_error(where="wgtorch"):
    return UnsupportedDtypeError(
        f"{where}: float64 is not supported on WebGPU (WGSL has no portable f64); "
        "use float32 (wgtorch.float32), e.g. tensor.float() or array.astype(numpy.float32)"
    )


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def as_dtype(d):
    """A wgtorch dtype from a wgtorch dtype, a name, a numpy dtype or a Python type."""
    if isinstance(d, dtype):
        return d
    if d is float64:
        raise float64_error()
    if d is float:
        return get_default_dtype()
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str):
        name = d.replace("torch.", "").replace("cuda.", "")
        if name in BY_NAME:
            return BY_NAME[name]
        if name in _BY_TENSOR_TYPE:  # Tensor.type("torch.FloatTensor")
            return _BY_TENSOR_TYPE[name]
        if name in ("float64", "double", "DoubleTensor"):
            raise float64_error()
    try:
        npd = np.dtype(d)
    except TypeError:
        raise TypeError(f"wgtorch: {d!r} is not a dtype") from None
    return from_numpy_dtype(npd)


def from_numpy_dtype(npd):
    npd = np.dtype(npd)
    if npd in _NUMPY:
        return _NUMPY[npd]
    if npd == np.float64:
        raise float64_error()
    raise TypeError(f"wgtorch: numpy dtype {npd} is not supported (use {', '.join(BY_NAME)})")


def promote(a, b):
    """The higher of two dtypes in PyTorch's lattice (bool < uint8 < int32 < int64 < floats)."""
    return a if a.rank >= b.rank else b


def _scalar_category(value):
    if isinstance(value, bool):
        return 0
    return 1 if isinstance(value, int) else 2


def result_type(*operands):
    """PyTorch's result type for tensors, 0-d tensors and Python scalars.

    Dimensioned tensors win over 0-d tensors, which win over scalars, unless the lower
    group has a higher category (bool < integer < floating).
    """
    dims = zero_dims = None  # the highest dtype of each group
    scalars = -1  # the highest category of the Python scalars
    for op in operands:
        d = getattr(op, "dtype", None)
        if isinstance(d, dtype):  # a tensor
            if op.shape:
                dims = d if dims is None or d.rank > dims.rank else dims
            else:
                zero_dims = d if zero_dims is None or d.rank > zero_dims.rank else zero_dims
        elif isinstance(op, (bool, int, float)):
            scalars = max(scalars, _scalar_category(op))
        else:
            raise TypeError(f"unsupported operand type {type(op).__name__}")
    result = dims
    if zero_dims is not None and (result is None or zero_dims.category > result.category):
        result = zero_dims
    if scalars >= 0 and (result is None or scalars > result.category):
        result = (bool_, int64, get_default_dtype())[scalars]
    return result
