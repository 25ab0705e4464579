"""``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``: one time step, PyTorch's parameters
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), gate order and equations.

A step is the input projection and the hidden projection (one matmul each, biases fused)
and one fused cell kernel (``wgtorch/ops/rnn_cells.py``); its backward is the fused gate-
gradient kernel and the matmuls' gradients.
"""

import math

from ..ops.creation import empty
from ..ops.recurrence import padded_schedule, sequence
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class RNNCellBase(Module):
    """The parameters shared by the cells: ``num_chunks`` gates of ``hidden_size`` each."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device,
                                         dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device,
                                         dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, name, input, hx):
        """Validate; returns (2-D input, list of 2-D states or None, batched)."""
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} "
                               f"expected {self.input_size}")
        if hx is None:
            return input, None, batched
        states = []
        for k, h in enumerate(hx):
            h = h if batched else h.unsqueeze(0)
            if h.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} "
                                   f"batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")
            states.append(h)
        return input, states, batched

    def _step(self, kind, input, states, relu=False):
        """One fused step over the batch; returns the kernel's outputs."""
        sched = padded_schedule(1, input.size(0), False, False)  # one step, every row new
        xproj = F.linear(input, self.weight_ih, self.bias_ih)
        if states is not None:
            h0proj = F.linear(states[0], self.weight_hh, self.bias_hh)
        elif self.bias_hh is not None:
            h0proj = self.bias_hh.expand(input.size(0), self.bias_hh.shape[0])
        else:
            h0proj = None
        state0 = states[-1] if states is not None and kind != "RNN" else None
        return sequence(kind, xproj, h0proj, state0, None, None, sched, relu)


def _check_hidden_dim(name, hx, what="hidden"):
    if hx is not None and hx.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {hx.dim()}D instead")


class RNNCell(RNNCellBase):
    """An Elman RNN cell: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU).

    Example::

        cell = nn.RNNCell(10, 20)
        hx = cell(torch.randn(3, 10), torch.randn(3, 20))     # (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        _check_input_dim("RNNCell", input)
        _check_hidden_dim("RNNCell", hx)
        input, states, batched = self._prepare("RNNCell", input, (hx,) if hx is not None
                                               else None)
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        out, _ = self._step("RNN", input, states, relu=self.nonlinearity == "relu")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """An LSTM cell (gates i, f, g, o): ``c' = f * c + i * g``, ``h' = o * tanh(c')``.

    Example::

        cell = nn.LSTMCell(10, 20)
        hx, cx = cell(torch.randn(3, 10), (torch.randn(3, 20), torch.randn(3, 20)))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        _check_input_dim("LSTMCell", input)
        if hx is not None:
            for k, value in enumerate(hx):
                _check_hidden_dim("LSTMCell", value, f"hx[{k}]")
        input, states, batched = self._prepare("LSTMCell", input, hx)
        h, _, c = self._step("LSTM", input, states)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """A GRU cell with PyTorch's equations: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
    ``h' = (1 - z) * n + z * h``.

    Example::

        cell = nn.GRUCell(10, 20)
        hx = cell(torch.randn(3, 10), torch.randn(3, 20))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        _check_input_dim("GRUCell", input)
        _check_hidden_dim("GRUCell", hx)
        input, states, batched = self._prepare("GRUCell", input, (hx,) if hx is not None
                                               else None)
        out, _ = self._step("GRU", input, states)
        return out if batched else out.squeeze(0)


def _check_input_dim(name, input):
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
