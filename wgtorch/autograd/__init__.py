"""Autograd: ``backward``, ``grad``, ``Function``, grad modes and numerical checking."""

from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .engine import run_backward
from .gradcheck import gradcheck, gradgradcheck


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(outputs, grad_outputs):
    from ..ops.creation import ones_like

    grads = []
    for k, out in enumerate(outputs):
        g = grad_outputs[k] if grad_outputs is not None and k < len(grad_outputs) else None
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones_like(out)
        elif tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{k}] has a shape of {tuple(g.shape)} and "
                f"output[{k}] has a shape of {tuple(out.shape)}."
            )
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad``."""
    tensors = _as_tuple(tensors)
    grads = _root_grads(tensors, _as_tuple(grad_tensors))
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        found = run_backward(tensors, grads, retain, create_graph, inputs=inputs,
                             allow_unused=True)
        for x, g in zip(inputs, found):
            if g is not None:
                x.grad = g if x.grad is None else x.grad + g
        return
    run_backward(tensors, grads, retain, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is left alone)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _root_grads(outputs, _as_tuple(grad_outputs))
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outputs, grads, retain, create_graph, inputs=inputs,
                          allow_unused=bool(allow_unused) or materialize_grads)
    if materialize_grads:
        from ..ops.creation import zeros_like

        result = tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, result))
    return result


__all__ = [
    "Function", "FunctionCtx", "once_differentiable", "backward", "grad", "gradcheck",
    "gradgradcheck", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled",
]
