"""``Work``: the handle an ``async_op=True`` call returns.

The MPI part of an operation runs on the communication thread (``engine.py``); what touches
GPU tensors (uploading a received or reduced buffer into the output tensors) runs on the
calling thread, once: in ``wait()``, or at the next ``wgtorch.distributed`` call after the
operation completed (as Gloo fills its outputs in the background, a script that forgets to
``wait()`` still sees its result by the next collective).
"""

_unfinished = []  # works whose outputs are not uploaded yet, oldest first


class Work:
    """A started operation. ``wait()`` blocks until it completed and its output tensors hold
    the result; ``is_completed()`` asks without blocking.

    Example::

        work = dist.all_reduce(t, async_op=True)
        ...                      # overlap other work
        work.wait()              # t now holds the sum
    """

    _sender = ()  # irecv: the sender's global rank, once received

    def __init__(self, job, finish=None, outputs=()):
        self._job = job
        self._finish = finish  # uploads the job's result into the outputs (calling thread)
        self._outputs = list(outputs)
        if finish is not None:
            _unfinished.append(self)

    def wait(self, timeout=None):
        """Block until the operation completed (raising its error, e.g. a timeout); True.

        ``timeout`` (a ``datetime.timedelta`` or seconds) bounds this wait only.
        """
        if timeout is not None and hasattr(timeout, "total_seconds"):
            timeout = timeout.total_seconds()
        try:
            result = self._job.wait(timeout)
        except Exception:
            if self._job.done.is_set():
                self._drop()  # failed: its outputs will never be written
            raise
        self._complete(result)
        return True

    def _complete(self, result):
        finish = self._drop()
        if finish is not None:
            finish(result)

    def _drop(self):
        finish, self._finish = self._finish, None
        if finish is not None:
            _unfinished.remove(self)
        return finish

    def is_completed(self):
        """True once the operation has completed (its outputs are then up to date)."""
        if not self._job.done.is_set():
            return False
        if self._job.error is None:
            self._complete(self._job.result)
        return True

    def is_success(self):
        """True when the operation completed without error."""
        return self._job.done.is_set() and self._job.error is None

    def exception(self):
        """The operation's error, or None."""
        return self._job.error

    def result(self):
        """The output tensors of the operation (after ``wait()``)."""
        return list(self._outputs)

    def synchronize(self):
        self.wait()

    def source_rank(self):
        """The sender of an ``irecv`` (global rank), after waiting for it; -1 for others."""
        self.wait()
        return self._sender[0] if self._sender else -1

    def __repr__(self):
        state = "completed" if self._job.done.is_set() else "pending"
        return f"<wgtorch.distributed.Work {self._job.name} ({state})>"


def finish_completed(block=False):
    """Upload the outputs of the operations that have completed (called on each API entry);
    with ``block``, wait for all of them first. A failed operation raises its error only
    where its own ``wait()`` is called."""
    for work in list(_unfinished):
        job = work._job
        if block:
            job.done.wait()
        if not job.done.is_set():
            continue
        if job.error is None:
            work._complete(job.result)
        else:
            work._drop()


def wait_all():
    """Wait for every unfinished operation (barrier and destroy_process_group do this)."""
    finish_completed(block=True)


__all__ = ["Work", "finish_completed", "wait_all"]
