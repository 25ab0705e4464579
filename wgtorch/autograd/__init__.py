"""Autograd: ``backward``, ``grad``, ``Function``, grad modes and numerical checking.

PyTorch's semantics: see ``function.py`` (graph nodes, custom Functions, saved tensors),
``engine.py`` (the backward pass) and ``grad_mode.py``.
"""

import warnings

from . import grad_mode
from .engine import run_backward
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _make_grads(outputs, grad_outputs):
    """The gradient to start from for each output: the given one, or ones for a scalar."""
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one gradient per output: got {len(grad_outputs)} gradients for "
            f"{len(outputs)} outputs"
        )
    grads = []
    for k, out in enumerate(outputs):
        g = grad_outputs[k] if grad_outputs is not None else None
        if g is None:
            if out.requires_grad:
                if out.numel() != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                g = out.new_ones(out.shape)
        elif g.shape != out.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{k}] has a shape of {g.shape!r} and "
                f"output[{k}] has a shape of {out.shape!r}."
            )
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph's leaves.

    ``grad_tensors`` holds one gradient per tensor (None for a one-element tensor);
    ``retain_graph`` (default: ``create_graph``) keeps saved tensors for another backward;
    ``create_graph`` records the backward pass; ``inputs`` accumulates into those tensors
    (leaves or not) only. Example: ``wgtorch.autograd.backward([loss1, loss2])``.
    """
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    grads = _make_grads(tensors, _as_tuple(grad_tensors))
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the "
            "parameter and its gradient which can cause a memory leak. We recommend using "
            "autograd.grad when creating the graph to avoid this. If you have to use this "
            "function, make sure to reset the .grad fields of your parameters to None after use "
            "to break the cycle and avoid the leak.",
            UserWarning,
            stacklevel=3,
        )
    if inputs is None:
        run_backward(tensors, grads, retain, create_graph)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward(tensors, grads, retain, create_graph, inputs=inputs, accumulate_inputs=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple (``.grad`` is left
    alone).

    ``grad_outputs``: one gradient per output (None for a one-element output);
    ``allow_unused``: give None (or zeros with ``materialize_grads``) for an input the outputs
    do not depend on, instead of an error. Example::

        (dx,) = wgtorch.autograd.grad(y.sum(), x, create_graph=True)   # then d2x from dx
    """
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but "
            "got: allow_unused=False."
        )
    if is_grads_batched:
        raise NotImplementedError("wgtorch.autograd.grad: is_grads_batched=True is not supported")
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_grads(outputs, _as_tuple(grad_outputs))
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outputs, grads, retain, create_graph, inputs=inputs,
                          allow_unused=bool(allow_unused) or materialize_grads)
    if materialize_grads:
        result = tuple(x.new_zeros(x.shape) if g is None else g for x, g in zip(inputs, result))
    return result


__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "enable_grad",
    "grad",
    "grad_mode",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
]
