"""The optimizers' fused update kernels (``shaders/optim_*.wgsl``), one per optimizer.

Each kernel updates one parameter in place, four elements per invocation (vec4 loads and
stores): it reads the gradient and writes the parameter and the optimizer's state buffers.
The hyper-parameters travel in the kernel's Params, so a learning rate changed by a scheduler
costs no recompilation and no upload. ``wgtorch/optim`` computes the per-step scalars and
calls ``step``.
"""

from .. import dtypes as dt
from .kernel import Kernel

MAXIMIZE, HALF = 1, 2  # flag bits shared by every kernel (shaders/optim_common.wgsl)


def _update_kernel(name, state, hyper):
    """The kernel of ``shaders/optim_<name>.wgsl``: grad, param, then the ``state`` buffers;
    Params numel, p_off, g_off, flags, then the f32 ``hyper``-parameters (and weight_decay,
    0, for a rule without it: optim_common.wgsl's with_weight_decay reads it)."""
    if "weight_decay" not in hyper:
        hyper = (*hyper, "weight_decay")
    return Kernel(f"optim_{name}", f"optim_{name}.wgsl", inputs=("grad: vec4<f32>",),
                  outputs=("param: vec4<f32>", *(f"{s}: vec4<f32>" for s in state)),
                  params=("numel: u32", "p_off: u32", "g_off: u32", "flags: u32",
                          *(f"{h}: f32" for h in hyper)), defaults={"weight_decay": 0.0})


SGD = _update_kernel("sgd", ("momentum_buf",), ("lr", "momentum", "dampening", "weight_decay"))
ADAM = _update_kernel("adam", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                      ("beta2", "w1", "w2", "eps", "weight_decay", "decay", "step_size",
                       "bias_correction2_sqrt"))
ADAGRAD = _update_kernel("adagrad", ("state_sum",), ("clr", "eps", "weight_decay"))
RMSPROP = _update_kernel("rmsprop", ("square_avg", "momentum_buf", "grad_avg"),
                         ("lr", "alpha", "w", "eps", "weight_decay", "momentum"))
ADADELTA = _update_kernel("adadelta", ("square_avg", "acc_delta"),
                          ("lr", "rho", "w", "eps", "weight_decay"))
NADAM = _update_kernel("nadam", ("exp_avg", "exp_avg_sq"),
                       ("weight_decay", "decay", "w1", "beta2", "w2", "eps", "bias_correction2",
                        "grad_coef", "avg_coef"))
RADAM = _update_kernel("radam", ("exp_avg", "exp_avg_sq"),
                       ("lr", "weight_decay", "decay", "w1", "beta2", "w2", "eps",
                        "bias_correction1", "bias_correction2_sqrt", "rect"))
ADAMAX = _update_kernel("adamax", ("exp_avg", "exp_inf"),
                        ("weight_decay", "w1", "beta2", "eps", "neg_clr"))
ASGD = _update_kernel("asgd", ("ax",), ("weight_decay", "decay", "neg_eta", "mu"))
RPROP = _update_kernel("rprop", ("prev", "step_size"),
                       ("etaminus", "etaplus", "step_size_min", "step_size_max"))
SPARSE_ADAM = _update_kernel("sparse_adam", ("exp_avg", "exp_avg_sq"),
                             ("w1", "w2", "eps", "neg_step_size"))


def step(kernel, p, grad, state, flags, **hyper):
    """Run ``kernel`` on contiguous parameter ``p`` (offset a multiple of 4) with gradient
    ``grad`` (likewise) and its ``state`` tensors in binding order (``None`` where the
    kernel's option is off); ``flags``: option bits beyond MAXIMIZE/HALF."""
    n = p.numel()
    if p.dtype is dt.float16:
        flags |= HALF
    kernel.launch(ins=[grad], outs=[p, *state], threads=-(-n // 4), numel=n, p_off=p._offset,
                  g_off=grad._offset, flags=flags, **hyper)
