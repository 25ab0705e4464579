"""``Join``: train on uneven inputs, as PyTorch's ``torch.distributed.algorithms.Join``.

When ranks have different numbers of batches, the ones that run out first would leave the
others waiting in their next collective. Inside ``with Join([ddp, ...]):`` (or
``with ddp.join():``), a rank that has finished its inputs keeps "shadowing" the collectives
the other ranks still issue: each iteration, every still-active rank contributes 1 to an
all-reduce in its forward (``notify_join_context``) while each joined rank contributes 0 and,
as long as the sum is not zero, runs its joinables' ``main_hook`` (DDP's all-reduces zeros in
place of gradients, so the active ranks' averages still divide by the world size). When every
rank has joined, ``post_hook`` runs (DDP broadcasts the model of the last rank to join, so the
replicas agree again).

These control all-reduces move a few numbers held on the host, never GPU tensors.
"""

import warnings
from abc import ABC, abstractmethod
from typing import NamedTuple

from ..collectives import all_reduce_host
from ..process_group import get_rank

WARN_THRESHOLD = 1000


class JoinHook:
    """What a joinable does while joined (``main_hook``, once per iteration of the ranks still
    training) and once all ranks have joined (``post_hook``)."""

    def main_hook(self):
        """Shadow one iteration's collectives of the ranks still training."""

    def post_hook(self, is_last_joiner):
        """Run once every rank has joined; ``is_last_joiner``: this rank joined last."""


class Joinable(ABC):
    """A class whose collectives ``Join`` can shadow (``DistributedDataParallel`` is one)."""

    @abstractmethod
    def __init__(self):
        super().__init__()
        self._join_config = _JoinConfig.construct_disabled_join_config()

    @abstractmethod
    def join_hook(self, **kwargs):
        """The ``JoinHook`` for this joinable."""

    @property
    @abstractmethod
    def join_device(self):
        """The device of the join context's collectives."""

    @property
    @abstractmethod
    def join_process_group(self):
        """The process group of the join context's collectives."""


class _JoinConfig(NamedTuple):
    enable: bool
    throw_on_early_termination: bool
    is_first_joinable: bool

    @staticmethod
    def construct_disabled_join_config():
        return _JoinConfig(enable=False, throw_on_early_termination=False,
                           is_first_joinable=False)


class Join:
    """Context manager for training with uneven inputs across ranks.

    ``throw_on_early_termination``: instead of shadowing, raise on every rank as soon as one
    runs out. Example::

        with ddp.join():                 # or Join([ddp])
            for x, y in my_batches:      # ranks may have different numbers of batches
                loss_fn(ddp(x), y).backward()
                optimizer.step()
    """

    def __init__(self, joinables, enable=True, throw_on_early_termination=False, **kwargs):
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = joinables
        self._join_hooks = [joinable.join_hook(**kwargs) for joinable in self._joinables]
        self._enable = enable
        self._throw_on_early_termination = throw_on_early_termination
        for k, joinable in enumerate(self._joinables):
            joinable._join_config = _JoinConfig(enable, throw_on_early_termination, k == 0)
        groups = {id(j.join_process_group): j.join_process_group for j in self._joinables}
        if len(groups) > 1:
            raise ValueError("Using join context manager with multiple process groups")
        self._process_group = self._joinables[0].join_process_group
        self._rank = get_rank(self._process_group)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._enable or exc_type:
            return  # an exception propagates as it is
        all_joined = False
        is_last_joiner = True
        iterations = 0
        while not all_joined:
            if iterations > WARN_THRESHOLD:
                warnings.warn(
                    f"Detected uneven input skew of greater than {WARN_THRESHOLD}. This means "
                    f"that rank {self._rank} has at least {WARN_THRESHOLD} fewer inputs than "
                    "other currently-active ranks. This level of skew could lead to performance "
                    "degradation during training.",
                    stacklevel=2,
                )
            if self._count_active() == 0:
                all_joined = True
            else:
                if self._throw_on_early_termination:
                    all_reduce_host(self._process_group, [1.0]).wait()
                    raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")
                for hook in self._join_hooks:
                    hook.main_hook()
                is_last_joiner = False
                iterations += 1
        for hook in self._join_hooks:
            hook.post_hook(is_last_joiner)

    def _count_active(self):
        return int(all_reduce_host(self._process_group, [0.0]).wait()[0])

    @staticmethod
    def notify_join_context(joinable):
        """Called by an active rank in each iteration (DDP's forward): count it as active.
        Returns the ``Job`` whose result is the number of active ranks (None if disabled)."""
        config = joinable._join_config
        if not config.is_first_joinable or not config.enable:
            return None
        job = all_reduce_host(joinable.join_process_group, [1.0])
        if config.throw_on_early_termination:
            if all_reduce_host(joinable.join_process_group, [0.0]).wait()[0]:
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing "
                                   "across all ranks.")
        return job


__all__ = ["Join", "JoinHook", "Joinable"]
