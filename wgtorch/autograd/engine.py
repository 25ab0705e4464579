"""The backward engine: a dependency-counted walk of the graph from the roots.

Gradients flowing into a node are summed in its input buffer; when every edge into a node
has delivered, tensor hooks run, then the node's ``backward`` (wgtorch ops, so the whole pass
is GPU dispatches and never reads a value back to the host). Each gradient is checked against
the metadata of the node it flows into: a broadcast shape is summed back (``sum_to``), a
different dtype is cast, anything else is PyTorch's "invalid gradient" error.

With ``inputs`` (``autograd.grad`` and ``backward(inputs=...)``) only the nodes that lead to
an input run, and the gradient flowing into each input is captured instead of accumulated.
Saved tensors are freed as soon as their node has run unless ``retain_graph``.

A leaf's ``.grad`` takes the incoming gradient without a copy when nothing else can see that
gradient's memory (it is contiguous, owns its buffer, and no hook, root gradient, user
Function or other ``.grad`` has seen the buffer); otherwise it gets a private copy, so an
in-place change of one ``.grad`` never shows up anywhere else. Adding into an existing ``.grad``
is out of place (one kernel, a new tensor; PyTorch adds in place and keeps the object).
"""

from . import function
from .function import AccumulateGrad, grad_accumulator
from .grad_mode import grad_state


class _Pass:
    """State of one backward call."""

    def __init__(self, create_graph, retain_graph):
        self.create_graph = create_graph
        self.retain_graph = retain_graph
        self.seen_storages = set()  # buffers user code may hold: never reused as a .grad


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None,
                 allow_unused=False, accumulate_inputs=False):
    """Backpropagate ``root_grads`` (tensors) from ``roots`` (tensors).

    Without ``inputs``, gradients are accumulated into the leaves' ``.grad``. With ``inputs``,
    returns the gradient flowing into each of them (None where none does), touching no
    ``.grad`` (``allow_unused=False`` makes a None an error), or with ``accumulate_inputs``
    adds them into the inputs' ``.grad`` (``backward(inputs=...)``).
    """
    state = _Pass(create_graph, retain_graph)
    buffers = {}
    root_nodes = []
    for k, (t, g) in enumerate(zip(roots, root_grads)):
        node, nr = _root_edge(t, k)
        root_nodes.append(node)
        if g is not None:
            state.seen_storages.add(g._storage)
            _add(buffers, node, nr, g)
    deps, parents = _dependencies(root_nodes, want_parents=inputs is not None)

    capture = needed = None
    if inputs is not None:
        capture = {}
        for k, x in enumerate(inputs):
            node, nr = _node_of(x)
            capture.setdefault(node, []).append((nr, k))
        needed = _ancestors(capture, parents)
        results = [None] * len(inputs)

    ready = [n for n in dict.fromkeys(root_nodes) if n not in deps]
    prev_enabled = grad_state.enabled
    grad_state.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * _n_outputs(node)
            if node._pre_hooks is not None or node._retained is not None or (
                    type(node) is AccumulateGrad and node.variable._hooks):
                _tensor_hooks(node, grads, state)
            if capture is not None:
                for nr, k in capture.get(node, ()):
                    results[k] = grads[nr]
                if node not in needed:
                    continue
            if type(node) is AccumulateGrad:
                if grads[0] is not None:
                    accumulate_grad(node.variable, grads[0], state)
                continue
            in_grads = _call(node, grads, state)
            if not retain_graph:
                node._release()
            for (nxt, nr), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    _add(buffers, nxt, nr, g)
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    ready.append(nxt)
    finally:
        grad_state.enabled = prev_enabled

    if capture is None:
        return None
    if accumulate_inputs:
        for x, g in zip(inputs, results):
            if g is not None:
                accumulate_grad(x, g, state)
        return None
    for k, r in enumerate(results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"The differentiated Tensor at index {k} appears to not have been used in the "
                "graph. Set allow_unused=True if this is the desired behavior."
            )
    return tuple(results)


def _root_edge(t, k):
    fn = t.grad_fn
    if fn is not None:
        return fn, t._output_nr
    if t._requires_grad:
        return grad_accumulator(t), 0
    raise RuntimeError(f"element {k} of tensors does not require grad and does not have a grad_fn")


def _node_of(x):
    fn = x.grad_fn
    return (fn, x._output_nr) if fn is not None else (grad_accumulator(x), 0)


def _dependencies(roots, want_parents=False):
    """``{node: number of edges into it}`` over the graph reachable from ``roots``."""
    deps = {}
    parents = {} if want_parents else None
    stack = list(dict.fromkeys(roots))
    seen = set(stack)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if want_parents:
                parents.setdefault(nxt, []).append(node)
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps, parents


def _ancestors(targets, parents):
    """Nodes from which some node in ``targets`` can be reached (the ones that must run)."""
    found = set()
    stack = list(targets)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in found:
                found.add(p)
                stack.append(p)
    return found


def _n_outputs(node):
    return 1 if type(node) is AccumulateGrad else len(node._output_meta)


def _add(buffers, node, nr, g):
    slot = buffers.get(node)
    if slot is None:
        slot = buffers[node] = [None] * _n_outputs(node)
    slot[nr] = g if slot[nr] is None else slot[nr] + g


def _tensor_hooks(node, grads, state):
    """Run the hooks of the tensors whose gradient ``grads`` holds, then retain_grad."""
    if type(node) is AccumulateGrad:
        hooks = {0: node.variable._hooks}
    else:
        hooks = node._pre_hooks or {}
    for nr, fns in hooks.items():
        for hook in list(fns or ()):
            if grads[nr] is None:
                break
            state.seen_storages.add(grads[nr]._storage)
            new = hook(grads[nr])
            if new is not None:
                state.seen_storages.add(new._storage)
                grads[nr] = new
    for nr, ref in (node._retained or {}).items():
        t = ref()
        if t is not None and grads[nr] is not None:
            _store_grad(t, grads[nr], state)


def accumulate_grad(var, grad, state):
    """Add ``grad`` into ``var.grad``, then run a leaf's post-accumulate hooks."""
    _store_grad(var, grad, state)
    if var._post_accumulate_hooks:
        for hook in list(var._post_accumulate_hooks):
            hook(var)


def _store_grad(t, g, state):
    if not state.create_graph and g._grad_fn is not None:
        g = g.detach()
    old = t._grad
    if old is None:
        if not _owns_buffer(g) or g._storage in state.seen_storages:
            g = g.clone()
        state.seen_storages.add(g._storage)
        t._grad = g
    else:
        t._grad = old + g


def _owns_buffer(g):
    # NOTE: not a differentiable view either (create_graph): a .grad must allow detach_()
    return (g._offset == 0 and g._storage.numel == g.numel() and g.is_contiguous()
            and g._view_version is None)


def _call(node, grads, state):
    """Run ``node.backward`` on ``grads``; one checked gradient (or None) per edge."""
    if node._node_pre_hooks:
        for hook in list(node._node_pre_hooks):
            new = hook(tuple(grads))
            if new is not None:
                grads = list(new)
    missing = [k for k, g in enumerate(grads) if g is None]
    if missing and len(missing) == len(grads) and node._primitive:
        return (None,) * len(node.next_functions)
    if missing and node.materialize_grads:
        for k in missing:
            meta = node._output_meta[k]
            if meta is not None:
                grads[k] = _zeros(meta, grads)
    out = node._fn.backward(node, *grads)
    out = _check_count(node, out if isinstance(out, tuple) else (out,))
    if not node._primitive:
        for g in out:
            if g is not None:
                state.seen_storages.add(g._storage)
    result = [out[k] for k in node._slots]
    if node._post_hooks:
        for hook in list(node._post_hooks):
            new = hook(tuple(result), tuple(grads))
            if new is not None:
                result = list(new)
    for k, ((nxt, nr), g) in enumerate(zip(node.next_functions, result)):
        if g is not None and nxt is not None:
            result[k] = _validate(node, node._slots[k], g, nxt, nr)
    return result


def _check_count(node, out):
    n = node._n_args
    if len(out) > n and all(g is None for g in out[n:]):
        out = out[:n]
    if len(out) < n and node._primitive:
        out = out + (None,) * (n - len(out))  # wgtorch's own rules may leave trailing Nones out
    if len(out) != n:
        raise RuntimeError(
            f"function {node.name()} returned an incorrect number of gradients (expected {n}, "
            f"got {len(out)})"
        )
    if not node._primitive:
        slots = set(node._slots)
        for k, g in enumerate(out):
            if g is not None and k not in slots:
                raise RuntimeError(
                    f"function {node.name()} returned a gradient different than None at "
                    f"position {k + 1}, but the corresponding forward input was not a Variable"
                )
    return out


def _validate(node, index, g, nxt, nr):
    """``g`` made to match the shape and dtype of the tensor it is the gradient of."""
    if type(nxt) is AccumulateGrad:
        shape, dtype = nxt.variable.shape, nxt.variable.dtype
    else:
        shape, dtype, _ = nxt._output_meta[nr]
    if g.shape != shape:
        if not _expandable(shape, g.shape):
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(g.shape)} but expected shape compatible with {list(shape)}"
            )
        g = g.sum_to_size(shape)
    if g.dtype is not dtype:
        g = g.to(dtype)
    return g


def _expandable(shape, target):
    """True when ``shape`` broadcasts to ``target`` (so a gradient of ``target`` sums back)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(reversed(shape), reversed(target)))


def _zeros(meta, grads):
    """Zeros for a missing gradient (Tensor's own methods: autograd imports no op module)."""
    shape, dtype, device = meta
    ref = next((g for g in grads if g is not None), None)
    if ref is None:  # no gradient reached this user Function: any tensor can make zeros
        ref = (function.Tensor or function._tensor_type())._empty((), dtype, device)
    return ref.new_zeros(shape, dtype=dtype, device=device)


__all__ = ["accumulate_grad", "run_backward"]
