"""Device rules, as PyTorch's: one check (wgtorch.device.check_same_device) for every op, cpu
0-d tensors as scalars, results on their operands' device, and torch.load restoring each
tensor on the device it was saved from unless map_location says otherwise."""

import io

import numpy as np
import pytest

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F
from helpers import assert_close

MISMATCH = ("Expected all tensors to be on the same device, but found at least two devices, "
            "wgpu:0 and cpu!")
RNG = np.random.default_rng(0)


def pair(*shape, dtype=torch.float32):
    """The same values on the GPU and on cpu."""
    a = RNG.standard_normal(shape).astype(np.float32)
    return torch.tensor(a, dtype=dtype), torch.tensor(a, dtype=dtype, device="cpu")


G, C = pair(4, 5)
W, WC = pair(3, 5)
X4, X4C = pair(2, 3, 6, 6)
K, KC = pair(4, 3, 3, 3)
IDX, IDXC = torch.tensor([0, 2, 1]), torch.tensor([0, 2, 1], device="cpu")
LABELS, LABELSC = torch.tensor([0, 1, 2, 1]), torch.tensor([0, 1, 2, 1], device="cpu")

# op family -> (name in the message, fn(gpu operands...), the same with one operand on cpu)
MIXES = {
    "add": (lambda: G + C),
    "mul_scalar_first": (lambda: C * G),
    "where": (lambda: torch.where(G > 0, G, C)),
    "clamp": (lambda: G.clamp(min=C)),
    "mm": (lambda: G @ WC.t()),
    "matmul_batched": (lambda: torch.matmul(G.view(1, 4, 5), WC.t().view(1, 5, 3))),
    "linear": (lambda: F.linear(C, W)),
    "linear_bias": (lambda: F.linear(G, W, torch.zeros(3, device="cpu"))),
    "conv2d": (lambda: F.conv2d(X4, KC)),
    "conv1d": (lambda: F.conv1d(X4C[:, :, 0], K[:, :, 0])),
    "conv_transpose2d": (lambda: F.conv_transpose2d(X4C, K.transpose(0, 1))),
    "cat": (lambda: torch.cat([G, C])),
    "stack": (lambda: torch.stack([G, C])),
    "index_select": (lambda: G.index_select(0, IDXC)),
    "gather": (lambda: G.gather(1, IDXC.view(3, 1).expand(3, 2))),
    "scatter_add": (lambda: G.scatter_add(0, IDX.view(3, 1).expand(3, 5), C[:3])),
    "index_add": (lambda: G.index_add(0, IDX, C[:3])),
    "index_put": (lambda: G.clone().index_put_((IDX,), C[:3])),
    "setitem_advanced": (lambda: G.clone().__setitem__(IDX, C[:3])),
    "cross_entropy": (lambda: F.cross_entropy(G, LABELSC)),
    "nll_loss": (lambda: F.nll_loss(C, LABELS)),
    "mse_loss": (lambda: F.mse_loss(G, C)),
    "layer_norm": (lambda: F.layer_norm(G, (5,), torch.ones(5, device="cpu"))),
    "batch_norm": (lambda: F.batch_norm(G, torch.zeros(5, device="cpu"), torch.ones(5),
                                        training=False)),
    "group_norm": (lambda: F.group_norm(X4C, 3, torch.ones(3))),
    "embedding": (lambda: F.embedding(IDXC, G)),
    "inplace_add": (lambda: G.clone().add_(C)),
    "inplace_mul_cpu_self": (lambda: C.clone().mul_(G)),
    "masked_fill": (lambda: G.masked_fill(C > 0, 1.0)),
}


@pytest.mark.parametrize("name", sorted(MIXES))
def test_every_op_refuses_a_cpu_gpu_mix(name):
    before = (G.numpy().copy(), C.numpy().copy())
    with pytest.raises(RuntimeError, match=MISMATCH):
        MIXES[name]()
    assert np.array_equal(G.numpy(), before[0]) and np.array_equal(C.numpy(), before[1])
    assert_close(G + 1, before[0] + 1)  # the device is still usable


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_same_device_ops_stay_on_their_device(device):
    x, w = G.to(device), W.to(device)
    results = [x + 1, x @ w.t(), F.linear(x, w), torch.cat([x, x]), x[IDX.to(device)],
               F.conv2d(X4.to(device), K.to(device)), F.cross_entropy(x, LABELS.to(device)),
               F.layer_norm(x, (5,)), x.index_select(0, IDX.to(device)), x.sum(), x.t()]
    for r in results:
        assert r.device == torch.device(device)
    assert_close(x @ w.t(), G.numpy() @ W.numpy().T, atol=1e-5)


def test_cpu_scalars_join_any_device():
    s = torch.tensor(2.0, device="cpu")
    assert (G * s).device == torch.device("wgpu")
    assert (s * G).device == torch.device("wgpu")  # the scalar comes first
    assert torch.where(G > 0, s, G).device == torch.device("wgpu")
    assert_close(s + G, G.numpy() + 2.0)
    assert (s + torch.tensor(1.0)).device == torch.device("wgpu")
    gpu_scalar = torch.tensor(2.0)
    with pytest.raises(RuntimeError, match=MISMATCH):
        C + gpu_scalar  # only cpu 0-d tensors are scalars, as in PyTorch


def test_indices_may_be_on_cpu_for_a_gpu_tensor():
    assert_close(G[IDXC], G.numpy()[[0, 2, 1]])
    assert G[IDXC].device == torch.device("wgpu")
    with pytest.raises(RuntimeError, match="indices should be either on cpu or on the same "
                                           "device as the indexed tensor"):
        C[IDX]
    y = G.clone()
    y[IDXC] = torch.tensor(5.0, device="cpu")  # a cpu scalar value
    assert_close(y[[0, 1, 2]], np.full((3, 5), 5.0))


def test_copy_and_to_move_across_devices_with_gradients():
    x = torch.randn(3, requires_grad=True, device="cpu")
    y = (x.to("cuda") * 2).sum()
    y.backward()
    assert x.grad.device == torch.device("cpu")
    assert_close(x.grad, np.full(3, 2.0))
    z = torch.zeros(3)
    z.copy_(x.detach())  # copy_ crosses devices, as PyTorch's
    assert z.device == torch.device("wgpu")
    assert_close(z, x.detach().numpy())


def test_the_check_skips_what_is_not_a_tensor():
    from wgtorch.device import check_same_device

    assert check_same_device("op", (None, 1.0, np.zeros(3), G)) == torch.device("wgpu")
    assert check_same_device("op", (torch.tensor(1.0, device="cpu"),)) == torch.device("cpu")
    assert check_same_device("op", ()) is None


# ---- torch.load restores the device of each tensor ----------------------------------------


def _round_trip(obj, **kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, **kwargs)


def test_load_restores_the_saved_device():
    obj = {"gpu": torch.arange(3.0), "cpu": torch.arange(3.0, device="cpu"),
           "view": torch.arange(6.0, device="cpu")[2:]}
    back = _round_trip(obj)
    assert back["gpu"].device == torch.device("wgpu")
    assert back["cpu"].device == torch.device("cpu") == back["view"].device
    for k in obj:
        assert_close(back[k], obj[k].numpy(), atol=0, rtol=0)


@pytest.mark.parametrize("map_location, gpu, cpu", [
    ("cpu", "cpu", "cpu"),
    ("cuda", "wgpu", "wgpu"),
    (torch.device("cpu"), "cpu", "cpu"),
    ({"cuda:0": "cpu"}, "cpu", "cpu"),
    ({"cpu": "cuda:0"}, "wgpu", "wgpu"),
    ({"mps": "cpu"}, "wgpu", "cpu"),          # tags the dict lacks restore as saved
])
def test_map_location_forms(map_location, gpu, cpu):
    back = _round_trip({"g": torch.ones(2), "c": torch.ones(2, device="cpu")},
                       map_location=map_location)
    assert (back["g"].device.type, back["c"].device.type) == (gpu, cpu)


def test_map_location_callables():
    obj = {"g": torch.ones(2), "c": torch.ones(2, device="cpu")}
    seen = []
    back = _round_trip(obj, map_location=lambda s, loc: seen.append(loc) or s)
    assert sorted(seen) == ["cpu", "cuda:0"]
    assert back["g"].device.type == "cpu" == back["c"].device.type  # the storage is on cpu
    back = _round_trip(obj, map_location=lambda s, loc: s.cuda())
    assert back["c"].device.type == "wgpu"
    back = _round_trip(obj, map_location=lambda s, loc: None)  # None: as saved
    assert (back["g"].device.type, back["c"].device.type) == ("wgpu", "cpu")


def test_a_cpu_model_saved_and_reloaded_runs_on_cpu():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to("cpu")
    sd = _round_trip(model.state_dict())
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to("cpu")
    fresh.load_state_dict(sd)
    x = torch.randn(5, 4, device="cpu")
    assert fresh(x).device == torch.device("cpu")
    assert_close(fresh(x), model(x).detach().numpy(), atol=0, rtol=0)
    whole = _round_trip(model, weights_only=False)
    assert_close(whole(x), model(x).detach().numpy(), atol=0, rtol=0)


def test_unknown_locations_name_map_location():
    from wgtorch.serialization import _saved_device

    with pytest.raises(RuntimeError, match="pass map_location"):
        _saved_device("cuda:3")
    assert _saved_device("mps") == torch.device("wgpu")
