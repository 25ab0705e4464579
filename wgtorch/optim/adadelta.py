"""``Adadelta``: step sizes from running averages of squared gradients and updates."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """PyTorch's ``torch.optim.Adadelta``; one fused kernel per parameter
    (``optim_adadelta.wgsl``).

    ``v = rho * v + (1 - rho) * g^2``; ``delta = sqrt(u + eps) / sqrt(v + eps) * g``;
    ``u = rho * u + (1 - rho) * delta^2``; ``p -= lr * delta``.

    Example::

        opt = wgtorch.optim.Adadelta(model.parameters())
    """

    _kernel = optim_kernels.ADADELTA

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["square_avg"] = new_state(p, 0.0)
        state["acc_delta"] = new_state(p, 0.0)

    def _update(self, p, grad, state, group):
        state["step"] += 1
        flags = MAXIMIZE if group["maximize"] else 0
        self._launch(p, grad, [state["square_avg"], state["acc_delta"]], flags,
                     lr=float(group["lr"]), rho=group["rho"], w=1 - group["rho"],
                     eps=group["eps"], weight_decay=group["weight_decay"])

    def _update_differentiable(self, p, grad, state, group):
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().clone()
        delta.div_(std).mul_(grad)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-float(group["lr"]))
