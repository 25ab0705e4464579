"""LBFGS against PyTorch 2.13 in the same process: the same problem, the same closure, step
after step (fixed steps and strong-Wolfe line search, short histories, the tolerances and
max_eval), and its state moved both ways."""

import io

import numpy as np
import pytest

import wgtorch as torch

reference = pytest.importorskip("torch")


def _problem(seed=0, n=300, d=30, classes=6):
    """A small softmax regression plus an L2 term: smooth, well-conditioned, not quadratic."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) * np.linspace(0.2, 3, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    w = (0.1 * rng.standard_normal((classes, d))).astype(np.float32)
    b = np.zeros(classes, np.float32)
    return x, y, w, b


class Model:
    """The problem in one library: parameters, an optimizer, and the closure."""

    def __init__(self, lib, problem, **kw):
        x, y, w, b = problem
        self.lib = lib
        self.x, self.y = lib.tensor(x), lib.tensor(y)
        self.w = lib.tensor(w, requires_grad=True)
        self.b = lib.tensor(b, requires_grad=True)
        self.opt = lib.optim.LBFGS([self.w, self.b], **kw)
        self.calls = 0

    def closure(self):
        self.calls += 1
        self.opt.zero_grad()
        logits = self.x @ self.w.t() + self.b
        loss = self.lib.nn.functional.cross_entropy(logits, self.y) + 1e-3 * (self.w**2).sum()
        loss.backward()
        return loss

    def step(self):
        return float(self.opt.step(self.closure).detach())

    def params(self):
        return [p.detach().numpy() for p in (self.w, self.b)]


CASES = [
    dict(),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=8, max_eval=12),
    dict(lr=0.8, max_iter=4, tolerance_change=1e-4, tolerance_grad=1e-3),
]


@pytest.mark.parametrize("kw", CASES, ids=[str(c) or "defaults" for c in CASES])
def test_matches_pytorch_step_by_step(kw):
    """Quasi-Newton steps amplify rounding, so the yardstick is PyTorch's own float32 error:
    after each step wgtorch is as close to PyTorch (float32) as PyTorch is to itself in
    float64, and it evaluates the closure as often wherever PyTorch's float32 and float64
    runs agree on that (the decisions are not rounding-driven there)."""
    problem = _problem()
    x, y, w, b = problem
    ours, theirs = Model(torch, problem, **kw), Model(reference, problem, **kw)
    exact = Model(reference, (x.astype(np.float64), y, w.astype(np.float64),
                              b.astype(np.float64)), **kw)
    for step in range(3 if kw.get("max_iter", 20) < 20 else 1):  # 20 iterations each
        loss, ref_loss, _ = ours.step(), theirs.step(), exact.step()
        assert loss == pytest.approx(ref_loss, rel=1e-5), step
        if theirs.calls == exact.calls:
            assert ours.calls == theirs.calls, step
        for a, b, c in zip(ours.params(), theirs.params(), exact.params()):
            noise = np.abs(b - c).max()
            assert np.abs(a - b).max() <= 4 * noise + 1e-6, (step, np.abs(a - b).max(), noise)
        state, ref_state = ours.opt.state[ours.w], theirs.opt.state[theirs.w]
        assert set(state) == set(ref_state)
        assert state["n_iter"] == ref_state["n_iter"]
        assert len(state["old_dirs"]) == len(ref_state["old_dirs"])


def test_stops_at_tolerance_grad():
    """A least-squares problem solved to tolerance_grad: the next step evaluates once and
    returns, as PyTorch's."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((12, 5)).astype(np.float32)
    target = rng.standard_normal(12).astype(np.float32)
    calls = []
    for lib in (torch, reference):
        x = lib.zeros(5, requires_grad=True)
        opt = lib.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=100,
                              tolerance_grad=1e-4)
        count = [0]

        def closure():
            count[0] += 1
            opt.zero_grad()
            loss = ((lib.tensor(a) @ x - lib.tensor(target)) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        before = count[0]
        opt.step(closure)
        calls.append((before, count[0] - before))
        expected = np.linalg.lstsq(a.astype(np.float64), target, rcond=None)[0]
        np.testing.assert_allclose(x.detach().numpy(), expected, atol=1e-4)
    assert calls[0][1] == calls[1][1] == 1


def test_state_dict_moves_both_ways():
    problem = _problem(2)
    kw = dict(line_search_fn="strong_wolfe", history_size=4, max_iter=3)
    ours, theirs = Model(torch, problem, **kw), Model(reference, problem, **kw)
    ours.step()
    theirs.step()
    buffer = io.BytesIO()
    reference.save(theirs.opt.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)
    resumed = Model(torch, problem, **kw)
    with torch.no_grad():
        for p, q in zip((resumed.w, resumed.b), theirs.params()):
            p.copy_(torch.tensor(q))
    resumed.opt.load_state_dict(loaded)
    assert set(resumed.opt.state_dict()["state"][0]) == set(theirs.opt.state_dict()["state"][0])

    buffer = io.BytesIO()
    torch.save(ours.opt.state_dict(), buffer)
    buffer.seek(0)
    back = Model(reference, problem, **kw)
    with reference.no_grad():
        for p, q in zip((back.w, back.b), ours.params()):
            p.copy_(reference.tensor(q))
    back.opt.load_state_dict(reference.load(buffer, map_location="cpu"))
    for _ in range(2):  # each resumed copy goes on as the optimizer it was loaded from
        for model in (resumed, back, theirs, ours):
            model.step()
        for a, b in zip(resumed.params(), theirs.params()):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-5)
        for a, b in zip(back.params(), ours.params()):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-5)


def test_errors_match_pytorch():
    for lib in (reference, torch):
        a, b = lib.zeros(2, requires_grad=True), lib.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="doesn't support per-parameter options"):
            lib.optim.LBFGS([{"params": [a]}, {"params": [b]}])
        with pytest.raises(ValueError, match="Invalid learning rate: -1"):
            lib.optim.LBFGS([a], lr=-1)
        opt = lib.optim.LBFGS([a], line_search_fn="armijo")

        def closure():
            opt.zero_grad()
            loss = ((a - 1) ** 2).sum()
            loss.backward()
            return loss

        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            opt.step(closure)
        assert lib.optim.LBFGS([a]).defaults["max_eval"] == 25
