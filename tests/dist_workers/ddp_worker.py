"""DistributedDataParallel against 1-process training on the union of the ranks' batches.

Every rank also trains a plain copy of the model on the union of all ranks' batches (their
data is deterministic), so each rank checks its DDP replica against that reference.
"""

import copy
from datetime import timedelta

import numpy as np
from common import close, ok, raises

import wgtorch as torch
import wgtorch.distributed as dist
import wgtorch.nn as nn
import wgtorch.nn.functional as F
from wgtorch.nn.parallel import DistributedDataParallel as DDP
from wgtorch.utils.data import DataLoader, DistributedSampler, TensorDataset

N_SAMPLES, BATCH = 23, 5  # 23 is not a multiple of world * batch: the sampler pads


def net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),  # (B, 4 * 6 * 6)
        nn.Linear(144, 10), nn.ReLU(), nn.Linear(10, 3),
    )


def dataset():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N_SAMPLES, 1, 6, 6)).astype(np.float32)
    y = rng.integers(0, 3, N_SAMPLES)
    return TensorDataset(torch.tensor(x), torch.tensor(y))


def params_of(model):
    return [p.detach().numpy() for p in model.parameters()]


def check_same_everywhere(name, arrays):
    """Every rank holds the same arrays (compared through all_gather_object)."""
    everyone = [None] * WORLD
    dist.all_gather_object(everyone, arrays)
    for theirs in everyone:
        for a, b in zip(arrays, theirs):
            assert np.array_equal(a, b), f"{name}: ranks differ"
    ok(name)


def train_and_compare(name, make_optimizer, epochs=2, **ddp_kwargs):
    data = dataset()
    model = net(seed=100 + RANK)  # different on every rank: DDP broadcasts rank 0's
    ddp = DDP(model, **ddp_kwargs)
    reference = net(seed=100)  # rank 0's initial parameters
    close(f"{name}: rank 0's parameters after construction", params_of(model)[0],
          params_of(reference)[0])
    opt, ref_opt = make_optimizer(ddp.parameters()), make_optimizer(reference.parameters())
    samplers = [DistributedSampler(data, num_replicas=WORLD, rank=r, shuffle=True, seed=3)
                for r in range(WORLD)]
    loader = DataLoader(data, batch_size=BATCH, sampler=samplers[RANK])
    for epoch in range(epochs):
        for s in samplers:
            s.set_epoch(epoch)
        shares = [list(s) for s in samplers]  # every rank's indices, to build the union
        for step, (x, y) in enumerate(loader):
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            # the reference: the mean over the union of this step's batches
            union = [i for share in shares for i in share[step * BATCH:(step + 1) * BATCH]]
            xs, ys = data[union]
            ref_opt.zero_grad()
            F.cross_entropy(reference(xs), ys).backward()
            ref_opt.step()
    for k, (a, b) in enumerate(zip(params_of(model), params_of(reference))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5, err_msg=f"{name}: param {k}")
    ok(f"{name}: DDP == 1-process training on the union")
    check_same_everywhere(f"{name}: replicas identical", params_of(model))
    return ddp


def check_training():
    train_and_compare("SGD momentum, small buckets",
                      lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3),
                      bucket_cap_mb=0.001)
    ddp = train_and_compare("Adam, static graph", lambda ps: torch.optim.Adam(ps, lr=1e-2),
                            static_graph=True)
    assert len(ddp.reducer.buckets) == 1 and ddp.comm_wait_seconds >= 0
    keys = list(ddp.state_dict())
    assert keys[0] == "module.0.weight" and all(k.startswith("module.") for k in keys), keys
    plain = net(seed=1)
    plain.load_state_dict({k[len("module."):]: v for k, v in ddp.state_dict().items()})
    ok("state_dict keys prefixed module.")


def check_no_sync():
    data = dataset()
    model = net(seed=5)
    ddp = DDP(model, bucket_cap_mb=0.001)
    local_ref = copy.deepcopy(model)
    union_ref = copy.deepcopy(model)
    micro = [[(r * 8 + m * 4 + k) % N_SAMPLES for k in range(4)] for r in range(WORLD)
             for m in range(2)]

    def batch(rank, m):
        return data[micro[2 * rank + m]]

    with ddp.no_sync():
        x, y = batch(RANK, 0)
        F.cross_entropy(ddp(x), y).backward()
    F.cross_entropy(local_ref(x), y).backward()
    for k, (p, q) in enumerate(zip(model.parameters(), local_ref.parameters())):
        close(f"no_sync: local gradient {k}", p.grad, q.grad.numpy(), atol=1e-6, rtol=1e-5)
    x, y = batch(RANK, 1)
    F.cross_entropy(ddp(x), y).backward()  # synchronises the accumulated gradients
    for m in range(2):  # reference: the sum over micro-batches of the mean over the union
        xs = torch.cat([batch(r, m)[0] for r in range(WORLD)])
        ys = torch.cat([batch(r, m)[1] for r in range(WORLD)])
        F.cross_entropy(union_ref(xs), ys).backward()
    for k, (p, q) in enumerate(zip(model.parameters(), union_ref.parameters())):
        close(f"no_sync: accumulated then averaged gradient {k}", p.grad, q.grad.numpy(),
              atol=1e-6, rtol=1e-4)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 6)
        self.heads = nn.ModuleList([nn.Linear(6, 2) for _ in range(3)])  # head 2: never used

    def forward(self, x, head):
        return self.heads[head](self.body(x).relu())


def check_unused_parameters():
    torch.manual_seed(11)
    model = TwoHeads()
    ref = copy.deepcopy(model)
    ddp = DDP(model, find_unused_parameters=True, bucket_cap_mb=0.0001)
    rng = np.random.default_rng(3)
    xs = [torch.tensor(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(WORLD)]
    ddp(xs[RANK], head=RANK % 2).sum().backward()
    # expected: the mean over ranks of each rank's local gradient (zero where unused)
    expected = [np.zeros(p.shape, np.float32) for p in ref.parameters()]
    for r in range(WORLD):
        ref.zero_grad()
        ref(xs[r], head=r % 2).sum().backward()
        for k, p in enumerate(ref.parameters()):
            if p.grad is not None:
                expected[k] += p.grad.numpy() / WORLD
    for k, ((name, p), e) in enumerate(zip(model.named_parameters(), expected)):
        if name.startswith("heads.2"):
            assert p.grad is None, f"{name}: no rank used it, yet it has a gradient"
        else:
            close(f"find_unused_parameters: {name}", p.grad, e, atol=1e-6, rtol=1e-5)
    ok("find_unused_parameters: unused everywhere keeps grad None")

    plain = DDP(TwoHeads())
    plain(xs[RANK], head=0).sum().backward()  # heads 1 and 2 get no gradient
    raises("unused parameters without find_unused_parameters", RuntimeError, plain, xs[RANK],
           head=0, match="Expected to have finished reduction in the prior iteration")
    with torch.no_grad():
        plain(xs[RANK], head=0)  # a forward without backward is fine
    ok("forward under no_grad")


class WithBuffer(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.register_buffer("stat", torch.full((3,), float(value)))

    def forward(self, x):
        self.stat += 1  # as a running statistic changes in forward
        return self.fc(x)


def check_buffers_and_checks():
    model = WithBuffer(RANK + 10)
    ddp = DDP(model)
    close("buffers broadcast at construction", model.stat, np.full(3, 10, np.float32))
    with torch.no_grad():
        model.stat.fill_(float(RANK))  # the replicas' buffers drift apart
    ddp(torch.ones(1, 2)).sum().backward()
    close("buffers broadcast from rank 0 before forward", model.stat, np.full(3, 1, np.float32))
    frozen = nn.Linear(2, 2).requires_grad_(False)
    raises("DDP of a module without trainable parameters", RuntimeError, DDP, frozen,
           match="doesn't have any parameter that requires a gradient")
    raises("DDP of different models", RuntimeError, DDP, nn.Linear(2, 2 + RANK),
           match="DDP expects same model across all ranks")


def check_uneven_inputs():
    """Rank r has 2 + 2r batches; under ddp.join() the ranks that finish shadow the others."""
    rng = np.random.default_rng(9)
    batches = [[(torch.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
                 torch.tensor(rng.integers(0, 2, 3))) for _ in range(2 + 2 * r)]
               for r in range(WORLD)]
    for divide_by_world in (True, False):
        name = f"uneven inputs under join (divide_by_initial_world_size={divide_by_world})"
        torch.manual_seed(4)
        model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
        reference = copy.deepcopy(model)
        ddp = DDP(model, bucket_cap_mb=0.0001)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        with ddp.join(divide_by_initial_world_size=divide_by_world):
            for x, y in batches[RANK]:
                opt.zero_grad()
                F.cross_entropy(ddp(x), y).backward()
                opt.step()
        # reference: each step averages the losses of the ranks that still had a batch
        ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        for step in range(len(batches[-1])):
            active = [b[step] for b in batches if step < len(b)]
            ref_opt.zero_grad()
            loss = sum(F.cross_entropy(reference(x), y) for x, y in active)
            (loss / (WORLD if divide_by_world else len(active))).backward()
            ref_opt.step()
        for k, (a, b) in enumerate(zip(params_of(model), params_of(reference))):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{name}: param {k}")
        ok(name)
        check_same_everywhere(f"{name}: replicas identical after join", params_of(model))
    t = torch.ones(2)
    dist.all_reduce(t)  # the ranks are in step again
    close("collectives after join", t, np.full(2, WORLD, np.float32))


if __name__ == "__main__":
    dist.init_process_group("nccl", timeout=timedelta(seconds=60))  # served by MPI
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    check_training()
    check_no_sync()
    check_unused_parameters()
    check_buffers_and_checks()
    check_uneven_inputs()
    dist.destroy_process_group()
    ok("done", RANK)
