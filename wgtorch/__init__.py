"""wgtorch: PyTorch's programming model on WebGPU.

``import wgtorch as torch`` and ordinary PyTorch code runs on any GPU through wgpu-py, or on
Mesa's software Vulkan adapter (lavapipe) without one.
"""

from . import accelerator, backends, cuda
from .backends._precision import get_float32_matmul_precision, set_float32_matmul_precision
from .cuda import empty_cache, memory_allocated, memory_reserved
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd import is_inference_mode_enabled
from .backend import GPUError, NoAdapterError, get_runtime
from . import dtypes as _dtypes
from .device import device
from .dtypes import (
    bool_ as bool,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
    uint8,
    dtype,
)
from .tensor import Size, Tensor, is_tensor
from . import ops
from .ops.copy import clone
from .ops.creation import (
    arange, as_tensor, asarray, bernoulli, empty, empty_like, eye, from_numpy, full,
    full_like, linspace, logspace, multinomial, normal, ones, ones_like, rand, rand_like,
    randint, randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from .ops.elementwise import *  # noqa: F403  (the rows: torch.exp, torch.add...)
from .ops.elementwise_args import *  # noqa: F403  (torch.clamp, torch.lerp, torch.logit...)
from .ops.activation import *  # noqa: F403  (torch.celu, torch.selu, torch.threshold...)
from .ops.indexing import argwhere, index_put, nonzero, put, take
from .ops.masked import masked_fill, masked_scatter, masked_select
from .ops.scatter import (
    gather, index_add, index_copy, index_fill, index_select, scatter, scatter_add,
    scatter_reduce, take_along_dim,
)
from .ops.diagonals import diag, diag_embed, diagonal, tril, triu
from .ops.shape import (
    atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, cat,
    column_stack, concat, concatenate, dstack, flip, fliplr, flipud, hstack, meshgrid,
    repeat_interleave, roll, row_stack, stack, tile, vstack,
)
from .ops.contractions import einsum, inner, tensordot
from .ops.linalg import addmm, addmv, baddbmm, bmm, dot, ger, matmul, mm, mv, outer, vdot
from .ops.reduce import (
    all, amax, amin, any, argmax, argmin, count_nonzero, max, mean, min, prod, sum,
)
from .ops.scan import cumprod, cumsum
from .ops.softmax import log_softmax, logsumexp, softmax
from .ops.sort import argsort, kthvalue, median, msort, sort, topk, unique
from .ops.stats import norm, std, std_mean, var, var_mean
from . import return_types
from .ops.views import (
    broadcast_to, chunk, flatten, movedim, moveaxis, narrow, permute, ravel, reshape, select,
    split, squeeze, swapaxes, swapdims, t, tensor_split, transpose, unbind, unflatten,
    unsqueeze,
)
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed
from .random import seed, set_rng_state
from . import utils
from . import nn
from . import optim, serialization
from . import linalg, onnx
from .serialization import load, save
from .serialization import load_safetensors as load_file, save_safetensors as save_file
from . import distributed  # after the ops it uses; starts nothing (MPI starts at init)

float = float32
half = float16
double = float64  # exists only to give a clear error naming float32 when used
int = int32
long = int64


def synchronize():
    """Submit all recorded GPU work and wait for it."""
    get_runtime().synchronize()


def is_floating_point(input):
    return input.dtype.is_floating_point


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    """The dtype PyTorch's type promotion gives ``tensor1`` op ``tensor2``."""
    return _dtypes.result_type(tensor1, tensor2)


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to."""
    return _dtypes.promote(type1, type2)


__version__ = "0.1.0"
