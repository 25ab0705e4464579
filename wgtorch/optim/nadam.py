"""``NAdam``: Adam with Nesterov momentum (and NAdamW with ``decoupled_weight_decay``)."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, float32, new_state

__all__ = ["NAdam"]

DECOUPLED = 4  # flag bit of shaders/optim_nadam.wgsl


class NAdam(Optimizer):
    """PyTorch's ``torch.optim.NAdam``; one fused kernel per parameter (``optim_nadam.wgsl``).

    ``mu_t = beta1 * (1 - 0.96^(t * momentum_decay) / 2)``; ``m`` and ``v`` as in Adam;
    ``p -= lr * ((1 - mu_t) / (1 - prod mu_1..t) * g + mu_{t+1} / (1 - prod mu_1..t+1) * m)
    / (sqrt(v / (1 - beta2^t)) + eps)``. ``weight_decay`` adds ``weight_decay * p`` to the
    gradient, or with ``decoupled_weight_decay=True`` (NAdamW) scales ``p`` by
    ``1 - lr * weight_decay``. ``state["mu_product"]`` is a float32 scalar on the host.

    Example::

        opt = wgtorch.optim.NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)
    """

    _kernel = optim_kernels.NADAM
    _host_scalars = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["mu_product"] = 1.0
        state["exp_avg"] = new_state(p, 0.0)
        state["exp_avg_sq"] = new_state(p, 0.0)

    def _scalars(self, state, group):
        """Advance the step and mu_product; the step's scalars, in float64 as PyTorch's."""
        beta1, beta2 = group["betas"]
        lr, decay = float(group["lr"]), group["momentum_decay"]
        state["step"] += 1
        step = state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        mu_product = state["mu_product"] = float32(state["mu_product"] * float32(mu))
        return dict(bias_correction2=1 - beta2**step,
                    grad_coef=-lr * (1.0 - mu) / (1.0 - mu_product),
                    avg_coef=(-lr * mu_next) / (1.0 - mu_product * mu_next))

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        flags = MAXIMIZE if group["maximize"] else 0
        flags |= DECOUPLED if group["decoupled_weight_decay"] and wd != 0 else 0
        self._launch(p, grad, [state["exp_avg"], state["exp_avg_sq"]], flags, weight_decay=wd,
                     decay=1 - float(group["lr"]) * wd, w1=1 - beta1, beta2=beta2,
                     w2=1 - beta2, eps=group["eps"], **self._scalars(state, group))

    def _update_differentiable(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        s = self._scalars(state, group)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(s["bias_correction2"]).sqrt().add(group["eps"])
        p.addcdiv_(grad * s["grad_coef"], denom)
        p.addcdiv_(exp_avg * s["avg_coef"], denom)
