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
their state is the final state).

The kernels are declared once (``CellKernel``): their bindings and the ``Params`` fields by
name; the WGSL declarations and the parameter packing come from the declaration.
"""

import struct
from dataclasses import dataclass
from string import Template

from ..backend import get_runtime
from . import wgsl
from .shaders import load_shader

# Params of every cell kernel, in struct order (all u32). *_off / *_rs: element offset and
# row stride of an operand that may be a strided view.
PARAM_FIELDS = (
    "rows", "hidden", "n_carry", "n_rec", "row_base", "row_stride", "prev_base", "flags",
    "h0_off", "h0_rs", "g_off", "g_rs", "gn_off", "gn_rs", "gc_off", "gc_rs",
)
_PARAMS = struct.Struct(f"<{len(PARAM_FIELDS)}I")
# flags: which optional operands are present, and the RNN nonlinearity
FLAGS = {"HAS_H0PROJ": 1, "HAS_STATE0": 2, "HAS_GRAD": 4, "HAS_GRAD_N": 8, "HAS_GRAD_C": 16,
         "RELU": 32}


@dataclass(frozen=True)
class CellKernel:
    """One fused cell kernel: its shader file, read bindings and read_write bindings."""

    shader: str
    inputs: tuple
    outputs: tuple

    def source(self):
        decl = [_params_struct()]
        decl += [f"const {name} = {bit}u;" for name, bit in FLAGS.items()]
        for k, name in enumerate(self.inputs + self.outputs):
            access = "read" if k < len(self.inputs) else "read_write"
            decl.append(f"@group(0) @binding({k}) var<storage, {access}> {name}: array<f32>;")
        n = len(self.inputs) + len(self.outputs)
        decl.append(f"@group(0) @binding({n}) var<uniform> P: Params;")
        text = load_shader(self.shader)
        decl.append(wgsl.INDEX + wgsl.helpers_for(text))
        return Template(text).substitute(DECLARATIONS="\n".join(decl), ENTRY=wgsl.ENTRY)

    def launch(self, buffers, params, invocations):
        """Record one dispatch; ``buffers`` maps every binding name to a tensor, ``params``
        names the Params fields (missing ones are 0)."""
        rt = get_runtime()
        key = ("rnn_cell", self.shader)
        kern = rt.kernels.get(key) or rt.kernel(key, self.source, len(self.inputs),
                                                len(self.outputs))
        words = _PARAMS.pack(*(params.get(f, 0) for f in PARAM_FIELDS))
        order = self.inputs + self.outputs
        rt.dispatch(kern, [buffers[name]._storage.buffer for name in order], words,
                    -(-invocations // wgsl.WORKGROUP))


def _params_struct():
    return "struct Params { " + ", ".join(f"{f}: u32" for f in PARAM_FIELDS) + " };"


LSTM_FORWARD = CellKernel("lstm_cell.wgsl", ("xproj", "hproj", "h0proj", "c0"),
                          ("m_all", "saved", "m_n", "c_n"))
LSTM_BACKWARD = CellKernel("lstm_cell_backward.wgsl", ("gm", "dh_rec", "gm_n", "gc_n", "saved"),
                           ("dbuf", "d0"))
GRU_FORWARD = CellKernel("gru_cell.wgsl", ("xproj", "hproj", "h0proj", "h0"),
                         ("h_all", "saved", "h_n"))
GRU_BACKWARD = CellKernel("gru_cell_backward.wgsl", ("gh", "dh_rec", "gh_n", "saved"),
                          ("dbuf", "d0"))
RNN_FORWARD = CellKernel("rnn_cell.wgsl", ("xproj", "hproj", "h0proj"),
                         ("h_all", "saved", "h_n"))
RNN_BACKWARD = CellKernel("rnn_cell_backward.wgsl", ("gh", "dh_rec", "gh_n", "h_all"),
                          ("dbuf", "d0"))

# Row widths (in units of the hidden size) of the buffers each cell keeps per sequence row.
# LSTM saved: i, f, g, o (activated), c, c_prev, m_prev; dbuf: 4 gate gradients, dc.
# GRU saved: r, z, n, W_hn h + b_hn, h_prev; dbuf: 3 input-side gate gradients, 3 hidden-side
# ones, the direct dh_prev term. RNN saved: h_prev; dbuf: the pre-activation gradient.
SAVED_WIDTH = {"LSTM": 7, "GRU": 5, "RNN": 1}
DBUF_WIDTH = {"LSTM": 5, "GRU": 7, "RNN": 1}
D0_WIDTH = {"LSTM": 5, "GRU": 4, "RNN": 1}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
FORWARD = {"LSTM": LSTM_FORWARD, "GRU": GRU_FORWARD, "RNN": RNN_FORWARD}
BACKWARD = {"LSTM": LSTM_BACKWARD, "GRU": GRU_BACKWARD, "RNN": RNN_BACKWARD}
