"""``torch.nn.modules`` and its files: PyTorch's import paths for wgtorch's layers.

``torch.nn.modules.linear.Linear is nn.Linear``, so whole models pickled by PyTorch (whose
pickles name ``torch.nn.modules.conv.Conv2d``...) and ``add_safe_globals`` allow-lists that
name these paths resolve to wgtorch's classes.

The table below is the single source: for each file of ``torch/nn/modules/``, the classes
PyTorch defines there. Each name resolves to wgtorch's class of that name (public in
``wgtorch.nn`` or private in one of its files); names wgtorch lacks are left out, and a file
none of whose names exist is not created. A new layer family (e.g. ``nn.LSTM``) therefore
appears here as soon as ``wgtorch.nn`` exports it, with no edit to this file.
"""

import sys
import types

from . import utils  # noqa: F401  (torch.nn.modules.utils: _pair, _single...)

TORCH_FILES = {
    "activation": "Threshold ReLU RReLU Hardtanh ReLU6 Sigmoid Hardsigmoid Tanh SiLU Mish "
                  "Hardswish ELU CELU SELU GLU GELU Hardshrink LeakyReLU LogSigmoid Softplus "
                  "Softshrink MultiheadAttention PReLU Softsign Tanhshrink Softmin Softmax "
                  "Softmax2d LogSoftmax",
    "adaptive": "AdaptiveLogSoftmaxWithLoss",
    "batchnorm": "_NormBase _BatchNorm BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm",
    "channelshuffle": "ChannelShuffle",
    "container": "Sequential ModuleList ModuleDict ParameterList ParameterDict",
    "conv": "_ConvNd Conv1d Conv2d Conv3d _ConvTransposeNd ConvTranspose1d ConvTranspose2d "
            "ConvTranspose3d",
    "distance": "PairwiseDistance CosineSimilarity",
    "dropout": "_DropoutNd Dropout Dropout1d Dropout2d Dropout3d AlphaDropout "
               "FeatureAlphaDropout",
    "flatten": "Flatten Unflatten",
    "fold": "Fold Unfold",
    "instancenorm": "_InstanceNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d",
    "linear": "Identity Linear NonDynamicallyQuantizableLinear Bilinear",
    "loss": "_Loss _WeightedLoss L1Loss NLLLoss PoissonNLLLoss GaussianNLLLoss KLDivLoss "
            "MSELoss BCELoss BCEWithLogitsLoss HingeEmbeddingLoss MultiLabelMarginLoss "
            "SmoothL1Loss HuberLoss SoftMarginLoss CrossEntropyLoss MultiLabelSoftMarginLoss "
            "CosineEmbeddingLoss MarginRankingLoss MultiMarginLoss TripletMarginLoss "
            "TripletMarginWithDistanceLoss CTCLoss",
    "module": "_IncompatibleKeys Module register_module_forward_hook "
              "register_module_forward_pre_hook _addindent",
    "normalization": "LocalResponseNorm CrossMapLRN2d LayerNorm GroupNorm RMSNorm",
    "padding": "CircularPad1d CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d "
               "ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d "
               "ReplicationPad2d ReplicationPad3d ZeroPad1d ZeroPad2d ZeroPad3d",
    "pixelshuffle": "PixelShuffle PixelUnshuffle",
    "pooling": "_MaxPoolNd MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d "
               "_AvgPoolNd AvgPool1d AvgPool2d AvgPool3d FractionalMaxPool2d "
               "FractionalMaxPool3d LPPool1d LPPool2d LPPool3d AdaptiveMaxPool1d "
               "AdaptiveMaxPool2d AdaptiveMaxPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d "
               "AdaptiveAvgPool3d",
    "rnn": "RNNBase RNN LSTM GRU RNNCellBase RNNCell LSTMCell GRUCell",
    "sparse": "Embedding EmbeddingBag",
    "transformer": "Transformer TransformerEncoder TransformerDecoder TransformerEncoderLayer "
                   "TransformerDecoderLayer",
    "upsampling": "Upsample UpsamplingNearest2d UpsamplingBilinear2d",
}


def _wgtorch_names():
    """Every name wgtorch.nn offers: its namespace, then what its own files define
    (``_ConvNd``, ``_Loss``, ``NonDynamicallyQuantizableLinear``...)."""
    _nn_namespace = vars(sys.modules[__name__.rpartition(".")[0]])  # wgtorch.nn
    found = {}
    for value in list(_nn_namespace.values()):
        if isinstance(value, types.ModuleType) and value.__name__.startswith("wgtorch.nn."):
            for name, obj in vars(value).items():
                if getattr(obj, "__module__", None) == value.__name__:
                    found.setdefault(name, obj)
    found.update((k, v) for k, v in _nn_namespace.items() if not k.startswith("_"))
    return found


def _build():
    available = _wgtorch_names()
    for file, names in TORCH_FILES.items():
        members = {n: available[n] for n in names.split() if n in available}
        if not members:
            continue
        module = types.ModuleType(f"{__name__}.{file}",
                                  f"``torch.nn.modules.{file}``: wgtorch's classes of that file.")
        module.__dict__.update(members)
        module.__all__ = [n for n in members if not n.startswith("_")]
        sys.modules[module.__name__] = module
        globals()[file] = module
        globals().update((n, obj) for n, obj in members.items() if not n.startswith("_"))


_build()
