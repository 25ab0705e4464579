"""``torch.nn.parallel``: ``DataParallel`` (one adapter: a passthrough keeping ``.module``)
and ``DistributedDataParallel`` (one process per GPU, on MPI; ``distributed.py``).
"""

from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
