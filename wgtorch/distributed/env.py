"""The launcher's environment: torchrun's variables, filled in from an MPI launcher's.

``python -m wgtorch.distributed.run`` sets torchrun's variables itself (RANK, LOCAL_RANK,
WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT...). A script started by a
plain ``mpiexec -n N python train.py`` gets only the MPI launcher's variables, so on import
``fill_from_mpi_launcher`` derives the missing torchrun ones from them (MPICH/Intel MPI's Hydra:
PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS; Open MPI: OMPI_COMM_WORLD_*). Scripts
that read ``os.environ["RANK"]`` before calling ``init_process_group`` (nanoGPT does) then run
unchanged. Variables already set are kept.

Nothing here imports MPI: reading the environment must not start it.
"""

import os

# (global rank, world size, local rank, local world size) as each MPI launcher names them
_LAUNCHERS = (
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"),
)

DEFAULT_MASTER_PORT = 29500


def mpi_launcher_ranks(environ=None):
    """``(rank, world_size, local_rank, local_world_size)`` from an MPI launcher's variables,
    or None when no MPI launcher started this process. A missing local value is None."""
    env = os.environ if environ is None else environ
    for rank, size, local, local_size in _LAUNCHERS:
        if rank in env and size in env:
            def read(name):
                value = env.get(name, "")
                return int(value) if value.strip().lstrip("-").isdigit() else None

            return read(rank), read(size), read(local), read(local_size)
    return None


def fill_from_mpi_launcher(environ=None):
    """Set torchrun's variables that are missing from those of the MPI launcher (if any).

    Returns the names it set. The local rank falls back to the global rank on one node.
    """
    env = os.environ if environ is None else environ
    ranks = mpi_launcher_ranks(env)
    if ranks is None or ranks[0] is None or ranks[1] is None:
        return []
    rank, size, local, local_size = ranks
    if local is None:
        local, local_size = rank, size
    values = {
        "RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local,
        "LOCAL_WORLD_SIZE": local_size if local_size is not None else size,
        "GROUP_RANK": rank // max(local_size or size, 1),
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": DEFAULT_MASTER_PORT,
    }
    filled = []
    for name, value in values.items():
        if name not in env:
            env[name] = str(value)
            filled.append(name)
    return filled


def env_int(name, default=None, environ=None):
    """An integer environment variable, ``default`` when unset; ValueError naming it if bad."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name} should be an integer, got {value!r}") from None


__all__ = ["DEFAULT_MASTER_PORT", "env_int", "fill_from_mpi_launcher", "mpi_launcher_ranks"]
