"""The fused recurrent-cell kernels: gate nonlinearities and state update of one time step,
forward and backward, for LSTM, GRU and Elman RNN (tanh/relu) cells.

One dispatch per time step computes, for every active row of the batch, the gates from the
step's input projection and hidden projection, the new state, and writes what backward needs
(``shaders/lstm_cell.wgsl``, ``gru_cell.wgsl``, ``rnn_cell.wgsl``); one dispatch per step of
backward-through-time turns the incoming gradients into the gate gradients
(``*_backward.wgsl``). ``recurrence.py`` runs the time loop around them.

Rows and steps (see ``recurrence.Schedule``): a sequence is a set of rows (a packed
sequence's data, or a padded (T, B) / (B, T) tensor seen as T * B rows); time step ``t``'s
batch row ``b`` is row ``row_base + b * row_stride``, and the same batch row of the previous
step processed is ``prev_base + b * row_stride``. Of the ``rows`` active rows, the first
``n_carry`` continue a state from the previous step processed (the others start from the
initial state), and the first ``n_rec`` continue into the next one (the others end here, so
their state is the final state). ``*_off``/``*_rs`` are the element offset and row stride of
an operand read as a strided view; ``has_*`` say whether an optional operand is bound.
"""

from .kernel import Kernel

_STEP = ("rows: u32", "hidden: u32", "n_carry: u32", "n_rec: u32", "row_base: u32",
         "row_stride: u32", "prev_base: u32")
_FORWARD_PARAMS = _STEP + ("h0_off: u32", "h0_rs: u32", "has_h0proj: u32", "has_state0: u32")
_BACKWARD_PARAMS = _STEP + ("g_off: u32", "g_rs: u32", "gn_off: u32", "gn_rs: u32",
                            "gc_off: u32", "gc_rs: u32", "has_grad: u32", "has_grad_n: u32",
                            "has_grad_c: u32")


def _cell(name, inputs, outputs, params):
    return Kernel(name, f"{name}.wgsl", inputs=tuple(f"{b}: f32" for b in inputs),
                  outputs=tuple(f"{b}: f32" for b in outputs), params=params)


FORWARD = {
    "LSTM": _cell("lstm_cell", ("xproj", "hproj", "h0proj", "c0"),
                  ("m_all", "saved", "m_n", "c_n"), _FORWARD_PARAMS),
    "GRU": _cell("gru_cell", ("xproj", "hproj", "h0proj", "h0"), ("h_all", "saved", "h_n"),
                 _FORWARD_PARAMS),
    "RNN": _cell("rnn_cell", ("xproj", "hproj", "h0proj"), ("h_all", "saved", "h_n"),
                 _FORWARD_PARAMS),
}
BACKWARD = {
    "LSTM": _cell("lstm_cell_backward", ("gm", "dh_rec", "gm_n", "gc_n", "saved"),
                  ("dbuf", "d0"), _BACKWARD_PARAMS),
    "GRU": _cell("gru_cell_backward", ("gh", "dh_rec", "gh_n", "saved"), ("dbuf", "d0"),
                 _BACKWARD_PARAMS),
    "RNN": _cell("rnn_cell_backward", ("gh", "dh_rec", "gh_n", "h_all"), ("dbuf", "d0"),
                 _BACKWARD_PARAMS),
}

# Row widths (in units of the hidden size) of the buffers each cell keeps per sequence row.
# LSTM saved: i, f, g, o (activated), c, c_prev, m_prev; dbuf: 4 gate gradients, dc.
# GRU saved: r, z, n, W_hn h + b_hn, h_prev; dbuf: 3 input-side gate gradients, 3 hidden-side
# ones, the direct dh_prev term. RNN saved: h_prev; dbuf: the pre-activation gradient.
SAVED_WIDTH = {"LSTM": 7, "GRU": 5, "RNN": 1}
DBUF_WIDTH = {"LSTM": 5, "GRU": 7, "RNN": 1}
D0_WIDTH = {"LSTM": 5, "GRU": 4, "RNN": 1}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _variant(kind, relu):
    return {"RELU": relu} if kind == "RNN" else None


def launch_forward(kind, step, xproj, hproj, h0proj, state0, outs, relu=False, **params):
    """One forward time step: ``outs`` are the kernel's outputs (see the shader)."""
    ins = [xproj, hproj, h0proj] + ([state0] if kind != "RNN" else [])
    FORWARD[kind].launch(ins=ins, outs=outs, threads=step.rows * params["hidden"],
                         variant=_variant(kind, relu), rows=step.rows, n_carry=step.n_carry,
                         n_rec=step.n_rec, row_base=step.row_base, prev_base=step.prev_base,
                         has_h0proj=int(h0proj is not None),
                         has_state0=int(state0 is not None), **params)


def launch_backward(kind, step, grad, dh_rec, grad_n, grad_c, keep, outs, relu=False, **params):
    """One backward time step; ``keep`` is what the kernel reads besides the gradients (the
    saved buffer, or an RNN's outputs)."""
    ins = [grad, dh_rec, grad_n] + ([grad_c] if kind == "LSTM" else []) + [keep]
    BACKWARD[kind].launch(ins=ins, outs=outs, threads=step.rows * params["hidden"],
                          variant=_variant(kind, relu), rows=step.rows, n_carry=step.n_carry,
                          n_rec=step.n_rec, row_base=step.row_base, prev_base=step.prev_base,
                          has_grad=int(grad is not None), has_grad_n=int(grad_n is not None),
                          has_grad_c=int(grad_c is not None), **params)
