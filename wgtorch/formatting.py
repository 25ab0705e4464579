"""``repr(tensor)`` formatted like PyTorch's (precision 4, scientific when needed)."""

import numpy as np

from . import dtypes as dt

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v}", 0
    absmax = np.abs(finite).max()
    nonzero = np.abs(finite[finite != 0])
    absmin = nonzero.min() if nonzero.size else 0.0
    ints = np.all(finite == np.round(finite))
    if ints and absmax < 1e8:

        def fmt(v):
            return _special(v) or f"{v:.0f}."

    elif absmax > 1e8 or (absmin and absmax / absmin > 1000) or (absmin and absmin < 1e-4):

        def fmt(v):
            return _special(v) or f"{v:.{PRECISION}e}"

    else:

        def fmt(v):
            return _special(v) or f"{v:.{PRECISION}f}"

    width = max(len(fmt(float(v))) for v in values.reshape(-1)) if values.size else 0
    return fmt, width


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _format_array(a, fmt, width, indent, summarize):
    if a.ndim == 0:
        return fmt(a.item()).rjust(width)
    if a.ndim == 1:
        items = list(a)
        if summarize and len(items) > 2 * EDGEITEMS:
            parts = [fmt(x).rjust(width) for x in items[:EDGEITEMS]] + ["..."] + [
                fmt(x).rjust(width) for x in items[-EDGEITEMS:]]
        else:
            parts = [fmt(x).rjust(width) for x in items]
        per_line = max(1, (LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(parts[i:i + per_line]) for i in range(0, len(parts), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(a.shape[0]))
    if summarize and len(rows) > 2 * EDGEITEMS:
        rows = rows[:EDGEITEMS] + [None] + rows[-EDGEITEMS:]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = [
        "..." if r is None else _format_array(a[r], fmt, width, indent + 1, summarize)
        for r in rows
    ]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    a = t.detach().numpy()
    summarize = a.size > THRESHOLD
    if t.dtype.is_floating_point:
        shown = a.astype(np.float64)
        fmt, width = _float_formatter(_edge_values(shown) if summarize else shown)
    elif t.dtype is dt.bool_:
        fmt = lambda v: str(bool(v))  # noqa: E731
        width = max((len(str(bool(v))) for v in a.reshape(-1)), default=4)
    else:
        fmt = lambda v: str(int(v))  # noqa: E731
        width = max((len(str(int(v))) for v in a.reshape(-1)), default=1)
    prefix = "tensor("
    body = _format_array(a, fmt, width, len(prefix), summarize) if a.size else "[]"
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.size == 0 and a.shape != (0,):
        extras.append(f"size={tuple(a.shape)}")
    if t.dtype not in (dt.get_default_dtype(), dt.int64, dt.bool_) or (
        a.size == 0 and t.dtype is not dt.get_default_dtype()
    ):
        extras.append(f"dtype={t.dtype}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


def _edge_values(a):
    if a.ndim == 0:
        return a
    idx = list(range(min(EDGEITEMS, a.shape[0]))) + list(range(max(a.shape[0] - EDGEITEMS, 0),
                                                              a.shape[0]))
    return np.concatenate([_edge_values(a[i]).reshape(-1) for i in sorted(set(idx))])
