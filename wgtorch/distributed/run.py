"""``python -m wgtorch.distributed.run``: torchrun's command line, ranks started by ``mpiexec``.

Usage (torchrun's flags; underscores or dashes)::

    python -m wgtorch.distributed.run --nproc_per_node=2 train.py --epochs 3
    python -m wgtorch.distributed.run --standalone --nproc-per-node 4 -m my.module
    # two nodes: run on each, with its --node_rank
    python -m wgtorch.distributed.run --nnodes 2 --node_rank 0 --nproc_per_node 4 \\
        --master_addr node0 --master_port 29500 train.py

It starts this node's ranks as one MPI job with the MPI package's ``mpiexec`` (Hydra, from the
``mpich`` wheel, found beside this Python; ``WGTORCH_MPIEXEC`` names another), each rank as
``python -u script args`` with torchrun's environment: RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, GROUP_RANK (the node rank), GROUP_WORLD_SIZE, ROLE_RANK, ROLE_WORLD_SIZE,
ROLE_NAME, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID, TORCHELASTIC_RESTART_COUNT,
TORCHELASTIC_MAX_RESTARTS, and OMP_NUM_THREADS=1 unless set. With several nodes,
``init_process_group`` joins the nodes' MPI jobs (see ``rendezvous.py``).

Each local rank takes its own GPU when the machine has several of the same kind: local rank r
uses the (r mod n)-th of the n best adapters (``WGTORCH_ADAPTER`` still filters them first; see
``wgtorch/backend/adapter.py``).

A rank that fails ends the job: its traceback is printed, the other ranks are stopped, and the
launcher exits with a non-zero code (see ``failure.py``). Elastic restarts are not supported:
``--max-restarts`` must be 0. The exit code is mpiexec's.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid

from .env import DEFAULT_MASTER_PORT


def _flag(parser, name, **kwargs):
    """A torchrun option under both spellings (``--nproc-per-node`` and ``--nproc_per_node``)."""
    dashed, under = "--" + name.replace("_", "-"), "--" + name.replace("-", "_")
    names = [dashed] if dashed == under else [dashed, under]
    parser.add_argument(*names, dest=name.replace("-", "_"), **kwargs)


def get_args_parser():
    parser = argparse.ArgumentParser(
        prog="python -m wgtorch.distributed.run",
        description="Start a data-parallel wgtorch job (torchrun's flags; ranks run under MPI).")
    _flag(parser, "nnodes", default="1", help="number of nodes, or MIN:MAX (must be equal)")
    _flag(parser, "nproc-per-node", default="1",
          help="ranks on this node: a number, 'cpu', or 'gpu'/'auto' (wgtorch's adapter count)")
    _flag(parser, "node-rank", type=int, default=0, help="this node's rank (multi-node)")
    _flag(parser, "master-addr", default="127.0.0.1", help="node 0's address (multi-node)")
    _flag(parser, "master-port", type=int, default=DEFAULT_MASTER_PORT, help="node 0's port")
    _flag(parser, "standalone", action="store_true",
          help="one node on localhost with a free port")
    _flag(parser, "rdzv-endpoint", default="", help="HOST:PORT, taken as master addr/port")
    _flag(parser, "rdzv-backend", default="static", help="accepted; MPI is the rendezvous")
    _flag(parser, "rdzv-id", default="none", help="the job id (TORCHELASTIC_RUN_ID)")
    _flag(parser, "rdzv-conf", default="", help="accepted and ignored")
    _flag(parser, "max-restarts", type=int, default=0, help="must be 0 (no elastic restarts)")
    _flag(parser, "monitor-interval", type=float, default=0.1, help="accepted and ignored")
    _flag(parser, "start-method", default="spawn", help="accepted and ignored")
    _flag(parser, "role", default="default", help="ROLE_NAME of the ranks")
    _flag(parser, "log-dir", default=None, help="accepted and ignored")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the script name as a module (python -m)")
    _flag(parser, "no-python", action="store_true",
          help="run the script as an executable, not with python")
    parser.add_argument("training_script", help="the script (or module, or executable)")
    parser.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return parser


def _count(value):
    if value == "cpu":
        return os.cpu_count() or 1
    if value in ("gpu", "auto"):
        from .. import cuda

        return max(cuda.device_count(), 1)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"Unsupported nproc_per_node value: {value}") from None
    if n < 1:
        raise ValueError(f"nproc_per_node must be at least 1, got {n}")
    return n


def _nnodes(value):
    lo, _, hi = str(value).partition(":")
    if hi and hi != lo:
        raise ValueError(f"--nnodes={value}: elastic node counts are not supported; give one "
                         "number")
    return int(lo)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_mpiexec():
    """The MPI package's mpiexec: WGTORCH_MPIEXEC, else the one beside this Python, else PATH."""
    named = os.environ.get("WGTORCH_MPIEXEC")
    if named:
        return named
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(beside):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("wgtorch.distributed.run: no mpiexec found. Install the extra: pip "
                           "install 'wgtorch[distributed]' (mpi4py and the MPICH wheel)")
    return found


def rank_command(args):
    """The command one rank runs (torchrun's: ``python -u script args``)."""
    if args.no_python:
        if args.module:
            raise ValueError("Don't use both the '--no-python' flag and the '--module' flag "
                             "at the same time.")
        return [args.training_script, *args.training_script_args]
    head = [sys.executable, "-u"] + (["-m"] if args.module else [])
    return [*head, args.training_script, *args.training_script_args]


def plan(args):
    """``(common environment, [per-rank environment])`` for this node's ranks."""
    if args.max_restarts:
        raise ValueError("wgtorch.distributed.run: elastic restarts are not supported "
                         "(--max-restarts must be 0)")
    nproc = _count(args.nproc_per_node)
    nnodes = _nnodes(args.nnodes)
    addr, port = args.master_addr, args.master_port
    if args.rdzv_endpoint:
        host, _, p = args.rdzv_endpoint.rpartition(":")
        addr, port = (host or addr), int(p) if p else port
    if args.standalone:
        nnodes, addr, port = 1, "127.0.0.1", _free_port()
    if not 0 <= args.node_rank < nnodes:
        raise ValueError(f"--node_rank={args.node_rank} must be in [0, {nnodes}) for "
                         f"--nnodes={nnodes}")
    world = nnodes * nproc
    common = {
        "WORLD_SIZE": world, "LOCAL_WORLD_SIZE": nproc, "GROUP_RANK": args.node_rank,
        "GROUP_WORLD_SIZE": nnodes, "ROLE_NAME": args.role, "ROLE_WORLD_SIZE": world,
        "MASTER_ADDR": addr, "MASTER_PORT": port,
        "TORCHELASTIC_RUN_ID": args.rdzv_id if args.rdzv_id != "none" else uuid.uuid4().hex,
        "TORCHELASTIC_RESTART_COUNT": 0, "TORCHELASTIC_MAX_RESTARTS": 0,
    }
    if "OMP_NUM_THREADS" not in os.environ and nproc > 1:
        common["OMP_NUM_THREADS"] = 1
    per_rank = []
    for local in range(nproc):
        rank = args.node_rank * nproc + local
        per_rank.append({"RANK": rank, "LOCAL_RANK": local, "ROLE_RANK": rank})
    return ({k: str(v) for k, v in common.items()},
            [{k: str(v) for k, v in r.items()} for r in per_rank])


def mpiexec_command(mpiexec, command, per_rank):
    """Hydra's MPMD form: one ``-n 1 -env NAME VALUE ... command`` section per rank."""
    argv = [mpiexec]
    for k, env in enumerate(per_rank):
        if k:
            argv.append(":")
        argv += ["-n", "1"]
        for name, value in env.items():
            argv += ["-env", name, value]
        argv += command
    return argv


def _check_hydra(mpiexec):
    try:
        info = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise RuntimeError(f"wgtorch.distributed.run: cannot run {mpiexec}: {exc}") from None
    text = info.stdout + info.stderr
    if "HYDRA" not in text.upper():
        raise RuntimeError(
            f"wgtorch.distributed.run starts ranks with MPICH's Hydra mpiexec, and {mpiexec} is "
            "another MPI's. Install the extra (pip install 'wgtorch[distributed]'), set "
            "WGTORCH_MPIEXEC to a Hydra mpiexec, or start the ranks with your mpiexec directly: "
            "wgtorch reads the ranks from its environment."
        )


def run(args):
    common, per_rank = plan(args)
    mpiexec = find_mpiexec()
    _check_hydra(mpiexec)
    env = dict(os.environ)
    env.update(common)
    argv = mpiexec_command(mpiexec, rank_command(args), per_rank)
    proc = subprocess.Popen(argv, env=env)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)  # Hydra forwards it to every rank
        code = proc.wait()
    if code:
        print(f"wgtorch.distributed.run: the job failed (mpiexec exit code {code}); the failing "
              "rank's error is printed above", file=sys.stderr)
    return code


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
