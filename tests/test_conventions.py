"""The conventions public PyTorch programs rely on, one test each: torch.accelerator,
torch.backends flags, matmul precision, torch.cuda device queries, Tensor.is_* properties,
torch.nn.modules.<file> paths, nn.parallel.DataParallel and torch.onnx."""

import importlib
import io
import warnings

import pytest

import wgtorch as torch
from wgtorch import nn
from helpers import assert_close

reference = pytest.importorskip("torch")


def test_accelerator_answers_for_the_adapter():
    acc = torch.accelerator
    assert acc.is_available() and acc.device_count() == 1
    dev = acc.current_accelerator()
    assert dev == torch.device("cuda") and dev.type == "wgpu"
    assert acc.current_accelerator(check_available=True) == dev
    assert acc.current_device_index() == 0 and acc.current_device_idx() == 0
    acc.set_device_index(0)
    acc.set_device_index("cuda:0")
    with pytest.raises(RuntimeError, match="device index 1 is invalid"):
        acc.set_device_index(1)
    with acc.device_index(0):
        x = torch.ones(3, device=dev)
    acc.synchronize()
    assert x.device == dev and acc.memory_allocated() > 0
    # the idiom of pytorch/examples: device = accelerator if available else cpu
    device = acc.current_accelerator().type if acc.is_available() else "cpu"
    assert torch.zeros(2).to(device).is_cuda


def test_backends_flags_are_settable_and_read_back():
    cudnn = torch.backends.cudnn
    before = (cudnn.benchmark, cudnn.deterministic, cudnn.enabled, cudnn.allow_tf32)
    assert before == (reference.backends.cudnn.benchmark, reference.backends.cudnn.deterministic,
                      reference.backends.cudnn.enabled, reference.backends.cudnn.allow_tf32)
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert cudnn.benchmark and cudnn.deterministic
        with cudnn.flags(enabled=False, benchmark=False):
            assert not cudnn.enabled and not cudnn.benchmark
        assert cudnn.enabled and cudnn.benchmark
    finally:
        cudnn.benchmark, cudnn.deterministic = before[:2]
    assert cudnn.is_available() is False and cudnn.version() is None
    assert torch.backends.mps.is_available() is False and torch.backends.mps.is_built() is False
    assert torch.backends.cuda.is_built()
    assert not torch.backends.mkldnn.is_available() and not torch.backends.openmp.is_available()
    torch.backends.mha.set_fastpath_enabled(False)
    assert not torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(True)
    torch.backends.cuda.enable_flash_sdp(False)
    assert not torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()
    torch.backends.cuda.enable_flash_sdp(True)
    with torch.backends.cuda.sdp_kernel(enable_math=False):
        assert not torch.backends.cuda.math_sdp_enabled()
    assert torch.backends.cuda.math_sdp_enabled()


def test_matmul_precision_is_one_setting_with_allow_tf32():
    matmul = torch.backends.cuda.matmul
    assert torch.get_float32_matmul_precision() == reference.get_float32_matmul_precision()
    assert matmul.allow_tf32 == reference.backends.cuda.matmul.allow_tf32
    a, b = torch.randn(33, 17), torch.randn(17, 9)
    exact = (a @ b).numpy()
    try:
        for precision in ("high", "medium"):
            torch.set_float32_matmul_precision(precision)
            reference.set_float32_matmul_precision(precision)
            assert torch.get_float32_matmul_precision() == precision
            assert matmul.allow_tf32 == reference.backends.cuda.matmul.allow_tf32
            assert_close(a @ b, exact, atol=0, rtol=0)  # documented: float32 either way
        matmul.allow_tf32 = False
        assert torch.get_float32_matmul_precision() == "highest"
        matmul.allow_tf32 = True
        assert torch.get_float32_matmul_precision() == "high"
        with pytest.warns(UserWarning, match="is not one of"):
            torch.set_float32_matmul_precision("fastest")
        assert torch.get_float32_matmul_precision() == "high"
        matmul.allow_fp16_reduced_precision_reduction = False
        assert matmul.allow_fp16_reduced_precision_reduction is False
        with pytest.raises(AttributeError, match="Unknown attribute"):
            matmul.allow_tf64 = True
        with pytest.raises(AttributeError, match="Unknown attribute"):
            matmul.allow_tf64
    finally:
        torch.set_float32_matmul_precision("highest")
        reference.set_float32_matmul_precision("highest")
        matmul.allow_fp16_reduced_precision_reduction = True


def test_cuda_queries_answer_for_the_adapter():
    info = torch.get_runtime().info
    assert torch.cuda.get_device_name() == info["device"] == torch.cuda.get_device_name(0)
    assert torch.cuda.get_device_capability() == (0, 0)
    props = torch.cuda.get_device_properties(0)
    assert props.name == info["device"] and (props.major, props.minor) == (0, 0)
    assert props.adapter_type == info["adapter_type"] and props.total_memory >= 0
    assert "max-storage-buffer-binding-size" in props.limits and info["device"] in repr(props)
    assert torch.cuda.is_bf16_supported() == hasattr(torch, "bfloat16")
    assert torch.cuda.is_bf16_supported(including_emulation=False) is False
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        torch.cuda.get_device_name("cpu")
    with pytest.raises(RuntimeError, match="device index 2 is invalid"):
        torch.cuda.get_device_properties(2)
    with torch.cuda.device(0):
        torch.cuda.set_device("cuda:0")
    assert torch.cuda.current_device() == 0


def test_tensor_device_properties_match_pytorch():
    names = ("is_cuda", "is_cpu", "is_xpu", "is_mps", "is_meta", "is_sparse", "is_quantized",
             "is_nested", "is_mkldnn")
    cpu, ref = torch.ones(2, device="cpu"), reference.ones(2)
    assert [getattr(cpu, n) for n in names] == [getattr(ref, n) for n in names]
    gpu = torch.ones(2, device="cuda")
    assert gpu.is_cuda and not gpu.is_cpu and not gpu.is_xpu and not gpu.is_mps


def _torch_classes(file):
    mod = importlib.import_module(f"torch.nn.modules.{file}")
    return {n for n, v in vars(mod).items() if isinstance(v, type) and v.__module__ == mod.__name__}


def test_nn_modules_paths_are_wgtorchs_classes():
    from wgtorch.nn.modules import TORCH_FILES

    assert torch.nn.modules.linear.Linear is nn.Linear
    assert torch.nn.modules.conv.Conv2d is nn.Conv2d
    assert torch.nn.modules.transformer.TransformerDecoderLayer is nn.TransformerDecoderLayer
    assert torch.nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert torch.nn.modules.container.Sequential is nn.Sequential
    assert torch.nn.modules.module.Module is nn.Module and torch.nn.modules.Linear is nn.Linear
    from wgtorch.nn.modules.loss import _Loss  # PyTorch's import path of the base classes
    from wgtorch.nn.modules.utils import _pair

    assert issubclass(nn.MSELoss, _Loss) and _pair(3) == (3, 3)
    covered = 0
    for file, names in TORCH_FILES.items():
        ours = set(names.split())
        assert ours <= _torch_classes(file) | {"register_module_forward_hook",
                                               "register_module_forward_pre_hook",
                                               "_addindent"}, file
        found = [n for n in ours if hasattr(nn, n)]
        if not found:
            continue  # a family wgtorch does not have yet (e.g. rnn before nn.LSTM)
        module = importlib.import_module(f"wgtorch.nn.modules.{file}")
        for n in found:
            assert getattr(module, n) is getattr(nn, n), (file, n)
            covered += 1
    # every layer class wgtorch.nn exports is reachable under its PyTorch file
    exported = {n for n, v in vars(nn).items() if isinstance(v, type) and issubclass(v, nn.Module)
                and n not in ("Module", "DataParallel")}
    placed = {n for names in TORCH_FILES.values() for n in names.split()}
    assert exported <= placed, exported - placed
    assert covered >= 100


def test_pickling_a_module_uses_wgtorch_classes():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert type(loaded[0]) is torch.nn.modules.linear.Linear
    assert loaded[0].weight.device == model[0].weight.device  # restored where it was saved
    x = torch.randn(4, 3)
    assert_close(loaded(x), model(x).detach().numpy(), atol=0, rtol=0)


def test_data_parallel_is_a_passthrough_keeping_module():
    torch.manual_seed(0)
    net = nn.Linear(4, 2).to("cuda")
    dp = nn.DataParallel(net)
    assert dp.module is net and dp.device_ids == [0] and dp.output_device == 0
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    x = torch.randn(5, 4, device="cpu")
    out = dp(x)  # inputs move to the adapter, as PyTorch's scatter moves them to cuda:0
    assert out.is_cuda
    assert_close(out, net(x.cuda()).detach().numpy(), atol=0, rtol=0)
    out.sum().backward()
    assert net.weight.grad is not None
    from wgtorch.nn.parallel import DataParallel
    from wgtorch.nn.modules.utils import consume_prefix_in_state_dict_if_present

    assert DataParallel is nn.DataParallel
    sd = dp.state_dict()
    consume_prefix_in_state_dict_if_present(sd, "module.")
    assert list(sd) == ["weight", "bias"]
    with pytest.raises(RuntimeError, match="parameters and buffers on device"):
        nn.DataParallel(nn.Linear(2, 2).cpu())(torch.ones(1, 2))
    with pytest.raises(RuntimeError, match="device index 1 is invalid"):
        nn.DataParallel(net, device_ids=[0, 1])


def test_onnx_is_importable_and_export_says_why_not():
    import wgtorch.onnx

    assert wgtorch.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match="traced graph"):
        torch.onnx.export(nn.Linear(2, 2), (torch.ones(1, 2),), "model.onnx")


def test_transformer_encoder_warns_nothing_and_subclasses():
    class MyEncoderLayer(nn.TransformerEncoderLayer):
        def _ff_block(self, x):
            return super()._ff_block(x) * 0.0

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = MyEncoderLayer(8, 2, 16, dropout=0.0)
        enc = nn.TransformerEncoder(layer, 1)
    x = torch.randn(3, 2, 8)
    ref = layer.norm1(x + layer._sa_block(x, None, None))
    assert_close(enc(x), layer.norm2(ref).detach().numpy(), atol=1e-5)
