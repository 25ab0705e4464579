"""nn.Transformer, TransformerEncoder/Decoder and their layers against torch 2.13: PyTorch's
state_dict loaded, outputs and gradients (inputs and every parameter) compared, with every
mask form, is_causal, norm_first, batch_first, unbatched inputs, and subclasses."""

import warnings

import numpy as np
import pytest

import wgtorch as torch
from wgtorch import nn
from helpers import assert_close

reference = pytest.importorskip("torch")
tnn = reference.nn
E, H, FF = 8, 2, 16


def ours(t):
    if t is None or not isinstance(t, reference.Tensor):
        return t
    return torch.tensor(t.detach().numpy())


def twin(ref_module, our_module):
    our_module.load_state_dict({k: ours(v) for k, v in ref_module.state_dict().items()})
    assert list(our_module.state_dict()) == list(ref_module.state_dict())
    return our_module


def compare(ref_module, our_module, inputs, kwargs, atol=2e-5):
    """Run both on the same inputs; compare the output, the inputs' and params' grads."""
    ref_in = [a.clone().requires_grad_(a.is_floating_point()) for a in inputs]
    our_in = [ours(a).requires_grad_(a.is_floating_point()) for a in inputs]
    with warnings.catch_warnings(record=True) as ref_warnings:
        warnings.simplefilter("always")
        expected = ref_module(*ref_in, **kwargs)
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        got = our_module(*our_in, **{k: ours(v) for k, v in kwargs.items()})
    # the same deprecation warnings (mismatched mask types); PyTorch's fast-path notes aside
    ref_messages = {str(w.message) for w in ref_warnings if "mismatched" in str(w.message)}
    assert {str(w.message) for w in our_warnings} == ref_messages
    assert_close(got, expected.detach().numpy(), atol=atol, rtol=1e-4)
    g = reference.randn(expected.shape)
    expected.backward(g)
    got.backward(ours(g))
    for r, o in zip(ref_in, our_in):
        assert_close(o.grad, r.grad.numpy(), atol=atol * 10, rtol=1e-3)
    ref_params = dict(ref_module.named_parameters())
    for name, p in our_module.named_parameters():
        expected_grad = ref_params[name].grad
        if expected_grad is None:  # unused by the forward (e.g. an overridden block)
            assert p.grad is None, name
            continue
        assert_close(p.grad, expected_grad.numpy(), atol=atol * 10, rtol=1e-3, msg=name)
    our_module.zero_grad()
    ref_module.zero_grad()


def seq(n, length, batch_first, batch=3):
    return reference.randn(batch, length, E) if batch_first else reference.randn(length, batch, E)


MASKS = {
    "none": lambda S, T: {},
    "causal": lambda S, T: {"tgt_mask": tnn.Transformer.generate_square_subsequent_mask(T)},
    "causal_hint": lambda S, T: {"tgt_mask": tnn.Transformer.generate_square_subsequent_mask(T),
                                 "tgt_is_causal": True},
    "bool_masks": lambda S, T: {"tgt_mask": reference.ones(T, T, dtype=reference.bool).triu(1),
                                "memory_mask": reference.rand(T, S) > 0.8},
    "float_masks": lambda S, T: {"src_mask": reference.randn(S, S),
                                 "memory_mask": reference.randn(T, S)},
    "padding": lambda S, T: {
        "tgt_mask": tnn.Transformer.generate_square_subsequent_mask(T),
        "src_key_padding_mask": reference.tensor([[False] * S, [False] * (S - 2) + [True] * 2,
                                                  [False] * S]),
        "memory_key_padding_mask": reference.tensor([[False] * (S - 1) + [True]] * 3),
        "tgt_key_padding_mask": reference.tensor([[False] * T] * 2 + [[False] * (T - 1) + [True]]),
    },
}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", sorted(MASKS))
def test_transformer_matches_pytorch(batch_first, norm_first, masks):
    reference.manual_seed(0)
    kw = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first,
              activation="gelu" if norm_first else "relu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's nested-tensor fast-path notice
        ref = tnn.Transformer(**kw)
    model = twin(ref, nn.Transformer(**kw))
    S, T = 5, 4
    compare(ref, model, [seq(3, S, batch_first), seq(3, T, batch_first)], MASKS[masks](S, T))


def test_unbatched_and_decoder_alone():
    reference.manual_seed(1)
    ref = tnn.TransformerDecoder(tnn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2,
                                 tnn.LayerNorm(E))
    model = twin(ref, nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2,
                                            nn.LayerNorm(E)))
    tgt, memory = reference.randn(4, E), reference.randn(6, E)  # unbatched (T, E), (S, E)
    compare(ref, model, [tgt, memory], {"tgt_mask": tnn.Transformer
                                        .generate_square_subsequent_mask(4)})
    compare(ref, model, [reference.randn(4, 2, E), reference.randn(6, 2, E)],
            {"memory_key_padding_mask": reference.rand(2, 6) > 0.7})


def test_encoder_layer_and_stack():
    reference.manual_seed(2)
    kw = dict(d_model=E, nhead=H, dim_feedforward=FF, dropout=0.0, batch_first=True)
    ref_layer = tnn.TransformerEncoderLayer(**kw)
    layer = twin(ref_layer, nn.TransformerEncoderLayer(**kw))
    x = reference.randn(2, 5, E)
    mask = tnn.Transformer.generate_square_subsequent_mask(5)
    compare(ref_layer, layer, [x], {"src_mask": mask, "is_causal": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_enc = tnn.TransformerEncoder(ref_layer, 3, tnn.LayerNorm(E))
    enc = twin(ref_enc, nn.TransformerEncoder(layer, 3, nn.LayerNorm(E)))
    compare(ref_enc, enc, [x], {"mask": mask})  # causal mask detected, as PyTorch
    compare(ref_enc, enc, [x], {"src_key_padding_mask": reference.rand(2, 5) > 0.7})


def test_generate_square_subsequent_mask():
    for n in (1, 4):
        assert_close(nn.Transformer.generate_square_subsequent_mask(n),
                     tnn.Transformer.generate_square_subsequent_mask(n).numpy(), atol=0, rtol=0)
    m = nn.Transformer.generate_square_subsequent_mask(3, device="cpu", dtype=torch.float16)
    assert m.device == torch.device("cpu") and m.dtype is torch.float16
    assert m.shape == (3, 3) and m[0, 1].item() == -np.inf and m[1, 0].item() == 0.0


def test_subclass_overrides_blocks_like_pytorch():
    class NoFeedForward(nn.TransformerDecoderLayer):
        def _ff_block(self, x):
            return x * 0

    class RefNoFeedForward(tnn.TransformerDecoderLayer):
        def _ff_block(self, x):
            return x * 0

    reference.manual_seed(3)
    ref = RefNoFeedForward(E, H, FF, dropout=0.0)
    model = twin(ref, NoFeedForward(E, H, FF, dropout=0.0))
    compare(ref, model, [reference.randn(4, 2, E), reference.randn(5, 2, E)], {})

    class Seq2Seq(nn.Transformer):  # subclassing at import time, as word_language_model does
        def __init__(self, ntoken):
            super().__init__(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                             dim_feedforward=FF)
            self.embed = nn.Embedding(ntoken, E)

    s2s = Seq2Seq(10)
    assert isinstance(s2s, nn.Transformer) and s2s.embed.num_embeddings == 10
    assert s2s.encoder.layers[0].linear1.weight.grad is None


def test_errors_match_pytorch():
    model = nn.Transformer(E, H, 1, 1, FF, dropout=0.0)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(torch.randn(5, 3, E), torch.randn(4, 2, E))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to "
                                           "d_model"):
        model(torch.randn(5, 3, E), torch.randn(4, 3, 6))
    layer = nn.TransformerEncoderLayer(E, H, FF)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        layer(torch.randn(4, 2, E), is_causal=True)
    with pytest.raises(AssertionError, match="only bool and floating types of src_mask"):
        layer(torch.randn(4, 2, E), src_mask=torch.zeros(4, 4, dtype=torch.int64))
    with pytest.warns(UserWarning, match="mismatched src_key_padding_mask and src_mask"):
        layer(torch.randn(4, 2, E), src_mask=torch.zeros(4, 4),
              src_key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
        layer(torch.randn(4, 2, E), src_mask=torch.zeros(3, 3))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
