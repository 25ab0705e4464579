"""``Optimizer``: the base class that walks parameter groups; subclasses write one update rule.

Each optimizer's update of one parameter is ONE fused WGSL kernel (``shaders/optim_*.wgsl``)
that reads the gradient and writes the parameter and its state buffers in place, four elements
per invocation (vec4 loads and stores). The hyper-parameters travel in the kernel's uniform
block, so a learning rate changed by a scheduler (or by hand in ``param_groups``) costs
nothing: no recompilation, no upload. Every in-place write bumps the tensor's version counter.

What differs from PyTorch, on purpose:

- ``state[p]["step"]`` (and the other per-parameter scalars PyTorch keeps as 0-d tensors:
  NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``; ``_host_scalars`` names them) is a
  Python float kept on the host, so a step never waits for a GPU read; those that PyTorch
  holds in float32 are rounded to float32 as it does. ``state_dict()`` exports them as 0-d
  float32 tensors, as PyTorch stores them, and ``load_state_dict`` accepts either form.
- ``load_state_dict`` copies the loaded state tensors (PyTorch may alias them), since the
  update kernels write them in place.
- Parameters must be contiguous (PyTorch's are); a strided parameter raises ``RuntimeError``.
  A non-contiguous gradient is copied to a contiguous one first.
- ``differentiable=True`` runs the update as wgtorch tensor ops with autograd on (each
  optimizer's ``_update_differentiable``, PyTorch's single-tensor code path), so gradients
  flow through the step into the parameter (which may then be a non-leaf), the gradient and
  the state, as in PyTorch. ``fused=True`` with it raises PyTorch's RuntimeError, and
  ``foreach=True`` with it PyTorch's AssertionError at the step (SGD accepts it, as PyTorch's).
- ``foreach`` and ``fused`` are accepted and recorded: every update is one fused kernel per
  parameter whatever they say (PyTorch's checks of their combinations are kept).
  ``capturable`` is accepted on every device (the state a step reads is already on the
  host or in the kernel's uniform, so a captured step needs nothing more); PyTorch refuses it
  for tensors that are not on a CUDA-like device.
- Tensor hyper-parameters (``lr=torch.tensor(0.01)``) are not supported: pass floats.
"""

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad, set_grad_enabled
from ..ops import optim_kernels
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a hyper-parameter every param group must give."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    if isinstance(obj, Tensor):
        return "torch.Tensor"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer``).

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (param
    groups) holding ``"params"`` and per-group overrides of ``defaults``.

    A subclass implements ``_init_state(p, group, state)`` (fill ``state`` on first use) and
    ``_update(p, grad, state, group)`` (launch its fused kernel, ``_kernel``, through
    ``_launch``).

    Example::

        opt = wgtorch.optim.SGD([{"params": body.parameters()},
                                 {"params": head.parameters(), "lr": 1e-3}], lr=1e-2)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    """

    _kernel = None  # its update kernel (wgtorch/ops/optim_kernels.py)
    _host_scalars = ("step",)  # state kept as Python floats, exported as 0-d float32 tensors
    _state_shaped_like_param = True  # state tensors have the parameter's shape (not LBFGS)
    _foreach_supports_autograd = False  # PyTorch's foreach path refuses differentiable=True

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)
        if defaults.get("fused"):
            if defaults.get("differentiable"):
                raise RuntimeError("`fused` does not support `differentiable`")
            if defaults.get("foreach"):
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    # ---- pickling and printing -------------------------------------------------------------

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        """Restore (pickle, load_state_dict); groups saved by older versions that lack an
        option get it from this optimizer's defaults."""
        self.__dict__.update(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
        self.defaults.setdefault("differentiable", False)  # not in the groups, as PyTorch

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    # ---- param groups ---------------------------------------------------------------------

    def add_param_group(self, param_group):
        """Add a param group (a dict with ``"params"``) to ``param_groups``; missing options
        take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not self.defaults.get("differentiable") and not (
                param.is_leaf or param.retains_grad
            ):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients and steps -----------------------------------------------------------------

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors: to ``None`` (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with set_grad_enabled(bool(self.defaults.get("differentiable"))):
            for group in self.param_groups:
                differentiable = group.get("differentiable", False)
                if differentiable and group.get("foreach") and not self._foreach_supports_autograd:
                    raise AssertionError("_foreach ops don't support autograd")
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = self._check_grad(p, differentiable)
                    state = self.state[p]
                    if len(state) == 0:
                        self._init_state(p, group, state)
                    if differentiable:
                        self._update_differentiable(p, grad, state, group)
                    else:
                        self._update(p, grad, state, group)
                    if not state:  # e.g. SGD without momentum keeps no state, as in PyTorch
                        del self.state[p]
        return loss

    def _check_grad(self, p, differentiable=False):
        grad = p.grad
        if tuple(grad.shape) != tuple(p.shape):
            raise RuntimeError(
                f"{type(self).__name__}: the gradient has shape {list(grad.shape)} but the "
                f"parameter has shape {list(p.shape)}"
            )
        if grad.dtype is not p.dtype:
            raise RuntimeError(
                f"{type(self).__name__}: the gradient's dtype {grad.dtype} does not match the "
                f"parameter's dtype {p.dtype}"
            )
        if not p.dtype.is_floating_point:
            raise RuntimeError(
                f"{type(self).__name__}: can only optimize floating point parameters, got {p.dtype}"
            )
        if differentiable:
            return grad  # tensor ops take any layout
        if not p.is_contiguous():
            raise RuntimeError(
                f"{type(self).__name__}: wgtorch optimizers update contiguous parameters in place; "
                f"got a parameter of shape {list(p.shape)} with strides {list(p.stride())}. "
                "Pass p.contiguous() leaves (nn.Module parameters always are)"
            )
        if not grad.is_contiguous() or grad._offset % 4 or grad._storage is p._storage:
            grad = grad.clone()  # the kernel reads the gradient as vec4s from a 4-aligned offset
        return grad

    def _init_state(self, p, group, state):
        raise NotImplementedError

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    def _update_differentiable(self, p, grad, state, group):
        """The update as wgtorch tensor ops, recorded by autograd (``differentiable=True``)."""
        raise NotImplementedError

    def _launch(self, p, grad, state_tensors, flags, **hyper):
        """Run this optimizer's kernel on one parameter.

        ``state_tensors``: the kernel's state buffers in binding order (``None`` where the
        kernel's option is off); ``flags``: option bits beyond MAXIMIZE/HALF; ``hyper``: the
        kernel's hyper-parameter fields by name.
        """
        if p.numel() == 0:
            return
        if p._offset % 4:  # NOTE: the kernel reads vec4s; a rare misaligned view goes via a copy
            from ..ops.copy import copy_into

            aligned = p.clone()
            self._launch(aligned, grad, state_tensors, flags, **hyper)
            copy_into(p, aligned)
            return
        optim_kernels.step(self._kernel, p, grad, state_tensors, flags, **hyper)
        p._storage.version += 1
        for t in state_tensors:
            if t is not None:
                t._storage.version += 1

    # ---- state dicts -------------------------------------------------------------------------

    def state_dict(self):
        """The optimizer state as PyTorch lays it out: ``{"state": {index: {...}},
        "param_groups": [{..., "params": [index, ...]}]}``, indices numbering the parameters
        across groups in order. State tensors are returned by reference, as in PyTorch."""
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {id(p): i for i, p in enumerate(group["params"], start_index)
                 if id(p) not in param_mappings}
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {}
        for k, v in self.state.items():
            key = param_mappings[id(k)] if isinstance(k, Tensor) else k
            packed_state[key] = {name: self._export(name, value) for name, value in v.items()}
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load a state from ``state_dict()`` (this optimizer's, or PyTorch's via
        ``wgtorch.load``). Options in the saved groups replace the current ones."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        with no_grad():
            for k, v in state_dict["state"].items():
                if k in id_map:
                    param = id_map[k]
                    state[param] = {name: self._import(param, name, value)
                                    for name, value in v.items()}
                else:
                    state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    def _export(self, name, value):
        if name in self._host_scalars and not isinstance(value, Tensor):
            from ..ops.creation import tensor

            return tensor(float(value))
        return value

    def _import(self, param, name, value, nested=False):
        """A loaded state value made ready for the kernels: host scalars as floats, tensors as
        fresh contiguous copies with the parameter's dtype (when floating) and device (in
        lists and dicts too, as PyTorch casts them)."""
        if name in self._host_scalars and not nested:
            return float(value.item()) if isinstance(value, Tensor) else float(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self._import(param, name, v, True) for v in value)
        if isinstance(value, dict):
            return {k: self._import(param, k, v, True) for k, v in value.items()}
        if not isinstance(value, Tensor):
            return deepcopy(value)
        dtype = param.dtype if param.dtype.is_floating_point else value.dtype
        moved = value.detach().to(device=param.device, dtype=dtype)
        if moved is value or moved._storage is value._storage or moved._offset:
            moved = moved.clone()
        if (self._state_shaped_like_param and not nested
                and tuple(moved.shape) != tuple(param.shape)):
            raise ValueError(
                f"loaded state dict has a {name!r} tensor of shape {list(moved.shape)} for a "
                f"parameter of shape {list(param.shape)}"
            )
        return moved


# ---- helpers ---------------------------------------------------------------------------------

def new_state(p, fill=None):
    """A contiguous state tensor shaped like ``p`` (``fill=None``: left uninitialised)."""
    t = Tensor._empty(p.shape, p.dtype, p.device)
    if fill is not None and t.numel():
        from ..ops.copy import fill_value

        fill_value(t, fill)
    return t


def float32(x):
    """``x`` rounded to float32, as PyTorch rounds a scalar it keeps in a 0-d float32 tensor."""
    return float(np.float32(x))
