"""Tensor properties, conversions (numpy, cpu, to, item, tolist, casts) and devices."""

import numpy as np
import pytest

import wgtorch as torch


def test_properties():
    t = torch.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, torch.Size)
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == 3 and t.ndim == 3 and t.ndimension() == 3
    assert t.numel() == 24 and t.nelement() == 24 and torch.numel(t) == 24
    assert t.dtype is torch.float32 and t.is_floating_point() and not t.is_complex()
    assert t.element_size() == 4 and t.itemsize == 4 and t.nbytes == 96
    assert torch.zeros(2, dtype=torch.int64).element_size() == 8
    assert torch.zeros(2, dtype=torch.uint8).nbytes == 2
    assert len(t) == 2 and torch.is_tensor(t) and not torch.is_tensor([1])
    assert t.is_leaf and not t.requires_grad and t.grad is None and t.grad_fn is None
    assert torch.zeros(()).numel() == 1 and torch.zeros(()).dim() == 0
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                       r"\[-3, 2\], but got 3\)"):
        t.size(3)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(torch.tensor(1.0))


def test_size_object():
    s = torch.zeros(2, 3).shape
    assert repr(s) == "torch.Size([2, 3])" and str(s) == "torch.Size([2, 3])"
    assert s == (2, 3) and s == torch.Size([2, 3]) and list(s) == [2, 3]
    assert s.numel() == 6 and isinstance(s[1:], torch.Size) and s[1:] == (3,)
    assert repr(torch.tensor(1.0).shape) == "torch.Size([])"
    a, b = s
    assert (a, b) == (2, 3)


def test_numpy_and_item():
    t = torch.tensor([[1.5, 2.0], [3.0, -4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[1.5, 2.0], [3.0, -4.0]])
    np.testing.assert_array_equal(np.asarray(t), a)
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), a.astype(np.float64))
    np.testing.assert_array_equal(t.t().numpy(), a.T)  # non-contiguous readback
    np.testing.assert_array_equal(t[:, 1].numpy(), a[:, 1])
    assert t[1, 1].item() == -4.0 and isinstance(t[1, 1].item(), float)
    assert torch.tensor([3]).item() == 3 and isinstance(torch.tensor([3]).item(), int)
    assert torch.tensor([True]).item() is True
    assert torch.tensor(2.5).item() == 2.5
    assert torch.tensor([0.1], dtype=torch.float16).item() == float(np.float16(0.1))
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to "
                       "Scalar"):
        torch.tensor([1, 2]).item()
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires "
                       "grad"):
        torch.ones(2, requires_grad=True).numpy()
    np.testing.assert_array_equal(torch.ones(2, requires_grad=True).detach().numpy(), [1, 1])


def test_tolist():
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert torch.tensor([[1.5]]).tolist() == [[1.5]]
    assert torch.tensor(2.5).tolist() == 2.5
    assert torch.tensor([True, False]).tolist() == [True, False]
    assert torch.zeros(2, 0).tolist() == [[], []]
    assert torch.tensor([1.0], requires_grad=True).tolist() == [1.0]
    assert isinstance(torch.tensor([3]).tolist()[0], int)


def test_python_scalar_conversions():
    assert float(torch.tensor([2.5])) == 2.5
    assert int(torch.tensor([2.7])) == 2 and int(torch.tensor(-2.7)) == -2
    assert bool(torch.tensor([0.0])) is False and bool(torch.tensor(3)) is True
    assert bool(torch.tensor([float("nan")])) is True
    assert [10, 20, 30][torch.tensor(1)] == 20
    assert f"{torch.tensor(2.345):.2f}" == "2.35"
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value "
                       "is ambiguous"):
        bool(torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is "
                       "ambiguous"):
        bool(torch.tensor([]))
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        int(torch.tensor([1, 2]))
    assert f"{torch.tensor(3.5)}" == "3.5" and format(torch.tensor([1.0]), "") == str(
        torch.tensor([1.0]))
    with pytest.raises(TypeError, match="unsupported format string"):
        format(torch.tensor([2.5]), ".2f")
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][torch.tensor(0.0)]
    assert [x.item() for x in torch.tensor([4, 5])] == [4, 5]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(torch.tensor(1.0))


def test_casting_methods():
    x = torch.tensor([1.7, -1.7, 0.0])
    cases = [("float", torch.float32), ("long", torch.int64), ("int", torch.int32),
             ("bool", torch.bool), ("half", torch.float16), ("byte", torch.uint8)]
    for name, dtype in cases:
        y = getattr(x.abs(), name)()
        assert y.dtype is dtype, name
        np.testing.assert_array_equal(y.numpy(), np.abs(x.numpy()).astype(dtype.np_dtype))
    assert x.float() is x  # nothing to do: the same tensor, as PyTorch
    assert x.long().tolist() == [1, -1, 0]


def test_type():
    x = torch.tensor([1, 2])
    assert x.type() == "torch.cuda.LongTensor"
    assert x.float().type() == "torch.cuda.FloatTensor"
    assert x.cpu().type() == "torch.LongTensor"
    assert torch.zeros(1, dtype=torch.bool, device="cpu").type() == "torch.BoolTensor"
    assert torch.zeros(1, dtype=torch.uint8).type() == "torch.cuda.ByteTensor"
    assert x.type(torch.float32).dtype is torch.float32
    assert x.type("torch.FloatTensor").dtype is torch.float32
    assert x.type("torch.cuda.HalfTensor").dtype is torch.float16
    assert x.type(torch.int32).tolist() == [1, 2]
    with pytest.raises(TypeError, match="float64"):
        x.type("torch.DoubleTensor")


def test_to_forms():
    x = torch.tensor([1.5, 2.5])
    assert x.to(x.device) is x and x.to(torch.float32) is x
    assert x.to(torch.float32, copy=True) is not x
    assert x.to(dtype=torch.int64).dtype is torch.int64
    y = x.to("cpu", torch.int64)
    assert y.device.type == "cpu" and y.dtype is torch.int64 and y.tolist() == [1, 2]
    z = x.to(torch.zeros(1, dtype=torch.int32, device="cpu"))
    assert z.dtype is torch.int32 and z.device.type == "cpu"
    assert x.to(device="cpu").device.type == "cpu"
    assert x.to(torch.device("cpu")).device == torch.device("cpu")
    assert x.to("cuda", non_blocking=True).device == torch.device("cuda")
    assert x.to(float).dtype is torch.float32 and x.to(int).dtype is torch.int64
    assert x.to(bool).dtype is torch.bool
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(bogus=1)


def test_transpose_properties():
    x = torch.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(x.T.numpy(), np.arange(6.0).reshape(2, 3).T)
    np.testing.assert_array_equal(x.mT.numpy(), np.arange(6.0).reshape(2, 3).T)
    b = torch.arange(24.0).reshape(2, 3, 4)
    assert b.mT.shape == (2, 4, 3) and b.T.shape == (4, 3, 2)
    assert x.H.shape == (3, 2) and b.mH.shape == (2, 4, 3)


# ---- devices ------------------------------------------------------------------------------


def test_device_objects():
    gpu = torch.device("cuda")
    assert gpu == torch.device("wgpu") == torch.device("cuda:0") == torch.device("wgpu", 0)
    assert gpu.type == "wgpu" and gpu.index == 0 and str(gpu) == "wgpu:0"
    assert repr(torch.device("cpu")) == "device(type='cpu')"
    assert torch.device(torch.device("cpu")) == torch.device("cpu")
    assert torch.device(0) == gpu
    assert hash(torch.device("cuda")) == hash(torch.device("wgpu:0"))
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        torch.device("tpu")
    with pytest.raises(RuntimeError, match="device index 1 is invalid"):
        torch.device("cuda:1")


def test_default_device_and_placement():
    x = torch.ones(2)
    assert x.device == torch.device("cuda") and x.is_cuda and not x.is_cpu
    c = torch.ones(2, device="cpu")
    assert c.device.type == "cpu" and c.is_cpu and not c.is_cuda
    for t in (c * 2, c.exp(), c.t() if c.ndim == 2 else c[::2], c.sum(), c.clone(), c + c,
              c.to(torch.int64), torch.zeros_like(c), c.reshape(2, 1)):
        assert t.device.type == "cpu"
    assert (c * 3).tolist() == [3.0, 3.0]  # CPU tensors compute correctly
    assert c.to("cuda").device == torch.device("cuda")
    assert c.cuda().device == torch.device("cuda") and c.cuda(0).device == torch.device("cuda")
    assert x.cpu().device.type == "cpu"


def test_cuda_idiom():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch.cuda.is_available() and torch.cuda.device_count() == 1
    x = torch.arange(4.0).to(device)
    w = torch.ones(4, device=device)
    y = (x * w + 1).cpu()
    assert y.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert y.device.type == "cpu"
    assert isinstance(torch.cuda.get_device_name(), str)
    torch.cuda.synchronize()
    torch.cuda.manual_seed(0)
    torch.cuda.manual_seed_all(0)


def test_mixing_cpu_and_gpu_tensors_is_an_error():
    g = torch.ones(3)
    c = torch.ones(3, device="cpu")
    msg = ("Expected all tensors to be on the same device, but found at least two devices, "
           "wgpu:0 and cpu!")
    for op in (lambda: g + c, lambda: c * g, lambda: torch.where(g > 0, g, c),
               lambda: torch.maximum(g, c), lambda: g.clamp(c, c + 1),
               lambda: torch.lerp(g, c, 0.5)):
        with pytest.raises(RuntimeError, match=msg):
            op()
    # a 0-d CPU tensor is a scalar and mixes freely, as in PyTorch
    assert (g + torch.tensor(1.0, device="cpu")).tolist() == [2.0, 2.0, 2.0]
    # copy_ moves data between devices
    g.copy_(c * 5)
    assert g.tolist() == [5.0, 5.0, 5.0]
