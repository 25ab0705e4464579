"""Moving tensors between the GPU and the host arrays MPI sends, with whole-buffer transfers.

Each call reads its input tensors back with ONE readback of one flat buffer (several tensors
are first concatenated on the GPU) and writes its results with ONE upload of one flat buffer,
then one copy kernel per output tensor into place (outputs may be strided views). Never one
transfer per element or per tensor. Both transfers go through the backend's pooled buffers
(its staging pool for readbacks, its caching allocator for the uploaded buffer), reached
through public tensor operations (``numpy()``, ``tensor()``, ``copy_``), so this package
needs no GPU code of its own.
"""

import numpy as np

from .. import cat, no_grad, tensor as new_tensor


def host_dtype(t):
    """The numpy dtype of ``t``'s elements as ``numpy()`` returns them."""
    return np.dtype(t.dtype.np_dtype)


def to_host(tensors):
    """The elements of ``tensors`` (one dtype) as one flat numpy array: one readback."""
    flat = [t.detach().reshape(-1) for t in tensors]
    if not flat:
        return np.empty(0, dtype=np.float32)
    if len(flat) > 1:
        flat = [cat(flat)]
    return np.ascontiguousarray(flat[0].numpy())


def empty_host(tensors):
    """An uninitialised flat host array with room for ``tensors``' elements."""
    n = sum(t.numel() for t in tensors)
    return np.empty(n, dtype=host_dtype(tensors[0]) if tensors else np.float32)


def from_host(array, tensors):
    """Write the flat ``array`` into ``tensors`` in order: one upload, a copy into each."""
    if not tensors:
        return
    total = sum(t.numel() for t in tensors)
    if array.size != total:
        raise RuntimeError(f"internal error: {array.size} received elements for {total} outputs")
    if total == 0:
        return
    first = tensors[0]
    staged = new_tensor(array, dtype=first.dtype, device=first.device)
    with no_grad():
        offset = 0
        for t in tensors:
            n = t.numel()
            if n:
                t.copy_(staged[offset:offset + n].view(t.shape))
            offset += n


__all__ = ["empty_host", "from_host", "host_dtype", "to_host"]
