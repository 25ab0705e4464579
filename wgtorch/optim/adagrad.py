"""``Adagrad``: per-element learning rates from the running sum of squared gradients."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """PyTorch's ``torch.optim.Adagrad``; one fused kernel per parameter
    (``optim_adagrad.wgsl``).

    ``sum += g^2``; ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``. As in
    PyTorch, the state (``step`` and ``sum`` = ``initial_accumulator_value``) is created for
    every parameter when the optimizer is built.

    Example::

        opt = wgtorch.optim.Adagrad(model.parameters(), lr=0.01)
    """

    _kernel = optim_kernels.ADAGRAD

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group, self.state[p])

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["sum"] = new_state(p, float(group["initial_accumulator_value"]))

    def _update(self, p, grad, state, group):
        state["step"] += 1
        clr = float(group["lr"]) / (1 + (state["step"] - 1) * group["lr_decay"])
        flags = MAXIMIZE if group["maximize"] else 0
        self._launch(p, grad, [state["sum"]], flags, clr=clr, eps=group["eps"],
                     weight_decay=group["weight_decay"])

    def _update_differentiable(self, p, grad, state, group):
        state["step"] += 1
        clr = float(group["lr"]) / (1 + (state["step"] - 1) * group["lr_decay"])
        grad = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        state["sum"].addcmul_(grad, grad, value=1)
        p.addcdiv_(grad, state["sum"].sqrt() + group["eps"], value=-clr)
