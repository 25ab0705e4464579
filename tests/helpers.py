"""One helper to check any op against numpy: forward values and gradients.

``check_op([(45, 68), (45, 68)], lambda x, y: x * y)`` runs the lambda on wgtorch tensors
and on float64 numpy arrays (or ``ref=`` when numpy spells the op differently), compares the
outputs, then compares wgtorch's gradients of ``sum(out * G)`` (random G) with central finite
differences of the numpy reference. Each check runs on contiguous inputs and again on
non-contiguous views (transposed or strided) holding the same values.
"""

import numpy as np

import wgtorch as torch

RNG = np.random.default_rng(0)
FD_EPS = 1e-6
MAX_FD_ELEMENTS = 64  # finite differences on a random subset of larger inputs


def make_input(shape, low=-2.0, high=2.0, rng=RNG):
    return rng.uniform(low, high, size=shape)


def as_noncontiguous(array, dtype=torch.float32, requires_grad=False):
    """A wgtorch tensor with ``array``'s values whose strides are not contiguous."""
    a = np.asarray(array)
    if a.ndim >= 2 and a.shape[-1] > 1 and a.shape[-2] > 1:
        t = torch.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype=dtype)
        t = t.transpose(-1, -2)
    elif a.size > 1:
        # every other element along the last dim longer than 1 (size-1 dims defeat transposes)
        axis = max(k for k, n in enumerate(a.shape) if n > 1)
        wide = np.zeros(a.shape[:axis] + (2 * a.shape[axis],) + a.shape[axis + 1:], a.dtype)
        every_other = (slice(None),) * axis + (slice(None, None, 2),)
        wide[every_other] = a
        t = torch.tensor(wide, dtype=dtype)[every_other]
    else:
        return torch.tensor(a, dtype=dtype, requires_grad=requires_grad)
    assert a.size <= 1 or not t.is_contiguous()
    if requires_grad:
        t = t.detach().requires_grad_(True)
    return t


def _numpy_out(ref, arrays):
    out = ref(*arrays)
    return np.asarray(out, dtype=np.float64)


def assert_close(actual, expected, atol=1e-5, rtol=1e-4, msg=""):
    a = actual.detach().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{msg} shape {a.shape} != expected {e.shape}"
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), atol=atol,
                               rtol=rtol, err_msg=msg, equal_nan=True)


def _fd_grad(ref, arrays, k, G, rng):
    x = arrays[k]
    grad = np.full(x.shape, np.nan)
    flat = np.arange(x.size)
    if x.size > MAX_FD_ELEMENTS:
        flat = rng.choice(x.size, MAX_FD_ELEMENTS, replace=False)
    for j in flat:
        idx = np.unravel_index(j, x.shape)
        vals = []
        for sign in (1, -1):
            args = [a.copy() for a in arrays]
            args[k][idx] += sign * FD_EPS
            vals.append((_numpy_out(ref, args) * G).sum())
        grad[idx] = (vals[0] - vals[1]) / (2 * FD_EPS)
    return grad


def check_op(shapes, fn, ref=None, grad=True, low=-2.0, high=2.0, atol=1e-4, rtol=1e-4,
             grad_atol=1e-3, grad_rtol=1e-2, layouts=("contiguous", "strided"), inputs=None):
    """Compare ``fn`` on wgtorch with ``ref`` (default: ``fn``) on numpy float64 arrays."""
    ref = ref or fn
    arrays = inputs if inputs is not None else [make_input(s, low, high) for s in shapes]
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    expected = _numpy_out(ref, arrays)
    G = RNG.standard_normal(expected.shape)
    fd = None
    for layout in layouts:
        if layout == "contiguous":
            ts = [torch.tensor(a, dtype=torch.float32, requires_grad=grad) for a in arrays]
        else:
            ts = [as_noncontiguous(a, requires_grad=grad) for a in arrays]
        out = fn(*ts)
        assert_close(out, expected, atol, rtol, msg=f"forward ({layout})")
        if not grad:
            continue
        (out * torch.tensor(G, dtype=torch.float32)).sum().backward()
        if fd is None:
            fd = [_fd_grad(ref, arrays, k, G, RNG) for k in range(len(arrays))]
        for k, t in enumerate(ts):
            assert t.grad is not None, f"input {k} got no gradient ({layout})"
            got = t.grad.numpy()
            mask = ~np.isnan(fd[k])
            np.testing.assert_allclose(got[mask], fd[k][mask], atol=grad_atol, rtol=grad_rtol,
                                       err_msg=f"gradient of input {k} ({layout})")
    return expected
