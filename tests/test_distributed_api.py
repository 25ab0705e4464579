"""wgtorch.distributed in one process, without starting MPI: errors before init, the missing
extra, names and enums against PyTorch's, the launcher's plan, the environment from an MPI
launcher, DDP's bucket assignment, and which adapter each local rank takes."""

import sys
from datetime import timedelta

import pytest

import wgtorch as torch
import wgtorch.distributed as dist
from wgtorch.distributed import env as dist_env, run
from wgtorch.distributed.reducer import compute_bucket_assignment_by_size


def test_not_initialized_errors_are_pytorchs():
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.get_backend, dist.barrier):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(torch.ones(2))


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(RuntimeError, match=r"pip install 'wgtorch\[distributed\]'"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_bad_arguments_are_refused_before_mpi_starts():
    with pytest.raises(ValueError, match="Invalid backend: 'tpu'"):
        dist.init_process_group("tpu")
    with pytest.raises(TypeError, match="Expected timeout argument to be of type"):
        dist.init_process_group("mpi", timeout=30)
    assert not dist.is_initialized() and "mpi4py.MPI" not in sys.modules


def test_backend_names_and_availability():
    assert dist.Backend("GLOO") == "gloo" and dist.Backend.NCCL == "nccl"
    assert dist.is_available() and dist.is_nccl_available() and dist.is_gloo_available()
    assert dist.GroupMember.NON_GROUP_MEMBER == -100 and dist.group.WORLD is None


def test_reduce_op_matches_pytorch():
    tdist = pytest.importorskip("torch.distributed")
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR", "PREMUL_SUM"):
        ours, theirs = getattr(dist.ReduceOp, name), getattr(tdist.ReduceOp, name)
        assert int(ours) == int(theirs) and repr(ours) == repr(theirs)
        assert ours == getattr(dist.ReduceOp.RedOpType, name)
    assert dist.reduce_op is dist.ReduceOp


def test_torch_style_imports():
    assert torch.distributed is dist
    assert torch.nn.parallel.DistributedDataParallel.__name__ == "DistributedDataParallel"
    from wgtorch.utils.data.distributed import DistributedSampler

    assert torch.utils.data.DistributedSampler is DistributedSampler
    assert issubclass(dist.DistBackendError, RuntimeError)


def test_environment_from_an_mpi_launcher():
    env = {"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2",
           "MASTER_PORT": "1234"}
    filled = dist_env.fill_from_mpi_launcher(env)
    assert env["RANK"] == "3" and env["WORLD_SIZE"] == "4" and env["LOCAL_RANK"] == "1"
    assert env["LOCAL_WORLD_SIZE"] == "2" and env["GROUP_RANK"] == "1"
    assert env["MASTER_PORT"] == "1234" and "MASTER_PORT" not in filled  # kept as set
    ompi = {"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2"}
    dist_env.fill_from_mpi_launcher(ompi)
    assert ompi["LOCAL_RANK"] == "0" and ompi["WORLD_SIZE"] == "2"
    assert dist_env.fill_from_mpi_launcher({}) == []


def _plan(*argv):
    return run.plan(run.get_args_parser().parse_args([*argv, "train.py", "--lr", "1"]))


def test_launcher_environment_is_torchruns():
    common, ranks = _plan("--nnodes", "2", "--node-rank", "1", "--nproc_per_node", "3",
                          "--master_addr", "10.0.0.1", "--master-port", "4000")
    assert common["WORLD_SIZE"] == "6" and common["LOCAL_WORLD_SIZE"] == "3"
    assert common["GROUP_RANK"] == "1" and common["GROUP_WORLD_SIZE"] == "2"
    assert common["MASTER_ADDR"] == "10.0.0.1" and common["MASTER_PORT"] == "4000"
    assert common["TORCHELASTIC_RESTART_COUNT"] == "0" and common["TORCHELASTIC_RUN_ID"]
    assert [r["RANK"] for r in ranks] == ["3", "4", "5"]
    assert [r["LOCAL_RANK"] for r in ranks] == ["0", "1", "2"]
    common, _ = _plan("--standalone", "--nproc-per-node=2")
    assert common["MASTER_ADDR"] == "127.0.0.1" and common["MASTER_PORT"] != "29500"
    common, _ = _plan("--rdzv-endpoint", "host:1111", "--rdzv_id", "job7")
    assert (common["MASTER_ADDR"], common["MASTER_PORT"]) == ("host", "1111")
    assert common["TORCHELASTIC_RUN_ID"] == "job7"
    for bad in (["--max-restarts", "2"], ["--nnodes", "1:4"], ["--nproc_per_node", "zero"],
                ["--nnodes", "2", "--node_rank", "2"]):
        with pytest.raises(ValueError):
            _plan(*bad)


def test_launcher_command_runs_each_rank_with_its_environment():
    args = run.get_args_parser().parse_args(["--nproc_per_node", "2", "-m", "pkg.train", "-x"])
    command = run.rank_command(args)
    assert command == [sys.executable, "-u", "-m", "pkg.train", "-x"]
    _, ranks = run.plan(args)
    argv = run.mpiexec_command("mpiexec", command, ranks)
    first, second = argv.index("-n"), len(argv) - 1 - argv[::-1].index("-n")
    assert argv[:3] == ["mpiexec", "-n", "1"] and ":" in argv
    assert argv[first:].count("RANK") == 2 and argv[second:][:2] == ["-n", "1"]
    assert argv[-len(command):] == command
    args = run.get_args_parser().parse_args(["--no-python", "./a.out", "1"])
    assert run.rank_command(args) == ["./a.out", "1"]


def test_bucket_assignment_matches_pytorchs():
    real = pytest.importorskip("torch")
    shapes = [(300000,), (10,), (200000,), (7, 5), (100000,), (3,)]
    dtypes = ["float32", "float32", "float32", "int32", "float32", "float32"]
    ours = [torch.zeros(s, dtype=getattr(torch, d)) for s, d in zip(shapes, dtypes)]
    theirs = [real.zeros(s, dtype=getattr(real, d)) for s, d in zip(shapes, dtypes)]
    for limits in ([1024 * 1024, 2 * 1024 * 1024], [100], [10 ** 9]):
        expected, _ = real.distributed._compute_bucket_assignment_by_size(theirs, limits)
        assert compute_bucket_assignment_by_size(ours, limits) == expected


class FakeAdapter:
    def __init__(self, name, adapter_type="DiscreteGPU", backend="Vulkan"):
        self.info = {"device": name, "vendor": "", "description": "", "backend_type": backend,
                     "adapter_type": adapter_type}


def test_each_local_rank_takes_its_own_gpu(monkeypatch):
    import wgpu

    from wgtorch.backend import adapter

    found = [FakeAdapter("cpu-a", "CPU"), FakeAdapter("gpu-a"), FakeAdapter("gpu-b"),
             FakeAdapter("gpu-gl", backend="OpenGL")]
    monkeypatch.setattr(wgpu.gpu, "enumerate_adapters_sync", lambda: found)
    monkeypatch.delenv("WGTORCH_ADAPTER", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert adapter.choose_adapter().info["device"] == "gpu-a"
    for local, name in ((0, "gpu-a"), (1, "gpu-b"), (2, "gpu-a"), (3, "gpu-b")):
        monkeypatch.setenv("LOCAL_RANK", str(local))
        assert adapter.choose_adapter().info["device"] == name
    monkeypatch.setenv("WGTORCH_ADAPTER", "gpu-b")  # the user's choice wins
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert adapter.choose_adapter().info["device"] == "gpu-b"
    monkeypatch.setenv("WGTORCH_ADAPTER", "cpu")
    assert adapter.choose_adapter().info["device"] == "cpu-a"


def test_cuda_local_rank_names_this_processs_adapter(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(RuntimeError, match="device index 1 is invalid"):
        torch.device("cuda:1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert torch.device("cuda:1") == torch.device("cuda")
    torch.cuda.set_device(1)
    torch.cuda.set_device("cuda:1")
    with pytest.raises(RuntimeError):
        torch.cuda.set_device(2)
    assert torch.ones(2, device="cuda:1").device == torch.device("cuda")


def test_default_timeout_is_pytorchs():
    assert dist.default_pg_timeout == timedelta(minutes=30)


def test_post_accumulate_grad_hooks_as_ddp_uses_them():
    """Once per leaf per backward (a parameter used twice included), after its gradient is
    accumulated, last layer first; a hook may replace ``.grad`` (DDP's averaged slice)."""
    w1 = torch.ones(3, requires_grad=True)
    w2 = torch.full((3,), 2.0, requires_grad=True)
    order = []

    def hook(name):
        def record(p):
            order.append((name, p.grad.tolist()))
            if name == "w1":
                p.grad = p.grad * 10

        return record

    handles = [w1.register_post_accumulate_grad_hook(hook("w1")),
               w2.register_post_accumulate_grad_hook(hook("w2"))]
    h = w1 * 3 + w1  # w1 used twice: one accumulation of 4
    (h * w2).sum().backward()
    assert order == [("w2", [4.0] * 3), ("w1", [8.0] * 3)]
    assert w1.grad.tolist() == [80.0] * 3
    order.clear()
    (w1 * w2).sum().backward()  # accumulates onto .grad; the hook sees the sum
    assert ("w1", [82.0] * 3) in order
    for handle in handles:
        handle.remove()
    order.clear()
    (w1 * w2).sum().backward()
    assert order == []
