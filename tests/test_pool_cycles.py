import gc

import wgtorch as torch


class Box:
    pass


def test_tensor_dying_in_a_reference_cycle_leaves_the_pool_usable():
    for _ in range(20):
        b = Box()
        b.self = b
        b.t = torch.tensor([1.0] * 100)
        del b
        gc.collect()
        x = torch.tensor([2.0] * 100)
        assert x.sum().item() == 200.0


def test_release_twice_is_harmless():
    pool = torch.get_runtime().pool
    before = pool.allocated_bytes
    buf = pool.acquire(1024)
    pool.release(buf)
    pool.release(buf)
    assert pool.allocated_bytes == before
    assert pool.free[buf.size].count(buf) == 1
