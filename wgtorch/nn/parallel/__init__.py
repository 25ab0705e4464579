"""``torch.nn.parallel``: ``DataParallel`` (one adapter: a passthrough keeping ``.module``).

``DistributedDataParallel`` lives in ``distributed.py`` (torch.distributed on MPI).
"""

from .data_parallel import DataParallel

__all__ = ["DataParallel"]
