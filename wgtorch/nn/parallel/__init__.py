"""``torch.nn.parallel``: ``DataParallel`` (one adapter: a passthrough keeping ``.module``).

``DistributedDataParallel`` lives in ``distributed.py`` (torch.distributed on MPI).
"""

from .data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "data_parallel"]
