"""nn.Module machinery: registration, iteration, modes, hooks, state_dict, repr, containers,
init and utils."""

import math
from collections import OrderedDict

import numpy as np
import pytest
from helpers import assert_close

import wgtorch as torch
from wgtorch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU())
        self.fc = nn.Linear(4, 3)
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("step", torch.zeros(1))
        self.register_buffer("cache", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3))) * self.scale


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.1.weight",
                     "features.1.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "step", "cache", "features.1.running_mean", "features.1.running_var",
        "features.1.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0", "features.1",
                                                  "features.2", "fc"]
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert all(p.requires_grad for p in net.parameters())
    assert isinstance(net.fc.weight, nn.Parameter) and isinstance(net.fc.weight, torch.Tensor)
    assert net.get_submodule("features.1") is net.features[1]
    assert net.get_parameter("fc.bias") is net.fc.bias


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(torch.zeros(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = torch.zeros(2)
    m.w = None
    assert m._parameters["w"] is None
    m.sub = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    m.register_buffer("b", torch.zeros(1))
    m.b = torch.ones(1)  # replaces the buffer
    assert m._buffers["b"].item() == 1
    with pytest.raises(KeyError, match="attribute 'sub' already exists"):
        m.register_buffer("sub", torch.zeros(1))
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    del m.b
    assert "b" not in m._buffers


def test_train_eval_zero_grad_requires_grad():
    net = Net()
    assert net.training and net.features[1].training
    net.eval()
    assert not net.training and not net.features[1].training
    net.train()
    out = net(torch.randn(2, 1, 5, 5)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_and_to():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "BatchNorm2d", "ReLU", "Sequential", "Linear", "Net"]
    w = net.fc.weight
    net.to(torch.float16)
    assert net.fc.weight is w and w.dtype == torch.float16
    assert net.features[1].num_batches_tracked.dtype == torch.int64  # non-float kept
    net.to("cpu")
    assert net.fc.weight.device.type == "cpu"
    net.to("cuda", torch.float32)
    assert net.fc.weight.device.type == "wgpu" and net.fc.weight.dtype == torch.float32
    with pytest.raises(TypeError, match="floating point"):
        net.to(torch.int32)


def test_state_dict_keys_and_round_trip():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "step", "features.0.weight", "features.0.bias",
                        "features.1.weight", "features.1.bias", "features.1.running_mean",
                        "features.1.running_var", "features.1.num_batches_tracked",
                        "fc.weight", "fc.bias"]
    assert "cache" not in sd  # non-persistent
    assert not sd["fc.weight"].requires_grad
    other = Net()
    result = other.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for k, v in other.state_dict().items():
        assert_close(v.float(), sd[k].float().numpy())
    x = torch.randn(2, 1, 5, 5)
    net.eval(), other.eval()
    assert_close(other(x), net(x).detach().numpy())


def test_load_state_dict_errors():
    net = nn.Linear(3, 2)
    sd = net.state_dict()
    sd.pop("bias")
    sd["extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Linear:")
    assert 'Missing key(s) in state_dict: "bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    bad = {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                                           r"shape torch.Size\(\[2, 4\]\) from checkpoint, the "
                                           r"shape in current model is torch.Size\(\[2, 3\]\)"):
        net.load_state_dict(bad)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(torch.ones(3, 2))
    assert calls == [torch.Size([3, 2])]
    assert_close(out, (lin.bias.detach().numpy() + 1)[None].repeat(3, 0))
    h1.remove()
    h2.remove()
    out = lin(torch.ones(3, 2))
    assert len(calls) == 1
    kw = lin.register_forward_pre_hook(lambda m, args, kwargs: (args, kwargs), with_kwargs=True)
    lin(torch.ones(1, 2))
    kw.remove()


def test_repr_matches_pytorch():
    net = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.ReLU(inplace=True),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 10), nn.Dropout(0.25))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (1): ReLU(inplace=True)\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=8, out_features=10, bias=True)\n"
        "  (5): Dropout(p=0.25, inplace=False)\n"
        ")"
    )
    assert repr(nn.BatchNorm2d(4)) == (
        "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)")
    assert repr(nn.LayerNorm(8, bias=False)) == (
        "LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=False)")
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"


def test_containers():
    seq = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.ReLU())]))
    assert isinstance(seq.a, nn.Linear) and seq[1] is seq.b and len(seq) == 2
    assert isinstance(seq[:1], nn.Sequential) and len(seq[:1]) == 1
    seq.append(nn.Tanh())
    assert len(seq) == 3 and isinstance(seq[-1], nn.Tanh)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Identity())
    assert len(ml) == 4 and len(list(ml.parameters())) == 6
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    md = nn.ModuleDict({"x": nn.Linear(2, 2)})
    md["y"] = nn.ReLU()
    assert list(md.keys()) == ["x", "y"] and "y" in md
    pl = nn.ParameterList([torch.zeros(2), nn.Parameter(torch.ones(3))])
    assert [p.shape for p in pl.parameters()] == [torch.Size([2]), torch.Size([3])]
    pd = nn.ParameterDict({"w": torch.zeros(2)})
    assert isinstance(pd["w"], nn.Parameter)
    ident = nn.Identity(54, unused="x")
    x = torch.ones(2)
    assert ident(x) is x


def test_default_init_statistics():
    torch.manual_seed(0)
    lin = nn.Linear(400, 300)
    w = lin.weight.detach().numpy()
    bound = 1 / math.sqrt(400)
    assert w.min() >= -bound and w.max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 1e-3
    b = lin.bias.detach().numpy()
    assert b.min() >= -bound and b.max() <= bound
    conv = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound


def test_init_functions():
    torch.manual_seed(1)
    w = torch.empty(256, 512)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / (256 + 512))
    assert np.abs(w.numpy()).max() <= a
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 256)) < 3e-3
    nn.init.trunc_normal_(w, std=1.0, a=-1.5, b=1.5)
    v = w.numpy()
    assert v.min() >= -1.5 and v.max() <= 1.5 and abs(v.mean()) < 0.02
    q = torch.empty(6, 10)
    nn.init.orthogonal_(q)
    assert_close(q.numpy() @ q.numpy().T, np.eye(6), atol=1e-5)
    nn.init.constant_(q, 0.5)
    assert (q.numpy() == 0.5).all()
    nn.init.zeros_(q), nn.init.ones_(w)
    assert q.numpy().sum() == 0 and w.numpy().min() == 1
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(torch.empty(3))


def test_clip_grad_and_vector_conversion():
    params = [nn.Parameter(torch.tensor([3.0, 4.0])), nn.Parameter(torch.tensor([[12.0]]))]
    for p in params:
        p.grad = p.detach().clone()
    total = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    assert abs(total.item() - 13.0) < 1e-4
    assert_close(params[0].grad, np.array([3.0, 4.0]) / 13.0, atol=1e-5)
    nn.utils.clip_grad_value_(params, 0.1)
    assert float(params[1].grad.max()) <= np.float32(0.1)
    inf_total = nn.utils.clip_grad_norm_(params, 1.0, norm_type=math.inf)
    assert abs(inf_total.item() - 0.1) < 1e-6
    vec = nn.utils.parameters_to_vector(params)
    assert vec.shape == torch.Size([3])
    nn.utils.vector_to_parameters(vec * 2, params)
    assert_close(params[1], np.array([[2 * float(vec[2])]]))


def test_deepcopy_copies_parameters_and_buffers_on_the_gpu():
    import copy

    net = Net()
    twin = copy.deepcopy(net)
    assert twin.fc.weight is not net.fc.weight and isinstance(twin.fc.weight, nn.Parameter)
    with torch.no_grad():
        twin.fc.weight.fill_(0.0)
        twin.features[1].running_mean.fill_(5.0)
    assert float(net.fc.weight.abs().sum()) > 0
    assert float(net.features[1].running_mean.sum()) == 0
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_load_state_dict_assign_and_buffer_assignment():
    lin = nn.Linear(2, 2)
    w = torch.ones(2, 2)
    lin.load_state_dict({"weight": w, "bias": torch.zeros(2)}, assign=True)
    assert lin.weight._storage is w._storage and isinstance(lin.weight, nn.Parameter)
    m = nn.Module()
    m.stat = nn.Buffer(torch.zeros(3), persistent=False)
    assert "stat" in m._buffers and "stat" not in m.state_dict()


def test_repr_of_repeated_layers_and_padding():
    stack = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
    assert repr(stack) == ("ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, "
                           "bias=True)\n  (3): ReLU()\n)")
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
