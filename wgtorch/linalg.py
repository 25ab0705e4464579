"""``torch.linalg``: the norms and products that training code uses."""

from .ops.linalg import matmul, vdot
from .ops.stats import vector_norm


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius (``'fro'``) or max-abs-column/row-sum (1, inf, -1, -inf) norms of matrices."""
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if ord in (1, -1, float("inf"), float("-inf")):
        rows, cols = dim
        summed_over, reduce_over = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = A.abs().sum(summed_over, keepdim=True)
        out = sums.amax(reduce_over, keepdim=True) if ord > 0 else sums.amin(reduce_over,
                                                                             keepdim=True)
        return out if keepdim else out.squeeze((rows % A.ndim, cols % A.ndim))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``vector_norm`` for vectors (or ``dim`` an int), ``matrix_norm`` for a 2-tuple ``dim``."""
    if isinstance(dim, (tuple, list)) and len(dim) == 2 or (dim is None and A.ndim == 2
                                                            and ord is not None):
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dim or (-2, -1)), keepdim,
                           dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


__all__ = ["matmul", "matrix_norm", "norm", "vdot", "vecdot", "vector_norm"]
