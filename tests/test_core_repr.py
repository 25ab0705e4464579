"""repr/str of tensors against PyTorch's formatting (torch/_tensor_str.py, default options).

The expected strings were produced by PyTorch 2.13 (CPU) for the same tensors; wgtorch
tensors are moved to the "cpu" device so that no device suffix is printed, as for PyTorch's
CPU tensors. GPU tensors add ``device='wgpu:0'``, wrapping it to a new line past 80 columns
like PyTorch's ``device='cuda:0'``.
"""

import pytest

import wgtorch as torch

nan, inf = float("nan"), float("inf")

CPU_CASES = [
    (lambda: torch.tensor([1.5, 2.25]),
     'tensor([1.5000, 2.2500])'),
    (lambda: torch.tensor(3.5),
     'tensor(3.5000)'),
    (lambda: torch.tensor(3),
     'tensor(3)'),
    (lambda: torch.tensor(True),
     'tensor(True)'),
    (lambda: torch.tensor([[1., -2.5], [3, 4]]),
     'tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])'),
    (lambda: torch.tensor([1e10, 1.]),
     'tensor([1.0000e+10, 1.0000e+00])'),
    (lambda: torch.tensor([1e-5, 1.]),
     'tensor([1.0000e-05, 1.0000e+00])'),
    (lambda: torch.tensor([nan, 1., inf]),
     'tensor([nan, 1., inf])'),
    (lambda: torch.tensor([0., -0., 1.]),
     'tensor([0., -0., 1.])'),
    (lambda: torch.tensor([1, 2], dtype=torch.int32),
     'tensor([1, 2], dtype=torch.int32)'),
    (lambda: torch.tensor([1, 255], dtype=torch.uint8),
     'tensor([  1, 255], dtype=torch.uint8)'),
    (lambda: torch.tensor([1.5, 2.], dtype=torch.float16),
     'tensor([1.5000, 2.0000], dtype=torch.float16)'),
    (lambda: torch.tensor([True, False]),
     'tensor([ True, False])'),
    (lambda: torch.zeros(0, 3),
     'tensor([], size=(0, 3))'),
    (lambda: torch.zeros(0),
     'tensor([])'),
    (lambda: torch.zeros(0, dtype=torch.int64),
     'tensor([], dtype=torch.int64)'),
    (lambda: torch.zeros(3),
     'tensor([0., 0., 0.])'),
    (lambda: torch.tensor([1., 2.], requires_grad=True, device="cpu"),
     'tensor([1., 2.], requires_grad=True)'),
    (lambda: torch.arange(2000.),
     ('tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n'
      '        1.9990e+03])')),
    (lambda: torch.arange(2000),
     'tensor([   0,    1,    2,  ..., 1997, 1998, 1999])'),
    (lambda: torch.arange(100.) / 3,
     ('tensor([ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000, '
      ' 2.3333,\n'
      '         2.6667,  3.0000,  3.3333,  3.6667,  4.0000,  4.3333,  4.6667, '
      ' 5.0000,\n'
      '         5.3333,  5.6667,  6.0000,  6.3333,  6.6667,  7.0000,  7.3333, '
      ' 7.6667,\n'
      '         8.0000,  8.3333,  8.6667,  9.0000,  9.3333,  9.6667, 10.0000, '
      '10.3333,\n'
      '        10.6667, 11.0000, 11.3333, 11.6667, 12.0000, 12.3333, 12.6667, '
      '13.0000,\n'
      '        13.3333, 13.6667, 14.0000, 14.3333, 14.6667, 15.0000, 15.3333, '
      '15.6667,\n'
      '        16.0000, 16.3333, 16.6667, 17.0000, 17.3333, 17.6667, 18.0000, '
      '18.3333,\n'
      '        18.6667, 19.0000, 19.3333, 19.6667, 20.0000, 20.3333, 20.6667, '
      '21.0000,\n'
      '        21.3333, 21.6667, 22.0000, 22.3333, 22.6667, 23.0000, 23.3333, '
      '23.6667,\n'
      '        24.0000, 24.3333, 24.6667, 25.0000, 25.3333, 25.6667, 26.0000, '
      '26.3333,\n'
      '        26.6667, 27.0000, 27.3333, 27.6667, 28.0000, 28.3333, 28.6667, '
      '29.0000,\n'
      '        29.3333, 29.6667, 30.0000, 30.3333, 30.6667, 31.0000, 31.3333, '
      '31.6667,\n'
      '        32.0000, 32.3333, 32.6667, 33.0000])')),
    (lambda: torch.arange(24.).reshape(2, 3, 4),
     ('tensor([[[ 0.,  1.,  2.,  3.],\n'
      '         [ 4.,  5.,  6.,  7.],\n'
      '         [ 8.,  9., 10., 11.]],\n'
      '\n'
      '        [[12., 13., 14., 15.],\n'
      '         [16., 17., 18., 19.],\n'
      '         [20., 21., 22., 23.]]])')),
    (lambda: torch.arange(1200.).reshape(20, 60),
     ('tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 5.7000e+01, 5.8000e+01,\n'
      '         5.9000e+01],\n'
      '        [6.0000e+01, 6.1000e+01, 6.2000e+01,  ..., 1.1700e+02, 1.1800e+02,\n'
      '         1.1900e+02],\n'
      '        [1.2000e+02, 1.2100e+02, 1.2200e+02,  ..., 1.7700e+02, 1.7800e+02,\n'
      '         1.7900e+02],\n'
      '        ...,\n'
      '        [1.0200e+03, 1.0210e+03, 1.0220e+03,  ..., 1.0770e+03, 1.0780e+03,\n'
      '         1.0790e+03],\n'
      '        [1.0800e+03, 1.0810e+03, 1.0820e+03,  ..., 1.1370e+03, 1.1380e+03,\n'
      '         1.1390e+03],\n'
      '        [1.1400e+03, 1.1410e+03, 1.1420e+03,  ..., 1.1970e+03, 1.1980e+03,\n'
      '         1.1990e+03]])')),
]


@pytest.mark.parametrize("make,expected", CPU_CASES, ids=[str(k) for k in range(len(CPU_CASES))])
def test_repr_matches_pytorch(make, expected):
    t = make()
    if not t.requires_grad:
        t = t.cpu()
    assert repr(t) == expected
    assert str(t) == expected


def test_gpu_tensors_show_their_device():
    assert repr(torch.tensor([1.0, 2.0])) == "tensor([1., 2.], device='wgpu:0')"
    assert repr(torch.tensor(3)) == "tensor(3, device='wgpu:0')"
    assert repr(torch.zeros(0, 2, dtype=torch.int32)) == (
        "tensor([], device='wgpu:0', size=(0, 2), dtype=torch.int32)")
    assert repr(torch.tensor([1, 2], dtype=torch.uint8)) == (
        "tensor([1, 2], device='wgpu:0', dtype=torch.uint8)")
    # a suffix that would pass 80 columns goes to its own line, indented under the data
    t = torch.arange(8.0) * 1.5
    assert repr(t) == ("tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, "
                       "10.5000],\n       device='wgpu:0')")


def test_grad_fn_and_requires_grad_suffixes():
    x = torch.tensor([1.0, 2.0], requires_grad=True, device="cpu")
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr((x * 2).detach()) == "tensor([2., 4.])"


def test_format_of_0d_tensors():
    assert f"{torch.tensor(2.345):.2f}" == "2.35"
    assert f"{torch.tensor(7):d}" == "7"
