"""A caching allocator for GPU buffers, by size class.

Sizes round up to a class (256 B minimum, then four classes per power of two), so a freed
buffer serves any later request of the same class. Buffers of one class are interchangeable,
which also lets bind groups be reused when the same buffers come back.
"""

import wgpu

STORAGE_USAGE = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
MIN_CLASS = 256


def size_class(nbytes):
    """The smallest class >= nbytes: 256, then 2^k * (1, 1.25, 1.5, 1.75)."""
    if nbytes <= MIN_CLASS:
        return MIN_CLASS
    top = 1 << (nbytes - 1).bit_length()  # next power of two
    step = top // 8
    return min(top, ((nbytes + step - 1) // step) * step)


class BufferPool:
    """Free lists of buffers per size class, with PyTorch-style memory statistics."""

    def __init__(self, device, usage=STORAGE_USAGE):
        self.device = device
        self.usage = usage
        self.free = {}  # size class -> [buffer]
        # NOTE: the pool owns every buffer it hands out. A tensor that dies in a reference
        # cycle may be collected together with its buffer object; without this reference
        # wgpu would release the buffer first and the storage would return a dead one.
        self.in_use = {}  # id -> buffer
        self.allocated_bytes = 0
        self.reserved_bytes = 0
        self.on_destroy = None  # callback(buffer) so caches can drop what references it

    def acquire(self, nbytes, max_size=None):
        """A buffer of at least ``nbytes``: a cached one of its size class, else a new one.

        ``max_size`` caps the class (a buffer is bound whole, so it must not exceed the
        largest storage binding); a capped buffer is ``nbytes`` rounded up to 16 bytes.
        """
        cls = size_class(nbytes)
        if max_size is not None and cls > max_size:
            cls = -(-nbytes // 16) * 16
        bucket = self.free.get(cls)
        if bucket:
            buf = bucket.pop()
        else:
            buf = self.device.create_buffer(size=cls, usage=self.usage)
            self.reserved_bytes += cls
        self.allocated_bytes += cls
        self.in_use[id(buf)] = buf
        return buf

    def release(self, buf):
        if self.in_use.pop(id(buf), None) is None:
            return  # not ours, or released twice
        self.allocated_bytes -= buf.size
        self.free.setdefault(buf.size, []).append(buf)

    def empty_cache(self):
        for bucket in self.free.values():
            for buf in bucket:
                self.reserved_bytes -= buf.size
                if self.on_destroy:
                    self.on_destroy(buf)
                buf.destroy()
        self.free.clear()
