"""The communication thread: every MPI call of a process, in the order the process made them.

MPI matches collectives by the order in which each rank issues them on a communicator, so all
of a process's MPI traffic goes through one thread (as PyTorch's ProcessGroupMPI does). A
``Job`` is a generator that starts nonblocking MPI requests (``Iallreduce``, ``Isend``...)
and yields them; the thread starts queued jobs in order, polls the requests of every job in
flight, and resumes a job when its requests complete. Several jobs are in flight at once (the
gradient buckets of DDP, an ``isend`` beside an ``irecv``), which is what lets communication
overlap the backward pass and keeps point-to-point exchanges from deadlocking.

Why poll instead of blocking in MPI: a blocking MPI call spins a core at 100% (MPICH polls
shared memory), and here the ranks share the CPU cores with the software GPU adapter. The thread
tests its requests; for 1 ms after any progress it tests again at once (yielding the GIL in
between: a large message needs many progress calls), then it sleeps a little longer each time
nothing progresses (20 us up to 1 ms). A new job wakes it at once. The thread never touches a GPU tensor: jobs move numpy arrays, and
the calling thread reads tensors back before submitting and uploads results after completion.

A job that does not complete within its process group's ``timeout`` fails with
``DistBackendError`` (the usual cause: a rank died or left early, or the ranks issued different
collectives). The communicator is then in an unknown state, so every later job fails at once.
Jobs marked ``serial`` (several dependent MPI steps, e.g. an object collective: sizes, then
bytes) hold back the jobs queued after them until they finish, so that every rank issues the
same sequence of MPI calls.
"""

import collections
import threading
import time

POLL_MIN_S = 20e-6
POLL_MAX_S = 1e-3
SPIN_S = 1e-3  # after progress, poll without sleeping this long


class DistError(RuntimeError):
    """Base of the errors raised by ``wgtorch.distributed`` (PyTorch's ``DistError``)."""


class DistBackendError(DistError):
    """The communication backend failed (a timeout, an MPI error)."""


class DistNetworkError(DistError):
    """A network failure while connecting the ranks."""


class DistStoreError(DistError):
    """Raised by a rendezvous store (kept for PyTorch scripts that catch it)."""


for _cls in (DistError, DistBackendError, DistNetworkError, DistStoreError):
    _cls.__module__ = "wgtorch.distributed"  # where users import them from
del _cls


class Job:
    """One operation for the communication thread.

    ``steps`` is a generator: it starts MPI requests and yields them (one request or a list);
    the engine sends back the list of their ``MPI.Status`` when they complete. Its return value
    is the job's result. ``name`` appears in errors, ``timeout`` is in seconds.
    """

    __slots__ = ("name", "steps", "timeout", "serial", "deadline", "requests", "statuses",
                 "result", "error", "done", "rank")

    def __init__(self, name, steps, timeout, serial=False, rank=None):
        self.name = name
        self.steps = steps
        self.timeout = timeout
        self.serial = serial
        self.rank = rank
        self.deadline = None
        self.requests = None
        self.statuses = None
        self.result = None
        self.error = None
        self.done = threading.Event()

    def wait(self, timeout=None):
        """The job's result once it has completed; its error if it failed.

        ``timeout`` (seconds) bounds this wait only; the job's own deadline still applies.
        """
        if not self.done.wait(timeout):
            raise DistBackendError(
                f"{self._who()}{self.name} did not complete within the {timeout:g} s given to "
                "wait()"
            )
        if self.error is not None:
            raise self.error
        return self.result

    def _who(self):
        return "" if self.rank is None else f"[Rank {self.rank}] "


class Engine:
    """The thread that issues and completes a process's MPI operations (see the module doc)."""

    def __init__(self, mpi):
        self.mpi = mpi
        self._queue = collections.deque()  # submitted, not yet started
        self._cond = threading.Condition()
        self._failure = None  # the first timeout: nothing can run after it
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="wgtorch-distributed",
                                        daemon=True)
        self._thread.start()

    def submit(self, job):
        """Queue ``job``; it starts after every job submitted before it has started."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the process group was destroyed")
            self._queue.append(job)
            self._cond.notify()
        return job

    def run(self, job, timeout=None):
        """Submit ``job`` and wait for its result."""
        return self.submit(job).wait(timeout)

    def stop(self, grace_s=5.0):
        """Finish the jobs in flight (up to ``grace_s``), then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(grace_s)

    # ---- the thread ----------------------------------------------------------------------

    def _run(self):
        in_flight = []
        delay = POLL_MIN_S
        last_progress = 0.0
        while True:
            with self._cond:
                while not self._queue and not in_flight and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._queue and not in_flight:
                    return
                progressed = self._admit(in_flight)
            for job in list(in_flight):
                if self._poll(job):
                    progressed = True
                if job.done.is_set():
                    in_flight.remove(job)
            self._expire(in_flight)
            now = time.monotonic()
            if progressed:
                delay = POLL_MIN_S
                last_progress = now
                continue
            if in_flight and now - last_progress < SPIN_S:
                time.sleep(0)  # lets the calling thread run (the GIL), then tests again
                continue
            with self._cond:
                if not self._queue or any(j.serial for j in in_flight):
                    self._cond.wait(delay)
            delay = min(2 * delay, POLL_MAX_S)

    def _admit(self, in_flight):
        """Start queued jobs in order, unless a serial job is still running. Holds the lock."""
        started = False
        while self._queue and not any(j.serial for j in in_flight):
            job = self._queue.popleft()
            started = True
            if self._failure is not None:
                self._fail(job, self._failure)
                continue
            if job.timeout is not None:
                job.deadline = time.monotonic() + job.timeout
            self._step(job, None)
            if not job.done.is_set():
                in_flight.append(job)
        return started

    def _poll(self, job):
        """Test the job's requests; resume it when they have completed. True on progress."""
        try:
            if not self.mpi.Request.Testall(job.requests, job.statuses):
                return False
        except Exception as exc:  # an MPI error: fail this job, not the thread
            self._fail(job, DistBackendError(f"{job._who()}{job.name} failed in MPI: {exc}"))
            return True
        self._step(job, job.statuses)
        return True

    def _step(self, job, statuses):
        """Run the job's generator up to its next MPI requests (or to its end)."""
        try:
            pending = job.steps.send(statuses) if statuses is not None else next(job.steps)
        except StopIteration as stop:
            job.result = stop.value
            job.requests = None
            job.done.set()
            return
        except Exception as exc:
            if not isinstance(exc, DistError) and type(exc).__module__.startswith("mpi4py"):
                exc = DistBackendError(f"{job._who()}{job.name} failed in MPI: {exc}")
            self._fail(job, exc)
            return
        job.requests = list(pending) if isinstance(pending, (list, tuple)) else [pending]
        job.statuses = [self.mpi.Status() for _ in job.requests]

    def _expire(self, in_flight):
        now = time.monotonic()
        for job in list(in_flight):
            if job.deadline is not None and now > job.deadline:
                error = DistBackendError(
                    f"{job._who()}{job.name} timed out after {job.timeout:g} s waiting for the "
                    "other ranks (the process group's timeout). A rank may have failed or exited "
                    "early, or the ranks called different collectives."
                )
                self._failure = DistBackendError(
                    f"an earlier operation ({job.name}) timed out; the process group cannot be "
                    "used any more"
                )
                for other in in_flight:
                    self._fail(other, error if other is job else self._failure)
                in_flight.clear()
                return

    @staticmethod
    def _fail(job, error):
        job.error = error
        job.requests = None
        job.done.set()


__all__ = ["DistBackendError", "DistError", "DistNetworkError", "DistStoreError", "Engine",
           "Job"]
