"""Graph nodes and ``Function``: PyTorch's custom-function API, also used by every primitive.

A primitive is a ``Function`` subclass whose ``forward`` launches a kernel and whose
``backward`` is written in wgtorch ops, so the backward pass is GPU dispatches too and
higher-order gradients work when ``create_graph=True``.
"""

from .grad_mode import is_grad_enabled, no_grad


class FunctionCtx:
    """The ``ctx`` passed to ``forward``/``backward``."""

    def __init__(self):
        self.saved = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self.node = None
        self.non_differentiable = ()

    def save_for_backward(self, *tensors):
        self.saved = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value

    @property
    def saved_tensors(self):
        node = self.node
        if node is not None and node.released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward."
            )
        return tuple(s.unpack(node) if isinstance(s, SavedTensor) else s for s in self.saved)


class SavedTensor:
    """A tensor saved for backward with its version, so in-place changes are caught."""

    __slots__ = ("data", "version", "output_nr", "requires_grad", "grad_fn", "leaf")

    def __init__(self, tensor, output_nr=None):
        self.version = tensor._version
        self.output_nr = output_nr
        self.requires_grad = tensor.requires_grad
        self.grad_fn = None
        self.leaf = None
        if output_nr is None:
            self.data = tensor  # an input: keep it (and its graph) as is
        else:
            # An output of the node itself: keep the data only, to avoid a reference cycle.
            self.data = tensor._alias()

    def unpack(self, node):
        t = self.data
        if t._version != self.version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.type()} {list(t.shape)}], which is output {self.output_nr or 0} "
                f"of {node.name()}, is at version {t._version}; expected version {self.version} "
                "instead. Hint: the operation that failed was an in-place operation on a tensor "
                "saved for backward; use an out-of-place version (e.g. x = x + 1, not x += 1)."
            )
        if self.output_nr is not None:
            out = t._alias()
            out.requires_grad = True
            out.grad_fn = node
            out._output_nr = self.output_nr
            return out
        return t


class Node:
    """One recorded operation: its backward function, saved context and input edges."""

    __slots__ = (
        "fn", "ctx", "next_functions", "output_meta", "pre_hooks", "retained", "released",
        "__weakref__",
    )

    def __init__(self, fn, ctx, next_functions, output_meta):
        self.fn = fn
        self.ctx = ctx
        self.next_functions = next_functions  # ((node, input_nr) or (None, 0)) per input
        self.output_meta = output_meta  # (shape, dtype, device) per output
        self.pre_hooks = None  # output_nr -> [hook]
        self.retained = None  # output_nr -> weakref of a tensor that retains its grad
        self.released = False

    def name(self):
        return self.fn.__name__

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def apply(self, grads):
        return self.fn.backward(self.ctx, *grads)

    def register_hook(self, hook):
        raise NotImplementedError("register hooks on tensors with Tensor.register_hook")


class AccumulateGrad:
    """The node at a leaf: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable", "pre_hooks", "retained", "released", "next_functions", "__weakref__")

    def __init__(self, variable):
        self.variable = variable
        self.pre_hooks = None
        self.retained = None
        self.released = False
        self.next_functions = ()

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _edge(t):
    if not t.requires_grad:
        return (None, 0)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    acc = t._grad_accumulator
    if acc is None:
        acc = t._grad_accumulator = AccumulateGrad(t)
    return (acc, 0)


class Function:
    """Base class for differentiable operations (PyTorch's ``torch.autograd.Function``).

    Example::

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

        y = Exp.apply(x)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom Function")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement the backward function for custom Function")

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor

        ctx = FunctionCtx()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(needs)
        if not record:
            return cls.forward(ctx, *args, **kwargs)
        ctx.needs_input_grad = needs
        with no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        outs = tuple(
            o._alias() if isinstance(o, Tensor) and any(o is a for a in args) else o for o in outs
        )
        edges = tuple(_edge(a) if isinstance(a, Tensor) else (None, 0) for a in args)
        meta = tuple((o.shape, o.dtype, o.device) if isinstance(o, Tensor) else None for o in outs)
        node = Node(cls, ctx, edges, meta)
        ctx.node = node
        nondiff = {id(t) for t in ctx.non_differentiable}
        for k, o in enumerate(outs):
            if isinstance(o, Tensor) and o.dtype.is_floating_point and id(o) not in nondiff:
                o.requires_grad = True
                o.grad_fn = node
                o._output_nr = k
        out_ids = {id(o): k for k, o in enumerate(outs) if isinstance(o, Tensor)}
        ctx.saved = tuple(
            SavedTensor(t, out_ids.get(id(t))) if isinstance(t, Tensor) else t for t in ctx.saved
        )
        return outs[0] if single else outs


def once_differentiable(fn):
    """Decorator kept for PyTorch compatibility: runs ``backward`` without recording a graph."""

    def wrapper(ctx, *grads):
        with no_grad():
            return fn(ctx, *grads)

    return wrapper
