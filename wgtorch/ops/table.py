"""The elementwise op table: the declarators that turn one row into a complete op.

A row is a WGSL expression per compute type (``{0}``, ``{1}``... name the operands, already
converted to the compute type), a dtype rule (FLOAT, SAME or BOOL) and a backward rule
written in wgtorch ops, so it runs on the GPU and can be differentiated again. From one row
a declarator makes the function, its Tensor method, the in-place ``name_`` method, the
module's ``__all__`` entry and the autograd node (``ExpBackward0``), all with real names::

    exp = unary("exp", {"f32": "exp({0})"}, FLOAT, lambda g, out, x: g * out)

Scalar parameters ride in the kernel's params slot, so one kernel serves every value. A row
with parameters decorates a function with PyTorch's signature that checks the arguments and
returns the kernel's operands, then its parameters (or, rarely, the result itself)::

    @unary({"f32": "select({0} * {1}, {0}, {0} > 0.0)"}, SAME,
           lambda g, out, x, negative_slope: where(x > 0, g, g * negative_slope))
    def leaky_relu(input, negative_slope=0.01):
        return input, negative_slope

Operands (tensors or numbers) take part in type promotion; parameters are converted to the
compute type; a kernel takes at most 4 of them together, 3 of them tensors. A backward rule
gets ``(grad, out, *operands, *params)`` and returns the operands' gradients (one rule, or a
tuple of one rule per operand: then only the gradients needed are computed). Only the
operands a rule reads are saved for backward, as PyTorch does, so a later in-place change to
the others stays legal (``x = a + b; x.relu_()``).
"""

import dis
import functools
import sys
from typing import NamedTuple

import numpy as np

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..device import check_same_device as _check_devices  # the one device check (device.py)
from ..tensor import Tensor, tensor_method
from .copy import inplace_method
from .naming import named
from .pointwise import launch_map
from .reduce import sum_to

FLOAT = "float"  # integer inputs are promoted to the default float dtype
SAME = "same"  # result has the (promoted) input dtype
BOOL = "bool"  # result is bool; compared in the promoted dtype

_OPERAND = (Tensor, bool, int, float)


# ---- launching a row ---------------------------------------------------------------------


def _python_numbers(name, operands):
    """``operands`` with numpy scalars as Python numbers; TypeError for anything else."""
    out = []
    for op in operands:
        if isinstance(op, np.generic) and op.ndim == 0 and op.dtype.kind in "biuf":
            op = op.item()
        elif not isinstance(op, _OPERAND):
            raise TypeError(
                f"{name}(): argument must be a Tensor or a number, not {type(op).__name__}"
            )
        out.append(op)
    return out


def _numbers(name, names, params):
    """Scalar parameters as Python numbers (numpy scalars and one-element tensors too);
    TypeError naming the parameter for anything else, as PyTorch's argument parser."""
    out = []
    for k, p in enumerate(params):
        if isinstance(p, np.generic) and p.ndim == 0 and p.dtype.kind in "biuf":
            p = p.item()
        elif isinstance(p, Tensor) and p.numel() == 1:
            p = p.item()
        elif not isinstance(p, (int, float)):
            what = f"'{names[k]}' (position {k + 2})" if names else f"{k + 2}"
            raise TypeError(f"{name}(): argument {what} must be Number, not {type(p).__name__}")
        out.append(p)
    return out


def _compute_dtype(operands, kind):
    t = dt.result_type(*operands)
    if kind == FLOAT and not t.is_floating_point:
        t = dt.get_default_dtype()
    return t


def _scalar_check(name, op, t):
    if isinstance(op, float) and not t.is_floating_point:
        raise RuntimeError(f"{name}: result type Float can't be cast to the desired output type")
    if isinstance(op, int) and not isinstance(op, bool) and not t.is_floating_point:
        if not dt.INT32_MIN <= op <= dt.INT32_MAX:
            raise RuntimeError(
                f"{name}: scalar {op} does not fit in wgtorch's 32-bit integer storage"
            )


def run(name, exprs, operands, kind=SAME, params=(), out=None):
    """Launch ``exprs[compute type]`` over ``operands`` (PyTorch's type promotion), then
    ``params`` (scalars converted to the compute type, passed in the params slot)."""
    for op in operands:
        if not isinstance(op, _OPERAND):
            operands = _python_numbers(name, operands)
            break
    _check_devices(name, operands)
    t = _compute_dtype(operands, kind)
    expr = exprs.get(t.wgsl) if isinstance(exprs, dict) else exprs
    if expr is None:
        raise NotImplementedError(f'"{name}" not implemented for \'{t.legacy_name}\'')
    for op in operands:
        if not isinstance(op, Tensor):
            _scalar_check(name, op, t)
    out_dtype = dt.bool_ if kind == BOOL else t
    if params:
        operands = [*operands, *params]
    return launch_map(name, expr, operands, [t.wgsl] * len(operands), out_dtype, out=out)


def records(*operands):
    """Whether autograd records this call: grad mode is on and an operand requires grad.
    (Calls that do not record skip the Function machinery: the common inference path.)"""
    return is_grad_enabled() and any(isinstance(x, Tensor) and x.requires_grad for x in operands)


# ---- the autograd node of a row ----------------------------------------------------------


def node_name(name):
    """PyTorch's node name for op ``name``: ``log1p`` -> ``Log1PBackward0``."""
    return name.strip("_").title().replace("_", "") + "Backward0"


@functools.lru_cache(maxsize=4096)
def _reads(fn, n):
    """Which of ``fn``'s first ``n`` parameters its body reads (all, when unknown). Cached:
    rules are module-level functions, and a forward asks on every call."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return (True,) * n
    names = set(code.co_cellvars)  # parameters that a nested function reads
    for ins in dis.get_instructions(code):
        if ins.opname.startswith("LOAD_"):
            names.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
    return tuple(p in names for p in code.co_varnames[:n])


def elementwise_function(name, exprs, kind, grad, n_operands, node=None, module=None):
    """The autograd Function of a row: ``apply(*operands, *params)`` launches the kernel and
    records a node named ``node`` (PyTorch's name by default) whose backward applies
    ``grad``: one rule giving every operand's gradient, or a tuple of one rule per operand."""
    rules = grad if isinstance(grad, tuple) else None

    def forward(ctx, *args):
        operands, params = args[:n_operands], args[n_operands:]
        out = run(name, exprs, operands, kind, params)
        if grad is not None:
            n_read = 1 + len(args)  # out, then every argument
            if rules:
                reads = [_reads(r, n_read + 1)[1:] for r, need in
                         zip(rules, ctx.needs_input_grad) if need]
                keep = [any(r[j] for r in reads) for j in range(n_read)]
            else:
                keep = _reads(grad, n_read + 1)[1:]
            # NOTE: save only what the rules read (as PyTorch): a saved tensor may not be
            # modified in place later, and x = a + b; x.relu_() or x = a * 2; x[0] = b work.
            ctx.save_for_backward(*(t if k or not isinstance(t, Tensor) else None
                                    for t, k in zip((out, *args), keep)))
            ctx.shapes = tuple(x.shape if isinstance(x, Tensor) else None for x in operands)
        return out

    def backward(ctx, g):
        out, *args = ctx.saved_tensors
        if rules:
            grads = tuple(rule(g, out, *args) if need else None
                          for rule, need in zip(rules, ctx.needs_input_grad))
        else:
            grads = grad(g, out, *args)
            grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(
            sum_to(gi, shape) if shape is not None and gi is not None else None
            for gi, shape in zip(grads, ctx.shapes)
        )

    module = module or _caller_module()
    named(forward, f"{name}.forward", module)  # tracebacks say "in exp.backward"
    named(backward, f"{name}.backward", module)
    return _function_class(node or node_name(name), forward, backward, module)


def _function_class(name, forward, backward, module):
    return type(name, (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__module__": module, "__qualname__": name,
    })


# ---- declarators --------------------------------------------------------------------------


def _caller_module(depth=2):
    # as collections.namedtuple: the module whose top level runs the declaration
    return sys._getframe(depth).f_globals["__name__"]


class Published(NamedTuple):
    """One op registered by ``publish``: what the table's contract test walks."""

    fn: object
    name: str
    aliases: tuple
    method: bool
    inplace: bool
    export: bool


PUBLISHED = []  # every op published, in declaration order


def publish(fn, name=None, *, method=True, inplace=None, aliases=(), export=True):
    """Register op ``fn``: ``Tensor.<name>`` (with ``method``), the in-place ``Tensor.<name>_``
    (``inplace``, default: with the method), the aliases, and the name in its module's
    ``__all__`` (with ``export``: what ``wgtorch`` re-exports)."""
    name = name or fn.__name__
    module = sys.modules[fn.__module__].__dict__
    inplace = method if inplace is None else inplace
    for n in (name, *aliases):
        if method:
            tensor_method(n)(fn)
        if inplace:
            inplace_method(n + "_", fn)
        if n != name:
            module[n] = fn
    if export:
        module.setdefault("__all__", []).extend((name, *aliases))
    PUBLISHED.append(Published(fn, name, tuple(aliases), method, inplace, export))
    return fn


def register(name=None, **options):
    """Decorator form of ``publish`` for hand-written ops (``@register(aliases=("clip",))``)."""

    def decorate(fn):
        return publish(fn, name, **options)

    return decorate


def _node_picker(node, make):
    """The node class for a call, from ``node(*args)``: PyTorch names overloads apart
    (``PowBackward0`` for ``x ** 2.0``, ``PowBackward1`` for two tensors)."""
    classes = {}

    def pick(*args):
        name = node(*args)
        cls = classes.get(name)
        if cls is None:
            cls = classes[name] = make(name)
        return cls

    return pick


def _declare(name, exprs, kind, grad, n, signature, module, node, options):
    make = functools.partial(_make_node_class, name, exprs, kind, grad, n, module=module)
    fixed = make(node or node_name(name)) if not callable(node) else None
    pick = _node_picker(node, make) if fixed is None else None

    if signature is None and n == 1:
        def op(input):
            if grad is None or not records(input):
                return run(name, exprs, [input], kind)
            return (fixed or pick(input)).apply(input)
    elif signature is None:
        def op(input, other):
            if grad is None or not records(input, other):
                return run(name, exprs, [input, other], kind)
            return (fixed or pick(input, other)).apply(input, other)
    else:
        names = _parameter_names(signature)[n:]

        def op(*args, **kwargs):
            values = signature(*args, **kwargs)
            if type(values) is not tuple:  # the result itself: nothing to launch
                return values
            operands, params = values[:n], values[n:]
            for p in params:
                if type(p) is not float and type(p) is not int:
                    params = _numbers(name, names, params)
                    values = (*operands, *params)
                    break
            if grad is None or not records(*operands):
                return run(name, exprs, operands, kind, params)
            return (fixed or pick(*values)).apply(*values)

        functools.update_wrapper(op, signature)  # PyTorch's signature, for help() and inspect
    doc = signature.__doc__ if signature is not None else (
        f"Elementwise ``{name}`` (PyTorch's ``torch.{name}``).")
    named(op, name, module, doc=doc)
    return publish(op, **options)


def _make_node_class(name, exprs, kind, grad, n, node, module):
    return elementwise_function(name, exprs, kind, grad, n, node, module)


def _parameter_names(fn):
    code = fn.__code__
    return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


def _fields(exprs, kind=SAME, grad=None):
    return exprs, kind, grad


def _row(n, row, node, options):
    if isinstance(row[0], str):  # a row without parameters: unary("exp", exprs, kind, grad)
        name, (exprs, kind, grad) = row[0], _fields(*row[1:])
        return _declare(name, exprs, kind, grad, n, None, _caller_module(3), node, options)
    exprs, kind, grad = _fields(*row)

    def decorate(signature):
        return _declare(signature.__name__, exprs, kind, grad, n, signature,
                        signature.__module__, node, options)

    return decorate


def unary(*row, node=None, **options):
    """Declare a one-operand row: ``unary(name, exprs, kind, grad)``, or, with scalar
    parameters, ``@unary(exprs, kind, grad)`` on a function with PyTorch's signature.

    Options: ``method`` (a Tensor method too, default True), ``inplace`` (``Tensor.name_``,
    default: with the method), ``aliases``, ``export`` (in ``__all__``, so ``wgtorch.name``;
    default True) and ``node``: the autograd node's name, or a function of the arguments
    giving it (PyTorch's overloads); default PyTorch's ``<Name>Backward0``.
    """
    return _row(1, row, node, options)


def binary(*row, node=None, **options):
    """Declare a two-operand row with broadcasting and scalar operands (see ``unary``)."""
    return _row(2, row, node, options)


def ternary(*row, node=None, **options):
    """Declare a three-operand row (``lerp``, ``addcmul``): always with a signature."""
    assert not isinstance(row[0], str), "a ternary row decorates its signature"
    return _row(3, row, node, options)
