"""Creation: from data, filled, ranges, *_like, and random (Philox on the GPU)."""

import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close


def test_tensor_from_nested_lists_and_scalars():
    t = torch.tensor([[1, 2], [3, 4]])
    assert t.dtype is torch.int64 and t.shape == (2, 2) and t.tolist() == [[1, 2], [3, 4]]
    t = torch.tensor([[1, 2], [3, 4.5]])
    assert t.dtype is torch.float32 and t.tolist() == [[1.0, 2.0], [3.0, 4.5]]
    assert torch.tensor([True, False]).dtype is torch.bool
    assert torch.tensor([True, 1]).dtype is torch.int64
    assert torch.tensor([True, 1.5]).dtype is torch.float32
    assert torch.tensor((1, 2)).tolist() == [1, 2]
    for value, dtype in [(3, torch.int64), (3.5, torch.float32), (True, torch.bool)]:
        t = torch.tensor(value)
        assert t.shape == () and t.ndim == 0 and t.dtype is dtype and t.item() == value
    assert torch.tensor([]).shape == (0,) and torch.tensor([]).dtype is torch.float32
    assert torch.tensor([[]]).shape == (1, 0)
    assert torch.tensor([1, 2], dtype=torch.float32).tolist() == [1.0, 2.0]
    assert torch.tensor([1.7], dtype=torch.int64).tolist() == [1]
    assert torch.tensor([1, 0, 2], dtype=torch.bool).tolist() == [True, False, True]


def test_tensor_from_tensors_and_numpy():
    t = torch.tensor([torch.tensor(1.0), torch.tensor(2.0)])
    assert t.shape == (2,) and t.tolist() == [1.0, 2.0]
    t = torch.tensor([torch.tensor([1, 2]), torch.tensor([3, 4])])
    assert t.shape == (2, 2) and t.dtype is torch.int64
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = torch.tensor(a)
    a[0, 0] = 99.0  # a copy: later host changes do not show
    assert t[0, 0].item() == 0.0
    t = torch.tensor(np.asfortranarray(a))  # non-C-order input
    np.testing.assert_array_equal(t.numpy(), a)
    t = torch.tensor(a[:, ::2])  # strided numpy view
    np.testing.assert_array_equal(t.numpy(), a[:, ::2])
    assert torch.tensor(np.float32(2.5)).shape == ()
    assert torch.tensor(np.array(2.0)).shape == ()
    src = torch.tensor([1.0, 2.0])
    copy = torch.tensor(src)
    copy.add_(1)
    assert src.tolist() == [1.0, 2.0]


def test_tensor_requires_grad_and_bad_data():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises((TypeError, ValueError)):
        torch.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        torch.tensor("abc")
    with pytest.raises(TypeError):
        torch.tensor([object()])


def test_as_tensor_from_numpy():
    t = torch.tensor([1, 2])
    assert torch.as_tensor(t) is t
    assert torch.as_tensor(t, dtype=torch.float32).dtype is torch.float32
    assert torch.as_tensor([1, 2]).dtype is torch.int64
    assert torch.as_tensor([1.0, 2.0], dtype=torch.int32).tolist() == [1, 2]
    assert torch.from_numpy(np.array([1, 2])).dtype is torch.int64
    with pytest.raises(TypeError):
        torch.from_numpy([1, 2])


@pytest.mark.parametrize("maker,value", [(torch.zeros, 0), (torch.ones, 1)])
def test_zeros_ones(maker, value):
    for shape_args, expected_shape in [((2, 3), (2, 3)), (((2, 3),), (2, 3)),
                                       (([2, 3],), (2, 3)), (((),), ()), ((0,), (0,)),
                                       ((5, 0, 2), (5, 0, 2)), ((1000003,), (1000003,))]:
        t = maker(*shape_args)
        assert tuple(t.shape) == expected_shape and t.dtype is torch.float32
        if t.numel() <= 10:
            assert (t.numpy() == value).all()
        else:
            assert t.numpy().min() == t.numpy().max() == value
    for dtype in (torch.int64, torch.int32, torch.bool, torch.uint8, torch.float16):
        t = maker(3, dtype=dtype)
        assert t.dtype is dtype and t.tolist() == [dtype.np_dtype.type(value).item()] * 3
    with pytest.raises(RuntimeError, match="negative dimension"):
        maker(-1)
    with pytest.raises(RuntimeError, match="negative dimension"):
        maker(2, -3)


def test_full():
    assert torch.full((2,), 3).dtype is torch.int64
    assert torch.full((2,), 3.0).tolist() == [3.0, 3.0]
    assert torch.full((2,), True).dtype is torch.bool
    assert torch.full((2, 2), 1.5, dtype=torch.int64).tolist() == [[1, 1], [1, 1]]
    assert torch.full([2], torch.tensor(2.0)).tolist() == [2.0, 2.0]
    assert torch.full((), 7).shape == ()
    t = torch.full((3,), float("-inf"))
    assert t.tolist() == [float("-inf")] * 3


def test_empty():
    t = torch.empty(2, 3)
    assert t.shape == (2, 3) and t.dtype is torch.float32 and t.is_contiguous()
    assert torch.empty((4,), dtype=torch.int64).dtype is torch.int64
    assert torch.empty(0).numel() == 0


def test_like_forms():
    base = torch.tensor([[1, 2, 3]], dtype=torch.int32)
    for fn, value in [(torch.zeros_like, 0), (torch.ones_like, 1)]:
        t = fn(base)
        assert t.shape == base.shape and t.dtype is torch.int32 and t.device == base.device
        assert t.tolist() == [[value] * 3]
    t = torch.ones_like(base, dtype=torch.float32)
    assert t.dtype is torch.float32
    t = torch.full_like(base, 7.7)
    assert t.dtype is torch.int32 and t.tolist() == [[7, 7, 7]]
    assert torch.full_like(torch.ones(2), 7).tolist() == [7.0, 7.0]
    t = torch.empty_like(base)
    assert t.shape == base.shape and t.dtype is torch.int32
    t = torch.rand_like(torch.ones(2, 3))
    assert t.shape == (2, 3) and t.dtype is torch.float32
    t = torch.randn_like(torch.ones(4))
    assert t.shape == (4,)
    t = torch.randint_like(torch.ones(50), 3, 5)
    assert t.dtype is torch.float32 and set(t.tolist()) <= {3.0, 4.0}
    cpu = torch.zeros(2, device="cpu")
    assert torch.zeros_like(cpu).device.type == "cpu"
    assert torch.ones_like(cpu, device="cuda").device == torch.device("cuda")
    x = torch.tensor([1.0, 2.0])
    assert x.new_zeros(3).tolist() == [0, 0, 0] and x.new_zeros(3).dtype is torch.float32
    assert x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_tensor([3, 4]).dtype is torch.float32
    assert x.new_empty(4).shape == (4,)


def test_arange():
    cases = [((5,), {}), ((1, 4), {}), ((0, 1, 0.25), {}), ((5, 0, -2), {}), ((0, 1, 0.1), {}),
             ((1.0, 4.0), {}), ((0, 10, 3), {}), ((-1.3, 2.1, 0.7), {}), ((0, 0), {}),
             ((0, 5), {"dtype": torch.float32}), ((10,), {"dtype": torch.int32})]
    for args, kw in cases:
        t = torch.arange(*args, **kw)
        kwn = {"dtype": kw["dtype"].np_dtype} if kw else {}
        expected = np.arange(*args, **kwn)
        assert t.shape == expected.shape, args
        if "dtype" not in kw:
            ints = all(isinstance(a, int) for a in args)
            assert t.dtype is (torch.int64 if ints else torch.float32), args
        assert_close(t, expected, atol=1e-6)
    assert torch.arange(torch.tensor(3)).tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent"):
        torch.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent"):
        torch.arange(0, -5)


def test_linspace_eye():
    for args in [(0, 1, 5), (-1, 1, 4), (0, 1, 1), (0, 1, 0), (3, -3, 7)]:
        t = torch.linspace(*args)
        assert t.dtype is torch.float32
        assert_close(t, np.linspace(*args), atol=1e-6)
    assert torch.linspace(0, 10, 5, dtype=torch.int64).tolist() == [0, 2, 5, 7, 10]
    assert torch.linspace(-1, 1, steps=3).tolist() == [-1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        torch.linspace(0, 1, -1)
    assert torch.eye(3).tolist() == np.eye(3).tolist()
    assert torch.eye(2, 3).tolist() == np.eye(2, 3).tolist()
    assert torch.eye(2, dtype=torch.int64).dtype is torch.int64
    assert torch.eye(0).shape == (0, 0)


# ---- random ------------------------------------------------------------------------------


def test_rand_statistics():
    torch.manual_seed(0)
    u = torch.rand(200_000).numpy().astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    hist = np.histogram(u, bins=10, range=(0, 1))[0] / u.size
    assert np.all(np.abs(hist - 0.1) < 0.005)
    assert torch.rand(3, 4).shape == (3, 4) and torch.rand((2,)).shape == (2,)
    assert torch.rand(2, dtype=torch.float16).dtype is torch.float16


def test_randn_statistics():
    torch.manual_seed(1)
    z = torch.randn(200_000).numpy().astype(np.float64)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) < 1) - 0.6827) < 0.005
    assert abs(np.mean(z**3)) < 0.05  # symmetric
    assert np.all(np.isfinite(z))
    # odd sizes and consecutive pairs (Box-Muller draws two per counter)
    assert torch.randn(1).shape == (1,) and torch.randn(63).numpy().std() > 0.5


def test_randint_and_randperm():
    torch.manual_seed(2)
    r = torch.randint(3, 10, (100_000,))
    assert r.dtype is torch.int64
    a = r.numpy()
    assert a.min() == 3 and a.max() == 9
    counts = np.bincount(a - 3) / a.size
    assert np.all(np.abs(counts - 1 / 7) < 0.01)
    assert torch.randint(5, (3,)).dtype is torch.int64
    assert torch.randint(5, size=(2, 2)).shape == (2, 2)
    assert torch.randint(0, 5, (4,), dtype=torch.int32).dtype is torch.int32
    assert set(torch.randint(-2, 2, (1000,)).tolist()) == {-2, -1, 0, 1}
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        torch.randint(5, 5, (3,))
    for n in (0, 1, 10, 1000):
        p = torch.randperm(n)
        assert p.dtype is torch.int64 and sorted(p.tolist()) == list(range(n))
    assert torch.randperm(100).tolist() != list(range(100))
    p = torch.randperm(20_000).numpy()
    assert abs(np.corrcoef(np.arange(p.size), p)[0, 1]) < 0.05  # no order kept
    assert (p == np.arange(p.size)).sum() < 10  # ~1 fixed point expected
    assert torch.randperm(5, dtype=torch.int32).dtype is torch.int32


def test_normal_uniform_inplace():
    torch.manual_seed(3)
    t = torch.empty(100_000)
    v = t._version
    out = t.normal_(5.0, 0.5)
    assert out is t and t._version > v
    a = t.numpy().astype(np.float64)
    assert abs(a.mean() - 5) < 0.01 and abs(a.std() - 0.5) < 0.01
    t.uniform_(-2, 3)
    a = t.numpy()
    assert a.min() >= -2 and a.max() < 3 and abs(a.mean() - 0.5) < 0.03
    # on a non-contiguous view: only the view's elements change
    base = torch.zeros(4, 6)
    base[:, ::2].uniform_(1, 2)
    a = base.numpy()
    assert np.all(a[:, 1::2] == 0) and np.all(a[:, ::2] >= 1)
    n = torch.normal(torch.zeros(1000) + 3, 2.0)
    assert n.shape == (1000,) and abs(n.numpy().mean() - 3) < 0.4
    n = torch.normal(2.0, 3.0, size=(1000,))
    assert n.shape == (1000,) and abs(n.numpy().std() - 3) < 0.5


def test_manual_seed_determinism():
    def draw():
        return [torch.rand(5).tolist(), torch.randn(3).tolist(), torch.randint(0, 100, (4,))
                .tolist(), torch.randperm(6).tolist(), torch.empty(3).normal_().tolist()]

    torch.manual_seed(1234)
    first = draw()
    torch.manual_seed(1234)
    assert draw() == first
    torch.manual_seed(1235)
    assert draw() != first
    # two draws in a row differ
    torch.manual_seed(7)
    assert torch.rand(4).tolist() != torch.rand(4).tolist()


def test_generator():
    g = torch.Generator().manual_seed(42)
    a = torch.rand(5, generator=g).tolist()
    b = torch.rand(5, generator=g).tolist()
    assert a != b
    g2 = torch.Generator()
    g2.manual_seed(42)
    assert torch.rand(5, generator=g2).tolist() == a
    # a private generator does not disturb the default one
    torch.manual_seed(9)
    ref = torch.rand(3).tolist()
    torch.manual_seed(9)
    torch.rand(4, generator=torch.Generator().manual_seed(1))
    assert torch.rand(3).tolist() == ref
    assert g.initial_seed() == 42
    state = g.get_state()
    x = torch.randn(4, generator=g).tolist()
    g.set_state(state)
    assert torch.randn(4, generator=g).tolist() == x
    t = torch.empty(3).uniform_(generator=torch.Generator().manual_seed(5))
    t2 = torch.empty(3).uniform_(generator=torch.Generator().manual_seed(5))
    assert t.tolist() == t2.tolist()


def test_seeds_are_independent_of_shape_split():
    # same seed, same call sequence -> same numbers, whatever else was allocated in between
    torch.manual_seed(11)
    a = torch.randn(1000).numpy()
    torch.manual_seed(11)
    _ = torch.ones(123) * 2
    b = torch.randn(1000).numpy()
    np.testing.assert_array_equal(a, b)


def test_float_distributions_need_float_dtypes():
    for make in (lambda: torch.rand(3, dtype=torch.int64), lambda: torch.randn(2, dtype=torch.bool),
                 lambda: torch.zeros(3, dtype=torch.int32).uniform_(),
                 lambda: torch.zeros(3, dtype=torch.int64).normal_()):
        with pytest.raises(NotImplementedError, match="not implemented for"):
            make()
    assert torch.rand(3, dtype=torch.float16).dtype is torch.float16
    t = torch.zeros(100, dtype=torch.int64).random_(0, 5)
    assert set(t.tolist()) <= {0, 1, 2, 3, 4}
