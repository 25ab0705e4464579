"""wgtorch.utils.data.DataLoader: batching, len, seeding, argument errors, GPU gather and
prefetch, and worker processes (results, errors, shutdown, no zombies)."""

import gc
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
from data_helpers import Rows

import wgtorch as torch
from wgtorch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    TensorDataset,
    get_worker_info,
)


class Arrays(Dataset):
    """Host samples: (float32 vector, int label), as a Dataset reading files would give."""

    def __init__(self, n=23, dim=3):
        self.x = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
        self.y = np.arange(n) % 5

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class Failing(Arrays):
    def __getitem__(self, i):
        if i == 13:
            raise ValueError(f"bad sample {i}")
        return super().__getitem__(i)


class Slow(Arrays):
    def __getitem__(self, i):
        time.sleep(0.5)
        return super().__getitem__(i)


class Suicidal(Arrays):
    def __getitem__(self, i):
        if i == 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(i)


class WhoLoads(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return -1 if info is None else info.id


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def values(loader):
    return [[t.tolist() if hasattr(t, "tolist") else t for t in batch] for batch in loader]


# ---- batching, len, seeding ----------------------------------------------------------------


def test_len_and_batches_with_and_without_drop_last():
    ds = Arrays(23)
    dl = DataLoader(ds, batch_size=5)
    batches = list(dl)
    assert len(dl) == 5 and len(batches) == 5
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(batches[-1][0].numpy(), ds.x[20:])
    dl = DataLoader(ds, batch_size=5, drop_last=True)
    assert len(dl) == 4 and [len(b[1]) for b in dl] == [5, 5, 5, 5]
    assert len(DataLoader(ds)) == 23


def test_no_auto_batching_and_batch_sampler():
    ds = Arrays(4)
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 4 and items[2][0].shape == (3,) and items[2][1] == 2
    dl = DataLoader(ds, batch_sampler=[[3, 0], [1]])
    assert values(dl) == [[ds.x[[3, 0]].tolist(), [3, 0]], [ds.x[[1]].tolist(), [1]]]
    bs = BatchSampler(SequentialSampler(ds), 3, drop_last=True)
    assert len(DataLoader(ds, batch_sampler=bs)) == 1


def test_seeded_shuffle_is_deterministic():
    def order(**kw):
        return [b.tolist() for b in DataLoader(range(20), batch_size=6, shuffle=True, **kw)]

    a = order(generator=torch.Generator().manual_seed(7))
    assert a == order(generator=torch.Generator().manual_seed(7))
    assert a != order(generator=torch.Generator().manual_seed(8))
    assert sorted(sum(a, [])) == list(range(20))
    assert a == order(generator=torch.Generator().manual_seed(7), num_workers=2)
    torch.manual_seed(1)
    b = order()
    torch.manual_seed(1)
    assert order() == b
    g = torch.Generator().manual_seed(7)
    dl = DataLoader(range(20), batch_size=20, shuffle=True, generator=g)
    assert next(iter(dl)).tolist() != next(iter(dl)).tolist()  # epochs differ


def test_iterable_dataset_batches_and_len():
    dl = DataLoader(Stream(10), batch_size=4)
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(dl) == 3
    dl = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert [b.tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dl) == 2


def test_argument_errors():
    ds = Arrays(4)
    cases = [
        (dict(num_workers=-1), "num_workers option should be non-negative"),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multi"),
        (dict(num_workers=1, prefetch_factor=-1), "prefetch_factor option should be non-neg"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
        (dict(multiprocessing_context="fork"), "multiprocessing_context can only be used"),
        (dict(num_workers=1, multiprocessing_context="nope"), "should specify a valid start"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **kwargs)
    for kwargs in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspec"):
            DataLoader(Stream(3), **kwargs)
    dl = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after"):
        dl.batch_size = 3


# ---- GPU datasets and prefetch ---------------------------------------------------------------


def test_tensor_dataset_batches_are_one_gather_per_field():
    torch.manual_seed(0)
    x, y = torch.randn(100, 784), torch.randint(0, 10, (100,))
    xs, ys = x.numpy(), y.numpy()
    g = torch.Generator().manual_seed(0)
    order = sum((b.tolist() for b in DataLoader(range(100), batch_size=32, shuffle=True,
                                                generator=g)), [])
    rt = torch.get_runtime()
    for ds in (TensorDataset(x, y), Rows(x, y)):
        g.manual_seed(0)
        it = iter(DataLoader(ds, batch_size=32, shuffle=True, generator=g))
        seen = []
        for _ in range(4):
            before = rt.dispatch_count
            xb, yb = next(it)
            assert rt.dispatch_count - before == 2  # one kernel per field, not per sample
            seen += yb.tolist()
            np.testing.assert_array_equal(xb.numpy(), xs[order[len(seen) - len(yb):len(seen)]])
        assert seen == ys[order].tolist()


def test_next_submits_the_previous_step_and_bounds_prefetch():
    rt = torch.get_runtime()
    x = torch.ones(64)
    it = iter(DataLoader(Arrays(40), batch_size=4, num_workers=2, prefetch_factor=2))
    for _ in range(6):
        y = x * 2  # a "training step" recorded but not submitted
        submits = rt.submit_count
        next(it)
        assert rt.submit_count > submits  # next() started the step on the GPU
        assert len(it._prefetcher.ready) <= 2  # uploaded ahead: at most prefetch_factor
        assert it._tasks_outstanding <= 2 * 2  # in flight in workers: prefetch_factor each
    assert y.sum().item() == 128


# ---- worker processes ------------------------------------------------------------------------


def test_workers_give_the_same_batches_in_order():
    ds = Arrays(23)
    expect = values(DataLoader(ds, batch_size=4))
    assert values(DataLoader(ds, batch_size=4, num_workers=2)) == expect
    got = [b.tolist() for b in DataLoader(WhoLoads(), batch_size=2, num_workers=2)]
    assert got == [[0, 0], [1, 1], [0, 0], [1, 1]]  # round-robin, returned in order
    dl = DataLoader(Stream(10), batch_size=3, num_workers=2)
    assert sorted(sum((b.tolist() for b in dl), [])) == list(range(10))


def test_worker_init_fn_and_seeds():
    def init(worker_id):
        assert get_worker_info().id == worker_id
        np.random.seed(100 + worker_id)

    class Draw(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return get_worker_info().seed

    dl = DataLoader(Draw(), batch_size=1, num_workers=2, worker_init_fn=init,
                    generator=torch.Generator().manual_seed(3))
    seeds = [b.item() for b in dl]
    assert seeds[0] + 1 == seeds[1] and seeds[0] == seeds[2]  # base_seed + worker id
    again = [b.item() for b in DataLoader(Draw(), batch_size=1, num_workers=2,
                                          generator=torch.Generator().manual_seed(3))]
    assert again == seeds


def test_worker_error_carries_the_worker_traceback():
    dl = DataLoader(Failing(20), batch_size=4, num_workers=2)
    # NOTE: no ``as err``: a kept traceback would make a frame cycle holding GPU tensors.
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 1"
                       r".*Original Traceback.*in __getitem__.*bad sample 13"):
        list(dl)  # the message carries the worker's own frames


def _assert_reaped(pids):
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or "Z" not in open(f"/proc/{pid}/stat").read()
    assert not [p for p in multiprocessing.active_children() if p.pid in pids]


def test_workers_end_on_break_exception_and_gc():
    dl = DataLoader(Arrays(40), batch_size=2, num_workers=2)
    for _ in dl:
        break
    gc.collect()
    assert not multiprocessing.active_children()

    it = iter(dl)
    next(it)
    pids = [w.pid for w in it._workers]
    del it  # garbage-collected mid-epoch
    _assert_reaped(pids)

    with pytest.raises(KeyError):
        for _ in dl:
            raise KeyError("in the training loop")
    gc.collect()
    assert not multiprocessing.active_children()


def test_persistent_workers_survive_epochs():
    dl = DataLoader(Arrays(9), batch_size=4, num_workers=2, persistent_workers=True)
    first = values(dl)
    pids = [w.pid for w in dl._iterator._workers]
    assert values(dl) == first and [w.pid for w in dl._iterator._workers] == pids
    it = dl._iterator
    del dl
    it._shutdown_workers()
    _assert_reaped(pids)


def test_timeout_and_dead_worker_are_errors():
    dl = DataLoader(Slow(4), batch_size=1, num_workers=1, timeout=0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.1 seconds"):
        next(iter(dl))
    dl = DataLoader(Suicidal(8), batch_size=4, num_workers=1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpected"):
        list(dl)
    gc.collect()
    assert not multiprocessing.active_children()


def test_gpu_datasets_with_workers_load_in_the_main_process():
    x, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    for ds in (TensorDataset(x, y), Rows(x, y)):
        dl = DataLoader(ds, batch_size=4, num_workers=2)
        with pytest.warns(UserWarning, match="loading in the main process"):
            got = [b[1].tolist() for b in dl]
        assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        assert [b[1].tolist() for b in dl] == got  # later epochs: no workers, no warning
    assert not multiprocessing.active_children()
