"""``ASGD``: averaged stochastic gradient descent."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, float32, new_state

__all__ = ["ASGD"]

AVERAGE = 4  # flag bit of shaders/optim_asgd.wgsl


class ASGD(Optimizer):
    """PyTorch's ``torch.optim.ASGD``; one fused kernel per parameter (``optim_asgd.wgsl``).

    ``p = p * (1 - lambd * eta) - eta * g``; the average ``ax`` follows ``p`` (``ax += (p -
    ax) * mu``, a copy while ``mu == 1``); then ``eta = lr / (1 + lambd * lr * t)^alpha`` and
    ``mu = 1 / max(1, t - t0)``. ``state["eta"]`` and ``state["mu"]`` are float32 scalars on
    the host, exported as 0-d tensors like PyTorch's.

    Example::

        opt = wgtorch.optim.ASGD(model.parameters(), lr=0.01, t0=100)
    """

    _kernel = optim_kernels.ASGD
    _host_scalars = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["eta"] = float32(group["lr"])
        state["mu"] = 1.0
        state["ax"] = new_state(p, 0.0)

    @staticmethod
    def _advance(state, group):
        """eta and mu for the next step (PyTorch updates them after the parameter)."""
        lr, lambd, step = float(group["lr"]), group["lambd"], state["step"]
        state["eta"] = float32(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        state["mu"] = float32(1 / max(1, step - group["t0"]))

    def _update(self, p, grad, state, group):
        state["step"] += 1
        eta, mu = state["eta"], state["mu"]
        flags = MAXIMIZE if group["maximize"] else 0
        flags |= AVERAGE if mu != 1 else 0
        self._launch(p, grad, [state["ax"]], flags, weight_decay=group["weight_decay"],
                     decay=1 - group["lambd"] * eta, neg_eta=-eta, mu=mu)
        self._advance(state, group)

    def _update_differentiable(self, p, grad, state, group):
        grad = -grad if group["maximize"] else grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        eta, ax = state["eta"], state["ax"]
        p.mul_(1 - group["lambd"] * eta)
        p.add_(grad, alpha=-eta)
        if state["mu"] != 1:
            ax.add_(p.sub(ax).mul_(state["mu"]))
        else:
            ax.copy_(p)
        self._advance(state, group)
