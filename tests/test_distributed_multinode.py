"""Two "nodes" on loopback: two launchers (--nnodes 2 --node_rank 0/1), each starting its
own MPI job, joined by init_process_group into one world of 2 x 2 ranks."""

import os
import signal
import socket
import subprocess
import sys

from dist_helpers import HARD_TIMEOUT_S, ROOT, WORKERS, job_env, require_mpi


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_nodes(extra_env=None):
    require_mpi()
    port = str(free_port())
    procs = []
    for node in (1, 0):  # node 1 first: it must wait for node 0's rendezvous
        argv = [sys.executable, "-m", "wgtorch.distributed.run", "--nnodes", "2", "--node_rank",
                str(node), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                "--master_port", port, os.path.join(WORKERS, "multinode_worker.py")]
        procs.append(subprocess.Popen(argv, env=job_env(extra_env), cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=HARD_TIMEOUT_S)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    return [p.returncode for p in procs], "\n".join(outputs)


def test_two_nodes_join_into_one_world():
    codes, text = run_two_nodes()
    assert codes == [0, 0], text
    for rank in range(4):
        for check in ("ranks across nodes", "all_reduce across nodes",
                      "all_gather_object across nodes", "broadcast from the last node", "done"):
            assert f"[rank {rank}] OK {check}" in text, text


def test_a_failing_rank_ends_both_nodes_jobs():
    codes, text = run_two_nodes({"FAIL_RANK": "3"})
    assert all(codes), text  # MPI_Abort on the joined world stops the other node's job too
    assert "ValueError: boom in rank 3" in text and "OK done" not in text, text
