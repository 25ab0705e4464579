"""wgtorch.utils.data: datasets, samplers and collation (the DataLoader is in
test_data_loader.py)."""

import collections

import numpy as np
import pytest
from data_helpers import Rows

import wgtorch as torch
from wgtorch.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    Dataset,
    GatheredSamples,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


def gen(seed):
    return torch.Generator().manual_seed(seed)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---- datasets ------------------------------------------------------------------------------


def test_tensor_dataset_items_and_batched_fetch():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 3
    ds = TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi.numpy(), x[4])
    assert yi.item() == y[4]
    idx = [7, 2, 2, 9]
    batch = ds.__getitems__(idx)
    assert isinstance(batch, GatheredSamples) and len(batch) == 4
    np.testing.assert_array_equal(batch[1][0].numpy(), x[2])  # behaves as a list of samples
    xb, yb = default_collate(batch)
    np.testing.assert_array_equal(xb.numpy(), x[idx])
    np.testing.assert_array_equal(yb.numpy(), y[idx])
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(torch.zeros(3, 2), torch.zeros(4))


def test_concat_subset_chain_stack():
    a, b = Squares(3), Squares(4)
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 7
    assert [cat[i] for i in range(7)] == [0, 1, 4, 0, 1, 4, 9]
    assert cat[-1] == 9 and cat.cumulative_sizes == [3, 7]
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    with pytest.raises(AssertionError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([a, Count(2)])

    sub = Subset(b, [3, 1])
    assert len(sub) == 2 and [sub[0], sub[1]] == [9, 1]
    assert sub.__getitems__([1, 0]) == [1, 9]

    chain = Count(2) + Count(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5

    st = StackDataset(a, Squares(3))
    assert st[2] == (4, 4) and len(st) == 3
    assert StackDataset(x=a, y=a)[1] == {"x": 1, "y": 1}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(a, b)


def test_subset_keeps_the_batched_gather():
    x = torch.arange(12).reshape(6, 2)
    sub = Subset(TensorDataset(x), [5, 0, 3])
    batch = sub.__getitems__([2, 0])
    assert isinstance(batch, GatheredSamples)
    np.testing.assert_array_equal(default_collate(batch)[0].numpy(), [[6, 7], [10, 11]])


def test_random_split_lengths_fractions_and_seed():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=gen(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=gen(1))
    assert again[0].indices == parts[0].indices
    assert random_split(ds, [3, 7], generator=gen(2))[0].indices != parts[0].indices
    fr = random_split(Squares(11), [0.5, 0.3, 0.2], generator=gen(0))
    assert [len(p) for p in fr] == [6, 3, 2]  # floor, then the remainder round-robin
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(ds, [0.5, 1.5, -1.0])


# ---- samplers ------------------------------------------------------------------------------


def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    s = RandomSampler(range(20), generator=gen(0))
    first, second = list(s), list(s)
    assert sorted(first) == list(range(20)) and first != second  # a new order each epoch
    assert list(RandomSampler(range(20), generator=gen(0))) == first  # same seed, same order
    torch.manual_seed(3)
    a = list(RandomSampler(range(20)))
    torch.manual_seed(3)
    assert list(RandomSampler(range(20))) == a  # the global seed fixes the default


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(5), num_samples=12, generator=gen(0))
    out = list(s)
    assert len(s) == 12 and len(out) == 12
    assert sorted(out[:5]) == list(range(5)) and sorted(out[5:10]) == list(range(5))
    r = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=gen(0)))
    assert len(r) == 50 and set(r) == {0, 1, 2}
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler([])


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], generator=gen(0))
    out = list(s)
    assert sorted(out) == [10, 20, 30, 40] and len(s) == 4


def test_weighted_random_sampler():
    s = WeightedRandomSampler([1.0, 0.0, 3.0], num_samples=200, generator=gen(0))
    out = list(s)
    assert len(out) == 200 and 1 not in out
    assert 100 < out.count(2) < 190  # about three times as often as 0
    w = WeightedRandomSampler(torch.tensor([1.0, 2.0, 3.0, 4.0]), 4, replacement=False,
                              generator=gen(0))
    assert sorted(w) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist"):
        list(WeightedRandomSampler([1.0, 0.0], 2, replacement=False))
    with pytest.raises(RuntimeError, match="invalid multinomial distribution"):
        list(WeightedRandomSampler([-1.0, 2.0], 2))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="replacement should be a boolean value"):
        WeightedRandomSampler([1.0], 1, replacement="yes")


def test_batch_sampler():
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(SequentialSampler(range(7)), 3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, None)


# ---- collation -----------------------------------------------------------------------------


Point = collections.namedtuple("Point", ["x", "y"])


def test_default_collate_leaves():
    t = default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])
    a = default_collate([np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)])
    assert a.dtype == torch.uint8 and a.shape == (2, 2, 2)
    i = default_collate([1, 2, 3])
    assert i.dtype == torch.int64 and i.tolist() == [1, 2, 3]
    f = default_collate([0.5, 1.5])
    assert f.dtype == torch.float32 and f.tolist() == [0.5, 1.5]
    assert default_collate([True, False]).dtype == torch.bool
    s = default_collate([np.float32(1.0), np.float32(2.0)])
    assert s.dtype == torch.float32 and s.shape == (2,)
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_default_collate_containers():
    batch = [{"img": np.full(3, i, np.float32), "meta": Point(i, "p%d" % i), "ids": [i, -i]}
             for i in range(4)]
    out = default_collate(batch)
    assert out["img"].shape == (4, 3)
    assert isinstance(out["meta"], Point) and out["meta"].x.tolist() == [0, 1, 2, 3]
    assert out["meta"].y == ["p0", "p1", "p2", "p3"]
    assert [t.tolist() for t in out["ids"]] == [[0, 1, 2, 3], [0, -1, -2, -3]]
    pairs = default_collate([(1, 2.0), (3, 4.0)])
    assert isinstance(pairs, list) and pairs[0].tolist() == [1, 3]  # tuples collate to a list


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but "
                       r"got \[3\] at entry 0 and \[4\] at entry 1"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": "text", "c": (np.float32(2.0), 7)})
    assert out["a"].tolist() == [0, 1, 2] and out["b"] == "text"
    assert out["c"][0].item() == 2.0 and out["c"][1] == 7


def test_collate_of_row_views_is_one_gather_per_field():
    torch.manual_seed(0)
    data, labels = torch.randn(100, 784), torch.randint(0, 10, (100,))
    ds = Rows(data, labels)
    idx = [5, 99, 0, 42, 42, 7]
    rt = torch.get_runtime()
    before = rt.dispatch_count
    x, y = default_collate([ds[i] for i in idx])
    assert rt.dispatch_count - before == 2  # one gather kernel per field, not one per sample
    np.testing.assert_array_equal(x.numpy(), data.numpy()[idx])
    np.testing.assert_array_equal(y.numpy(), labels.numpy()[idx])
    # strided samples (columns of a matrix) and a batch that must not alias its source
    cols = [data[:8, j] for j in (3, 1, 3)]
    out = default_collate(cols)
    np.testing.assert_array_equal(out.numpy(), data.numpy()[:8, [3, 1, 3]].T)
    single = default_collate([data[3]])
    single.zero_()
    assert data[3].abs().sum().item() > 0
