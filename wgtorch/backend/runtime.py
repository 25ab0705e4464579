"""The one object that talks to the GPU: records dispatches, submits them in batches.

Deferred submission: ``dispatch`` records into a single open compute pass and returns. The
batch is submitted by ``flush`` when the host needs a value (``read``), when a host upload
would overwrite a buffer the unsubmitted batch still uses, when the per-dispatch parameter
ring is full, or every ``FLUSH_EVERY`` dispatches so the GPU starts early.

Per-dispatch parameters (shapes, strides, scalars) go into slots of one uniform buffer bound
with a dynamic offset, so a bind group depends only on the storage buffers and is reused
whenever the same buffers come back from the pool.

Errors found on the GPU (an index out of range, an integer result too large for int32
storage) cannot raise where the kernel runs. A kernel that can detect one binds
``error_buffer`` (a sticky flag: the first error wins) and reports the ``error_site`` id its
launcher registered with the message. Every ``read`` copies the flag in the same submit as
the data and raises the recorded error there (like CUDA's device-side asserts), then clears
it: no extra wait, and the device stays usable.
"""

import os
import struct

import wgpu

from .adapter import choose_adapter, create_device
from .errors import GPUError, translate
from .pool import BufferPool

PARAM_SLOT_BYTES = 256  # one dispatch's parameters; also >= every adapter's offset alignment
PARAM_SLOTS = 1024
FLUSH_EVERY = 256
MAX_BIND_GROUPS = 8192
STAGING_USAGE = wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST
ERROR_BYTES = 16  # the error flag: site id (0: none), value low and high words, flags
ERROR_LOWER_BOUND = 1  # flags bit: the value is only a lower bound of the magnitude
MAX_ERROR_SITES = 4096


class Kernel:
    """A compiled compute pipeline and how many storage buffers it reads and writes."""

    __slots__ = ("name", "pipeline", "layout", "layout_key", "n_in", "n_out", "workgroup_size")

    def __init__(self, name, pipeline, layout, layout_key, n_in, n_out, workgroup_size):
        self.name = name
        self.pipeline = pipeline
        self.layout = layout
        self.layout_key = layout_key
        self.n_in = n_in
        self.n_out = n_out
        self.workgroup_size = workgroup_size


class Runtime:
    """Adapter, device, caches and the pending command batch."""

    def __init__(self):
        # Mesa's shader cache makes the second run skip LLVM compilation of every pipeline.
        os.environ.setdefault(
            "MESA_SHADER_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "wgtorch")
        )
        self.adapter = choose_adapter()
        self.device = create_device(self.adapter)
        self.queue = self.device.queue
        self.info = dict(self.adapter.info)
        self.limits = dict(self.device.limits)
        self.features = set(self.device.features)
        self.max_binding_bytes = min(
            self.limits["max-storage-buffer-binding-size"], self.limits["max-buffer-size"]
        )
        self.max_workgroups = self.limits["max-compute-workgroups-per-dimension"]
        self.is_cpu_adapter = self.info.get("adapter_type") == "CPU"

        self.pool = BufferPool(self.device)
        self.pool.on_destroy = self._forget_buffer
        self.staging = BufferPool(self.device, STAGING_USAGE)
        self.params_buffer = self.device.create_buffer(
            size=PARAM_SLOT_BYTES * PARAM_SLOTS,
            usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST,
        )
        self.sync_buffer = self.pool.acquire(4)
        self.error_buffer = self.pool.acquire(ERROR_BYTES)
        self.queue.write_buffer(self.error_buffer, 0, bytes(ERROR_BYTES))
        self.error_sites = {}  # (exception type, message) -> site id
        self.error_messages = [None]  # site id -> (exception type, message); 0 means none
        self.params_host = bytearray(PARAM_SLOT_BYTES * PARAM_SLOTS)
        self.params_used = 0  # slots filled in the pending batch

        self.kernels = {}
        self._timestamps = None  # (query set, resolve buffer), made on first gpu_time
        self.layouts = {}  # (n_in, n_out) -> (bind group layout, pipeline layout)
        self.bind_groups = {}
        self.encoder = None
        self.compute_pass = None
        self.pipeline_pass = self.pipeline_set = None  # the open pass and its current pipeline
        self.pending_buffers = set()  # ids of buffers the unsubmitted batch touches
        self.pending_dispatches = 0
        self.timing = False  # inside gpu_time: one timestamped pass, no automatic flush
        self.dispatch_count = 0  # totals since start, for tests and benchmarks
        self.submit_count = 0
        self.read_count = 0  # host readbacks (each one waits for the GPU)

    # ---- kernels -----------------------------------------------------------------------

    def _layouts(self, n_in, n_out):
        key = (n_in, n_out)
        if key not in self.layouts:
            ro = {"type": wgpu.BufferBindingType.read_only_storage}
            rw = {"type": wgpu.BufferBindingType.storage}
            compute = wgpu.ShaderStage.COMPUTE
            entries = [
                {"binding": i, "visibility": compute, "buffer": ro if i < n_in else rw}
                for i in range(n_in + n_out)
            ]
            entries.append(
                {
                    "binding": n_in + n_out,
                    "visibility": wgpu.ShaderStage.COMPUTE,
                    "buffer": {"type": wgpu.BufferBindingType.uniform, "has_dynamic_offset": True},
                }
            )
            bgl = self.device.create_bind_group_layout(entries=entries)
            self.layouts[key] = (bgl, self.device.create_pipeline_layout(bind_group_layouts=[bgl]))
        return self.layouts[key]

    def kernel(self, key, make_source, n_in, n_out, workgroup_size=64):
        """The cached kernel for ``key``; ``make_source()`` gives its WGSL on first use.

        WGSL convention: bindings 0..n_in-1 are ``var<storage, read>`` inputs, then n_out
        ``var<storage, read_write>`` outputs, then one ``var<uniform>`` params struct.
        """
        kern = self.kernels.get(key)
        if kern is None:
            source = make_source()
            bgl, layout = self._layouts(n_in, n_out)
            name = key[0] if isinstance(key, tuple) else str(key)
            try:
                module = self.device.create_shader_module(code=source)
                pipeline = self.device.create_compute_pipeline(
                    layout=layout, compute={"module": module, "entry_point": "main"}
                )
            except wgpu.GPUError as exc:
                raise translate(exc, f"the shader of kernel {name!r}") from None
            kern = Kernel(name, pipeline, bgl, (n_in, n_out), n_in, n_out, workgroup_size)
            self.kernels[key] = kern
        return kern

    # ---- recording -----------------------------------------------------------------------

    def _pass(self):
        if self.compute_pass is None:
            if self.encoder is None:
                self.encoder = self.device.create_command_encoder()
            self.compute_pass = self.encoder.begin_compute_pass()
        return self.compute_pass

    def _encoder(self):
        if self.compute_pass is not None:
            self.compute_pass.end()
            self.compute_pass = None
        if self.encoder is None:
            self.encoder = self.device.create_command_encoder()
        return self.encoder

    def _bind_group(self, kern, buffers):
        key = (kern.layout_key, *map(id, buffers))
        entry = self.bind_groups.get(key)
        if entry is None:
            if len(self.bind_groups) >= MAX_BIND_GROUPS:
                self.bind_groups.clear()
            entries = [{"binding": i, "resource": {"buffer": b}} for i, b in enumerate(buffers)]
            entries.append(
                {
                    "binding": len(buffers),
                    "resource": {"buffer": self.params_buffer, "size": PARAM_SLOT_BYTES},
                }
            )
            try:
                bg = self.device.create_bind_group(layout=kern.layout, entries=entries)
            except wgpu.GPUError as exc:
                raise translate(exc, f"the buffers of kernel {kern.name!r}") from None
            entry = self.bind_groups[key] = (bg, tuple(buffers))
        return entry[0]

    def grid(self, workgroups):
        """Fold a 1-D workgroup count into (x, y, z) under the per-dimension limit."""
        limit = self.max_workgroups
        if workgroups <= limit:
            return (max(workgroups, 1), 1, 1)
        y = -(-workgroups // limit)
        if y <= limit:
            return (limit, y, 1)
        z = -(-y // limit)
        return (limit, limit, z)

    def dispatch(self, kern, buffers, params, workgroups):
        """Record one dispatch of ``kern`` over ``buffers`` (inputs then outputs).

        ``params`` is the bytes of the kernel's uniform struct (at most PARAM_SLOT_BYTES);
        ``workgroups`` a 1-D count, folded into Y/Z when it exceeds the adapter's limit.
        """
        if isinstance(workgroups, tuple):  # an explicit (x, y, z) grid
            grid = workgroups
            if min(grid) <= 0:
                return
        else:
            if workgroups <= 0:
                return
            grid = self.grid(workgroups)
        self._check_dispatch(kern, buffers, params)
        if self.params_used >= PARAM_SLOTS:
            if self.timing:
                raise RuntimeError(f"gpu_time: at most {PARAM_SLOTS} dispatches per timed pass")
            self.flush()
        slot = self.params_used * PARAM_SLOT_BYTES
        self.params_host[slot : slot + len(params)] = params
        self.params_used += 1
        bg = self._bind_group(kern, buffers)
        cpass = self._pass()
        if cpass is not self.pipeline_pass or kern.pipeline is not self.pipeline_set:
            cpass.set_pipeline(kern.pipeline)  # a pass keeps its pipeline: set it on change
            self.pipeline_pass, self.pipeline_set = cpass, kern.pipeline
        cpass.set_bind_group(0, bg, [slot])
        cpass.dispatch_workgroups(*grid)
        self.pending_buffers.update(map(id, buffers))
        self.pending_dispatches += 1
        self.dispatch_count += 1
        if self.pending_dispatches >= FLUSH_EVERY and not self.timing:
            self.flush()

    @staticmethod
    def _check_dispatch(kern, buffers, params):
        """Refuse, before recording, what wgpu would only reject when the batch is submitted
        (which would lose every other dispatch of the batch)."""
        if len(buffers) != kern.n_in + kern.n_out or len(params) > PARAM_SLOT_BYTES:
            raise GPUError(
                f"wgtorch: kernel {kern.name!r} takes {kern.n_in} + {kern.n_out} buffers and at "
                f"most {PARAM_SLOT_BYTES} parameter bytes, got {len(buffers)} and {len(params)}"
            )
        inputs = buffers[: kern.n_in]
        for out in buffers[kern.n_in :]:
            if any(out is b for b in inputs):
                raise GPUError(
                    f"wgtorch: kernel {kern.name!r} would read and write one buffer in one "
                    "dispatch (wgpu forbids it; copy the input first)"
                )

    def copy(self, src, src_offset, dst, dst_offset, nbytes):
        """Record a buffer-to-buffer copy in the pending batch."""
        if nbytes:
            self._encoder().copy_buffer_to_buffer(src, src_offset, dst, dst_offset, nbytes)
            self.pending_buffers.update((id(src), id(dst)))

    def flush(self):
        """Submit the pending batch (no wait)."""
        if self.encoder is None:
            return
        if self.compute_pass is not None:
            self.compute_pass.end()
            self.compute_pass = None
        n = self.pending_dispatches
        try:
            if self.params_used:
                used = self.params_used * PARAM_SLOT_BYTES
                self.queue.write_buffer(self.params_buffer, 0, self.params_host, 0, used)
            self.queue.submit([self.encoder.finish()])
        except wgpu.GPUError as exc:
            raise translate(exc, f"a batch of {n} dispatches") from None
        finally:
            self.encoder = None
            self.params_used = 0
            self.pending_dispatches = 0
            self.pending_buffers.clear()
        self.submit_count += 1

    def synchronize(self):
        """Submit pending work and wait until the GPU has finished it; raise the first error a
        kernel flagged (see ``error_site``)."""
        # NOTE: wgpu-py's on_submitted_work_done_sync is broken with wgpu-native 0.32; mapping a
        # buffer after the batch waits for it just the same.
        self.read(self.sync_buffer, 0, 4)

    def gpu_time(self, record):
        """Seconds the GPU spent on the dispatches ``record()`` makes, from timestamp queries.

        The dispatches run in their own compute pass with timestamps at its start and end.
        Returns None when the adapter lacks 'timestamp-query' (callers then use wall clock).
        """
        if "timestamp-query" not in self.features:
            return None
        self.flush()
        if self._timestamps is None:
            self._timestamps = (
                self.device.create_query_set(type=wgpu.QueryType.timestamp, count=2),
                self.device.create_buffer(
                    size=256, usage=wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC
                ),
            )
        query_set, resolved = self._timestamps
        self.encoder = self.device.create_command_encoder()
        self.compute_pass = self.encoder.begin_compute_pass(
            timestamp_writes={
                "query_set": query_set,
                "beginning_of_pass_write_index": 0,
                "end_of_pass_write_index": 1,
            }
        )
        self.timing = True
        try:
            record()
        finally:
            self.timing = False
        self._encoder().resolve_query_set(query_set, 0, 2, resolved, 0)
        start, end = struct.unpack("<QQ", self.read(resolved, 0, 16))
        return max(end - start, 0) * 1e-9  # WebGPU timestamps are nanoseconds

    # ---- memory --------------------------------------------------------------------------

    def alloc(self, nbytes):
        if nbytes > self.max_binding_bytes:
            raise RuntimeError(
                f"wgtorch: a tensor of {nbytes} bytes exceeds this adapter's largest storage "
                f"binding ({self.max_binding_bytes} bytes); split it into smaller tensors"
            )
        try:
            return self.pool.acquire(max(nbytes, 4), self.max_binding_bytes)
        except wgpu.GPUError as exc:
            raise translate(exc, f"an allocation of {nbytes} bytes") from None

    def free(self, buf):
        self.pool.release(buf)

    def _forget_buffer(self, buf):
        stale = [k for k, (_, bufs) in self.bind_groups.items() if any(b is buf for b in bufs)]
        for k in stale:
            del self.bind_groups[k]

    def empty_cache(self):
        self.flush()
        self.pool.empty_cache()
        self.staging.empty_cache()

    # ---- host transfers --------------------------------------------------------------------

    def write(self, buf, data, offset=0):
        """Upload bytes into ``buf``. Ordered after every dispatch recorded before it."""
        # NOTE: queue.write_buffer runs before any command buffer submitted after it, so a
        # buffer the unsubmitted batch still reads (a recycled one) must be flushed first.
        if id(buf) in self.pending_buffers:
            self.flush()
        self.queue.write_buffer(buf, offset, data)

    def read(self, buf, offset, nbytes):
        """Bytes of ``buf[offset:offset+nbytes]`` after all recorded work (flushes).

        Raises the first error a kernel flagged since the last read (see ``error_site``).
        """
        if nbytes == 0:
            return b""
        start = offset - offset % 4
        size = -(-(offset + nbytes - start) // 4) * 4
        staging = self.staging.acquire(size + ERROR_BYTES)
        try:
            self.copy(buf, start, staging, 0, size)
            # the error flag rides along in the same submit: checking it costs no extra wait
            self.copy(self.error_buffer, 0, staging, size, ERROR_BYTES)
            self.flush()
            staging.map_sync(wgpu.MapMode.READ, 0, size + ERROR_BYTES)
            data = staging.read_mapped(0, size + ERROR_BYTES)
            staging.unmap()
        except wgpu.GPUError as exc:
            raise translate(exc, "a read back to the host") from None
        finally:
            self.staging.release(staging)
        self.read_count += 1
        self._raise_flagged(bytes(data[size:]))
        return bytes(data[offset - start : offset - start + nbytes])

    # ---- errors detected on the GPU ---------------------------------------------------------

    def error_site(self, exc_type, message):
        """The id a kernel writes into ``error_buffer`` when it detects this error.

        ``message`` may contain ``{value}``, replaced by the offending value the kernel
        reports. Ids are interned, so a launcher may ask for one on every launch.
        """
        key = (exc_type, message)
        site = self.error_sites.get(key)
        if site is None:
            site = len(self.error_messages)
            self.error_sites[key] = site
            self.error_messages.append(key)
        return site

    check_errors = synchronize

    def _raise_flagged(self, words):
        site, lo, hi, flags = struct.unpack("<4I", words)
        known = self.error_messages[site] if 0 < site < len(self.error_messages) else None
        if len(self.error_messages) > MAX_ERROR_SITES:  # no recorded work refers to them now
            self.error_sites.clear()
            del self.error_messages[1:]
        if site == 0:
            return
        # NOTE: nothing is pending after a read, so this write lands before any later work
        self.queue.write_buffer(self.error_buffer, 0, bytes(ERROR_BYTES))
        value = lo | hi << 32
        value -= (value >> 63) << 64
        text = f"of magnitude at least {abs(value)}" if flags & ERROR_LOWER_BOUND else str(value)
        exc_type, message = known or (RuntimeError, "a kernel flagged an error (value {value})")
        raise exc_type(
            message.replace("{value}", text) + "\n(detected on the GPU while running an op "
            "recorded earlier, reported at this host readback as CUDA reports a device-side "
            "assert; that op's output is not valid)"
        )

_runtime = None


def get_runtime():
    """The process-wide runtime, created on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime
