"""``DistributedSampler``: each rank's share of a dataset, as PyTorch splits it.

The indices (shuffled or not) are padded by repeating the first ones until their count
divides by ``num_replicas`` (or, with ``drop_last``, the tail is cut), then rank r takes every
``num_replicas``-th index from position r: PyTorch's padding and striding exactly. The
shuffle is one permutation per epoch drawn on the host from ``seed + epoch`` (so every rank
draws the same one; the order differs from PyTorch's, whose generator is not ours).
"""

import math

from .sampler import Sampler, host_rng


class DistributedSampler(Sampler):
    """Sampler giving rank ``rank`` of ``num_replicas`` its share of ``dataset``.

    ``num_replicas``/``rank`` default to the process group's world size and rank. Call
    ``set_epoch(epoch)`` before each epoch so that shuffling differs between epochs. Example::

        sampler = DistributedSampler(train_set, shuffle=True, seed=0)
        loader = DataLoader(train_set, batch_size=64, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for x, y in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            # the largest evenly divisible length: every rank gets the same number of samples
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas)
                                         / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return list(range(n))
        from ...random import Generator

        generator = Generator().manual_seed(self.seed + self.epoch)
        return host_rng(generator).permutation(n).tolist()

    def __iter__(self):
        indices = self._order()
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(
                f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})"
            )
        indices = indices[self.rank:self.total_size:self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(indices)}) does not match "
                                 f"num_samples ({self.num_samples})")
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch: with ``shuffle=True``, each epoch then visits a different order."""
        self.epoch = epoch


__all__ = ["DistributedSampler"]
