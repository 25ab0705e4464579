"""A failing rank ends the whole job, with its traceback.

An uncaught exception in one rank would otherwise leave the others blocked in their next
collective: MPI's launcher (Hydra) does not end a job when one process merely exits with an
error. So, in a process started by an MPI launcher with more than one rank, an uncaught
exception prints its traceback as usual and then ends the job:

- if MPI is running in this process, with ``MPI_Abort`` (the launcher then stops every rank
  and exits with the error code);
- if it is not yet (the rank failed before ``init_process_group``), by killing this process
  with SIGKILL, which the launcher reports as a bad termination, stopping the other ranks.
  ``MPI_Init`` cannot be used to abort here: it waits for the other ranks to start MPI too.

A rank that exits *without* an error while the others wait for it is caught by the timeout of
the operation they wait in (see ``engine.py``): they raise ``DistBackendError``, which ends the
job the same way.
"""

import os
import signal
import sys

_previous_hook = None
_owner_pid = None  # the rank's process (a forked DataLoader worker must not end the job)
abort_comm = None  # the world communicator once joined across nodes (several MPI jobs)


def _abort_job(exc_type, exc, tb):
    hook = _previous_hook or sys.__excepthook__
    try:
        hook(exc_type, exc, tb)
    finally:
        if os.getpid() == _owner_pid:
            _end_job(1)


def _end_job(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        (abort_comm or mpi.COMM_WORLD).Abort(code)
    os.kill(os.getpid(), signal.SIGKILL)


def install(world_size):
    """End the job on an uncaught exception when several ranks run (idempotent)."""
    global _previous_hook, _owner_pid
    if world_size <= 1 or sys.excepthook is _abort_job:
        return
    _owner_pid = os.getpid()
    _previous_hook = sys.excepthook
    sys.excepthook = _abort_job


__all__ = ["install"]
