"""Matrix products: matmul/@, mm, bmm, addmm, baddbmm, mv, addmv, dot, vdot, outer, inner,
tensordot, einsum (two-operand patterns) and ``linear`` (``F.linear``).

One differentiable primitive does the work: ``C = alpha * A @ B + beta * bias`` over a batch
(``matmul_kernels.launch``). Its grad_fn is named as PyTorch names it (MmBackward0,
BmmBackward0, AddmmBackward0, BaddbmmBackward0) and its backward is written with the same
primitive on transposed views, so the kernels read transposes through strides (no copy) and
second-order gradients work. Everything else is composed from it and from view ops.

dtypes: float32, float16 (float32 accumulation, result rounded to half), int32/int64 (int32
arithmetic: a sum that overflows int32 wraps) and uint8 (wraps modulo 256, as PyTorch's
does). bool is refused, as PyTorch refuses it.
"""

from .. import dtypes as dt
from ..autograd.function import Function
from ..tensor import Tensor, prod, tensor_method
from . import matmul_kernels
from .pointwise import broadcast_shapes
from .reduce import sum_to

DOT_MATMUL_MAX = 8192  # longer dot products take multiply + tree reduction
_TORCH_NAMES = {"float32": "float", "float16": "c10::Half", "int32": "int", "int64": "long",
                "bool": "bool", "uint8": "unsigned char"}


def _check_dtypes(op, a, b, names=("mat1", "mat2")):
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"expected {names[0]} and {names[1]} to have the same dtype, but got: "
            f"{_TORCH_NAMES[a.dtype.name]} != {_TORCH_NAMES[b.dtype.name]}"
        )
    if a.dtype is dt.bool_:
        raise RuntimeError(f'"{op}" not implemented for \'{_TORCH_NAMES[a.dtype.name].title()}\'')


# ---- the primitive ------------------------------------------------------------------------


class _MatmulBase(Function):
    """alpha * a @ b + beta * bias, for a (*batch, M, K), b (*batch, K, N) of one batch shape."""

    @staticmethod
    def forward(ctx, a, b, bias=None, alpha=1, beta=1):
        ctx.alpha, ctx.beta = alpha, beta
        ctx.bias_shape = bias.shape if bias is not None else None
        ctx.save_for_backward(a, b)
        return matmul_kernels.launch(a, b, bias, alpha, beta)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b, need_bias = ctx.needs_input_grad[:3]
        ga = _product(g, b.transpose(-1, -2), alpha=ctx.alpha) if need_a else None
        gb = _product(a.transpose(-1, -2), g, alpha=ctx.alpha) if need_b else None
        gbias = None
        if need_bias:
            gbias = sum_to(g if ctx.beta == 1 else g * ctx.beta, ctx.bias_shape)
        return ga, gb, gbias, None, None


class MmBackward0(_MatmulBase):
    pass


class BmmBackward0(_MatmulBase):
    pass


class AddmmBackward0(_MatmulBase):
    pass


class BaddbmmBackward0(_MatmulBase):
    pass


def _product(a, b, bias=None, alpha=1, beta=1):
    """The primitive, with PyTorch's grad_fn name for the shapes at hand."""
    if a.ndim == 2:
        cls = MmBackward0 if bias is None else AddmmBackward0
    else:
        cls = BmmBackward0 if bias is None else BaddbmmBackward0
    if bias is not None and beta == 0:
        bias = None  # PyTorch ignores input when beta == 0 (even nan/inf in it)
    return cls.apply(a, b, bias, alpha, beta)


# ---- 2-D and batched products ---------------------------------------------------------------


def _check_mm(a, b, op="mm"):
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    _check_dtypes(op, a, b)


def _check_bmm(a, b, op="bmm"):
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}]."
        )
    _check_dtypes(op, a, b, ("batch1", "batch2"))


@tensor_method()
def mm(input, mat2):
    """Matrix product of two 2-D tensors: (n, m) @ (m, p) -> (n, p)."""
    _check_mm(input, mat2)
    return _product(input, mat2)


@tensor_method()
def bmm(input, mat2):
    """Batched matrix product: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    _check_bmm(input, mat2)
    return _product(input, mat2)


@tensor_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * mat1 @ mat2``; ``input`` broadcasts to the result (one kernel)."""
    _check_mm(mat1, mat2, "addmm")
    _check_bias(input, (mat1.shape[0], mat2.shape[1]), "addmm", mat1.dtype)
    return _product(mat1, mat2, input, alpha, beta)


@tensor_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * batch1 @ batch2`` over a batch (one kernel)."""
    _check_bmm(batch1, batch2, "baddbmm")
    _check_bias(input, (batch1.shape[0], batch1.shape[1], batch2.shape[2]), "baddbmm",
                batch1.dtype)
    return _product(batch1, batch2, input, alpha, beta)


def _check_bias(bias, shape, op, dtype):
    if bias.dtype is not dtype:
        raise RuntimeError(
            f"{op}: expected input and mat1 to have the same dtype, but got: "
            f"{_TORCH_NAMES[bias.dtype.name]} != {_TORCH_NAMES[dtype.name]}"
        )
    try:
        ok = broadcast_shapes(bias.shape, shape) == tuple(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"{op}: the size of input {list(bias.shape)} is not broadcastable to the result "
            f"shape {list(shape)}"
        )


def _inplace(name, fn):
    from .copy import apply_inplace

    def method(self, *args, **kwargs):
        return apply_inplace(self, fn(self, *args, **kwargs))

    method.__name__ = name
    method.__doc__ = f"In-place version of ``{fn.__name__}``."
    setattr(Tensor, name, method)


# ---- vectors -------------------------------------------------------------------------------


@tensor_method()
def mv(input, vec):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
            f"{input.shape[1]}), vec ({vec.shape[0]})"
        )
    _check_dtypes("mv", input, vec, ("input", "vec"))
    return _product(input, vec.unsqueeze(1)).squeeze(1)


@tensor_method()
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * mat @ vec``."""
    out = mv(mat, vec)
    if alpha != 1:
        out = out * alpha
    if beta == 0:
        return out.expand(broadcast_shapes(input.shape, out.shape)) if input.ndim else out
    return out + (input if beta == 1 else input * beta)


@tensor_method()
def dot(input, tensor):
    """Inner product of two 1-D tensors of the same size -> 0-d tensor."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors"
        )
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{tensor.shape[0]}] to have the same number of elements, but got "
            f"{input.shape[0]} and {tensor.shape[0]} elements respectively"
        )
    _check_dtypes("dot", input, tensor, ("self", "other"))
    if input.shape[0] > DOT_MATMUL_MAX:
        # NOTE: as a (1, K) @ (K, 1) product one invocation would walk all of K; the
        # reduction's tree uses the whole adapter
        return (input * tensor).sum()
    return _product(input.unsqueeze(0), tensor.unsqueeze(1)).view(())  # one dispatch


vdot = tensor_method("vdot")(lambda input, other: dot(input, other))
vdot.__doc__ = "``dot`` (wgtorch has no complex dtypes, so no conjugation)."


@tensor_method("outer", "ger")
def outer(input, vec2):
    """Outer product of two 1-D tensors: (n,) x (m,) -> (n, m)."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


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


# ---- matmul --------------------------------------------------------------------------------


@tensor_method("matmul", "__matmul__")
def matmul(input, other):
    """Matrix product with NumPy's rules: 1-D operands are promoted (and the added dim
    removed), batch dims broadcast. ``a @ b`` is ``matmul(a, b)``.

    Example::

        x = wgtorch.randn(10, 3, 4)
        y = wgtorch.randn(4, 5)
        (x @ y).shape        # torch.Size([10, 3, 5])
    """
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        raise TypeError(
            f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}"
        )
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return mm(input.unsqueeze(0), other).squeeze(0)
    if da == 2 and db == 2:
        return mm(input, other)
    if db <= 2:
        # fold batch dims into M: one 2-D product, and b's gradient is one mm (no batch sum)
        a = input
        b = other.unsqueeze(1) if db == 1 else other
        *batch, m, k = a.shape
        if k != b.shape[0]:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({prod(batch) * m}x{k} and "
                f"{b.shape[0]}x{b.shape[1]})"
            )
        _check_dtypes("mm", a, b)
        out = _product(a.reshape(-1, k), b).view(*batch, m, b.shape[1])  # (*batch, M, N)
        return out.squeeze(-1) if db == 1 else out
    a = input.unsqueeze(0) if da == 1 else input
    b = other.unsqueeze(-1) if db == 1 else other
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{prod(a.shape[:-2])}, {a.shape[-1]}] but got: [{prod(b.shape[:-2])}, "
            f"{b.shape[-2]}]."
        )
    _check_dtypes("bmm", a, b, ("batch1", "batch2"))
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = a.expand(*batch, *a.shape[-2:])
    b = b.expand(*batch, *b.shape[-2:])
    out = _product(a, b)  # (*batch, M, N)
    if da == 1:
        out = out.squeeze(-2)
    if db == 1:
        out = out.squeeze(-1)
    return out


Tensor.__rmatmul__ = lambda self, other: matmul(other, self)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (``torch.nn.functional.linear``): weight (out, in) is read
    transposed through its strides, and the bias is added in the same kernel."""
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise RuntimeError(
            f"linear: expected input of at least 1 dim and a 1-D or 2-D weight, got "
            f"{input.ndim}-D and {weight.ndim}-D"
        )
    w_t = weight.t()  # (in, out) view, no copy
    if input.ndim == 1 or weight.ndim == 1:
        out = matmul(input, w_t)
        return out if bias is None else out + bias
    *lead, k = input.shape
    x2 = input.reshape(-1, k)  # (N, in)
    if bias is None:
        _check_mm(x2, w_t)
        out = _product(x2, w_t)
    else:
        _check_mm(x2, w_t, "addmm")
        _check_bias(bias, (x2.shape[0], w_t.shape[1]), "addmm", x2.dtype)
        out = _product(x2, w_t, bias)
    return out.view(*lead, w_t.shape[1])  # (*lead, out)


# ---- tensordot / einsum ------------------------------------------------------------------


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
        if a.shape[da] != b.shape[db]:
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
    from .creation import eye

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


for _fn in (addmm, baddbmm, addmv):
    _inplace(f"{_fn.__name__}_", _fn)
