"""DistributedSampler: PyTorch's padding and striding, index for index."""

import pytest

from wgtorch.utils.data import DistributedSampler

CASES = [(10, 3), (9, 3), (7, 4), (3, 5), (1, 2), (23, 2), (0, 2), (100, 7)]


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def torch_sampler():
    return pytest.importorskip("torch.utils.data.distributed").DistributedSampler


@pytest.mark.parametrize("n, replicas", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_indices_equal_pytorchs(n, replicas, drop_last):
    reference = torch_sampler()
    for rank in range(replicas):
        ours = DistributedSampler(Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = reference(Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


@pytest.mark.parametrize("n, replicas", [c for c in CASES if c[0]])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_indices_pad_and_stride_like_pytorch(monkeypatch, n, replicas, drop_last):
    """Given the same permutation (ours differs from PyTorch's generator), PyTorch's sampler
    picks the same indices for every rank."""
    real = pytest.importorskip("torch")
    reference = torch_sampler()
    for epoch in (0, 3):
        full = DistributedSampler(Sized(n), 1, 0, shuffle=True, seed=5)
        full.set_epoch(epoch)
        permutation = list(full)
        assert sorted(permutation) == list(range(n))
        monkeypatch.setattr(real, "randperm",
                            lambda k, generator=None: real.tensor(permutation[:k]))
        for rank in range(replicas):
            ours = DistributedSampler(Sized(n), replicas, rank, seed=5, drop_last=drop_last)
            theirs = reference(Sized(n), replicas, rank, seed=5, drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)


def test_epochs_reshuffle_and_ranks_agree():
    a = DistributedSampler(Sized(50), 2, 0, seed=1)
    b = DistributedSampler(Sized(50), 2, 1, seed=1)
    first = list(a)
    assert sorted(first + list(b)) == list(range(50))  # the ranks split one permutation
    assert list(a) == first  # same epoch: same order
    a.set_epoch(1)
    assert list(a) != first
    assert list(DistributedSampler(Sized(50), 2, 0, seed=2)) != first


def test_bad_rank():
    message = r"Invalid rank 2, rank should be in the interval \[0, 1\]"
    with pytest.raises(ValueError, match=message):
        DistributedSampler(Sized(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(Sized(4), num_replicas=2, rank=-1)


def test_without_a_process_group_world_and_rank_are_required():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(Sized(4))
