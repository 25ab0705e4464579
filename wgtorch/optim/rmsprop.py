"""``RMSprop``, with momentum and the centered variant."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["RMSprop"]

MOMENTUM, CENTERED = 4, 8  # flag bits of shaders/optim_rmsprop.wgsl


class RMSprop(Optimizer):
    """PyTorch's ``torch.optim.RMSprop``; one fused kernel per parameter
    (``optim_rmsprop.wgsl``).

    ``v = alpha * v + (1 - alpha) * g^2``; ``avg = sqrt(v) + eps`` (``centered``: the
    variance ``v - mean(g)^2`` replaces ``v``); ``p -= lr * g / avg``, or through a momentum
    buffer ``buf = momentum * buf + g / avg; p -= lr * buf``.

    Example::

        opt = wgtorch.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    """

    _kernel = optim_kernels.RMSPROP

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["square_avg"] = new_state(p, 0.0)
        if group["momentum"] > 0:
            state["momentum_buffer"] = new_state(p, 0.0)
        if group["centered"]:
            state["grad_avg"] = new_state(p, 0.0)

    def _update(self, p, grad, state, group):
        state["step"] += 1
        flags = MAXIMIZE if group["maximize"] else 0
        buf = grad_avg = None
        if group["momentum"] > 0:
            flags |= MOMENTUM
            buf = state.get("momentum_buffer")
            if buf is None:  # momentum switched on after the first step
                buf = state["momentum_buffer"] = new_state(p, 0.0)
        if group["centered"]:
            flags |= CENTERED
            grad_avg = state.get("grad_avg")
            if grad_avg is None:
                grad_avg = state["grad_avg"] = new_state(p, 0.0)
        self._launch(p, grad, [state["square_avg"], buf, grad_avg], flags,
                     lr=float(group["lr"]), alpha=group["alpha"], w=1 - group["alpha"],
                     eps=group["eps"], weight_decay=group["weight_decay"],
                     momentum=group["momentum"])

    def _update_differentiable(self, p, grad, state, group):
        state["step"] += 1
        alpha, lr = group["alpha"], float(group["lr"])
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            if "grad_avg" not in state:  # centered switched on after the first step
                state["grad_avg"] = new_state(p, 0.0)
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add(group["eps"])
        if group["momentum"] > 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = new_state(p, 0.0)
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(grad, avg)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(grad, avg, value=-lr)
