"""Contractions built on the batched matmul primitive: tensordot, inner and einsum.

Each contracted pair of operands is permuted and reshaped (views where the strides allow)
into one batched matmul; einsum's diagonals and lone sums are multiply and sum ops. Nothing
here needs a backward of its own.
"""

from ..tensor import prod, tensor_method
from .creation import eye
from .linalg import _check_dtypes, _product, mm


@tensor_method()
def inner(input, other):
    """Sum product over the last dims: ``inner(a, b)[i.., j..] = sum_k a[i.., k] b[j.., k]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return tensordot(input, other, dims=([input.ndim - 1], [other.ndim - 1]))


def tensordot(a, b, dims=2, out=None):
    """Sum products over ``dims`` of ``a`` and ``b`` (an int: the last/first dims; or two lists)."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a = list(range(a.ndim - dims, a.ndim))
        dims_b = list(range(dims))
    else:
        dims_a, dims_b = dims
        if isinstance(dims_a, int):
            dims_a, dims_b = [dims_a], [dims_b]
        dims_a = [a._wrap_dim(d) for d in dims_a]
        dims_b = [b._wrap_dim(d) for d in dims_b]
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    for da, db in zip(dims_a, dims_b):
        # as PyTorch: a contracted dim of size 1 broadcasts, i.e. the other side is summed
        if b.shape[db] == 1 and a.shape[da] != 1:
            a = a.sum(da, keepdim=True, dtype=a.dtype)
        elif a.shape[da] == 1 and b.shape[db] != 1:
            b = b.sum(db, keepdim=True, dtype=b.dtype)
        elif a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[da]} in dim "
                f"{da} and second has size {b.shape[db]} in dim {db}"
            )
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = prod(a.shape[d] for d in dims_a)
    a2 = a.permute(*free_a, *dims_a).reshape(prod(a.shape[d] for d in free_a), k)
    b2 = b.permute(*dims_b, *free_b).reshape(k, prod(b.shape[d] for d in free_b))
    res = mm(a2, b2).view(*(a.shape[d] for d in free_a), *(b.shape[d] for d in free_b))
    if out is not None:
        out.copy_(res)
        return out
    return res


def _parse_einsum(equation, operands):
    """Per-operand letter lists and the output letters, with '...' expanded to capitals."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            "einsum(): more operands were provided than specified in the equation"
            if len(operands) > len(terms) else
            "einsum(): fewer operands were provided than specified in the equation"
        )
    ell_ndim = 0
    letters = []
    for term, op in zip(terms, operands):
        n_named = len(term.replace("...", ""))
        if "..." in term:
            n_ell = op.ndim - n_named
            ell_ndim = max(ell_ndim, n_ell)
        elif n_named != op.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({n_named}) does not match "
                f"the number of dimensions ({op.ndim}) for operand {len(letters)} and no "
                "ellipsis was given"
            )
        letters.append(term)
    ell = "".join(chr(ord("A") + k) for k in range(ell_ndim))
    out_letters = []
    for term, op in zip(letters, operands):
        if "..." in term:
            n_ell = op.ndim - len(term.replace("...", ""))
            term = term.replace("...", ell[ell_ndim - n_ell:])
        if not term.replace("", "") or all(c.isalpha() for c in term):
            out_letters.append(list(term))
        else:
            raise RuntimeError(f"einsum(): invalid subscript given in equation {equation!r}")
    if arrow:
        out = list(rhs.replace("...", ell))
    else:
        counts = {}
        for term in out_letters:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = list(ell) + sorted(c for c, n in counts.items() if n == 1 and c.islower())
    return out_letters, out


def _einsum_reduce(x, letters, keep):
    """Take diagonals of repeated letters and sum letters not in ``keep``: (x, letters)."""
    while len(set(letters)) != len(letters):
        c = next(c for c in letters if letters.count(c) > 1)
        i = letters.index(c)
        j = letters.index(c, i + 1)
        mask = eye(x.shape[i], dtype=x.dtype, device=x.device)
        shape = [1] * x.ndim
        shape[i], shape[j] = x.shape[i], x.shape[j]
        x = (x * mask.view(shape)).sum(j)  # the diagonal of dims i, j
        letters = letters[:j] + letters[j + 1:]
    drop = [k for k, c in enumerate(letters) if c not in keep]
    if drop:
        x = x.sum(tuple(drop))
        letters = [c for c in letters if c in keep]
    return x, letters


def _einsum_pair(a, la, b, lb, keep):
    """Contract two operands over their shared letters not in ``keep`` with one bmm."""
    sizes = {}
    for t, ls in ((a, la), (b, lb)):
        for c, n in zip(ls, t.shape):
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise RuntimeError(
                    f"einsum(): operands do not broadcast with remapped shapes (original->"
                    f"remapped): subscript {c!r} has sizes {sizes[c]} and {n}"
                )
            sizes[c] = max(sizes.get(c, 1), n)
    batch = [c for c in la if c in lb and c in keep]
    contract = [c for c in la if c in lb and c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    a = a.permute(*(la.index(c) for c in batch + left + contract))
    a = a.expand(*(sizes[c] if c in batch + contract else a.shape[k]
                   for k, c in enumerate(batch + left + contract)))
    b = b.permute(*(lb.index(c) for c in batch + contract + right))
    b = b.expand(*(sizes[c] if c in batch + contract else b.shape[k]
                   for k, c in enumerate(batch + contract + right)))
    nb, nl, nk, nr = (prod(sizes[c] for c in g) for g in (batch, left, contract, right))
    a3 = a.reshape(nb, nl, nk)  # (batch, left, contract)
    b3 = b.reshape(nb, nk, nr)  # (batch, contract, right)
    _check_dtypes("einsum", a3, b3, ("self", "other"))
    out = _product(a3, b3).view(*(sizes[c] for c in batch + left + right))
    return out, batch + left + right


def einsum(equation, *operands):
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``. Each pair of operands is
    contracted with one batched matmul; diagonals ("ii->i"), sums and permutations are
    composed from view, multiply and sum ops."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    terms, out = _parse_einsum(equation, operands)
    for c in out:
        if out.count(c) > 1:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                               "output")
        if not any(c in t for t in terms):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation "
                               "for any input operand")
    x, lx = operands[0], terms[0]
    rest = list(zip(operands[1:], terms[1:]))
    later = {c for _, t in rest for c in t}
    x, lx = _einsum_reduce(x, lx, set(out) | later)
    for k, (y, ly) in enumerate(rest):
        later = {c for _, t in rest[k + 1:] for c in t}
        y, ly = _einsum_reduce(y, ly, set(out) | later | set(lx))
        x, lx = _einsum_pair(x, lx, y, ly, set(out) | later)
    return x.permute(*(lx.index(c) for c in out)) if lx != out else x
