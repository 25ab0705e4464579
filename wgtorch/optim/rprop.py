"""``Rprop``: resilient backpropagation, per-element step sizes driven by gradient signs."""

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """PyTorch's ``torch.optim.Rprop``; one fused kernel per parameter (``optim_rprop.wgsl``).

    Where the gradient kept its sign since the last step, the element's step size grows by
    ``etas[1]``; where it flipped, it shrinks by ``etas[0]`` and that element skips the step
    (its gradient counts as zero); step sizes stay within ``step_sizes``. Then
    ``p -= sign(g) * step_size``. Step sizes start at ``lr``.

    Example::

        opt = wgtorch.optim.Rprop(model.parameters(), lr=0.01)
    """

    _kernel = optim_kernels.RPROP

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0.0
        state["prev"] = new_state(p, 0.0)
        state["step_size"] = new_state(p, float(group["lr"]))

    def _update(self, p, grad, state, group):
        state["step"] += 1
        etaminus, etaplus = group["etas"]
        size_min, size_max = group["step_sizes"]
        flags = MAXIMIZE if group["maximize"] else 0
        self._launch(p, grad, [state["prev"], state["step_size"]], flags, etaminus=etaminus,
                     etaplus=etaplus, step_size_min=size_min, step_size_max=size_max)

    def _update_differentiable(self, p, grad, state, group):
        state["step"] += 1
        etaminus, etaplus = group["etas"]
        grad = -grad if group["maximize"] else grad
        prev, step_size = state["prev"], state["step_size"]
        sign = grad.mul(prev.clone()).sign()
        sign[sign.gt(0)] = etaplus
        sign[sign.lt(0)] = etaminus
        sign[sign.eq(0)] = 1
        step_size.mul_(sign).clamp_(*group["step_sizes"])
        grad = grad.clone()
        grad[sign.eq(etaminus)] = 0
        p.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
