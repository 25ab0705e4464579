"""``Adam`` and ``AdamW`` (decoupled weight decay), with amsgrad."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["Adam", "AdamW"]

AMSGRAD, DECOUPLED = 4, 8  # flag bits of shaders/optim_adam.wgsl


class Adam(Optimizer):
    """PyTorch's ``torch.optim.Adam``; one fused kernel per parameter (``optim_adam.wgsl``).

    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g^2``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; ``amsgrad`` uses the
    running maximum of ``v``. ``weight_decay`` adds ``weight_decay * p`` to the gradient, or
    with ``decoupled_weight_decay=True`` (AdamW) scales ``p`` by ``1 - lr * weight_decay``.

    Example::

        opt = wgtorch.optim.Adam(model.parameters(), lr=1e-3)
    """

    _kernel = optim_kernels.ADAM

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
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
        betas = tuple(float(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["exp_avg"] = new_state(p, 0.0)
        state["exp_avg_sq"] = new_state(p, 0.0)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = new_state(p, 0.0)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr = float(group["lr"])
        state["step"] += 1
        step = state["step"]
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        flags = MAXIMIZE if group["maximize"] else 0
        flags |= DECOUPLED if group["decoupled_weight_decay"] else 0
        max_sq = None
        if group["amsgrad"]:
            flags |= AMSGRAD
            max_sq = state.get("max_exp_avg_sq")
            if max_sq is None:  # amsgrad switched on after the first step
                max_sq = state["max_exp_avg_sq"] = new_state(p, 0.0)
        self._launch(p, grad, [state["exp_avg"], state["exp_avg_sq"], max_sq], flags,
                     beta2=beta2, w1=1 - beta1, w2=1 - beta2, eps=group["eps"],
                     weight_decay=group["weight_decay"],
                     decay=1 - lr * group["weight_decay"], step_size=lr / bias_correction1,
                     bias_correction2_sqrt=bias_correction2**0.5)

    def _update_differentiable(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size_neg = -lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        second = exp_avg_sq
        if group["amsgrad"]:
            max_sq = state.get("max_exp_avg_sq")
            if max_sq is None:
                max_sq = state["max_exp_avg_sq"] = new_state(p, 0.0)
            max_sq.copy_(max_sq.clone().maximum(exp_avg_sq))
            second = max_sq
        denom = (second.sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(
            group["eps"] / step_size_neg)
        p.addcdiv_(exp_avg.clone(), denom)


class AdamW(Adam):
    """PyTorch's ``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2),
    ``p *= 1 - lr * weight_decay`` before the Adam step.

    Example::

        opt = wgtorch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
