"""``wgtorch.nn.parallel``: ``DistributedDataParallel`` (one process per GPU, on MPI)."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
