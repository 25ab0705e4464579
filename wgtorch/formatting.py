"""``repr(tensor)`` formatted like PyTorch's (``torch/_tensor_str.py``, default print options).

Floats print with precision 4; "integer mode" (all values whole: ``1.``), fixed point, or
scientific notation when the nonzero finite magnitudes span more than 1000x, exceed 1e8, or
(for non-integers) go below 1e-4. Column width comes from the nonzero finite values only.
Tensors over 1000 elements are summarized with 3 edge items per dimension; the ``device``,
``dtype``, ``size``, ``grad_fn`` suffixes wrap to a new line past 80 columns.
"""

import numpy as np

from . import dtypes as dt

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """PyTorch's ``_Formatter``: one width and one notation for every element."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            self.max_width = max((len(self._plain(v)) for v in flat), default=1)
            return
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            return
        magnitudes = np.abs(shown)
        ratio_wide = magnitudes.max() / magnitudes.min() > 1000.0 or magnitudes.max() > 1.0e8
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        if self.int_mode:
            self.sci_mode = ratio_wide
            widths = [len(f"{v:.{PRECISION}e}") if self.sci_mode else len(f"{v:.0f}") + 1
                      for v in shown]
        else:
            self.sci_mode = ratio_wide or magnitudes.min() < 1.0e-4
            spec = "e" if self.sci_mode else "f"
            widths = [len(f"{v:.{PRECISION}{spec}}") for v in shown]
        self.max_width = max(widths)

    @staticmethod
    def _plain(v):
        return str(bool(v)) if isinstance(v, (bool, np.bool_)) else str(int(v))

    def format(self, v):
        if not self.floating:
            text = self._plain(v)
        elif self.sci_mode:
            text = f"{v:{self.max_width}.{PRECISION}e}"
        elif self.int_mode:
            text = f"{v:.0f}" + ("" if np.isinf(v) or np.isnan(v) else ".")
        else:
            text = f"{v:.{PRECISION}f}"
        return text.rjust(self.max_width)


def _summarized(a):
    """The edge items of every dimension (what PyTorch's formatter sees when summarizing)."""
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * EDGEITEMS:
        rows = list(a[:EDGEITEMS]) + list(a[-EDGEITEMS:])
    else:
        rows = list(a)
    if a.ndim == 1:
        return np.array(rows)
    return np.stack([_summarized(r) for r in rows]) if rows else a


def _vector(a, fmt, indent, summarize):
    per_line = max(1, (LINEWIDTH - indent) // (fmt.max_width + 2))
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        items = ([fmt.format(v) for v in a[:EDGEITEMS]] + [" ..."]
                 + [fmt.format(v) for v in a[-EDGEITEMS:]])
    else:
        items = [fmt.format(v) for v in a]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, fmt, indent, summarize):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, fmt, indent, summarize)
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        parts = ([_nested(r, fmt, indent + 1, summarize) for r in a[:EDGEITEMS]] + ["..."]
                 + [_nested(r, fmt, indent + 1, summarize) for r in a[-EDGEITEMS:]])
    else:
        parts = [_nested(r, fmt, indent + 1, summarize) for r in a]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _add_suffixes(text, suffixes, indent):
    out = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last_line_len += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t):
    """PyTorch's ``repr`` of tensor ``t`` (reads its values back from the GPU)."""
    a = t.detach().numpy()
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if t.dtype is not dt.get_default_dtype():
            suffixes.append(f"dtype={t.dtype}")
        body = "[]"
    else:
        if t.dtype not in (dt.get_default_dtype(), dt.int64, dt.bool_):
            suffixes.append(f"dtype={t.dtype}")
        summarize = a.size > THRESHOLD
        if t.dtype.is_floating_point:
            a = a.astype(np.float64)
        fmt = _Formatter(_summarized(a) if summarize else a, t.dtype.is_floating_point)
        body = _nested(a, fmt, indent, summarize)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
