"""Recurrent layers: ``nn.RNN`` (tanh/relu), ``nn.LSTM`` (with ``proj_size``), ``nn.GRU``,
and (from ``rnn_cell.py``) ``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``.

PyTorch's parameters (names such as ``weight_ih_l0``, ``weight_hh_l1_reverse``,
``weight_hr_l0``; shapes, order and ``U(-1/sqrt(hidden), 1/sqrt(hidden))`` initialisation),
so state_dicts move both ways with PyTorch. Each layer and direction runs as

- the input projection of every time step: ONE matmul (``F.linear``, bias fused); LSTM and
  RNN fold ``b_hh`` into it (``b_ih + b_hh``), GRU keeps ``b_hh`` on the hidden side because
  the reset gate multiplies it;
- the recurrence (``wgtorch/ops/recurrence.py``): per time step one matmul for the hidden
  projection and one fused cell kernel, backward through time mirroring it.

An LSTM with ``proj_size`` folds the projection into the recurrence: the next step's gates
read ``h_prev @ W_hh^T = m_prev @ (W_hh @ W_hr)^T`` with ``m = o * tanh(c)``, so a step stays
two dispatches, and the outputs ``m @ W_hr^T`` of all time steps are one matmul after the loop.

Inputs are padded tensors ((T, B, *), (B, T, *) with ``batch_first``, or unbatched (T, *))
read in their own row order (no transposing copy for ``batch_first``), or a
``PackedSequence``, whose final states are taken at each sequence's true end.
"""

import math
import numbers
import warnings

from ..ops.creation import empty
from ..ops.recurrence import packed_schedule, padded_schedule, sequence
from ..ops.shape import cat, stack
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase  # noqa: F401
from .utils.rnn import PackedSequence, host_ints

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_NAMES = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


class RNNBase(Module):
    """The parameters and input handling shared by ``RNN``, ``LSTM`` and ``GRU``."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        _check_options(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                       proj_size)
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                shapes = [("weight_ih_l{}{}", (gate_size, layer_input)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr_l{}{}", (proj_size, hidden_size)))
                suffix = "_reverse" if direction == 1 else ""
                names = []
                for pattern, shape in shapes:
                    name = pattern.format(layer, suffix)
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters of each layer and direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """A no-op kept for PyTorch compatibility (cuDNN's weight flattening): the kernels
        read each parameter where it is."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "proj_size" not in state:
            self.proj_size = 0

    # ---- checks (PyTorch's wording) ---------------------------------------------------------

    def check_input(self, input, batch_sizes):
        weight = self._flat_weights[0]
        if input.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: "
                f"model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = host_ints(batch_sizes)[0]
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * directions, mini_batch, size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(tuple(expected_hidden_size), list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    # ---- the layers -------------------------------------------------------------------------

    def _parse_input(self, input, hx, states):
        """(rows, batch_sizes, packed info, hx tuple or None, batched, batch_dim) with hx
        validated; ``states`` is 1 (h) or 2 (h, c)."""
        name = _NAMES[self.mode]
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            if hx is not None:
                hx = tuple(self.permute_hidden(h, sorted_indices) for h in hx)
            return data, batch_sizes, (sorted_indices, unsorted_indices), hx, True, None
        if input.dim() not in (2, 3):
            tail = " tensor" if name == "RNN" else ""
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{tail} "
                             "instead")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        if hx is not None:
            dims = [h.dim() for h in hx]
            want = 3 if batched else 2
            if any(d != want for d in dims):
                kind = "batched 3-D" if batched else "unbatched 2-D"
                if states == 2:
                    raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D "
                                       f"but got ({dims[0]}-D, {dims[1]}-D) tensors")
                raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                                   f"{dims[0]}-D tensor")
            if not batched:
                hx = tuple(h.unsqueeze(1) for h in hx)
        return input, None, None, hx, batched, batch_dim

    def _run(self, input, hx, states):
        """The whole stack on ``input``; returns (output, tuple of final states)."""
        orig = input
        input, batch_sizes, packed, hx, batched, batch_dim = self._parse_input(input, hx, states)
        self.check_input(input, batch_sizes)
        if hx is not None:
            self.check_hidden_size(hx[0], self.get_expected_hidden_size(input, batch_sizes),
                                   "Expected hidden[0] size {}, got {}" if states == 2
                                   else "Expected hidden size {}, got {}")
            if states == 2:
                expected = (*self.get_expected_hidden_size(input, batch_sizes)[:2],
                            self.hidden_size)
                self.check_hidden_size(hx[1], expected, "Expected hidden[1] size {}, got {}")
        directions = 2 if self.bidirectional else 1
        if batch_sizes is not None:
            sizes = host_ints(batch_sizes)
            schedules = [packed_schedule(sizes, d == 1) for d in range(directions)]
            rows = input
        else:
            steps = input.size(1 if self.batch_first else 0)
            batch = input.size(0 if self.batch_first else 1)
            if steps == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            schedules = [padded_schedule(steps, batch, self.batch_first, d == 1)
                         for d in range(directions)]
            rows = input.reshape(steps * batch, input.size(2))  # (T*B, I) or (B*T, I)
        finals = [[] for _ in range(states)]
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                weights = self._direction_weights(k)
                init_states = [h[k] for h in hx] if hx is not None else [None] * states
                out, last = _direction(self.mode, rows, weights, init_states, schedules[d])
                outs.append(out)
                for store, t in zip(finals, last):
                    store.append(t)
            rows = cat(outs, 1) if directions == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                rows = F.dropout(rows, self.dropout, True)
        last = tuple(stack(store, 0) for store in finals)
        if packed is not None:
            last = tuple(self.permute_hidden(h, packed[1]) for h in last)
            return PackedSequence(rows, orig.batch_sizes, *packed), last
        output = rows.view(*input.shape[:2], rows.shape[1])
        if not batched:
            output = output.squeeze(batch_dim)
            last = tuple(h.squeeze(1) for h in last)
        return output, last

    def _direction_weights(self, k):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of layer-direction k (None where absent)."""
        names = self._all_weights[k]
        params = {n.split("_l")[0]: getattr(self, n) for n in names}
        return tuple(params.get(p) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                             "weight_hr"))


def _direction(mode, x, weights, init_states, sched):
    """One layer-direction over rows ``x`` (R, I): (outputs (R, H_out), final states)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    h0 = init_states[0]
    if mode == "GRU":
        xproj = F.linear(x, w_ih, b_ih)  # (R, 3H): one matmul for every time step
        if h0 is not None:
            h0proj = F.linear(h0, w_hh, b_hh)
        else:
            h0proj = b_hh.expand(sched.batch, b_hh.shape[0]) if b_hh is not None else None
        out, h_n = sequence("GRU", xproj, h0proj, h0, w_hh, b_hh, sched)
        return out, (h_n,)
    bias = b_ih + b_hh if b_ih is not None else None
    xproj = F.linear(x, w_ih, bias)  # (R, G*H): one matmul for every time step
    h0proj = F.linear(h0, w_hh) if h0 is not None else None
    if mode == "LSTM":
        w_rec = w_hh if w_hr is None else w_hh @ w_hr  # (4H, H) with the projection folded in
        out, h_n, c_n = sequence("LSTM", xproj, h0proj, init_states[1], w_rec, None, sched)
        if w_hr is not None:
            out, h_n = F.linear(out, w_hr), F.linear(h_n, w_hr)
        return out, (h_n, c_n)
    out, h_n = sequence("RNN", xproj, h0proj, None, w_hh, None, sched,
                        relu=mode == "RNN_RELU")
    return out, (h_n,)


def _check_options(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                   proj_size):
    if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or \
            isinstance(dropout, bool):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                              ("input_size", input_size, int),
                              ("hidden_size", hidden_size, int)):
        if not isinstance(value, kind):
            raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                            f"{type(value).__name__}")
    if input_size <= 0:
        raise ValueError("input_size must be greater than zero")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if mode not in _GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)


class RNN(RNNBase):
    """A multi-layer Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``
    (``nonlinearity="relu"`` for ReLU).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, hx=None)``
    returns ``(output, h_n)``.

    Example::

        rnn = nn.RNN(10, 20, 2)
        output, hn = rnn(torch.randn(5, 3, 10), torch.randn(2, 3, 20))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, (hx,) if hx is not None else None, 1)
        return output, h_n


class LSTM(RNNBase):
    """A multi-layer LSTM (gates i, f, g, o as in PyTorch); with ``proj_size > 0`` the hidden
    state is projected, ``h_t = W_hr (o_t * tanh(c_t))``.

    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``.

    Example::

        lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
        output, (hn, cn) = lstm(torch.randn(3, 5, 10))    # output: (3, 5, 20)
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes):
        expected = self.get_expected_hidden_size(input, batch_sizes)
        return (*expected[:2], self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def permute_hidden(self, hx, permutation):
        if permutation is None or not isinstance(hx, tuple):
            return super().permute_hidden(hx, permutation)
        return tuple(super(LSTM, self).permute_hidden(h, permutation) for h in hx)

    def forward(self, input, hx=None):
        output, (h_n, c_n) = self._run(input, tuple(hx) if hx is not None else None, 2)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A multi-layer GRU with PyTorch's equations (``n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn))``, ``h' = (1 - z) * n + z * h``).

    ``forward(input, hx=None)`` returns ``(output, h_n)``.

    Example::

        gru = nn.GRU(10, 20, 2, bidirectional=True)
        output, hn = gru(torch.randn(5, 3, 10))     # output: (5, 3, 40), hn: (4, 3, 20)
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, (hx,) if hx is not None else None, 1)
        return output, h_n

