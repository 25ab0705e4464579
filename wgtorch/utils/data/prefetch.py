"""GPU prefetch: batches reach the GPU while the previous training step computes.

GPU work in wgtorch is asynchronous already (ops record dispatches; a batch of them is
submitted and runs while Python goes on), so prefetching needs no copy stream:

1. Each ``next()`` first submits the work recorded since the previous batch, i.e. the
   training step that just used it, so the GPU computes step k while the host prepares
   batch k+1.
2. Batch k+1 is then fetched, collated and uploaded (one ``write_buffer`` per field, or one
   gather kernel per field for datasets of GPU tensors), queued behind step k.
3. With worker processes, batches that have already arrived are uploaded ahead too, up to
   ``prefetch_factor`` of them beyond the one being returned; the loader never blocks for a
   batch before it is the one asked for.
"""

from collections import deque

from ...cuda import submit_pending

NOT_READY = object()  # what a producer asked not to block returns when nothing is ready


class _Failure:
    """An exception met while producing a batch ahead: raised when that batch is due."""

    def __init__(self, exc):
        self.exc = exc


class DevicePrefetcher:
    """Up to ``depth`` batches uploaded ahead of the one being returned."""

    def __init__(self, depth):
        self.depth = depth
        self.ready = deque()
        self.exhausted = False

    def next(self, produce):
        """The next batch. ``produce(block)`` returns one (NOT_READY when ``block`` is false
        and none is ready yet) and raises StopIteration at the end."""
        submit_pending()  # NOTE: creates no device: loading alone must not
        while not self.exhausted and len(self.ready) <= self.depth:
            block = not self.ready
            try:
                batch = produce(block)
            except StopIteration:
                self.exhausted = True
                break
            except Exception as exc:
                if block:
                    raise
                # Raised in order, when its turn comes. NOTE: without its traceback, whose
                # frames hold this prefetcher: a cycle would keep the uploaded batches alive.
                self.ready.append(_Failure(exc.with_traceback(None)))
                break
            if batch is NOT_READY:
                break
            self.ready.append(batch)
        if not self.ready:
            raise StopIteration
        batch = self.ready.popleft()
        if isinstance(batch, _Failure):
            exc, batch = batch.exc, None
            try:
                raise exc
            finally:
                exc = None
        return batch
