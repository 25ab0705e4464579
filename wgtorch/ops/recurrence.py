"""The time loop of one recurrent layer and direction, forward and backward through time.

A layer's input projection ``x @ W_ih^T + b`` for every time step is one matmul, made by the
caller (``nn/rnn.py``) as an ordinary differentiable op. What is left is the recurrence,
one autograd ``Function`` per cell kind (LSTM, GRU, RNN), whose forward records per time step

1. the hidden projection ``h_prev @ W^T`` (+ ``b_hh`` for GRU) of the rows that continue a
   state: ONE matmul dispatch, reading the previous step's rows in place, and
2. ONE fused cell kernel (``rnn_cells.py``): gates, state update, and what backward needs;

and whose backward mirrors it: per step one fused gate-gradient kernel and one matmul for the
gradient reaching the previous state; after the loop ``dW = dgates^T @ h_prev`` over all time
steps as one matmul. Nothing is read back to the host: the schedule (batch sizes, row
offsets) is known on the host before the loop.

The initial state enters as ``h0proj = h0 @ W_hh^T`` (made by the caller, so its gradient
flows through ordinary ops) and, for the state update itself, ``c0`` (LSTM) or ``h0`` (GRU).

Under ``create_graph`` (double backward) the fused kernels give way: backward recomputes the
layer with the cell written in differentiable wgtorch ops (``reference_sequence``) and
differentiates that, so second-order gradients work. The same reference runs the forward for
dtypes the fused kernels do not take (they are float32).
"""

import functools
from dataclasses import dataclass

from .. import dtypes as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import kernel_choice, matmul_kernels
from . import rnn_cells as cells


@dataclass(frozen=True)
class Step:
    """One time step in processing order (see ``rnn_cells`` for the row vocabulary)."""

    t: int
    rows: int
    n_carry: int
    n_rec: int
    row_base: int
    prev_base: int


class Schedule:
    """The host-side plan of one direction's time loop over a set of rows.

    ``batch_sizes[t]`` rows are active at step t (non-increasing, as in a PackedSequence);
    step t's batch row b is row ``row_bases[t] + b * row_stride``. ``reverse`` walks the
    steps from last to first.
    """

    def __init__(self, batch_sizes, row_bases, row_stride, total_rows, reverse):
        self.batch_sizes = tuple(batch_sizes)
        self.batch = self.batch_sizes[0] if self.batch_sizes else 0
        self.row_stride = row_stride
        self.total_rows = total_rows
        self.reverse = reverse
        order = list(range(len(self.batch_sizes)))
        if reverse:
            order.reverse()
        steps = []
        for s, t in enumerate(order):
            rows = self.batch_sizes[t]
            prev = order[s - 1] if s else None
            nxt = order[s + 1] if s + 1 < len(order) else None
            steps.append(Step(
                t, rows,
                min(rows, self.batch_sizes[prev]) if prev is not None else 0,
                min(rows, self.batch_sizes[nxt]) if nxt is not None else 0,
                row_bases[t], row_bases[prev] if prev is not None else 0))
        self.steps = tuple(steps)

    def step_rows(self, step):
        """The row numbers of ``step``'s active batch rows."""
        return [step.row_base + b * self.row_stride for b in range(step.rows)]


@functools.lru_cache(maxsize=256)
def packed_schedule(batch_sizes, reverse):
    """The schedule over a PackedSequence's data: step t's rows follow step t-1's."""
    bases, total = [], 0
    for n in batch_sizes:
        bases.append(total)
        total += n
    return Schedule(batch_sizes, bases, 1, total, reverse)


@functools.lru_cache(maxsize=256)
def padded_schedule(steps, batch, batch_first, reverse):
    """The schedule over a padded (T, B, *) tensor, or (B, T, *) with ``batch_first``."""
    if batch_first:
        return Schedule((batch,) * steps, list(range(steps)), steps, steps * batch, reverse)
    return Schedule((batch,) * steps, [t * batch for t in range(steps)], 1, steps * batch,
                    reverse)


# ---- launches ------------------------------------------------------------------------------


def _rows(t, n, width, base, stride, col=0):
    """The (n, width) view of rows ``base + b * stride`` of 2-D ``t`` starting at column col."""
    row = t._stride[0]
    return t._view_of((n, width), (stride * row, 1), t._offset + base * row + col)


def step_matmul(a, b, bias=None):
    """``a @ b (+ bias)`` as one dispatch: never the tiled kernel's aligned operand copies,
    which would cost a copy per time step (the strided kernel reads any layout)."""
    M, K = a.shape
    N = b.shape[1]
    a_ok = matmul_kernels._vec_dim(a, (), M, K) is not None
    b_ok = matmul_kernels._vec_dim(b, (), K, N) is not None
    choice = kernel_choice.choose(M, N, K, 1, a.dtype, a_ok, b_ok)
    if choice.name == "tiled" and not (a_ok and b_ok):
        choice = kernel_choice.STRIDED
    return matmul_kernels.launch(a, b, bias, choice=choice)


def _grad_operand(g):
    """(tensor, offset, row stride) of a gradient the kernels read row by row."""
    if g is None:
        return None, 0, 0
    if g.ndim != 2 or (g.shape[1] > 1 and g._stride[1] != 1):
        g = g.contiguous()
    return g, g._offset, g._stride[0] if g.shape[0] > 1 else g.shape[1]


def _row_operand(t):
    """(tensor, offset, row stride) of an initial-state projection (a broadcast bias welcome)."""
    if t is None:
        return None, 0, 0
    if t.shape[1] > 1 and t._stride[1] != 1:
        t = t.contiguous()
    return t, t._offset, t._stride[0]


def _dense(t):
    """``t`` as the kernels read a plain operand: contiguous from the start of its buffer."""
    return t if t is None or t.is_contiguous() and t._offset == 0 else t.clone()


def _forward_loop(kind, sched, xproj, h0proj, state0, w_rec, b_rec, relu):
    """Record the forward time loop; returns (outputs, finals, saved)."""
    H = xproj.shape[1] // cells.GATES[kind]
    R, B = sched.total_rows, sched.batch
    out = Tensor._empty((R, H), xproj.dtype, xproj.device)
    saved = Tensor._empty((R, cells.SAVED_WIDTH[kind] * H), xproj.dtype, xproj.device)
    finals = [Tensor._empty((B, H), xproj.dtype, xproj.device)
              for _ in range(2 if kind == "LSTM" else 1)]
    h0proj, h0_off, h0_rs = _row_operand(h0proj)
    w_t = w_rec.t() if w_rec is not None else None  # (H_in, G*H), read transposed in place
    outs = [out, saved, *finals]
    for step in sched.steps:
        hproj = None
        if step.n_carry:
            prev = _rows(out, step.n_carry, H, step.prev_base, sched.row_stride)
            hproj = step_matmul(prev, w_t, b_rec)  # (n_carry, G*H)
        cells.launch_forward(kind, step, xproj, hproj, h0proj, state0, outs, relu, hidden=H,
                             row_stride=sched.row_stride, h0_off=h0_off, h0_rs=h0_rs)
    return out, finals, saved


def _backward_loop(kind, sched, saved, out, w_rec, grads, relu):
    """Record backward through time; returns (dbuf, d0) (see the cell kernels' bindings)."""
    H = out.shape[1]
    R, B = sched.total_rows, sched.batch
    G = cells.GATES[kind]
    dbuf = Tensor._empty((R, cells.DBUF_WIDTH[kind] * H), out.dtype, out.device)
    d0 = Tensor._empty((B, cells.D0_WIDTH[kind] * H), out.dtype, out.device)
    g, g_off, g_rs = _grad_operand(grads[0])
    gn, gn_off, gn_rs = _grad_operand(grads[1])
    gc, gc_off, gc_rs = _grad_operand(grads[2] if len(grads) > 2 else None)
    keep = saved if kind != "RNN" else out  # what the kernel reads besides the gradients
    # the hidden-side gate gradients sit at this column of dbuf (GRU keeps both sides)
    hidden_col = 3 * H if kind == "GRU" else 0
    dh_rec = None
    for step in reversed(sched.steps):
        cells.launch_backward(kind, step, g, dh_rec, gn, gc, keep, [dbuf, d0], relu, hidden=H,
                              row_stride=sched.row_stride, g_off=g_off, g_rs=g_rs,
                              gn_off=gn_off, gn_rs=gn_rs, gc_off=gc_off, gc_rs=gc_rs)
        dh_rec = None
        if step.n_carry:
            gates = _rows(dbuf, step.n_carry, G * H, step.row_base, sched.row_stride,
                          hidden_col)
            dh_rec = step_matmul(gates, w_rec)  # (n_carry, H)
    return dbuf, d0


def _view(t, shape, row, col=0):
    return t._view_of(shape, (row, 1), t._offset + col)


def _weight_grad(dgates, prev):
    """sum over every row of dgates^T @ h_prev: one matmul over all time steps."""
    return matmul_kernels.launch(dgates.t(), prev)


# ---- the Functions ----------------------------------------------------------------------


class _Sequence(Function):
    kind = None

    @classmethod
    def _differentiable_backward(cls, ctx, inputs, grads):
        """Double backward: differentiate the layer written in wgtorch ops."""
        # NOTE: each input gets its own identity node, so the gradient captured for one input
        # (h0proj = b_hh.expand(...)) does not also flow on into another (b_hh)
        inputs = tuple(x.view_as(x) if x is not None and x.requires_grad else x
                       for x in inputs)
        xproj, h0proj, *rest = inputs
        state0 = rest.pop(0) if cls.kind != "RNN" else None
        w_rec, b_rec = rest[0], (rest[1] if len(rest) > 1 else None)
        outs = reference_sequence(cls.kind, xproj, h0proj, state0, w_rec, b_rec, ctx.sched,
                                  ctx.relu)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
        want = [k for k, x in enumerate(inputs) if x is not None and x.requires_grad
                and ctx.needs_input_grad[k]]
        from ..autograd import grad

        res = grad([o for o, _ in pairs], [inputs[k] for k in want],
                   [g for _, g in pairs], create_graph=True, allow_unused=True)
        result = [None] * len(inputs)
        for k, r in zip(want, res):
            result[k] = r
        return result


class LSTMSequenceBackward0(_Sequence):
    """An LSTM layer's recurrence over a schedule: (xproj, h0proj, c0, W) -> (m, m_n, c_n)."""

    kind = "LSTM"

    @staticmethod
    def forward(ctx, xproj, h0proj, c0, w_rec, sched):
        ctx.sched, ctx.relu = sched, False
        out, (m_n, c_n), saved = _forward_loop("LSTM", sched, xproj, h0proj, _dense(c0),
                                               w_rec, None, False)
        ctx.save_for_backward(xproj, h0proj, c0, w_rec, saved, out)
        return out, m_n, c_n

    @staticmethod
    def backward(ctx, gm, gm_n, gc_n):
        xproj, h0proj, c0, w_rec, saved, out = ctx.saved_tensors
        if is_grad_enabled():
            return (*LSTMSequenceBackward0._differentiable_backward(
                ctx, (xproj, h0proj, c0, w_rec), (gm, gm_n, gc_n)), None)
        H = out.shape[1]
        R, B = ctx.sched.total_rows, ctx.sched.batch
        dbuf, d0 = _backward_loop("LSTM", ctx.sched, saved, out, w_rec, (gm, gm_n, gc_n), False)
        need = ctx.needs_input_grad
        dgates = _view(dbuf, (R, 4 * H), 5 * H)
        dw = _weight_grad(dgates, _view(saved, (R, H), 7 * H, 6 * H)) if need[3] else None
        return (dgates if need[0] else None,
                _view(d0, (B, 4 * H), 5 * H) if need[1] else None,
                _view(d0, (B, H), 5 * H, 4 * H) if need[2] else None,
                dw, None)


class GRUSequenceBackward0(_Sequence):
    """A GRU layer's recurrence: (xproj, h0proj, h0, W_hh, b_hh) -> (h, h_n)."""

    kind = "GRU"

    @staticmethod
    def forward(ctx, xproj, h0proj, h0, w_hh, b_hh, sched):
        ctx.sched, ctx.relu = sched, False
        out, (h_n,), saved = _forward_loop("GRU", sched, xproj, h0proj, _dense(h0), w_hh,
                                           b_hh, False)
        ctx.save_for_backward(xproj, h0proj, h0, w_hh, b_hh, saved, out)
        return out, h_n

    @staticmethod
    def backward(ctx, gh, gh_n):
        xproj, h0proj, h0, w_hh, b_hh, saved, out = ctx.saved_tensors
        if is_grad_enabled():
            return (*GRUSequenceBackward0._differentiable_backward(
                ctx, (xproj, h0proj, h0, w_hh, b_hh), (gh, gh_n)), None)
        H = out.shape[1]
        R, B = ctx.sched.total_rows, ctx.sched.batch
        dbuf, d0 = _backward_loop("GRU", ctx.sched, saved, out, w_hh, (gh, gh_n), False)
        need = ctx.needs_input_grad
        hidden_side = _view(dbuf, (R, 3 * H), 7 * H, 3 * H)
        dw = _weight_grad(hidden_side, _view(saved, (R, H), 5 * H, 4 * H)) if need[3] else None
        db = hidden_side.sum(0) if need[4] else None
        return (_view(dbuf, (R, 3 * H), 7 * H) if need[0] else None,
                _view(d0, (B, 3 * H), 4 * H) if need[1] else None,
                _view(d0, (B, H), 4 * H, 3 * H) if need[2] else None,
                dw, db, None)


class RNNSequenceBackward0(_Sequence):
    """An Elman RNN layer's recurrence: (xproj, h0proj, W_hh) -> (h, h_n)."""

    kind = "RNN"

    @staticmethod
    def forward(ctx, xproj, h0proj, w_hh, sched, relu):
        ctx.sched, ctx.relu = sched, relu
        out, (h_n,), saved = _forward_loop("RNN", sched, xproj, h0proj, None, w_hh, None, relu)
        ctx.save_for_backward(xproj, h0proj, w_hh, saved, out)
        return out, h_n

    @staticmethod
    def backward(ctx, gh, gh_n):
        xproj, h0proj, w_hh, saved, out = ctx.saved_tensors
        if is_grad_enabled():
            return (*RNNSequenceBackward0._differentiable_backward(
                ctx, (xproj, h0proj, w_hh), (gh, gh_n)), None, None)
        dbuf, d0 = _backward_loop("RNN", ctx.sched, saved, out, w_hh, (gh, gh_n), ctx.relu)
        need = ctx.needs_input_grad
        return (dbuf if need[0] else None, d0 if need[1] else None,
                _weight_grad(dbuf, saved) if need[2] else None, None, None)


_FUSED = {"LSTM": LSTMSequenceBackward0, "GRU": GRUSequenceBackward0,
          "RNN": RNNSequenceBackward0}


def sequence(kind, xproj, h0proj, state0, w_rec, b_rec, sched, relu=False):
    """Run one layer-direction's recurrence (see the module docstring).

    Returns ``(out, h_n)`` for GRU/RNN and ``(out, h_n, c_n)`` for LSTM, with ``out`` of shape
    (rows, H) in the schedule's row order.
    """
    if xproj.dtype is not dt.float32:
        return reference_sequence(kind, xproj, h0proj, state0, w_rec, b_rec, sched, relu)
    xproj = _dense(xproj)
    if kind == "LSTM":
        return LSTMSequenceBackward0.apply(xproj, h0proj, state0, w_rec, sched)
    if kind == "GRU":
        return GRUSequenceBackward0.apply(xproj, h0proj, state0, w_rec, b_rec, sched)
    return RNNSequenceBackward0.apply(xproj, h0proj, w_rec, sched, relu)


# ---- the reference: the cell in differentiable ops ------------------------------------------


def reference_sequence(kind, xproj, h0proj, state0, w_rec, b_rec, sched, relu=False):
    """The recurrence written with differentiable wgtorch ops, step by step (many small
    dispatches; used for double backward and for dtypes the fused kernels lack)."""
    from .creation import tensor as make_tensor
    from .creation import zeros
    from .shape import cat

    H = xproj.shape[1] // cells.GATES[kind]
    dev, dtype = xproj.device, xproj.dtype
    outs, finals, cell_finals = [], [], []
    prev_h = prev_c = None
    for step in sched.steps:
        rows = sched.step_rows(step)
        idx = make_tensor(rows, dtype=dt.int64, device=dev)
        x = xproj.index_select(0, idx)  # (rows, G*H)
        parts = []
        if step.n_carry:
            hp = prev_h[:step.n_carry] @ w_rec.t()
            parts.append(hp + b_rec if b_rec is not None else hp)
        if step.rows > step.n_carry:
            parts.append(h0proj[step.n_carry:step.rows] if h0proj is not None else
                         zeros(step.rows - step.n_carry, xproj.shape[1], dtype=dtype,
                               device=dev))
        hh = cat(parts, 0) if len(parts) > 1 else parts[0]
        if kind == "RNN":
            a = x + hh
            h = a.relu() if relu else a.tanh()
        else:
            state_parts = [prev_c[:step.n_carry]] if step.n_carry else []
            if step.rows > step.n_carry:
                state_parts.append(state0[step.n_carry:step.rows] if state0 is not None
                                   else zeros(step.rows - step.n_carry, H, dtype=dtype,
                                              device=dev))
            s_prev = cat(state_parts, 0) if len(state_parts) > 1 else state_parts[0]
            if kind == "LSTM":
                a = x + hh
                i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
                c = f.sigmoid() * s_prev + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
                prev_c = c
                if step.rows > step.n_rec:
                    cell_finals.append(c[step.n_rec:])
            else:  # GRU: the state is h itself
                r = (x[:, :H] + hh[:, :H]).sigmoid()
                z = (x[:, H:2 * H] + hh[:, H:2 * H]).sigmoid()
                n = (x[:, 2 * H:] + r * hh[:, 2 * H:]).tanh()
                h = (1 - z) * n + z * s_prev
        if kind == "GRU":
            prev_c = h
        outs.append(h)
        if step.rows > step.n_rec:
            finals.append(h[step.n_rec:])
        prev_h = h
    # rows in processing order -> the schedule's row order
    order = [r for step in sched.steps for r in sched.step_rows(step)]
    where = [0] * sched.total_rows
    for k, r in enumerate(order):
        where[r] = k
    out = cat(outs, 0).index_select(0, make_tensor(where, dtype=dt.int64, device=dev))
    # final states: step s holds batch rows [n_rec, rows); order them by batch row
    starts = [step.n_rec for step in sched.steps if step.rows > step.n_rec]
    ranked = sorted(range(len(starts)), key=starts.__getitem__)
    h_n = cat([finals[k] for k in ranked], 0)
    if kind == "LSTM":
        return out, h_n, cat([cell_finals[k] for k in ranked], 0)
    return out, h_n
