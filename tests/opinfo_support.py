"""The op_db harness: run PyTorch's OpInfo samples through wgtorch and torch, and compare.

``run_op(opinfo)`` returns an :class:`OpReport`: for each part of the op (on float32 samples:
``forward``, the function variant; ``method``; ``inplace``; ``backward``, gradients of the
function variant; and ``int``: every variant on integer/bool samples) a status, one of

- ``pass``: every representable sample matched torch;
- ``missing``: wgtorch lacks the op, the variant or something a sample needs (reason given);
- ``mismatch``: wgtorch returned a different value, dtype, shape or structure, or raised
  where torch returned a result (reason given) -- a test failure unless listed in
  ``opinfo_expected.EXPECTED_FAILURES``;
- ``cannot``: the samples need what DESIGN.md rules out (float64, complex, sparse...);
- ``n/a``: torch has no such variant (or no differentiable output).

Float32 samples (up to ``FLOAT_SAMPLES`` per op) run every part; each integer/bool dtype the
op supports runs ``INT_SAMPLES`` samples through forward, method and inplace (the ``int`` part),
compared exactly.
Gradients use a fixed random cotangent per output and ``torch.autograd.grad`` as reference.
Random ops (op_db wraps them in ``wrapper_set_seed``) are compared by dtype and shape only,
unless torch gives the same values for two seeds (dropout with p=0, eval mode...).
Used by tests/test_opinfo.py and tools/op_coverage.py.
"""

import re
import traceback
import types
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.testing._internal.common_methods_invocations import op_db

import wgtorch
from opinfo_convert import (
    DTYPES, CannotRepresent, Converter, Mismatch, Missing, compare, compare_structure,
    flat_tensors, rebind, resolve, tie_tolerant, wg_callable, wg_dtype,
)
from opinfo_expected import TOLERANCES
from opinfo_families import family

# NOTE: importing torch's test utilities freezes torch.backends flags for the whole process
# (common_utils calls disable_global_flags); other tests set them, so thaw them again.
torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True

FLOAT_SAMPLES = 24
INT_SAMPLES = 4
REFERENCE_NUMEL = 4096
INT_DTYPES = (torch.int64, torch.int32, torch.bool, torch.uint8)
RTOL, ATOL = 1e-4, 1e-5
PARTS = ("forward", "method", "inplace", "backward", "int")
# Ops whose values are uninitialised memory in torch: compared by dtype and shape only.
UNINITIALIZED = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided",
                 "empty_permuted"}


def op_id(op):
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def all_ops():
    return list(op_db)


@dataclass
class Part:
    """What the samples of one part of an op gave."""

    passed: int = 0
    missing: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    cannot: list = field(default_factory=list)
    random_only: int = 0  # samples of a random op compared by dtype and shape only

    @property
    def status(self):
        if self.mismatches:
            return "mismatch"
        if self.missing:
            return "missing"
        if self.passed:
            return "pass"
        return "cannot" if self.cannot else "n/a"

    @property
    def reason(self):
        items = {"mismatch": self.mismatches, "missing": self.missing,
                 "cannot": self.cannot}.get(self.status)
        if items:
            more = f" (+{len(items) - 1} more samples)" if len(items) > 1 else ""
            return items[0] + more
        if self.random_only:
            return f"{self.random_only} samples compared by dtype and shape only (random values)"
        return ""


@dataclass
class OpReport:
    id: str
    family: str
    parts: dict = field(default_factory=lambda: {p: Part() for p in PARTS})
    note: str = ""  # why an op has nothing to check (CUDA-only in torch)

    @property
    def status(self):
        statuses = {p.status for p in self.parts.values()}
        for s in ("mismatch", "missing", "pass", "cannot"):
            if s in statuses:
                return s
        return "n/a"

    def reason(self, *parts):
        parts = parts or PARTS
        bad = [f"{p}: {self.parts[p].reason}" for p in parts
               if self.parts[p].status in ("missing", "mismatch", "cannot")]
        return "; ".join(bad) or self.note


class Skip(Exception):
    """torch itself refuses this sample for this variant: nothing to compare."""


# ---- resolving wgtorch's variants ----------------------------------------------------------

def _is_test_function(fn):
    return isinstance(fn, types.FunctionType) and fn.__module__.startswith("torch.testing")


def _uses_seed(fn):
    """op_db wraps random ops in ``wrapper_set_seed``."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    consts = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return "wrapper_set_seed" in code.co_names or any("wrapper_set_seed" in c.co_names
                                                      for c in consts)


def wg_variant(op, kind):
    """wgtorch's function/method/inplace variant of ``op`` (raises :class:`Missing`)."""
    fn = {"forward": op.op, "method": op.method_variant, "inplace": op.inplace_variant}[kind]
    if _is_test_function(fn):
        return rebind(fn)
    if isinstance(fn, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        raise Missing(f"torch.ops.aten.{fn.__name__} (an ATen-internal op)")
    if kind != "forward" or op.name.startswith("__"):
        return wg_callable(fn)
    name = op.name.removeprefix("torch.")
    try:
        return resolve(name)
    except Missing:
        other = getattr(fn, "__name__", None)  # torch.cummax for op_db's "cummax" ...
        if "." not in name and other and hasattr(wgtorch, other):
            return getattr(wgtorch, other)
        raise


def torch_variant(op, kind, seed=None):
    fn = {"forward": op.op, "method": op.method_variant, "inplace": op.inplace_variant}[kind]
    if seed is not None and _is_test_function(fn) and _uses_seed(fn):
        def seeded(f, *args, **kwargs):
            torch.manual_seed(seed)
            return f(*args, **kwargs)
        return rebind(fn, torch, seeded)
    return fn


def _refusal(exc):
    """A deliberate, clearly worded refusal (``NotImplementedError``, or PyTorch's
    ``"conv2d" not implemented for 'Int64'``): a feature wgtorch lacks, not a wrong result."""
    if isinstance(exc, NotImplementedError):
        return True
    return isinstance(exc, (RuntimeError, ValueError, TypeError)) and bool(
        re.search(r"not implemented for|not supported", str(exc)))


def _rebound_attribute_missing(exc):
    """An AttributeError raised by a rebound op_db lambda itself: wgtorch lacks what it
    calls (``torch.polygamma``), not a bug inside wgtorch."""
    if not isinstance(exc, AttributeError):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "torch/testing" in frames[-1].filename


# ---- running one op ------------------------------------------------------------------------

def _samples(op, dtype, limit, reference=False):
    """Up to ``limit`` of op_db's samples; ``reference``: its reference inputs instead (more
    shapes and extremal values: NaN, inf, huge), those of at most REFERENCE_NUMEL elements."""
    torch.manual_seed(0)  # op_db's samples are random: the same ones in every run and order
    grad = dtype == torch.float32 and op.supports_autograd
    make = op.reference_inputs if reference else op.sample_inputs
    samples = []
    try:
        for sample in make("cpu", dtype, requires_grad=grad):
            if reference and sum(t.numel() for t in flat_tensors(
                    [sample.input, list(sample.args)])) > REFERENCE_NUMEL:
                continue
            samples.append(sample)
            if len(samples) == limit:
                break
    except Exception:  # noqa: BLE001 - torch's own generator may not support this dtype
        pass  # keep the samples it made before failing
    return samples


def _record(part, fn):
    """Run one check, filing its outcome (and any exception) under ``part``."""
    try:
        fn()
    except Skip:
        pass
    except Mismatch as e:
        part.mismatches.append(str(e))
    except Missing as e:
        part.missing.append(f"needs {e}")
    except CannotRepresent as e:
        part.cannot.append(str(e))
    except Exception as e:  # noqa: BLE001 - any wgtorch error where torch returned is a bug
        if _rebound_attribute_missing(e):
            part.missing.append(f"needs wgtorch's {e.name}")
        elif _refusal(e):
            part.missing.append(f"wgtorch refuses: {type(e).__name__}: {str(e)[:200]}")
        else:
            part.mismatches.append(f"raised {type(e).__name__}: {str(e)[:300]}")
    else:
        part.passed += 1


class _SampleCheck:
    """Checks one sample of one op (all its parts).

    Each variant converts the sample to wgtorch *before* torch runs it, since some op_db
    functions (``normal_``, ``uniform_``...) write into their input.
    """

    def __init__(self, op, report, index, sample, dtype, variants, tolerance):
        self.op, self.report, self.index, self.sample = op, report, index, sample
        self.dtype, self.variants = dtype, variants
        self.rtol, self.atol = tolerance
        self.random = op_id(op) in UNINITIALIZED  # values not comparable, as for random ops

    def run(self):
        parts = self.report.parts
        if self.dtype != torch.float32:  # integer/bool samples: every variant files under int
            parts = {name: parts["int"] for name in parts}
        self.parts = parts
        forward = {}
        _record(parts["forward"], lambda: self._forward(forward))
        if "expected" in forward and self._needs_grad(forward["expected"]):
            if "out" in forward:
                _record(parts["backward"], lambda: self._backward(forward))
            else:
                _copy_outcome(parts["forward"], parts["backward"])
        if self.op.method_variant is not None:
            _record(parts["method"], lambda: self._variant("method"))
        if self.op.inplace_variant is not None and isinstance(self.sample.input, torch.Tensor):
            _record(parts["inplace"], self._inplace)

    def _torch(self, kind, *args, **kwargs):
        """torch's result for a variant, with random ops seeded; :class:`Skip` if torch
        refuses the sample. Sets ``self.random`` when two seeds give different values."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = _snapshot(torch_variant(self.op, kind, seed=42)(*args, **kwargs))
                fn = {"forward": self.op.op, "method": self.op.method_variant,
                      "inplace": self.op.inplace_variant}[kind]
                if _uses_seed(fn):
                    again = torch_variant(self.op, kind, seed=43)(*args, **kwargs)
                    self.random = self.random or not _same(out, again)
            except Exception:  # noqa: BLE001 - a sample torch itself refuses is no check
                raise Skip() from None
        _check_representable(out)
        return out

    def _needs_grad(self, expected):
        if self.dtype != torch.float32 or not self.op.supports_autograd:
            return False
        return bool(_differentiable(self.sample.output_process_fn_grad(expected)))

    def _fn(self, kind):
        fn = self.variants.get(kind)
        if isinstance(fn, Missing):
            raise fn
        return fn

    def _compare(self, expected, actual, where="output"):
        if self.random:
            compare_structure(expected, actual, where)
        else:
            expected, actual = tie_tolerant(self.op, self.sample, expected, actual)
            compare(expected, actual, self.rtol, self.atol, where)

    def _converted(self):
        convert = Converter()
        args = convert((self.sample.input, *self.sample.args))
        return convert, args, convert(self.sample.kwargs)

    def _forward(self, forward):
        convert, args, kwargs = self._converted()
        sample = self.sample
        expected = self._torch("forward", sample.input, *sample.args, **sample.kwargs)
        forward["expected"] = expected
        out = self._fn("forward")(*args, **kwargs)
        forward.update(out=out, convert=convert)
        self._compare(expected, out)
        if self.random:
            self.parts["forward"].random_only += 1

    def _variant(self, kind):
        _, args, kwargs = self._converted()
        sample = self.sample
        expected = self._torch(kind, sample.input, *sample.args, **sample.kwargs)
        self._compare(expected, self._fn(kind)(*args, **kwargs))

    def _inplace(self):
        sample = self.sample
        _, args, kwargs = self._converted()
        with torch.no_grad():
            target = sample.input.detach().clone()
            expected = self._torch("inplace", target, *sample.args, **sample.kwargs)
        fn = self._fn("inplace")
        wg_target = args[0].detach().clone()
        with wgtorch.no_grad():
            out = fn(wg_target, *args[1:], **kwargs)
        if isinstance(expected, torch.Tensor) and out is not wg_target:
            raise Mismatch("the in-place variant did not return its input")
        self._compare(target, wg_target, "in-place result")

    def _backward(self, forward):
        sample, convert = self.sample, forward["convert"]
        leaves = _grad_leaves(sample)
        if not leaves:
            raise CannotRepresent("no input requires grad")
        if any(torch._debug_has_internal_overlap(t) for t in leaves):
            # NOTE: a leaf whose elements share memory (reference inputs' as_strided views):
            # torch's gradient for it is not the per-element one (zeros for abs), and the
            # converter gives wgtorch distinct elements
            raise Skip()
        expected, out = forward["expected"], forward["out"]
        if self.op.gradcheck_wrapper.__name__ != "<lambda>":  # e.g. a Hermitian input
            expected = self.op.gradcheck_wrapper(self.op.op, sample.input, *sample.args,
                                                 **sample.kwargs)
            wrapper = rebind(self.op.gradcheck_wrapper)
            out = wrapper(self._fn("forward"), *convert((sample.input, *sample.args)),
                          **convert(sample.kwargs))
        process = sample.output_process_fn_grad
        t_all = flat_tensors(process(expected))
        w_all = flat_tensors((rebind(process) if _is_test_function(process) else process)(out))
        if len(w_all) != len(t_all):
            raise Mismatch(f"{len(w_all)} output tensors, expected {len(t_all)}")
        pairs = [(t, w) for t, w in zip(t_all, w_all) if t.requires_grad and t.is_floating_point()]
        for k, (_, w) in enumerate(pairs):
            if not w.requires_grad:
                raise Mismatch(f"output {k} does not require grad")
        rng = np.random.default_rng(zlib.crc32(self.report.id.encode()) + self.index)
        cots = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t, _ in pairs]
        t_grads = torch.autograd.grad([t for t, _ in pairs], leaves,
                                      [torch.from_numpy(c).to(t.dtype)
                                       for c, (t, _) in zip(cots, pairs)], allow_unused=True)
        w_leaves = [convert.pairs[id(t)] for t in leaves]
        w_grads = wgtorch.autograd.grad([w for _, w in pairs], w_leaves,
                                        [wgtorch.tensor(c, dtype=w.dtype)
                                         for c, (_, w) in zip(cots, pairs)], allow_unused=True)
        for k, (t, w) in enumerate(zip(t_grads, w_grads)):
            where = f"gradient of input {k}"
            t = torch.zeros_like(leaves[k]) if t is None else t
            w = wgtorch.zeros(tuple(leaves[k].shape), dtype=w_leaves[k].dtype) if w is None else w
            if self.random:
                compare_structure(t, w, where)
            else:
                compare(t, w, self.rtol, self.atol, where)
        if self.random:
            self.parts["backward"].random_only += 1


def _snapshot(out):
    """torch's result, cloned: an in-place op_db function returns (and later rewrites) its
    input."""
    if isinstance(out, torch.Tensor):
        return out.detach().clone() if out.is_leaf and not out.requires_grad else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        return type(out)(*(_snapshot(v) for v in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_snapshot(v) for v in out)
    return out


def _copy_outcome(src, dst):
    """The backward part of a sample whose forward failed fails the same way."""
    if src.mismatches:
        dst.mismatches.append("forward failed: " + src.mismatches[-1])
    elif src.missing:
        dst.missing.append(src.missing[-1])
    elif src.cannot:
        dst.cannot.append(src.cannot[-1])


def _check_representable(expected):
    for t in flat_tensors(expected):
        if t.layout != torch.strided:
            raise CannotRepresent(f"torch returns a {t.layout} tensor")
        if t.dtype not in DTYPES:
            wg_dtype(t.dtype)  # raises CannotRepresent or Missing


def _grad_leaves(sample):
    seen, leaves = set(), []
    items = flat_tensors([sample.input, list(sample.args), list(sample.kwargs.values())])
    for t in items:
        if t.requires_grad and id(t) not in seen:
            seen.add(id(t))
            leaves.append(t)
    return leaves


def _differentiable(out):
    return [t for t in flat_tensors(out) if t.requires_grad and t.is_floating_point()]


def _same(a, b):
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
                and torch.equal(a.nan_to_num(), b.nan_to_num()))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _variants(op):
    out = {}
    for kind in ("forward", "method", "inplace"):
        try:
            out[kind] = wg_variant(op, kind) if _torch_has(op, kind) else None
        except Missing as e:
            out[kind] = e
    return out


def _torch_has(op, kind):
    return {"forward": op.op, "method": op.method_variant,
            "inplace": op.inplace_variant}[kind] is not None


def run_op(op, float_samples=FLOAT_SAMPLES, int_samples=INT_SAMPLES, reference=False):
    """Check every part of one OpInfo against torch; see the module docstring.
    ``reference=True`` uses op_db's reference inputs (slower; tools/op_coverage.py
    --reference-inputs)."""
    report = OpReport(op_id(op), family(op))
    variants = _variants(op)
    tolerance = TOLERANCES.get(report.id, (RTOL, ATOL, ""))[:2]
    supported = op.supported_dtypes("cpu")
    plan = [(torch.float32, float_samples)] if torch.float32 in supported else []
    plan += [(d, int_samples) for d in INT_DTYPES if d in supported]
    if not supported:
        report.note = "torch has no CPU kernel for it (CUDA only): nothing to compare with"
    elif not plan:
        names = ", ".join(sorted(str(d).replace("torch.", "") for d in supported))
        report.parts["forward"].cannot.append(f"torch supports only {names}")
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both libraries' deprecation notes on odd samples
        for dtype, limit in plan:
            for index, sample in enumerate(_samples(op, dtype, limit, reference)):
                _SampleCheck(op, report, index, sample, dtype, variants, tolerance).run()
                checked += 1
    if plan and not checked:
        report.note = "torch makes no CPU samples for it (CUDA only): nothing to compare with"
    wgtorch.synchronize()
    return report
