"""Matrix products against numpy: shapes, strides, broadcasting, long K, gradients, errors."""

import numpy as np
import pytest

import wgtorch as torch
from tests.helpers import as_noncontiguous, assert_close, check_op
from wgtorch.ops import kernel_choice, matmul_kernels

RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 65, 129), (65, 7, 1), (1, 129, 7),
                                   (33, 64, 17)])
def test_mm_odd_sizes(m, k, n):
    a, b = rand(m, k), rand(k, n)
    assert_close(torch.tensor(a) @ torch.tensor(b), a @ b, atol=1e-4)
    assert_close(torch.mm(torch.tensor(a), torch.tensor(b)), a @ b, atol=1e-4)


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
def test_mm_transposed_operands(ta, tb):
    a, b = rand(9, 13), rand(13, 6)
    x = as_noncontiguous(a) if ta else torch.tensor(a)
    y = as_noncontiguous(b) if tb else torch.tensor(b)
    assert_close(x @ y, a @ b, atol=1e-4)


def test_mm_sliced_operands():
    a, b = rand(10, 20), rand(30, 12)
    x = torch.tensor(a)[1::2, 3:17]
    y = torch.tensor(b)[5:19, ::3]
    assert_close(x @ y, a[1::2, 3:17] @ b[5:19, ::3], atol=1e-4)


@pytest.mark.parametrize("sa,sb", [
    ((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((2, 3, 5), (5,)), ((5,), (2, 5, 4)),
    ((2, 3, 5), (5, 4)), ((3, 5), (2, 5, 4)), ((2, 1, 3, 5), (4, 5, 2)), ((4, 2, 3, 5), (2, 5, 6)),
])
def test_matmul_promotion_and_broadcast(sa, sb):
    a, b = rand(*sa), rand(*sb)
    out = torch.tensor(a) @ torch.tensor(b)
    assert_close(out, np.matmul(a, b), atol=1e-4)


def test_bmm_and_grad_fn_names():
    a, b = rand(4, 3, 5), rand(4, 5, 2)
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    out = torch.bmm(x, y)
    assert_close(out, a @ b, atol=1e-4)
    assert out.grad_fn.name() == "BmmBackward0"
    assert torch.mm(x[0], y[0]).grad_fn.name() == "MmBackward0"


def test_long_k_past_loop_limit():
    # lavapipe stops loops after 65,535 iterations: K is split over dispatches
    a, b = rand(3, 70001), rand(70001, 2)
    assert_close(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b, atol=2e-2,
                 rtol=1e-3)


def test_large_matmul():
    a, b = rand(1024, 1024), rand(1024, 64)  # 2^20 elements in a
    assert_close(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b, atol=2e-3,
                 rtol=1e-3)


def test_empty_dims():
    assert_close(torch.zeros(3, 0) @ torch.zeros(0, 4), np.zeros((3, 4)))
    assert (torch.zeros(0, 5) @ torch.zeros(5, 4)).shape == (0, 4)
    assert (torch.zeros(2, 0, 5) @ torch.zeros(2, 5, 4)).shape == (2, 0, 4)
    assert_close(torch.dot(torch.zeros(0), torch.zeros(0)), np.float32(0))


def test_linear():
    x, w, b = rand(2, 3, 5), rand(4, 5), rand(4)
    from wgtorch.ops.linalg import linear

    assert_close(linear(torch.tensor(x), torch.tensor(w), torch.tensor(b)), x @ w.T + b,
                 atol=1e-4)
    assert_close(linear(torch.tensor(x), torch.tensor(w)), x @ w.T, atol=1e-4)
    assert_close(linear(torch.tensor(x[0, 0]), torch.tensor(w), torch.tensor(b)),
                 x[0, 0] @ w.T + b, atol=1e-4)


def test_gradients():
    check_op([(4, 5), (5, 3)], lambda a, b: a @ b)
    check_op([(2, 4, 5), (5, 3)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(2, 1, 4, 5), (3, 5, 2)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(5,), (5, 3)], lambda a, b: a @ b, ref=np.matmul)
    check_op([(5,), (5,)], lambda a, b: torch.dot(a, b), ref=np.dot)


def test_linear_gradients():
    from wgtorch.ops.linalg import linear

    check_op([(6, 5), (4, 5), (4,)], linear, ref=lambda x, w, b: x @ w.T + b)


def test_second_order():
    a, b = rand(3, 4), rand(4, 2)
    x = torch.tensor(a, requires_grad=True)
    y = torch.tensor(b, requires_grad=True)
    (gx,) = torch.autograd.grad(((x @ y) ** 2).sum(), x, create_graph=True)
    gx.sum().backward()
    # sum(gx) = 2 p^T y y^T q with p = x^T 1, q = 1, so d/dy = 2 (p (y^T q)^T + q (y^T p)^T)
    p, q = a.T @ np.ones(3), np.ones(4)
    expected = 2 * (np.outer(p, b.T @ q) + np.outer(q, b.T @ p))
    assert_close(y.grad, expected, atol=1e-3)


def test_errors():
    with pytest.raises(RuntimeError,
                       match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        torch.ones(2, 3) @ torch.ones(4, 5)
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        torch.mm(torch.ones(3), torch.ones(3, 3))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        torch.bmm(torch.ones(3, 3), torch.ones(3, 3, 3))
    with pytest.raises(RuntimeError, match="Expected size for first two dimensions of batch2"):
        torch.ones(2, 2, 3) @ torch.ones(2, 4, 5)
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        torch.ones(2, 2, 3) @ torch.ones(3, 3, 5)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        torch.matmul(torch.tensor(1.0), torch.ones(3))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        torch.ones(3) @ torch.ones(4)
    with pytest.raises(RuntimeError,
                       match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        torch.mv(torch.ones(2, 3), torch.ones(4))
    with pytest.raises(RuntimeError, match="expected mat1 and mat2 to have the same dtype"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.int64)


# ---- every kernel variant, forced, on every operand layout ----------------------------------


VARIANTS = [kernel_choice.STRIDED, kernel_choice.MatmulChoice("tiled", (4, 4)),
            kernel_choice.MatmulChoice("tiled", (8, 8)), kernel_choice.WORKGROUP]


def _operand(array, transposed, offset):
    """``array`` as a wgtorch view: transposed storage and/or a storage offset."""
    base = np.ascontiguousarray(np.swapaxes(array, -1, -2)) if transposed else array
    flat = np.concatenate([np.zeros(offset, np.float32), base.ravel()])
    t = torch.tensor(flat)[offset:].view(base.shape)
    return t.transpose(-1, -2) if transposed else t


@pytest.mark.parametrize("choice", VARIANTS, ids=lambda c: f"{c.name}{c.tile or ''}")
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 7, 9), (17, 66, 13), (64, 64, 64)])
def test_variants_layouts_and_odd_sizes(choice, m, k, n):
    a, b = rand(m, k), rand(k, n)
    for ta in (False, True):
        for tb in (False, True):
            for offset in (0, 1):
                x, y = _operand(a, ta, offset), _operand(b, tb, 0)
                out = matmul_kernels.launch(x, y, choice=choice)
                assert_close(out, a @ b, atol=1e-4, msg=f"ta={ta} tb={tb} offset={offset}")


@pytest.mark.parametrize("choice", VARIANTS, ids=lambda c: f"{c.name}{c.tile or ''}")
def test_variants_batch_bias_and_long_k(choice):
    # expanded (stride-0) batch dims, a broadcast bias, alpha/beta
    a, b, c = rand(3, 1, 6, 10), rand(1, 2, 10, 7), rand(2, 1, 7)
    x = torch.tensor(a).expand(3, 2, 6, 10)
    y = torch.tensor(b).expand(3, 2, 10, 7)
    out = matmul_kernels.launch(x, y, torch.tensor(c), alpha=0.5, beta=2.0, choice=choice)
    assert_close(out, 0.5 * (a @ b) + 2.0 * c, atol=1e-4)
    # K split over dispatches that accumulate (the workgroup variant splits at 1024)
    a, b = rand(2, 2051), rand(2051, 5)
    out = matmul_kernels.launch(torch.tensor(a), torch.tensor(b), choice=choice)
    assert_close(out, a.astype(np.float64) @ b, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_tiled_k_tail_masks_values_past_k(ta, tb):
    # K = 9 ends inside a group of four; the storage right past K holds NaN, which the tiled
    # kernel's last group reads and must mask (NaN * 0 would poison the result)
    m, k, n = 6, 9, 8
    a, b = rand(m, k), rand(k, n)
    wide_a = np.full((k + 3, m) if ta else (m, k + 3), np.nan, np.float32)
    wide_b = np.full((n, k + 3) if tb else (k + 3, n), np.nan, np.float32)
    if ta:
        wide_a[:k] = a.T
        x = torch.tensor(wide_a)[:k].t()
    else:
        wide_a[:, :k] = a
        x = torch.tensor(wide_a)[:, :k]
    if tb:
        wide_b[:, :k] = b.T
        y = torch.tensor(wide_b)[:, :k].t()
    else:
        wide_b[:k] = b
        y = torch.tensor(wide_b)[:k]
    for tile in ((4, 4), (8, 8)):
        out = matmul_kernels.launch(x, y, choice=kernel_choice.MatmulChoice("tiled", tile))
        assert_close(out, a @ b, atol=1e-4, msg=f"tile {tile}")


def test_more_than_four_unmergeable_batch_dims():
    a, b = rand(2, 1, 2, 1, 2, 3, 4), rand(1, 2, 1, 2, 1, 4, 5)
    assert_close(torch.tensor(a) @ torch.tensor(b), np.matmul(a, b), atol=1e-4)


def test_tiled_16x16_large_transposed():
    a, b = rand(130, 96), rand(96, 70)
    choice = kernel_choice.MatmulChoice("tiled", (16, 16))
    out = matmul_kernels.launch(_operand(a, True, 0), torch.tensor(b), choice=choice)
    assert_close(out, a @ b, atol=1e-4)


# ---- the other products ---------------------------------------------------------------------


def test_addmm_baddbmm_addmv():
    c, a, b = rand(4), rand(3, 5), rand(5, 4)
    assert_close(torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=0.5,
                             alpha=2.0), 0.5 * c + 2.0 * (a @ b), atol=1e-4)
    out = torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b))
    assert out.grad_fn is None
    c3, a3, b3 = rand(2, 3, 4), rand(2, 3, 5), rand(2, 5, 4)
    assert_close(torch.baddbmm(torch.tensor(c3), torch.tensor(a3), torch.tensor(b3), alpha=3),
                 c3 + 3 * (a3 @ b3), atol=1e-4)
    v = rand(5)
    assert_close(torch.addmv(torch.tensor(c[:3]), torch.tensor(a), torch.tensor(v), beta=2),
                 2 * c[:3] + a @ v, atol=1e-4)
    # beta=0 ignores input, even nan in it (as PyTorch does)
    nan = torch.full((3, 4), float("nan"))
    assert_close(torch.addmm(nan, torch.tensor(a), torch.tensor(b), beta=0), a @ b, atol=1e-4)
    # K = 0: the result is beta * input
    assert_close(torch.addmm(torch.tensor(c), torch.zeros(3, 0), torch.zeros(0, 4)),
                 np.broadcast_to(c, (3, 4)))


def test_vector_products():
    u, v, w = rand(5), rand(5), rand(3)
    assert_close(torch.dot(torch.tensor(u), torch.tensor(v)), np.dot(u, v), atol=1e-5)
    assert_close(torch.vdot(torch.tensor(u), torch.tensor(v)), np.dot(u, v), atol=1e-5)
    assert_close(torch.outer(torch.tensor(u), torch.tensor(w)), np.outer(u, w))
    assert_close(torch.tensor(u).ger(torch.tensor(w)), np.outer(u, w))
    m = rand(3, 5)
    assert_close(torch.mv(torch.tensor(m), torch.tensor(u)), m @ u, atol=1e-5)
    assert_close(torch.tensor(m).mv(torch.tensor(u)), m @ u, atol=1e-5)
    x, y = rand(2, 3, 5), rand(4, 5)
    assert_close(torch.inner(torch.tensor(x), torch.tensor(y)), np.inner(x, y), atol=1e-4)
    big = rand(100_000)  # one long row: K split over dispatches
    assert_close(torch.dot(torch.tensor(big), torch.tensor(big)),
                 np.dot(big.astype(np.float64), big), rtol=1e-4)


def test_tensordot():
    a, b = rand(3, 4, 5), rand(4, 5, 6)
    assert_close(torch.tensordot(torch.tensor(a), torch.tensor(b)), np.tensordot(a, b),
                 atol=1e-4)
    assert_close(torch.tensordot(torch.tensor(a), torch.tensor(b), dims=([1, 2], [0, 1])),
                 np.tensordot(a, b, axes=([1, 2], [0, 1])), atol=1e-4)
    assert torch.tensordot(torch.tensor(a), torch.tensor(b), dims=0).shape == (3, 4, 5, 4, 5, 6)
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        torch.tensordot(torch.tensor(a), torch.tensor(b), dims=([0], [0]))


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij,kj", [(3, 4), (5, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("bij,jk,bkl->bil", [(2, 3, 4), (4, 5), (2, 5, 3)]),
])
def test_einsum(eq, shapes):
    arrays = [rand(*s) for s in shapes]
    out = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
    assert_close(out, np.einsum(eq, *arrays), atol=1e-4)


def test_einsum_gradient_and_errors():
    check_op([(2, 3, 4), (2, 4, 5)], lambda a, b: torch.einsum("bij,bjk->bik", a, b),
             ref=lambda a, b: np.einsum("bij,bjk->bik", a, b))
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        torch.einsum("ij,jk->ik", torch.ones(3), torch.ones(3, 4))


# ---- dtypes -------------------------------------------------------------------------------


def test_integer_and_half_dtypes():
    a = RNG.integers(-50, 50, (6, 9))
    b = RNG.integers(-50, 50, (9, 5))
    for dtype in (torch.int32, torch.int64):
        out = torch.tensor(a, dtype=dtype) @ torch.tensor(b, dtype=dtype)
        assert out.dtype is dtype
        np.testing.assert_array_equal(out.numpy(), a @ b)
    u, v = RNG.integers(0, 20, (4, 8)), RNG.integers(0, 20, (8, 3))
    out = torch.tensor(u, dtype=torch.uint8) @ torch.tensor(v, dtype=torch.uint8)
    np.testing.assert_array_equal(out.numpy(), (u @ v) % 256)
    x, y = rand(8, 16), rand(16, 8)
    out = torch.tensor(x, dtype=torch.float16) @ torch.tensor(y, dtype=torch.float16)
    assert out.dtype is torch.float16
    expected = x.astype(np.float16).astype(np.float32) @ y.astype(np.float16).astype(np.float32)
    assert_close(out, expected.astype(np.float16), atol=1e-2, rtol=1e-2)
    for choice in VARIANTS:  # every kernel in each storage type (i32, u32)
        out = matmul_kernels.launch(torch.tensor(a, dtype=torch.int32),
                                    torch.tensor(b, dtype=torch.int32), choice=choice)
        np.testing.assert_array_equal(out.numpy(), a @ b)
        out = matmul_kernels.launch(torch.tensor(u, dtype=torch.uint8),
                                    torch.tensor(v, dtype=torch.uint8), choice=choice)
        np.testing.assert_array_equal(out.numpy(), (u @ v) % 256)
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        torch.ones(2, 2, dtype=torch.bool) @ torch.ones(2, 2, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.addmm(torch.ones(2, dtype=torch.int64), torch.ones(2, 2), torch.ones(2, 2))


# ---- dispatch count and kernel choice -------------------------------------------------------


def test_linear_is_one_dispatch():
    from wgtorch.ops.linalg import linear

    x, w, b = torch.randn(64, 784), torch.randn(128, 784), torch.randn(128)
    rt = torch.get_runtime()
    before = rt.dispatch_count
    out = linear(x, w, b)
    assert rt.dispatch_count - before == 1  # W.T read through strides, bias in the epilogue
    assert_close(out, x.numpy() @ w.numpy().T + b.numpy(), atol=1e-3)


def test_autotune_caches_on_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_choice, "_cache_path", lambda: str(tmp_path / "autotune.json"))
    monkeypatch.setattr(kernel_choice, "_cache", None)
    monkeypatch.setattr(kernel_choice, "AUTOTUNE_MIN_WORK", 1 << 16)
    monkeypatch.setattr(kernel_choice, "_candidates",
                        lambda *args: [kernel_choice.MatmulChoice("tiled", (4, 4)),
                                       kernel_choice.MatmulChoice("tiled", (8, 8))])
    monkeypatch.setenv("WGTORCH_AUTOTUNE", "1")
    a, b = rand(64, 64), rand(64, 64)
    assert_close(torch.tensor(a) @ torch.tensor(b), a @ b, atol=1e-4)
    import json

    saved = json.loads((tmp_path / "autotune.json").read_text())
    (entries,) = saved.values()
    (key,) = entries
    assert key.startswith("matmul:f32:") and entries[key]["name"] == "tiled"
    monkeypatch.setenv("WGTORCH_AUTOTUNE", "0")
    assert not kernel_choice.autotune_enabled()


@pytest.mark.parametrize("choice", VARIANTS[:2], ids=lambda c: f"{c.name}{c.tile or ''}")
def test_variants_k_past_loop_limit(choice):
    # one dispatch walks at most choice.k_chunk values of K; the rest accumulate
    a, b = rand(2, 70003), rand(70003, 4)
    out = matmul_kernels.launch(torch.tensor(a), torch.tensor(b), choice=choice)
    assert_close(out, a.astype(np.float64) @ b, atol=2e-2, rtol=1e-3)


def test_product_gradients():
    check_op([(3, 4), (3, 5), (5, 4)], lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2),
             ref=lambda c, a, b: 0.5 * c + 2 * (a @ b))
    check_op([(4,), (3, 5), (5, 4)], lambda c, a, b: torch.addmm(c, a, b),
             ref=lambda c, a, b: c + a @ b)
    check_op([(2, 3, 5), (2, 5, 4)], torch.bmm, ref=np.matmul)
    check_op([(1, 4), (2, 3, 5), (2, 5, 4)], lambda c, a, b: torch.baddbmm(c, a, b, alpha=3),
             ref=lambda c, a, b: c + 3 * np.matmul(a, b))
    check_op([(3, 5), (5,)], torch.mv, ref=np.matmul)
    check_op([(3,), (4,)], torch.outer, ref=np.outer)


def test_inplace_forms():
    c, a, b = rand(3, 4), rand(3, 5), rand(5, 4)
    t = torch.tensor(c)
    assert t.addmm_(torch.tensor(a), torch.tensor(b), alpha=2) is t
    assert_close(t, c + 2 * (a @ b), atol=1e-4)
