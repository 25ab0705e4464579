"""Graph nodes and ``Function``: PyTorch's custom-function API, also used by every primitive.

A primitive is a ``Function`` subclass whose ``forward`` launches a kernel and whose
``backward`` is written in wgtorch ops, so the backward pass is GPU dispatches too and
higher-order gradients work when ``create_graph=True``.

Recording a call makes one ``Node``: it is both the ``ctx`` that ``forward``/``backward``
receive and the output's ``grad_fn`` (as in PyTorch), an instance of a class named after the
backward (``MulBackward0`` for wgtorch's primitives, ``<Name>Backward`` for user Functions).
Nothing in the graph points back at a tensor that owns it, so dropping the last output frees
the graph and its saved tensors at once, without the garbage collector:

- a node keeps its outputs (when saved) as detached aliases (``SavedTensor``);
- a tensor keeps its leaf accumulator only through a weak reference.

Two differences between primitives (classes defined inside wgtorch) and user Functions, both
PyTorch's: a primitive that receives no gradient at all is skipped and passes ``None`` on
(a user Function gets zeros, unless it called ``ctx.set_materialize_grads(False)``); and a
user Function must return one gradient per ``forward`` argument.
"""

import functools
import weakref

from .grad_mode import grad_state

Tensor = None  # wgtorch.tensor.Tensor, bound on first use (tensor.py imports this module)


def _tensor_type():
    global Tensor
    from ..tensor import Tensor as T

    Tensor = T
    return T


_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class FunctionCtx:
    """The ``ctx`` passed to ``forward``/``backward`` (a ``Node`` when the call is recorded)."""

    _saved = ()
    _freed = False
    _dirty = ()
    _non_differentiable = ()
    materialize_grads = True
    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or None) for ``backward``; in-place changes to them
        made after this call are detected when ``backward`` reads ``ctx.saved_tensors``."""
        self._saved = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (``requires_grad=False``), e.g. indices."""
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors):
        """Inputs that ``forward`` modified in place (and returns)."""
        self._dirty = tensors

    def set_materialize_grads(self, value):
        """With False, ``backward`` receives None (not zeros) for outputs without gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked against in-place changes."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE)
        return tuple(s.unpack(self) if type(s) is SavedTensor else s for s in self._saved)


class SavedTensor:
    """A tensor saved for backward with its version, so in-place changes are caught."""

    __slots__ = ("data", "output_nr", "version")

    def __init__(self, tensor, output_nr=None):
        if tensor._is_inference:
            raise RuntimeError(
                "Inference tensors cannot be saved for backward. To work around this, you can "
                "make a clone to get a normal tensor and use it in autograd, or use "
                "`wgtorch.no_grad()` instead of `wgtorch.inference_mode()`."
            )
        self.version = tensor._storage.version
        self.output_nr = output_nr
        # NOTE: an output of the node itself is kept as a detached alias: keeping the output
        # (whose grad_fn is the node) would make a cycle node -> output -> node.
        self.data = tensor if output_nr is None else tensor._alias()

    def unpack(self, node):
        t = self.data
        if t._storage.version != self.version:
            if self.output_nr is None:
                owner, nr = t.grad_fn, t._output_nr
            else:
                owner, nr = node, self.output_nr
            where = f", which is output {nr} of {owner.name()}," if owner is not None else ""
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.type()} {list(t.shape)}]{where} is at version "
                f"{t._storage.version}; expected version {self.version} instead. Hint: use an "
                "out-of-place operation (x = x + 1, not x += 1) on tensors that an earlier "
                "operation saved for backward."
            )
        if self.output_nr is None:
            return t
        out = t._alias()
        out._grad_fn, out._output_nr = node, self.output_nr
        return out


class Node(FunctionCtx):
    """One recorded call: the ``ctx`` of its Function and the outputs' ``grad_fn``.

    ``next_functions`` has one ``(node, output_nr)`` edge per tensor argument of ``forward``
    (``(None, 0)`` for one that needs no gradient), as in PyTorch.
    """

    _fn = None  # the Function class (set on the per-Function subclass)
    _primitive = False  # defined inside wgtorch (see the module docstring)
    _pre_hooks = None  # output_nr -> [tensor hook]
    _retained = None  # output_nr -> weakref of a tensor that retains its grad
    _node_pre_hooks = None  # [hook(grad_outputs)]
    _post_hooks = None  # [hook(grad_inputs, grad_outputs)]

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    @property
    def metadata(self):
        """A dict for user data attached to this node."""
        return self.__dict__.setdefault("_metadata", {})

    def register_prehook(self, hook):
        """``hook(grad_outputs) -> new grad_outputs or None``, called before this node runs."""
        if self._node_pre_hooks is None:
            self._node_pre_hooks = []
        self._node_pre_hooks.append(hook)
        return RemovableHandle(self._node_pre_hooks, hook)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs) -> new grad_inputs or None``, called after."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    def _add_tensor_hook(self, output_nr, hook):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        hooks = self._pre_hooks.setdefault(output_nr, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def _retain(self, output_nr, tensor):
        if self._retained is None:
            self._retained = {}
        self._retained[output_nr] = weakref.ref(tensor)

    def _unretain(self, output_nr):
        if self._retained:
            self._retained.pop(output_nr, None)

    def _release(self):
        """Free the saved tensors (after backward without ``retain_graph``); a node that saved
        no tensor can run again, as in PyTorch."""
        if any(type(s) is SavedTensor for s in self._saved):
            self._saved = ()
            self._freed = True


class AccumulateGrad:
    """The node at a leaf: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("__weakref__", "variable")
    next_functions = ()
    _pre_hooks = _retained = _node_pre_hooks = _post_hooks = None

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"

    def register_hook(self, hook):
        raise RuntimeError("register hooks on leaf tensors with Tensor.register_hook")


def grad_accumulator(t):
    """The leaf's ``AccumulateGrad`` (one per leaf while a graph uses it)."""
    ref = t._grad_accumulator
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._grad_accumulator = weakref.ref(acc)
    return acc


def _edge(t):
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._requires_grad:
        return (grad_accumulator(t), 0)
    return (None, 0)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        for k, h in enumerate(self.hooks):
            if h is self.hook:
                del self.hooks[k]
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Function:
    """Base class for differentiable operations (PyTorch's ``torch.autograd.Function``).

    ``forward`` runs without recording; ``backward`` returns one gradient (or None) per
    ``forward`` argument. Example::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)      # y.grad_fn is <ExpBackward object ...>
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom Function")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement the backward function for custom Function")

    @classmethod
    def _node_type(cls):
        node_type = cls.__dict__.get("_node_cls")
        if node_type is None:
            primitive = cls.__module__.startswith("wgtorch.")
            name = cls.__name__ if primitive else cls.__name__ + "Backward"
            node_type = type(name, (Node,), {"_fn": cls, "_primitive": primitive,
                                             "__module__": cls.__module__})
            cls._node_cls = node_type
        return node_type

    @classmethod
    def apply(cls, *args, **kwargs):
        T = Tensor or _tensor_type()
        if grad_state.enabled:
            needs = tuple(isinstance(a, T) and a.requires_grad for a in args)
            if True in needs:
                return _record(cls, args, kwargs, needs)
        ctx = FunctionCtx()
        outputs = cls.forward(ctx, *args, **kwargs)
        if grad_state.enabled:
            _mark_views(outputs, args)
        return outputs


def _mark_views(outputs, args):
    """Make outputs that are views of an input differentiable views (see Tensor.grad_fn)."""
    T = Tensor
    for o in outputs if isinstance(outputs, tuple) else (outputs,):
        if isinstance(o, T) and o._base is not None:
            for a in args:
                if isinstance(a, T) and a._storage is o._storage:
                    o._view_version = o._storage.version
                    break


def _record(cls, args, kwargs, needs):
    T = Tensor
    node = cls._node_type()()
    node.needs_input_grad = needs
    grad_state.enabled = False
    try:
        outputs = cls.forward(node, *args, **kwargs)
    finally:
        grad_state.enabled = True
    inputs = [a for a in args if isinstance(a, T)]
    node._slots = tuple(k for k, a in enumerate(args) if isinstance(a, T))
    node._n_args = len(args)
    node.next_functions = tuple(_edge(a) for a in inputs)

    single = not isinstance(outputs, tuple)
    outs = [outputs] if single else list(outputs)
    meta = []
    for k, o in enumerate(outs):
        if not isinstance(o, T):
            meta.append(None)
            continue
        for a in inputs:
            if a is o:
                o = outs[k] = _returned_input(node, o)
                break
        meta.append((o.shape, o.dtype, o.device))
        if o.dtype.is_floating_point and not _is_in(o, node._non_differentiable):
            o._grad_fn, o._output_nr = node, k
            if o._base is not None:
                for a in inputs:
                    if a._storage is o._storage:  # a view of an input: see Tensor.grad_fn
                        o._view_version = o._storage.version
                        break
    node._output_meta = tuple(meta)
    if node._saved:
        node._saved = tuple(_save(t, outs) for t in node._saved)
    return outs[0] if single else tuple(outs)


def _is_in(t, tensors):
    for x in tensors:
        if x is t:
            return True
    return False


def _returned_input(node, o):
    """An input that ``forward`` returned: itself when marked dirty (modified in place),
    else an alias (so the input keeps its own history)."""
    if not _is_in(o, node._dirty):
        return o._alias()
    if o._grad_fn is None and o._requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad has been used in an in-place operation."
        )
    o._storage.version += 1
    return o


def _save(t, outs):
    if not isinstance(t, Tensor):
        return t
    for k, o in enumerate(outs):
        if o is t:
            return SavedTensor(t, k)
    return SavedTensor(t)


class DelayedError(Function):
    """Passes ``g`` through; backpropagating through it raises ``message``."""

    @staticmethod
    def forward(ctx, message, g):
        ctx.message = message
        return g._alias()

    @staticmethod
    def backward(ctx, gg):
        raise RuntimeError(ctx.message)


def once_differentiable(fn):
    """Decorator for ``backward``: runs it without recording a graph, so the gradients it
    returns cannot be differentiated again (doing so raises, as in PyTorch)."""
    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        prev = grad_state.enabled
        grad_state.enabled = False
        try:
            out = fn(ctx, *grads)
        finally:
            grad_state.enabled = prev
        T = Tensor or _tensor_type()
        if not prev or not any(isinstance(g, T) and g.requires_grad for g in grads):
            return out
        # as PyTorch: outputs become (detached) inputs of a node whose backward raises
        message = ("trying to differentiate twice a function that was marked with "
                   "@once_differentiable")
        single = not isinstance(out, tuple)
        wrapped = tuple(
            DelayedError.apply(message, g.detach().requires_grad_())
            if isinstance(g, T) and g.dtype.is_floating_point else g
            for g in ((out,) if single else out)
        )
        return wrapped[0] if single else wrapped

    return wrapper
