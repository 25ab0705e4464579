"""``Adamax``: Adam with the infinity norm in place of the second moment."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """PyTorch's ``torch.optim.Adamax``; one fused kernel per parameter
    (``optim_adamax.wgsl``).

    ``m = beta1 * m + (1 - beta1) * g``; ``u = max(beta2 * u, |g| + eps)``;
    ``p -= lr / (1 - beta1^t) * m / u``.

    Example::

        opt = wgtorch.optim.Adamax(model.parameters(), lr=2e-3)
    """

    _kernel = optim_kernels.ADAMAX

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["exp_avg"] = new_state(p, 0.0)
        state["exp_inf"] = new_state(p, 0.0)

    @staticmethod
    def _clr(state, group):
        state["step"] += 1
        return float(group["lr"]) / (1 - group["betas"][0] ** state["step"])

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        clr = self._clr(state, group)
        flags = MAXIMIZE if group["maximize"] else 0
        self._launch(p, grad, [state["exp_avg"], state["exp_inf"]], flags,
                     weight_decay=group["weight_decay"], w1=1 - beta1, beta2=beta2,
                     eps=group["eps"], neg_clr=-clr)

    def _update_differentiable(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        grad = -grad if group["maximize"] else grad
        clr = self._clr(state, group)
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(grad, 1 - beta1)
        # NOTE: maximum saves its inputs for backward: give it a copy, not exp_inf itself,
        # which copy_ overwrites.
        exp_inf.copy_(exp_inf.mul_(beta2).clone().maximum(grad.abs().add(group["eps"])))
        p.addcdiv_(exp_avg, exp_inf, value=-clr)
