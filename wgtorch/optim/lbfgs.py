"""``LBFGS``: limited-memory BFGS over all parameters flattened into one vector.

Not a per-parameter rule, so no fused kernel: the two-loop recursion, the directions and the
optional strong-Wolfe line search (``_strong_wolfe.py``) are wgtorch tensor ops on the flat
vector, the same computation as PyTorch's ``torch/optim/lbfgs.py`` step for step: the
curvature scalars (``ys``, ``ro``, ``H_diag``, the two-loop ``al``) stay 0-d float32 tensors
and are applied as tensor products, so the two-loop recursion never waits for the GPU. The
stopping tests (and the closure's loss, as PyTorch's ``float(closure())``) read back scalars.
"""

from ..autograd.grad_mode import enable_grad, no_grad
from ..ops.shape import cat
from ._strong_wolfe import strong_wolfe
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _scaled(vector, alpha):
    """``alpha * vector`` for a float or a 0-d tensor ``alpha`` (no read back)."""
    return vector * alpha


class LBFGS(Optimizer):
    """PyTorch's ``torch.optim.LBFGS`` (one param group; ``step`` needs a closure).

    Each ``step(closure)`` runs up to ``max_iter`` iterations (``max_eval`` closure calls):
    the direction from the last ``history_size`` curvature pairs (two-loop recursion), then
    a step of ``lr`` along it, or the step a strong-Wolfe line search finds
    (``line_search_fn="strong_wolfe"``). It stops early when the largest gradient element is
    at most ``tolerance_grad``, or the step or loss changes by less than ``tolerance_change``.

    Example::

        opt = wgtorch.optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss

        opt.step(closure)
    """

    _host_scalars = ()  # the state is PyTorch's as it is: tensors, lists, ints, floats
    _state_shaped_like_param = False  # flat vectors over every parameter, kept on the first

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    def _numel(self):
        if self._numel_cache is None:
            self._numel_cache = sum(p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self):
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(p.new_zeros(p.numel()))
            else:
                views.append(p.grad.reshape(-1))
        return cat(views, 0)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(_scaled(update[offset:offset + numel].view_as(p), step_size))
            offset += numel
        if offset != self._numel():
            raise AssertionError(f"Expected offset {offset} to equal {self._numel()}")

    def _clone_param(self):
        return [p.clone() for p in self._params]

    def _set_param(self, params_data):
        for p, pdata in zip(self._params, params_data):
            p.copy_(pdata)

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def _direction(self, state, flat_grad, d, t, prev_flat_grad, history_size):
        """The L-BFGS direction: update the curvature memory with the last step, then the
        two-loop recursion (the approximate inverse Hessian times -flat_grad)."""
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = flat_grad.sub(prev_flat_grad)
        s = _scaled(d, t)
        ys = y.dot(s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:  # shift the history by one
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)  # scale of the initial Hessian approximation
        num_old = len(old_dirs)
        if "al" not in state:
            state["al"] = [None] * history_size
        al = state["al"]
        q = flat_grad.neg()
        for i in range(num_old - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q.sub_(old_dirs[i] * al[i])
        r = _scaled(q, state["H_diag"])
        for i in range(num_old):
            be_i = old_dirs[i].dot(r) * ro[i]
            r.add_(old_stps[i] * (al[i] - be_i))
        return r

    def step(self, closure):
        """Run up to ``max_iter`` iterations; ``closure`` re-evaluates the model (zero the
        gradients, compute the loss, ``backward()``) and returns the loss. Returns the loss of
        the first evaluation."""
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        # LBFGS has only global state, registered on the first parameter as PyTorch's
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the descent direction
            if state["n_iter"] == 1:
                d = flat_grad.neg()
                state["old_dirs"], state["old_stps"], state["ro"] = [], [], []
                state["H_diag"] = 1
            else:
                d = self._direction(state, flat_grad, d, t, prev_flat_grad, history_size)
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break  # the directional derivative is below tolerance

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = flat_grad.abs().max() <= tolerance_grad
            else:
                self._add_grad(t, d)  # a fixed step
                opt_cond = False
                if n_iter != max_iter:
                    # no re-evaluation after the last iteration: in a stochastic setting it
                    # would be wasted
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = flat_grad.abs().max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if _scaled(d, t).abs().max() <= tolerance_change:
                break  # lack of progress
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        for key in ("old_dirs", "old_stps", "ro", "H_diag"):
            state.setdefault(key, None)  # as PyTorch's when no iteration ran
        return orig_loss
