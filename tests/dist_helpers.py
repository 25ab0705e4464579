"""Launching 2-rank jobs for the distributed tests, each with a hard timeout.

A worker script (tests/dist_workers/) runs on every rank, checks its results against numpy
itself, and prints ``OK <check>`` lines; an assertion failure in a rank ends the whole job
(wgtorch.distributed's abort-on-exception), so a test only needs the exit code and the lines.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKERS = os.path.join(ROOT, "tests", "dist_workers")
HARD_TIMEOUT_S = 240  # no job may hang a test run; each job normally takes a few seconds


def mpiexec():
    path = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return path if os.path.exists(path) else None


def require_mpi():
    pytest.importorskip("mpi4py")
    if mpiexec() is None:
        pytest.skip("no mpiexec beside this Python (pip install 'wgtorch[distributed]')")


def job_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"):
        env.pop(name, None)
    env.update(extra or {})
    return env


class Job:
    """The outcome of one launched job."""

    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode = returncode
        self.output = stdout + stderr
        self.seconds = seconds

    def ok_lines(self, rank):
        """The checks rank ``rank`` reported (lines of different ranks may interleave)."""
        found = re.findall(r"\[rank (\d+)\] OK ([^\n\[]+)", self.output)
        return {name.strip() for r, name in found if int(r) == rank}

    def describe(self):
        return f"exit code {self.returncode} after {self.seconds:.1f} s; output:\n{self.output}"


def launch(worker, *args, nproc=2, via="launcher", timeout=HARD_TIMEOUT_S, env=None):
    """Run tests/dist_workers/<worker> on ``nproc`` ranks (through ``python -m
    wgtorch.distributed.run`` or a plain ``mpiexec -n``)."""
    require_mpi()
    script = worker if os.path.isabs(worker) else os.path.join(WORKERS, worker)
    if via == "launcher":
        argv = [sys.executable, "-m", "wgtorch.distributed.run", f"--nproc_per_node={nproc}",
                script, *args]
    else:
        argv = [mpiexec(), "-n", str(nproc), sys.executable, script, *args]
    start = time.monotonic()
    # its own session, so that a hung job is killed whole: launcher, mpiexec and every rank
    proc = subprocess.Popen(argv, env=job_env(env), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{worker} hung: killed after the hard timeout of {timeout} s\n{out}{err}")
    return Job(proc.returncode, out, err, time.monotonic() - start)
