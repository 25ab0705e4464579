"""The one place that picks a kernel variant for the adapter at hand.

Matmul (``choose``): CPU-type adapters such as lavapipe want large register tiles read as
vec4s from storage buffers, fully unrolled (workgroup memory and barriers never help there);
GPUs want workgroup-memory tiling. The defaults below encode that. With autotuning on (the
default; ``WGTORCH_AUTOTUNE=0`` turns it off) a large product's first use of a shape class
times each candidate once and keeps the fastest, cached on disk in
``~/.cache/wgtorch/autotune.json`` keyed by adapter name and driver, so later processes skip
the timing.
"""

import json
import math
import os
import time
from dataclasses import dataclass

from ..backend import get_runtime

AUTOTUNE_MIN_WORK = 1 << 24  # multiply-adds; smaller products use the defaults
SMALL_WORK = 1 << 15  # below this the cheap-to-compile strided kernel is as fast as any
COPY_MIN_WORK = 1 << 17  # below this, aligning an operand (a block copy) does not pay
TUNE_MAX_DIM = 1024  # tuning times a problem of at most this size per dim
BIG_TILE, MID_TILE, SMALL_TILE = (16, 16), (8, 8), (4, 4)
CPU_WORKGROUP = 16  # small workgroups spread a small product over every CPU thread


@dataclass(frozen=True)
class MatmulChoice:
    """A matmul variant: ``name`` ("tiled", "workgroup" or "strided"), the tiled kernel's
    outputs per invocation, how many values of K one dispatch may walk (lavapipe's loop
    limit) and the tiled kernel's workgroup size. The tiled kernel copies an operand without
    16-byte aligned rows first."""

    name: str
    tile: tuple = None
    k_chunk: int = 32768
    workgroup_size: int = 64


STRIDED = MatmulChoice("strided")
WORKGROUP = MatmulChoice("workgroup", k_chunk=1024)  # 16*28 loop iterations per k step


def _tiled(rt, tile, workgroup_size=None):
    if workgroup_size is None:
        workgroup_size = CPU_WORKGROUP if rt.is_cpu_adapter else 64
    return MatmulChoice("tiled", tile, workgroup_size=workgroup_size)


def _default(rt, M, N, K, batch, a_ok, b_ok):
    """The choice without timing anything."""
    work = M * N * K * batch
    if work < SMALL_WORK or (not (a_ok and b_ok) and work < COPY_MIN_WORK):
        return STRIDED
    if not rt.is_cpu_adapter and M * N * batch >= 64 * 64:
        return WORKGROUP
    # the biggest tile the output fills; few big tiles beat many small ones on a CPU adapter
    for tile in (BIG_TILE, MID_TILE):
        if M >= tile[0] and N >= tile[1]:
            return _tiled(rt, tile)
    return _tiled(rt, SMALL_TILE)


def _candidates(rt, M, N, K, batch, a_ok, b_ok):
    if rt.is_cpu_adapter:
        return [_tiled(rt, BIG_TILE, 16), _tiled(rt, BIG_TILE, 64), _tiled(rt, MID_TILE, 16)]
    return [WORKGROUP, _tiled(rt, BIG_TILE), _tiled(rt, MID_TILE), _tiled(rt, SMALL_TILE)]


# ---- autotuning ----------------------------------------------------------------------------

_cache = None


def _cache_path():
    return os.path.join(os.path.expanduser("~"), ".cache", "wgtorch", "autotune.json")


def _adapter_key(rt):
    info = rt.info
    return " | ".join(info.get(k, "") for k in ("device", "description", "backend_type"))


def _load_cache():
    global _cache
    if _cache is None:
        try:
            with open(_cache_path(), encoding="utf-8") as f:
                _cache = json.load(f)
        except (OSError, ValueError):
            _cache = {}
    return _cache


def _save_cache():
    path = _cache_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_cache, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs re-tuning in the next process


def _bucket(n):
    return 0 if n <= 1 else min(math.ceil(math.log2(n) / 2), 7)  # 1, 4, 16, ..., >= 4096


def shape_class(M, N, K, batch, dtype, a_ok, b_ok):
    """The key under which a tuned choice is remembered."""
    return (f"matmul:{dtype.wgsl}:{_bucket(M)},{_bucket(N)},{_bucket(K)},{_bucket(batch)}:"
            f"{int(a_ok)}{int(b_ok)}")


def autotune_enabled():
    return os.environ.get("WGTORCH_AUTOTUNE", "1") not in ("0", "false", "False", "")


def _encode(choice):
    return {"name": choice.name, "tile": list(choice.tile) if choice.tile else None,
            "k_chunk": choice.k_chunk, "workgroup_size": choice.workgroup_size}


def _decode(d):
    return MatmulChoice(d["name"], tuple(d["tile"]) if d["tile"] else None, d["k_chunk"],
                        d.get("workgroup_size", 64))


_tuning = False


def choose(M, N, K, batch, dtype, a_ok, b_ok):
    """The matmul variant for C (batch, M, N) = A (batch, M, K) @ B (batch, K, N).

    ``a_ok``/``b_ok``: whether each operand already has the 16-byte aligned rows the tiled
    kernel needs.
    """
    global _tuning
    rt = get_runtime()
    default = _default(rt, M, N, K, batch, a_ok, b_ok)
    if default is STRIDED or _tuning or M * N * K * batch < AUTOTUNE_MIN_WORK:
        return default
    if not autotune_enabled():
        return default
    cache = _load_cache().setdefault(_adapter_key(rt), {})
    key = shape_class(M, N, K, batch, dtype, a_ok, b_ok)
    if key in cache:
        return _decode(cache[key])
    _tuning = True
    try:
        best = _time_candidates(M, N, K, batch, dtype, a_ok, b_ok,
                                _candidates(rt, M, N, K, batch, a_ok, b_ok))
    finally:
        _tuning = False
    cache[key] = _encode(best)
    _save_cache()
    return best


def _time_candidates(M, N, K, batch, dtype, a_ok, b_ok, candidates):
    """Time each candidate (after a first run that compiles it); the fastest wins."""
    from ..tensor import Tensor
    from . import matmul_kernels

    rt = get_runtime()
    # a representative problem of the shape class, capped so tuning stays well under a second
    M, N, K, batch = min(M, TUNE_MAX_DIM), min(N, TUNE_MAX_DIM), min(K, TUNE_MAX_DIM), min(batch, 4)
    # operands with the layout class of the real call: aligned rows or not
    k4, n4 = -(-K // 4) * 4, -(-N // 4) * 4
    a = Tensor._empty((batch, M, k4 + (0 if a_ok else 1)), dtype)[..., :K]
    b = Tensor._empty((batch, K, n4 + (0 if b_ok else 1)), dtype)[..., :N]
    best, best_time = None, float("inf")
    for cand in candidates:
        matmul_kernels.launch(a, b, choice=cand)
        rt.synchronize()
        elapsed = float("inf")
        for _ in range(2):  # the better of two: other processes share the CPU adapter
            start = time.perf_counter()
            matmul_kernels.launch(a, b, choice=cand)
            rt.synchronize()
            elapsed = min(elapsed, time.perf_counter() - start)
        if elapsed < best_time:
            best, best_time = cand, elapsed
    return best
