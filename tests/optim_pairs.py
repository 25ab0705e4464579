"""Run the same optimizer in wgtorch and in PyTorch 2.13 from the same parameters and the same
gradients, and compare parameters and state (used by the test_optim_* files)."""

import numpy as np

import wgtorch

SHAPES = [(5, 7), (130,), ()]  # 130: not a multiple of the workgroup (64) or of 4; 0-d
LRS = [None, 0.02, 0.05]  # None: the optimizer's lr (one param group per shape)


def groups(params, lrs=LRS):
    return [{"params": [p]} if lr is None else {"params": [p], "lr": lr}
            for p, lr in zip(params, lrs)]


def make_values(rng, shapes=SHAPES):
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def make_grads(rng, steps, shapes=SHAPES, zero_fraction=0.0):
    """``steps`` lists of gradients; ``zero_fraction`` of the elements exactly 0 (the entries
    a sparse gradient would not hold)."""
    out = []
    for _ in range(steps):
        gs = [np.asarray(rng.standard_normal(s), np.float32) for s in shapes]
        if zero_fraction:
            for g in gs:
                g[rng.random(g.shape) < zero_fraction] = 0
        out.append(gs)
    return out


def to_numpy(value):
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy() if hasattr(value, "cpu") else value.numpy()
    return np.asarray(value)


class Pair:
    """One optimizer class by name, built in both libraries on the same parameters."""

    def __init__(self, reference, name, values, kwargs, lrs=LRS, sparse=False):
        self.reference, self.name, self.sparse = reference, name, sparse
        self.ours = [wgtorch.tensor(v, requires_grad=True) for v in values]
        self.theirs = [reference.tensor(v, requires_grad=True) for v in values]
        self.opt = getattr(wgtorch.optim, name)(groups(self.ours, lrs), **kwargs)
        # NOTE: PyTorch refuses capturable=True for CPU tensors; wgtorch accepts it, same numbers
        ref_kwargs = {k: v for k, v in kwargs.items() if k != "capturable"}
        self.ref_opt = getattr(reference.optim, name)(groups(self.theirs, lrs), **ref_kwargs)

    def step(self, grads):
        for p, q, g in zip(self.ours, self.theirs, grads):
            p.grad = wgtorch.tensor(g)
            q.grad = self.reference.tensor(g)
            if self.sparse:
                q.grad = q.grad.to_sparse()
        self.opt.step()
        self.ref_opt.step()

    def compare(self, atol=1e-6, rtol=1e-5, msg=""):
        """Parameters, then every state entry (tensors and host scalars) alike."""
        for k, (p, q) in enumerate(zip(self.ours, self.theirs)):
            np.testing.assert_allclose(to_numpy(p), to_numpy(q), atol=atol, rtol=rtol,
                                       err_msg=f"{self.name} {msg} param {k}")
            ours, theirs = self.opt.state.get(p, {}), self.ref_opt.state.get(q, {})
            assert set(ours) == set(theirs), (self.name, sorted(ours), sorted(theirs))
            for key, value in theirs.items():
                np.testing.assert_allclose(to_numpy(ours[key]).astype(np.float64),
                                           to_numpy(value).astype(np.float64), atol=atol,
                                           rtol=rtol, err_msg=f"{self.name} {msg} {key}")
