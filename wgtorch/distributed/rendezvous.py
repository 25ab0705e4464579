"""The world communicator: one MPI job, or one MPI job per node joined into one world.

On one node, every rank is in one MPI job (``mpiexec`` started them) and the world is a
duplicate of ``MPI.COMM_WORLD``.

With several nodes, torchrun's model is kept: each node runs the launcher
(``--nnodes N --node_rank k --master_addr A --master_port P``), which starts that node's ranks as
one MPI job. ``init_process_group`` then joins the jobs with MPI's own dynamic-process calls:
node 0's first rank opens an MPI port (``MPI_Open_port``) and hands its name to the other
nodes' first ranks over one TCP connection to MASTER_ADDR:MASTER_PORT (the only non-MPI
traffic: a few bytes, as torchrun's store exchanges addresses); the nodes then connect in
node-rank order (``MPI_Comm_accept`` / ``MPI_Comm_connect``) and merge into one
intra-communicator, ordered so that the global rank is ``node_rank * nproc_per_node +
local_rank``. All the data moves over MPI.
"""

import os
import socket
import struct
import time

from .engine import DistNetworkError
from .env import env_int


def world_comm(mpi, timeout_s):
    """The communicator of the whole world (a duplicate: wgtorch's traffic stays apart)."""
    nnodes = env_int("GROUP_WORLD_SIZE", 1)
    local = mpi.COMM_WORLD
    if nnodes <= 1:
        return local.Dup()
    node_rank = env_int("GROUP_RANK", 0)
    world_size = env_int("WORLD_SIZE")
    if world_size == local.Get_size():
        return local.Dup()  # the launcher of node 0 started every rank itself
    return _join_nodes(mpi, local, nnodes, node_rank, timeout_s)


def _send_text(sock, text):
    data = text.encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise DistNetworkError("the rendezvous connection closed early")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv_text(sock):
    (n,) = struct.unpack("!I", _recv_exact(sock, 4))
    return _recv_exact(sock, n).decode()


def _master():
    return os.environ.get("MASTER_ADDR", "127.0.0.1"), env_int("MASTER_PORT", 29500)


def _serve_nodes(nnodes, timeout_s):
    """Node 0: accept the other nodes' first ranks; their sockets by node rank."""
    addr, port = _master()
    server = socket.create_server(("", port), reuse_port=False)
    server.settimeout(timeout_s)
    peers = {}
    try:
        while len(peers) < nnodes - 1:
            try:
                conn, _ = server.accept()
            except socket.timeout:
                raise DistNetworkError(
                    f"rendezvous at {addr}:{port}: {len(peers) + 1} of {nnodes} nodes joined "
                    f"within the timeout ({timeout_s:g} s)"
                ) from None
            conn.settimeout(timeout_s)
            node = int(_recv_text(conn))
            if node in peers or not 0 < node < nnodes:
                conn.close()
                raise DistNetworkError(f"rendezvous: unexpected node_rank {node} joined")
            peers[node] = conn
    finally:
        server.close()
    return peers


def _reach_master(node_rank, timeout_s):
    """Another node: connect to node 0 (it may start later), say who we are."""
    addr, port = _master()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            sock = socket.create_connection((addr, port), timeout=5)
            break
        except OSError as exc:
            if time.monotonic() > deadline:
                raise DistNetworkError(
                    f"node {node_rank} could not reach the rendezvous at {addr}:{port} within "
                    f"{timeout_s:g} s ({exc}); is node 0 running with the same --master_addr/"
                    "--master_port?"
                ) from None
            time.sleep(0.2)
    sock.settimeout(timeout_s)
    _send_text(sock, str(node_rank))
    return sock


def _join_nodes(mpi, local, nnodes, node_rank, timeout_s):
    leader = local.Get_rank() == 0
    port = None
    peers = sock = None
    if node_rank == 0:
        if leader:
            port = mpi.Open_port()
            peers = _serve_nodes(nnodes, timeout_s)
        merged = local
        first = 1
    else:
        if leader:
            sock = _reach_master(node_rank, timeout_s)
            port = _recv_text(sock)
        port = local.bcast(port, root=0)
        merged = local.Connect(port, root=0).Merge(high=True)
        first = node_rank + 1
    for node in range(first, nnodes):  # every member so far accepts the next node, in order
        if peers is not None:
            _send_text(peers[node], port)
        merged = merged.Accept(port if peers is not None else None, root=0).Merge(high=False)
    if peers is not None:
        for conn in peers.values():
            conn.close()
        mpi.Close_port(port)
    if sock is not None:
        sock.close()
    # Global rank = node_rank * nproc_per_node + local_rank, as torchrun numbers ranks.
    key = node_rank * local.Get_size() + local.Get_rank()
    return merged.Split(0, key)


__all__ = ["world_comm"]
