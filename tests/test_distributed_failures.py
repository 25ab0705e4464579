"""A failing rank ends the whole job with its traceback, within the timeout; nothing hangs."""

import subprocess
import sys

import pytest
from dist_helpers import ROOT, job_env, launch, require_mpi

TIMEOUT_S = 3  # the process group's timeout in the worker


@pytest.mark.parametrize("mode, message", [
    ("raise", "ValueError: boom in rank 1"),
    ("before", "ValueError: boom before init_process_group"),
])
def test_a_rank_that_raises_ends_the_job_with_its_traceback(mode, message):
    job = launch("crash_worker.py", mode, "600", via="launcher", timeout=120)
    assert job.returncode != 0, job.describe()
    assert message in job.output and "Traceback" in job.output, job.describe()
    assert "finished" not in job.output, job.describe()
    assert "the job failed" in job.output  # the launcher's summary


@pytest.mark.parametrize("mode", ["exit", "hang"])
def test_a_rank_that_leaves_or_hangs_times_out_the_others(mode):
    job = launch("crash_worker.py", mode, str(TIMEOUT_S), via="mpiexec", timeout=120)
    assert job.returncode != 0, job.describe()
    assert "DistBackendError" in job.output and f"timed out after {TIMEOUT_S} s" in job.output, (
        job.describe())
    assert job.seconds < 60, job.describe()


def test_world_size_mismatch_says_how_to_start_the_ranks():
    require_mpi()
    code = "import wgtorch.distributed as d; d.init_process_group('gloo')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=job_env({"WORLD_SIZE": "2", "RANK": "0"}), timeout=120)
    assert proc.returncode != 0
    assert "WORLD_SIZE=2, but MPI started 1 process" in proc.stderr
    assert "python -m wgtorch.distributed.run" in proc.stderr
