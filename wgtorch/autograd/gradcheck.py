"""``gradcheck`` and ``gradgradcheck``: analytic gradients against central finite differences.

The analytic Jacobian comes from one backward per output element (``autograd.grad`` with a
one-hot ``grad_outputs``, the graph retained); the numerical one from perturbing each input
element by ``+-eps`` on the host. float32 is the widest type on WebGPU, so the default
tolerances are looser than PyTorch's float64 ones (``eps=1e-3, atol=1e-3, rtol=1e-2``).
"""

import numpy as np

from . import function


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytic and numerical Jacobians differ."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_tensor(x):
    return isinstance(x, function.Tensor or function._tensor_type())


def _outputs(func, inputs):
    return tuple(o for o in _as_tuple(func(*inputs)) if _is_tensor(o))


def _numerical_jacobians(func, inputs, k, eps):
    """``[output j] -> (numel(inputs[k]), numel(output j))`` finite-difference Jacobians."""
    x = inputs[k]
    base = x.detach().numpy().astype(np.float64)
    cols = None
    for j in range(base.size):
        values = []
        for sign in (1, -1):
            pert = base.copy().reshape(-1)
            pert[j] += sign * eps
            args = list(inputs)
            args[k] = x.new_tensor(pert.reshape(base.shape), dtype=x.dtype, device=x.device,
                                   requires_grad=x.requires_grad)  # gradgradcheck differentiates
            values.append([o.detach().numpy().astype(np.float64).reshape(-1)
                           for o in _outputs(func, args)])
        if cols is None:
            cols = [[] for _ in values[0]]
        for c, plus, minus in zip(cols, values[0], values[1]):
            c.append((plus - minus) / (2 * eps))
    if cols is None:  # an empty input
        return [np.zeros((0, o.numel())) for o in _outputs(func, inputs)]
    return [np.stack(c, axis=0) for c in cols]


def _analytic_jacobians(outputs, diff_inputs):
    """``[input][output] -> (numel(input), numel(output))`` Jacobians from backward passes."""
    from . import grad as autograd_grad  # NOTE: defined after this module is imported

    jac = [[np.zeros((x.numel(), o.numel())) for o in outputs] for x in diff_inputs]
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            continue  # no graph: its Jacobian is zero
        for j in range(out.numel()):
            onehot = np.zeros(out.numel())
            onehot[j] = 1.0
            seed = out.new_tensor(onehot.reshape(tuple(out.shape)), dtype=out.dtype,
                                  device=out.device)
            grads = autograd_grad(out, diff_inputs, seed, retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                if g is not None:
                    jac[k][i][:, j] = g.detach().numpy().astype(np.float64).reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-3, atol=1e-3, rtol=1e-2, raise_exception=True, **_):
    """True when ``func``'s gradients match finite differences for every input that
    requires grad and every tensor output; else raises ``GradcheckError`` (or returns False
    with ``raise_exception=False``).

    ``inputs`` is a tensor or a tuple of arguments (non-tensors are passed through). PyTorch's
    other keyword options are accepted and ignored. Example::

        x = wgtorch.randn(3, 4, requires_grad=True)
        assert wgtorch.autograd.gradcheck(lambda t: t.tanh() * t, (x,))
    """
    inputs = _as_tuple(inputs)
    diff = [k for k, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    outputs = _outputs(func, inputs)
    analytic = _analytic_jacobians(outputs, [inputs[k] for k in diff])
    for n, k in enumerate(diff):
        numeric = _numerical_jacobians(func, inputs, k, eps)
        for i, (a, b) in enumerate(zip(analytic[n], numeric)):
            if not np.allclose(a, b, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {i} with respect to input {k},\n"
                        f"numerical:{b}\nanalytical:{a}\n"
                    )
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-3, atol=1e-3, rtol=1e-2,
                  raise_exception=True, seed=0, **_):
    """gradcheck of the vector-Jacobian product of ``func``: checks second derivatives.

    The vector is ``grad_outputs`` (random when None); the checked function maps
    ``(inputs, grad_outputs)`` to the gradients of ``func``'s outputs w.r.t. ``inputs``, built
    with ``create_graph=True``.
    """
    from . import grad as autograd_grad  # NOTE: defined after this module is imported

    inputs = _as_tuple(inputs)
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            o.new_tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device,
                         requires_grad=True)
            for o in outputs if o.requires_grad
        )
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def vjp(*args):
        xs, gos = args[:n], args[n:]
        outs = [o for o in _outputs(func, xs) if o.requires_grad]
        diff = [x for x in xs if _is_tensor(x) and x.requires_grad]
        grads = autograd_grad(outs, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
