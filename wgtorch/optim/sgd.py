"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["SGD"]

MOMENTUM, NESTEROV, FIRST = 4, 8, 16  # flag bits of shaders/optim_sgd.wgsl


class SGD(Optimizer):
    """PyTorch's ``torch.optim.SGD``; one fused kernel per parameter (``optim_sgd.wgsl``).

    ``g = grad + weight_decay * p``; with momentum ``buf = momentum * buf + (1 - dampening) * g``
    (``buf = g`` on the first step) and ``g = buf`` (or ``g + momentum * buf`` with
    ``nesterov``); then ``p -= lr * g``. ``maximize`` negates the gradient.

    Example::

        opt = wgtorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    _kernel = optim_kernels.SGD
    _foreach_supports_autograd = True  # PyTorch's SGD takes foreach=True, differentiable=True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        pass  # the momentum buffer appears on the first step with momentum (as in PyTorch)

    def _update(self, p, grad, state, group):
        momentum = group["momentum"]
        flags = MAXIMIZE if group["maximize"] else 0
        buf = None
        if momentum != 0:
            flags |= MOMENTUM | (NESTEROV if group["nesterov"] else 0)
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = new_state(p)
                flags |= FIRST
        self._launch(p, grad, [buf], flags, lr=float(group["lr"]), momentum=momentum,
                     dampening=group["dampening"], weight_decay=group["weight_decay"])

    def _update_differentiable(self, p, grad, state, group):
        momentum = group["momentum"]
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - group["dampening"])
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-float(group["lr"]))
