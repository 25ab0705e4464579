"""``gradcheck``: compare analytic gradients with central finite differences."""

import numpy as np


def _numerical_jacobian(fn, inputs, k, eps):
    from ..ops.creation import tensor

    x = inputs[k]
    base = x.detach().numpy().astype(np.float64)
    cols = []
    for j in range(base.size):
        outs = []
        for sign in (1, -1):
            pert = base.copy().reshape(-1)
            pert[j] += sign * eps
            args = list(inputs)
            args[k] = tensor(pert.reshape(base.shape), dtype=x.dtype, device=x.device)
            out = fn(*args)
            outs.append(out.detach().numpy().astype(np.float64).reshape(-1))
        cols.append((outs[0] - outs[1]) / (2 * eps))
    return np.stack(cols, axis=0) if cols else np.zeros((0, 0))


def gradcheck(func, inputs, *, eps=1e-3, atol=1e-3, rtol=1e-2, raise_exception=True, **_):
    """True when ``func``'s analytic gradients match finite differences (float32 tolerances).

    float32 is the widest type on WebGPU, so the defaults are looser than PyTorch's float64
    ones.
    """
    from . import grad as autograd_grad
    from ..ops.creation import zeros_like

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [k for k, x in enumerate(inputs) if hasattr(x, "requires_grad") and x.requires_grad]
    out = func(*inputs)
    n_out = out.numel()
    for k in diff:
        numeric = _numerical_jacobian(func, inputs, k, eps)
        analytic = np.zeros_like(numeric)
        for j in range(n_out):
            seed = np.zeros(n_out, dtype=np.float32)
            seed[j] = 1
            from ..ops.creation import tensor

            go = tensor(seed.reshape(out.shape), device=out.device)
            (g,) = autograd_grad(func(*inputs), inputs[k], go, allow_unused=True)
            g = zeros_like(inputs[k]) if g is None else g
            analytic[:, j] = g.detach().numpy().reshape(-1)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if raise_exception:
                raise RuntimeError(
                    f"Jacobian mismatch for output 0 with respect to input {k},\n"
                    f"numerical:{numeric}\nanalytical:{analytic}"
                )
            return False
    return True


def gradgradcheck(func, inputs, *, eps=1e-3, atol=1e-3, rtol=1e-2, raise_exception=True, **_):
    """gradcheck of the first derivative (checks second-order gradients)."""
    from . import grad as autograd_grad

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)

    def first(*xs):
        out = func(*xs)
        diff = [x for x in xs if x.requires_grad]
        grads = autograd_grad(out.sum(), diff, create_graph=True, allow_unused=True)
        total = None
        for g in grads:
            if g is not None:
                s = g.sum() if total is None else total + g.sum()
                total = s
        return total

    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
