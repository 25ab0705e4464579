"""nn.RNN / nn.LSTM / nn.GRU and the cells against PyTorch 2.13 (CPU) in the same process:
outputs, final states and every gradient (input, initial states, parameters), with weights
moved by state_dict; packed and padded input, stacked, bidirectional, batch_first,
unbatched, proj_size, relu/tanh, no bias; second order; errors; parameters and init."""

import warnings

import numpy as np
import pytest

import wgtorch
from wgtorch import nn

pt = pytest.importorskip("torch")
from torch.nn.utils import rnn as pt_rnn  # noqa: E402

from wgtorch.nn.utils import rnn as wg_rnn  # noqa: E402

RNG = np.random.default_rng(11)
ATOL = 2e-5


def _np(t):
    return t.detach().numpy() if isinstance(t, (wgtorch.Tensor, pt.Tensor)) else np.asarray(t)


def close(ours, ref, atol=ATOL, msg=""):
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape, f"{msg}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, atol=atol, rtol=1e-4, err_msg=msg)


def pair(kind, *args, **kwargs):
    """The PyTorch module and ours with the same weights (torch's state_dict loaded)."""
    pt.manual_seed(0)
    ref = getattr(pt.nn, kind)(*args, **kwargs)
    ours = getattr(nn, kind)(*args, **kwargs)
    ours.load_state_dict({k: wgtorch.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    return ref, ours


def leaves(array):
    """The same values as a torch leaf and a wgtorch leaf, both requiring grad."""
    a = np.asarray(array, dtype=np.float32)
    return pt.tensor(a, requires_grad=True), wgtorch.tensor(a, requires_grad=True)


def states(kind, shape, cell_shape):
    h = RNG.standard_normal(shape)
    if kind.startswith("LSTM"):
        (ht, hw), (ct, cw) = leaves(h), leaves(RNG.standard_normal(cell_shape))
        return (ht, ct), (hw, cw)
    return leaves(h)


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def check_grads(ref, ours, loss_ref, loss_ours, tensors):
    """Backpropagate both losses; compare parameter gradients and those of ``tensors``
    (pairs of torch / wgtorch leaves)."""
    loss_ref.backward()
    loss_ours.backward()
    params = dict(ours.named_parameters())
    for name, p in ref.named_parameters():
        close(params[name].grad, p.grad, msg=f"grad of {name}")
    for k, (t, w) in enumerate(tensors):
        close(w.grad, t.grad, msg=f"grad of input {k}")


def weighted_sum(outputs, weights):
    return sum((o * w).sum() for o, w in zip(outputs, weights))


def run_layer(kind, kwargs, with_hx, steps=5, batch=3, input_size=4, hidden=6):
    ref, ours = pair(kind, input_size, hidden, **kwargs)
    d = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    out_size = kwargs.get("proj_size", 0) or hidden
    shape = (batch, steps, input_size) if kwargs.get("batch_first") else (steps, batch,
                                                                           input_size)
    xt, xw = leaves(RNG.standard_normal(shape))
    args_t, args_w, tensors = [xt], [xw], [(xt, xw)]
    if with_hx:
        st, sw = states(kind, (layers * d, batch, out_size), (layers * d, batch, hidden))
        args_t.append(st)
        args_w.append(sw)
        tensors += list(zip(as_tuple(st), as_tuple(sw)))
    out_t, fin_t = ref(*args_t)
    out_w, fin_w = ours(*args_w)
    close(out_w, out_t, msg="output")
    for a, b in zip(as_tuple(fin_w), as_tuple(fin_t)):
        close(a, b, msg="final state")
    g = [RNG.standard_normal(out_t.shape).astype(np.float32)]
    g += [RNG.standard_normal(s.shape).astype(np.float32) for s in as_tuple(fin_t)]
    loss_t = weighted_sum((out_t, *as_tuple(fin_t)), [pt.tensor(v) for v in g])
    loss_w = weighted_sum((out_w, *as_tuple(fin_w)), [wgtorch.tensor(v) for v in g])
    check_grads(ref, ours, loss_t, loss_w, tensors)


CONFIGS = [{}, {"num_layers": 2}, {"bidirectional": True},
           {"num_layers": 2, "bidirectional": True, "batch_first": True}, {"bias": False}]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda kw: ",".join(kw) or "default")
def test_layer_matches_torch(kind, kwargs):
    run_layer(kind, kwargs, with_hx=True)
    run_layer(kind, kwargs, with_hx=False)


@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3}),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 5, "batch_first": True, "bias": False}),
])
def test_layer_variants_match_torch(kind, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "LSTM with projections is not supported..."
        run_layer(kind, kwargs, with_hx=True)
        run_layer(kind, kwargs, with_hx=False)


def test_aligned_sizes_and_a_longer_sequence():
    # hidden 8 / input 16: the vec4 matmul kernels; 33 steps, batch 5
    run_layer("LSTM", {"num_layers": 2}, True, steps=33, batch=5, input_size=16, hidden=8)
    run_layer("GRU", {"bidirectional": True}, False, steps=33, batch=5, input_size=16,
              hidden=8)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_unbatched_input(kind):
    ref, ours = pair(kind, 3, 4, num_layers=2, bidirectional=True)
    xt, xw = leaves(RNG.standard_normal((6, 3)))
    st, sw = states(kind, (4, 4), (4, 4))
    out_t, fin_t = ref(xt, st)
    out_w, fin_w = ours(xw, sw)
    assert tuple(out_w.shape) == (6, 8)
    close(out_w, out_t)
    for a, b in zip(as_tuple(fin_w), as_tuple(fin_t)):
        assert tuple(a.shape) == (4, 4)
        close(a, b)
    tensors = [(xt, xw), *zip(as_tuple(st), as_tuple(sw))]
    check_grads(ref, ours, out_t.pow(2).sum() + as_tuple(fin_t)[-1].sum(),
                out_w.pow(2).sum() + as_tuple(fin_w)[-1].sum(), tensors)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_input_matches_torch(kind, bidirectional):
    lengths = [4, 6, 2, 5]  # unsorted: enforce_sorted=False sorts and restores the batch
    ref, ours = pair(kind, 3, 5, num_layers=2, bidirectional=bidirectional)
    d = 2 if bidirectional else 1
    xt, xw = leaves(RNG.standard_normal((6, 4, 3)))
    st, sw = states(kind, (2 * d, 4, 5), (2 * d, 4, 5))
    packed_t = pt_rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    packed_w = wg_rnn.pack_padded_sequence(xw, lengths, enforce_sorted=False)
    out_t, fin_t = ref(packed_t, st)
    out_w, fin_w = ours(packed_w, sw)
    assert isinstance(out_w, wg_rnn.PackedSequence)
    close(out_w.data, out_t.data, msg="packed output")
    assert out_w.batch_sizes.tolist() == out_t.batch_sizes.tolist()
    for a, b in zip(as_tuple(fin_w), as_tuple(fin_t)):
        close(a, b, msg="final state at each sequence's end")
    pad_t, len_t = pt_rnn.pad_packed_sequence(out_t, batch_first=True)
    pad_w, len_w = wg_rnn.pad_packed_sequence(out_w, batch_first=True)
    close(pad_w, pad_t)
    assert len_w.tolist() == len_t.tolist()
    g = RNG.standard_normal(pad_t.shape).astype(np.float32)
    loss_t = (pad_t * pt.tensor(g)).sum() + weighted_sum(as_tuple(fin_t), (2.0, 3.0))
    loss_w = (pad_w * wgtorch.tensor(g)).sum() + weighted_sum(as_tuple(fin_w), (2.0, 3.0))
    check_grads(ref, ours, loss_t, loss_w, [(xt, xw), *zip(as_tuple(st), as_tuple(sw))])


def test_packed_sorted_input_without_initial_state():
    ref, ours = pair("LSTM", 2, 3)
    seqs = [RNG.standard_normal((n, 2)).astype(np.float32) for n in (5, 3, 3, 1)]
    out_t, (h_t, c_t) = ref(pt_rnn.pack_sequence([pt.tensor(s) for s in seqs]))
    out_w, (h_w, c_w) = ours(wg_rnn.pack_sequence([wgtorch.tensor(s) for s in seqs]))
    close(out_w.data, out_t.data)
    close(h_w, h_t)
    close(c_w, c_t)
    assert out_w.sorted_indices is None and out_w.unsorted_indices is None


@pytest.mark.parametrize("kind,kwargs", [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}),
                                         ("RNNCell", {"nonlinearity": "relu"}),
                                         ("GRUCell", {"bias": False}),
                                         ("LSTMCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(kind, kwargs, batched):
    ref, ours = pair(kind, 4, 5, **kwargs)
    lead = (3,) if batched else ()
    xt, xw = leaves(RNG.standard_normal(lead + (4,)))
    st, sw = states(kind, lead + (5,), lead + (5,))
    out_t, out_w = as_tuple(ref(xt, st)), as_tuple(ours(xw, sw))
    for a, b in zip(out_w, out_t):
        close(a, b)
    check_grads(ref, ours, weighted_sum(out_t, (2.0, 3.0)), weighted_sum(out_w, (2.0, 3.0)),
                [(xt, xw), *zip(as_tuple(st), as_tuple(sw))])
    x = RNG.standard_normal(lead + (4,)).astype(np.float32)  # no state: zeros
    for a, b in zip(as_tuple(ours(wgtorch.tensor(x))), as_tuple(ref(pt.tensor(x)))):
        close(a, b)


def test_cell_loop_matches_layer():
    # an LSTMCell unrolled by hand gives the LSTM layer's numbers (same weights)
    cell = nn.LSTMCell(3, 4)
    layer = nn.LSTM(3, 4)
    with wgtorch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer, name + "_l0").copy_(getattr(cell, name))
    x = wgtorch.randn(5, 2, 3)
    h = c = wgtorch.zeros(2, 4)
    outs = []
    for t in range(5):
        h, c = cell(x[t], (h, c))
        outs.append(h)
    out, (h_n, c_n) = layer(x)
    close(out, wgtorch.stack(outs), atol=1e-6)
    close(c_n[0], c, atol=1e-6)


@pytest.mark.parametrize("kind,kwargs", [("LSTM", {"num_layers": 2}),
                                         ("GRU", {"bidirectional": True}),
                                         ("RNN", {"nonlinearity": "relu"}),
                                         ("RNN", {"num_layers": 2}),
                                         ("LSTM", {"proj_size": 2, "bidirectional": True})])
def test_second_order_matches_torch(kind, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ours = pair(kind, 3, 4, **kwargs)
        n = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        xt, xw = leaves(RNG.standard_normal((4, 2, 3)))
        st, sw = states(kind, (n, 2, kwargs.get("proj_size", 0) or 4), (n, 2, 4))
        inputs_t = [xt, *as_tuple(st), *ref.parameters()]
        inputs_w = [xw, *as_tuple(sw), *ours.parameters()]
        out_t, _ = ref(xt, st)
        out_w, _ = ours(xw, sw)
        grads_t = pt.autograd.grad(out_t.pow(2).sum(), inputs_t, create_graph=True)
        grads_w = wgtorch.autograd.grad(out_w.pow(2).sum(), inputs_w, create_graph=True)
        for a, b in zip(grads_w, grads_t):
            close(a, b)
        gg_t = pt.autograd.grad(sum((g * g).sum() for g in grads_t), inputs_t)
        gg_w = wgtorch.autograd.grad(sum((g * g).sum() for g in grads_w), inputs_w)
        for a, b in zip(gg_w, gg_t):
            close(a, b, atol=1e-4)


def test_cell_second_order_matches_torch():
    ref, ours = pair("GRUCell", 3, 4)
    xt, xw = leaves(RNG.standard_normal((2, 3)))
    ht, hw = leaves(RNG.standard_normal((2, 4)))
    (gt,) = pt.autograd.grad(ref(xt, ht).pow(2).sum(), ht, create_graph=True)
    (gw,) = wgtorch.autograd.grad(ours(xw, hw).pow(2).sum(), hw, create_graph=True)
    close(gw, gt)
    close(wgtorch.autograd.grad(gw.pow(2).sum(), xw)[0],
          pt.autograd.grad(gt.pow(2).sum(), xt)[0], atol=1e-4)


def test_dropout_between_layers():
    lstm = nn.LSTM(3, 4, num_layers=3, dropout=0.5)
    x = wgtorch.randn(5, 2, 3)
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    close(a, b, atol=0)  # no dropout in eval mode
    lstm.train()
    wgtorch.manual_seed(1)
    c, _ = lstm(x)
    wgtorch.manual_seed(1)
    d, _ = lstm(x)
    close(c, d, atol=0)  # the same seed, the same masks
    assert np.abs(c.detach().numpy() - a.detach().numpy()).max() > 1e-4
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


# ---- parameters, state_dict, repr ------------------------------------------------------------


@pytest.mark.parametrize("kind,kwargs", [("LSTM", {"num_layers": 2, "bidirectional": True,
                                                   "proj_size": 2}),
                                         ("GRU", {"bias": False, "num_layers": 2}),
                                         ("RNN", {"nonlinearity": "relu"}),
                                         ("LSTMCell", {}), ("GRUCell", {"bias": False})])
def test_parameter_names_shapes_and_init(kind, kwargs):
    ref = getattr(pt.nn, kind)(5, 6, **kwargs)
    ours = getattr(nn, kind)(5, 6, **kwargs)
    shapes_t = [(k, tuple(v.shape)) for k, v in ref.named_parameters()]
    shapes_w = [(k, tuple(v.shape)) for k, v in ours.named_parameters()]
    assert shapes_w == shapes_t
    assert list(ours.state_dict()) == list(ref.state_dict())
    bound = 1 / np.sqrt(6)
    values = np.concatenate([p.detach().numpy().ravel() for p in ours.parameters()])
    assert np.abs(values).max() <= bound and values.std() > bound / 3  # U(-bound, bound)
    assert repr(ours) == repr(ref)
    if not kind.endswith("Cell"):
        assert ours._flat_weights_names == ref._flat_weights_names
        assert [[p.shape for p in w] for w in ours.all_weights] == \
            [[p.shape for p in w] for w in ref.all_weights]
        assert ours.flatten_parameters() is None


def test_state_dict_moves_both_ways_through_files(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pt.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
        ours = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
        x = RNG.standard_normal((4, 2, 3)).astype(np.float32)
        path = str(tmp_path / "from_wgtorch.pt")
        wgtorch.save(ours.state_dict(), path)  # ours -> torch
        ref.load_state_dict(pt.load(path, map_location="cpu"))
        close(ours(wgtorch.tensor(x))[0], ref(pt.tensor(x))[0])
        ref2 = pt.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
        path = str(tmp_path / "from_torch.pt")
        pt.save(ref2.state_dict(), path)  # torch -> ours
        ours.load_state_dict(wgtorch.load(path))
        close(ours(wgtorch.tensor(x))[0], ref2(pt.tensor(x))[0])


# ---- errors (PyTorch's types and wording) ------------------------------------------------


def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(2, 3, proj_size=1)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'foo'"):
        nn.RNN(2, 3, nonlinearity="foo")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        nn.LSTM(2, 3.0)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(2, 0)
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: foo"):
        nn.RNNCell(2, 3, nonlinearity="foo")(wgtorch.randn(1, 2))


def test_forward_errors_leave_the_module_usable():
    lstm = nn.LSTM(2, 3)
    x = wgtorch.randn(4, 3, 2)
    cases = [
        (ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead",
         lambda: lstm(wgtorch.randn(4, 3, 2, 1))),
        (RuntimeError, "input.size\\(-1\\) must be equal to input_size. Expected 2, got 5",
         lambda: lstm(wgtorch.randn(4, 3, 5))),
        (RuntimeError, r"Expected hidden\[0\] size \(1, 3, 3\), got \[1, 2, 3\]",
         lambda: lstm(x, (wgtorch.randn(1, 2, 3), wgtorch.randn(1, 3, 3)))),
        (RuntimeError, r"hx and cx should also be 3-D but got \(2-D, 3-D\) tensors",
         lambda: lstm(x, (wgtorch.randn(3, 3), wgtorch.randn(1, 3, 3)))),
        (RuntimeError, "Expected sequence length to be larger than 0 in RNN",
         lambda: lstm(wgtorch.randn(0, 3, 2))),
        (ValueError, "RNN: Expected input to be 2D or 3D, got 4D tensor instead",
         lambda: nn.RNN(2, 3)(wgtorch.randn(1, 1, 1, 2))),
        (RuntimeError, "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor",
         lambda: nn.GRU(2, 3)(wgtorch.randn(4, 2), wgtorch.randn(1, 1, 3))),
        (RuntimeError, r"Expected hidden size \(1, 3, 3\), got \[2, 3, 3\]",
         lambda: nn.RNN(2, 3)(x, wgtorch.randn(2, 3, 3))),
        (ValueError, r"RNN input dtype \(torch.float16\) does not match weight dtype",
         lambda: lstm(x.half())),
        (RuntimeError, "input has inconsistent input_size: got 5 expected 2",
         lambda: nn.LSTMCell(2, 3)(wgtorch.randn(4, 5))),
        (RuntimeError, "Input batch size 4 doesn't match hidden0 batch size 3",
         lambda: nn.GRUCell(2, 3)(wgtorch.randn(4, 2), wgtorch.randn(3, 3))),
        (ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead",
         lambda: nn.GRUCell(2, 3)(wgtorch.randn(2, 2, 2))),
        (ValueError, r"LSTMCell: Expected hx\[1\] to be 1D or 2D, got 3D instead",
         lambda: nn.LSTMCell(2, 3)(wgtorch.randn(2), (wgtorch.randn(3), wgtorch.randn(1, 1, 3)))),
    ]
    for exc, message, call in cases:
        with pytest.raises(exc, match=message):
            call()
    out, _ = lstm(x)
    assert tuple(out.shape) == (4, 3, 3) and np.isfinite(out.detach().numpy()).all()


def test_empty_batch():
    out, (h, c) = nn.LSTM(2, 3)(wgtorch.randn(4, 0, 2))
    assert tuple(out.shape) == (4, 0, 3) and tuple(h.shape) == (1, 0, 3)


def test_half_precision_runs_the_differentiable_cells():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = wgtorch.randn(5, 2, 3)
    ref, _ = lstm(x)
    lstm.half()
    out, (h, c) = lstm(x.half())
    assert out.dtype is wgtorch.float16 and h.dtype is wgtorch.float16
    close(out.float(), ref, atol=2e-3)
    out.float().sum().backward()
    assert lstm.weight_hh_l0.grad.dtype is wgtorch.float16
