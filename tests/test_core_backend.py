"""The backend: buffer pool and memory statistics, the upload/recycle hazard, deferred
submission, grid folding, the storage-binding limit, error translation, `python -m wgtorch
info` and adapter selection."""

import gc
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.backend import GPUError, NoAdapterError, adapter, get_runtime
from wgtorch.backend.pool import size_class

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def rt():
    runtime = get_runtime()
    runtime.synchronize()
    gc.collect()  # tensors of earlier tests held by reference cycles give their buffers back
    return runtime


# ---- buffer pool -------------------------------------------------------------------------


def test_size_classes():
    assert size_class(1) == 256 and size_class(256) == 256
    assert size_class(257) == 320  # four classes per power of two
    for n in (1000, 4096, 4097, 10**6, 3 * 10**7):
        c = size_class(n)
        assert n <= c <= n * 1.25 + 256


def test_memory_stats_follow_tensor_lifetimes(rt):
    n = 12_345  # a size class nothing else here uses
    nbytes = size_class(n * 4)
    allocated = torch.memory_allocated()
    x = torch.empty(n)
    assert torch.memory_allocated() == allocated + nbytes
    assert torch.cuda.memory_allocated() == torch.memory_allocated()
    reserved = torch.memory_reserved()
    assert reserved >= torch.memory_allocated()
    buffer = x._storage.buffer
    view = x[10:20]
    del x
    assert torch.memory_allocated() == allocated + nbytes  # a view keeps the storage alive
    del view
    assert torch.memory_allocated() == allocated  # the buffer went back to the pool
    assert torch.memory_reserved() == reserved  # ... and stays cached
    y = torch.empty(n)
    assert y._storage.buffer is buffer  # reused, no new allocation
    assert torch.memory_reserved() == reserved
    del y
    torch.empty_cache()
    assert torch.memory_reserved() <= reserved - nbytes
    assert torch.memory_allocated() == allocated
    z = torch.ones(n)  # the device is fine after empty_cache
    assert z[-1].item() == 1.0


def test_results_of_dead_intermediates_are_recycled(rt):
    x = torch.ones(5000)
    y = x
    for _ in range(50):
        y = y * 1.0 + 0.0
    torch.synchronize()
    peak = torch.memory_allocated()
    for _ in range(50):
        y = y * 1.0 + 0.0
    torch.synchronize()
    assert torch.memory_allocated() <= peak  # intermediates die and are reused
    assert y[0].item() == 1.0


def test_empty_cache_with_pending_work(rt):
    x = torch.arange(1000.0)
    y = x * 2  # recorded, not submitted
    del x  # its buffer is free but still read by the pending dispatch
    torch.empty_cache()  # submits first, then destroys cached buffers
    assert y[999].item() == 1998.0


# ---- the upload / recycle hazard ---------------------------------------------------------


def _recycled_upload(rt):
    """y = x * 2 recorded; x dies; new host data lands in x's recycled buffer; read y."""
    n = 4099
    x = torch.tensor(np.arange(n, dtype=np.float32))
    rt.synchronize()
    submits = rt.submit_count
    y = x * 2
    assert rt.submit_count == submits  # y is only recorded
    recycled = x._storage.buffer
    del x
    z = torch.tensor(np.full(n, -1.0, dtype=np.float32))  # an upload into x's old buffer
    assert z._storage.buffer is recycled
    return y.numpy(), z.numpy()


def test_upload_into_a_recycled_buffer_waits_for_pending_readers(rt):
    y, z = _recycled_upload(rt)
    np.testing.assert_array_equal(y, np.arange(4099, dtype=np.float32) * 2)
    np.testing.assert_array_equal(z, -1.0)


def test_the_recycle_hazard_is_real_without_the_flush(rt, monkeypatch):
    # Negative control: the test above catches the bug, because without rt.write's flush the
    # upload overtakes the pending dispatch (queue.write_buffer runs before later submits).
    monkeypatch.setattr(rt, "write", lambda buf, data, offset=0: rt.queue.write_buffer(
        buf, offset, data))
    y, _ = _recycled_upload(rt)
    assert np.all(y == -2.0)


# ---- deferred submission -----------------------------------------------------------------


def test_ops_record_without_submitting(rt):
    x = torch.ones(64)
    rt.synchronize()
    submits, dispatches = rt.submit_count, rt.dispatch_count
    y = x
    for _ in range(100):
        y = y + 1.0
    assert rt.dispatch_count - dispatches >= 100
    assert rt.submit_count == submits  # nothing submitted while recording
    assert y[0].item() == 101.0  # the read submits
    assert rt.submit_count - submits <= 2


def test_long_chains_submit_every_n_dispatches(rt):
    x = torch.ones(8)
    rt.synchronize()
    submits = rt.submit_count
    y = x
    for _ in range(1000):
        y = y + 1.0
    made = rt.submit_count - submits
    assert 1 <= made <= 1000 // 100  # batches of hundreds of dispatches, never one per op
    assert y.tolist() == [1001.0] * 8


def test_kernels_and_bind_groups_are_cached(rt):
    x = torch.ones(100)
    y = x * 3.0
    kernels = len(rt.kernels)
    groups = len(rt.bind_groups)
    for _ in range(20):
        y = x * 3.0  # same kernel, and the same buffers come back from the pool
    assert len(rt.kernels) == kernels
    assert len(rt.bind_groups) <= groups + 2
    y.numpy()
    staging = rt.staging.reserved_bytes
    for _ in range(5):
        y.numpy()
    assert rt.staging.reserved_bytes == staging  # readback staging buffers are pooled


# ---- grids past 65,535 workgroups ---------------------------------------------------------


def test_grid_folding_arithmetic(rt):
    limit = rt.max_workgroups
    assert rt.grid(1) == (1, 1, 1) and rt.grid(limit) == (limit, 1, 1)
    assert rt.grid(limit + 1) == (limit, 2, 1)
    x, y, z = rt.grid(limit * limit + 1)
    assert (x, y, z) == (limit, limit, 2)
    for n in (limit + 1, 3 * limit + 7, limit * limit + 1):
        x, y, z = rt.grid(n)
        assert max(x, y, z) <= limit and x * y * z >= n


def test_elementwise_past_65535_workgroups(rt):
    # strided path: one invocation per element -> more than 65,535 workgroups of 64
    n = 64 * 65535 + 1001
    assert -(-n // 64) > rt.max_workgroups
    x = torch.arange(n, dtype=torch.int32)
    y = x + torch.tensor(1, dtype=torch.int32)  # a 0-d operand: not the vec4 path
    np.testing.assert_array_equal(y[:3].numpy(), [1, 2, 3])
    np.testing.assert_array_equal(y[-3:].numpy(), [n - 2, n - 1, n])
    np.testing.assert_array_equal(y[64 * 65535 - 2: 64 * 65535 + 2].numpy(),
                                  np.arange(64 * 65535 - 1, 64 * 65535 + 3))
    del x, y
    # vec4 path: four elements per invocation
    n = 4 * 64 * 65535 + 36
    t = torch.full((n,), 2.0) * 3.0
    np.testing.assert_array_equal(t[-5:].numpy(), [6.0] * 5)
    np.testing.assert_array_equal(t[4 * 64 * 65535 - 2: 4 * 64 * 65535 + 2].numpy(), [6.0] * 4)
    assert t[0].item() == 6.0
    del t
    # the random kernel (4 values per invocation) past 65,535 workgroups too
    u = torch.rand(n)
    tail = u[-40:].numpy()
    assert np.all((tail >= 0) & (tail < 1)) and len(set(tail.tolist())) == 40


# ---- storage binding limit ----------------------------------------------------------------


def test_tensor_larger_than_a_binding_is_a_clear_error(rt, monkeypatch):
    monkeypatch.setattr(rt, "max_binding_bytes", 4000)
    small = torch.ones(1000)  # 4000 bytes: fits exactly
    assert small._storage.buffer.size <= 4000  # its buffer is not rounded past the limit
    assert (small * 2)[-1].item() == 2.0
    with pytest.raises(RuntimeError, match=r"a tensor of 4004 bytes exceeds this adapter's "
                       r"largest storage binding \(4000 bytes\)"):
        torch.ones(1001)
    with pytest.raises(RuntimeError, match="exceeds this adapter's largest storage binding"):
        small.reshape(1000, 1).expand(1000, 2).contiguous()  # a result too large: refused
    with pytest.raises(RuntimeError, match="largest storage binding"):
        torch.tensor(np.zeros(2000, dtype=np.float32))
    monkeypatch.undo()
    assert torch.ones(2000).sum().item() == 2000.0  # nothing was left broken


# ---- errors -------------------------------------------------------------------------------


def test_broken_shader_raises_gpu_error_and_device_stays_usable(rt):
    pending = torch.arange(10.0) * 3  # recorded before the error: must survive it
    with pytest.raises(GPUError, match="the GPU rejected the shader of kernel 'broken_test'") \
            as info:
        rt.kernel(("broken_test",), lambda: "fn main( {", 1, 1)
    assert type(info.value).__module__.startswith("wgtorch")
    assert isinstance(info.value, RuntimeError) and torch.GPUError is GPUError
    assert pending.tolist() == [3.0 * k for k in range(10)]
    assert (torch.ones(3) + 1).tolist() == [2.0, 2.0, 2.0]


_COPY_WGSL = """
struct Params { n: u32 };
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < P.n) { dst[g.x] = src[g.x]; } }
"""


def test_invalid_dispatches_are_refused_before_recording(rt):
    kern = rt.kernel(("copy_test",), lambda: _COPY_WGSL, 1, 1)
    pending = torch.arange(10.0) * 3
    x = torch.ones(10)
    buf = x._storage.buffer
    params = struct.pack("<I", 10)
    with pytest.raises(GPUError, match="read and write one buffer"):
        rt.dispatch(kern, [buf, buf], params, 1)
    with pytest.raises(GPUError, match="takes 1 \\+ 1 buffers"):
        rt.dispatch(kern, [buf], params, 1)
    # nothing of the batch was lost, and the kernel works with valid buffers
    out = torch.zeros(10)
    rt.dispatch(kern, [pending._storage.buffer, out._storage.buffer], params, 1)
    assert out.tolist() == [3.0 * k for k in range(10)]
    assert pending.tolist() == [3.0 * k for k in range(10)]


def test_no_adapter_error_says_how_to_get_one(monkeypatch):
    monkeypatch.setattr(adapter.wgpu.gpu, "enumerate_adapters_sync", lambda: [])
    with pytest.raises(NoAdapterError, match="mesa-vulkan-drivers"):
        adapter.choose_adapter()
    assert issubclass(NoAdapterError, RuntimeError)


# ---- python -m wgtorch info, WGTORCH_ADAPTER ----------------------------------------------


def _run_info(env_extra):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "wgtorch", "info"], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def test_info_command(rt):
    proc = _run_info({})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    info = rt.info
    assert info["device"] in out and info["backend_type"] in out and info["adapter_type"] in out
    for word in ("max storage binding", "max buffer", "workgroup", "f16=", "int64=",
                 "timestamp-query=", "subgroups="):
        assert word in out, word
    binding_mib = rt.limits["max-storage-buffer-binding-size"] / 2**20
    assert f"{binding_mib:.0f} MiB" in out


def test_adapter_selection_by_environment(rt):
    proc = _run_info({"WGTORCH_ADAPTER": "no-such-gpu"})
    assert proc.returncode != 0
    assert "WGTORCH_ADAPTER='no-such-gpu' matches no adapter" in proc.stderr
    assert rt.info["device"] in proc.stderr  # the message lists the adapters found
    backend = rt.info["backend_type"].lower()
    name_part = rt.info["device"].split()[0].lower()
    proc = _run_info({"WGTORCH_ADAPTER": f"{backend},{name_part}"})
    assert proc.returncode == 0, proc.stderr
    assert rt.info["device"] in proc.stdout
