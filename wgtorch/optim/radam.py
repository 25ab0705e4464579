"""``RAdam``: Adam with the variance of the adaptive learning rate rectified."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["RAdam"]

DECOUPLED, RECTIFY = 4, 8  # flag bits of shaders/optim_radam.wgsl


class RAdam(Optimizer):
    """PyTorch's ``torch.optim.RAdam``; one fused kernel per parameter (``optim_radam.wgsl``).

    ``m`` and ``v`` as in Adam; ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)`` with
    ``rho_inf = 2 / (1 - beta2) - 1``. While ``rho_t <= 5`` the step is SGD with momentum,
    ``p -= lr * m / (1 - beta1^t)``; afterwards it is Adam's scaled by the rectification
    term ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    ``decoupled_weight_decay=True`` scales ``p`` by ``1 - lr * weight_decay`` instead of adding
    ``weight_decay * p`` to the gradient.

    Example::

        opt = wgtorch.optim.RAdam(model.parameters(), lr=1e-3)
    """

    _kernel = optim_kernels.RADAM

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
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
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["exp_avg"] = new_state(p, 0.0)
        state["exp_avg_sq"] = new_state(p, 0.0)

    @staticmethod
    def _scalars(state, group):
        """Advance the step; its bias corrections and rectification term (None: no
        rectification this step), in float64 as PyTorch's."""
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        rect = None
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        return 1 - beta1**step, bias_correction2**0.5, rect

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        bias_correction1, bias_correction2_sqrt, rect = self._scalars(state, group)
        flags = MAXIMIZE if group["maximize"] else 0
        flags |= DECOUPLED if group["decoupled_weight_decay"] and wd != 0 else 0
        flags |= RECTIFY if rect is not None else 0
        self._launch(p, grad, [state["exp_avg"], state["exp_avg_sq"]], flags, lr=lr,
                     weight_decay=wd, decay=1 - lr * wd, w1=1 - beta1, beta2=beta2,
                     w2=1 - beta2, eps=group["eps"], bias_correction1=bias_correction1,
                     bias_correction2_sqrt=bias_correction2_sqrt, rect=rect or 0.0)

    def _update_differentiable(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        grad = -grad if group["maximize"] else grad
        bias_correction1, bias_correction2_sqrt, rect = self._scalars(state, group)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        corrected = exp_avg / bias_correction1
        if rect is None:
            p.add_(corrected * lr, alpha=-1.0)
        else:
            adaptive = bias_correction2_sqrt / exp_avg_sq.sqrt().add(group["eps"])
            p.add_(corrected * lr * adaptive * rect, alpha=-1.0)
