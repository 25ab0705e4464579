"""The backward engine: a topological walk of the graph from the roots.

Gradients flowing into a node are summed, hooks run before the node, and every node's
``backward`` is a list of wgtorch ops, so the whole pass is GPU dispatches with no readback.
"""

from .function import AccumulateGrad
from .grad_mode import no_grad, set_grad_enabled


def _dependencies(roots):
    deps, seen, stack = {}, set(), list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, _ in node.next_functions:
            if nxt is not None:
                deps[id(nxt)] = deps.get(id(nxt), 0) + 1
                stack.append(nxt)
    return deps


def _accumulate(buffers, node, nr, grad, n_outputs):
    slot = buffers.get(id(node))
    if slot is None:
        slot = buffers[id(node)] = [None] * n_outputs
    slot[nr] = grad if slot[nr] is None else slot[nr] + grad


def _run_pre_hooks(node, grads):
    if node.pre_hooks:
        for nr, hooks in node.pre_hooks.items():
            for hook in hooks:
                if grads[nr] is not None:
                    new = hook(grads[nr])
                    if new is not None:
                        grads[nr] = new
    if node.retained:
        for nr, ref in node.retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if grads[nr].requires_grad else grads[nr].detach()
                t.grad = g if t.grad is None else t.grad + g


def _accumulate_into_leaf(node, grad, create_graph):
    var = node.variable
    for hook in var._hooks or ():
        new = hook(grad)
        if new is not None:
            grad = new
    if var.grad is None:
        # NOTE: one gradient tensor can reach several leaves (x + y passes it to both), so
        # keep a private copy: an in-place change of one .grad must not touch the others.
        var.grad = grad.clone() if create_graph else grad.detach().clone()
    else:
        var.grad = var.grad + grad if create_graph else (var.grad + grad).detach()


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Backpropagate ``root_grads`` from ``roots`` (tensors).

    With ``inputs`` (``autograd.grad``), returns their gradients and leaves ``.grad`` alone.
    """
    root_edges = []
    for t, g in zip(roots, root_grads):
        if not t.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        node = t.grad_fn if t.grad_fn is not None else t._get_accumulator()
        root_edges.append((node, t._output_nr if t.grad_fn is not None else 0, g))

    capture = None
    if inputs is not None:
        capture = {}
        for k, x in enumerate(inputs):
            node = x.grad_fn if x.grad_fn is not None else x._get_accumulator()
            nr = x._output_nr if x.grad_fn is not None else 0
            capture.setdefault(id(node), []).append((nr, k))
        results = [None] * len(inputs)

    nodes = [n for n, _, _ in root_edges]
    deps = _dependencies(nodes)
    buffers = {}
    for node, nr, g in root_edges:
        _accumulate(buffers, node, nr, g, _n_outputs(node))
    ready = [n for n in dict.fromkeys(nodes) if deps.get(id(n), 0) == 0]
    processed = []
    with set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            grads = buffers.pop(id(node), None) or [None] * _n_outputs(node)
            _run_pre_hooks(node, grads)
            if capture is not None and id(node) in capture:
                for nr, k in capture[id(node)]:
                    results[k] = grads[nr]
            if isinstance(node, AccumulateGrad):
                if capture is None and grads[0] is not None:
                    _accumulate_into_leaf(node, grads[0], create_graph)
                continue
            if node.released:
                node.ctx.saved_tensors  # raises the "backward a second time" error
            in_grads = _call(node, grads)
            processed.append(node)
            for (nxt, nr), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    _accumulate(buffers, nxt, nr, g, _n_outputs(nxt))
                deps[id(nxt)] -= 1
                if deps[id(nxt)] == 0:
                    ready.append(nxt)
    if not retain_graph:
        for node in processed:
            node.released = True
            node.ctx.saved = ()
    if capture is not None:
        for k, (x, r) in enumerate(zip(inputs, results)):
            if r is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
        return tuple(results)
    return None


def _n_outputs(node):
    return 1 if isinstance(node, AccumulateGrad) else len(node.output_meta)


def _call(node, grads):
    from .. import ops

    if node.ctx.materialize_grads:
        for k, g in enumerate(grads):
            if g is None and node.output_meta[k] is not None:
                shape, dtype, device = node.output_meta[k]
                grads[k] = ops.creation.zeros(shape, dtype=dtype, device=device)
    out = node.apply(grads)
    if not isinstance(out, tuple):
        out = (out,)
    n_in = len(node.next_functions)
    if len(out) < n_in:
        out = out + (None,) * (n_in - len(out))
    elif len(out) > n_in:
        extra = out[n_in:]
        if any(e is not None for e in extra):
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(out)})"
            )
        out = out[:n_in]
    checked = []
    for (nxt, _), g in zip(node.next_functions, out):
        if nxt is not None and g is not None:
            meta_shape = _expected_shape(nxt)
            if meta_shape is not None and tuple(g.shape) != tuple(meta_shape):
                raise RuntimeError(
                    f"Function {node.name()} returned an invalid gradient - got "
                    f"{list(g.shape)} but expected shape compatible with {list(meta_shape)}"
                )
        checked.append(g)
    return checked


def _expected_shape(node):
    if isinstance(node, AccumulateGrad):
        return node.variable.shape
    return None


__all__ = ["run_backward", "no_grad"]
