"""``SparseAdam``: Adam masked to the gradient's stored entries.

wgtorch has no sparse tensors: gradients are dense, ``nn.Embedding(sparse=True)`` included.
PyTorch's SparseAdam refuses dense gradients ("SparseAdam does not support dense gradients,
please consider Adam instead"); wgtorch's takes them and reads a dense gradient as the sparse
one it stands for: its nonzero elements are the stored entries. Those elements get PyTorch's
masked Adam update; the others, and their ``exp_avg``/``exp_avg_sq``, are left alone. That is
PyTorch's result for the same gradient in sparse form (``grad.to_sparse()``); it differs only
where a sparse gradient stores an explicit zero, which PyTorch's would decay and wgtorch's
skips.
"""

import math

from ..ops import optim_kernels
from ..ops.optim_kernels import MAXIMIZE
from .optimizer import Optimizer, new_state

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """PyTorch's ``torch.optim.SparseAdam`` for dense gradients (see the module docstring);
    one fused kernel per parameter (``optim_sparse_adam.wgsl``).

    Where ``g != 0``: ``m += (1 - beta1) * (g - m)``, ``v += (1 - beta2) * (g^2 - v)``,
    ``p -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)``; elsewhere nothing
    changes. ``state["step"]`` is an int, as in PyTorch.

    Example::

        emb = wgtorch.nn.Embedding(10000, 64, sparse=True)
        opt = wgtorch.optim.SparseAdam(emb.parameters(), lr=1e-3)
    """

    _kernel = optim_kernels.SPARSE_ADAM
    _host_scalars = ()  # PyTorch keeps SparseAdam's step as a Python int

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p, group, state):
        state["step"] = 0
        state["exp_avg"] = new_state(p, 0.0)
        state["exp_avg_sq"] = new_state(p, 0.0)

    def _update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        state["step"] += 1
        step = state["step"]
        step_size = float(group["lr"]) * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        flags = MAXIMIZE if group.get("maximize", False) else 0
        self._launch(p, grad, [state["exp_avg"], state["exp_avg_sq"]], flags, w1=1 - beta1,
                     w2=1 - beta2, eps=group["eps"], neg_step_size=-step_size)
