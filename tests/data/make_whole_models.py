"""Generate the golden files of tests/test_whole_models.py with real PyTorch 2.13. Run ONCE,
then commit the outputs (the test never needs torch):

    /work/main/.venv/bin/python tests/data/make_whole_models.py

Writes, next to this script:
  torch_whole_models.pt    ``torch.save`` of a dict of whole nn.Modules (one or more per file
                           of torch/nn/modules that wgtorch has), in eval mode, on cpu
  torch_whole_models.npz   each module's inputs (``<name>/in<k>``) and output (``<name>/out``),
                           and for the ``cnn`` model the gradients of ``out.sum()`` with
                           respect to its parameters (``cnn/grad/<param>``)
"""

import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
RNG = np.random.default_rng(0)


def f32(*shape, low=-1.0, high=1.0):
    return RNG.uniform(low, high, size=shape).astype(np.float32)


def x4(c=3):
    return f32(2, c, 6, 6)


def seq(x):
    return f32(*x)


def classes(n, c):
    return RNG.integers(0, c, size=n).astype(np.int64)


def signs(n):
    return np.where(RNG.uniform(size=n) > 0.5, 1.0, -1.0).astype(np.float32)


# name -> (module, inputs). One entry per layer family; every module runs in eval mode.
CASES = {
    # activation
    "act": (nn.Sequential(nn.Threshold(0.1, 20.0), nn.Hardtanh(-0.5, 0.5), nn.ReLU6(),
                          nn.Sigmoid(), nn.Hardsigmoid(), nn.Tanh(), nn.SiLU(), nn.Mish(),
                          nn.Hardswish(), nn.ELU(0.5), nn.CELU(0.7), nn.SELU(), nn.GELU("tanh"),
                          nn.Hardshrink(0.1), nn.LeakyReLU(0.2), nn.LogSigmoid(),
                          nn.Softplus(2.0, 10.0), nn.Softshrink(0.05), nn.Softsign(),
                          nn.Tanhshrink(), nn.RReLU(), nn.ReLU(), nn.PReLU(4)), [f32(3, 4)]),
    "act_softmax": (nn.Sequential(nn.Softmin(1), nn.Softmax(-1), nn.LogSoftmax(1), nn.GLU(1)),
                    [f32(3, 4)]),
    "softmax2d": (nn.Softmax2d(), [x4()]),
    "mha": (nn.MultiheadAttention(8, 2, kdim=6, vdim=5, batch_first=True),
            [f32(2, 3, 8), f32(2, 4, 6), f32(2, 4, 5)]),
    # batchnorm / instancenorm / normalization
    "bn": (nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(2),
                         nn.BatchNorm1d(4), nn.Unflatten(2, (4, 4)), nn.Unflatten(1, (4, 1)),
                         nn.BatchNorm3d(4)), [x4()]),
    "inorm": (nn.Sequential(nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
                            nn.Flatten(2), nn.InstanceNorm1d(3)), [x4()]),
    "norms": (nn.Sequential(nn.LayerNorm(6), nn.GroupNorm(1, 3), nn.RMSNorm(6),
                            nn.LocalResponseNorm(2)), [x4()]),
    # conv / pooling / padding / pixelshuffle / upsampling / fold
    "cnn": (nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding="same", groups=2),
                          nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(16, 3)),
            [x4()]),
    "conv1d": (nn.Sequential(nn.Conv1d(3, 4, 3, stride=2, dilation=1), nn.MaxPool1d(2),
                             nn.ConvTranspose1d(4, 2, 3, stride=2), nn.AvgPool1d(2),
                             nn.LPPool1d(2, 2), nn.AdaptiveAvgPool1d(3),
                             nn.AdaptiveMaxPool1d(2)), [f32(2, 3, 20)]),
    "deconv": (nn.Sequential(nn.ConvTranspose2d(3, 8, 3, stride=2, padding=1,
                                                output_padding=1), nn.PixelShuffle(2),
                             nn.PixelUnshuffle(2), nn.LPPool2d(2, 2),
                             nn.AdaptiveAvgPool2d((3, 2)), nn.AdaptiveMaxPool2d(1)), [x4()]),
    "pads": (nn.Sequential(nn.ReflectionPad2d(1), nn.ReplicationPad2d((1, 0, 2, 1)),
                           nn.ZeroPad2d(1), nn.ConstantPad2d(1, 0.5), nn.CircularPad2d(1),
                           nn.Flatten(2), nn.ReflectionPad1d(2), nn.ReplicationPad1d(1),
                           nn.ZeroPad1d((0, 1)), nn.ConstantPad1d(1, -1.0),
                           nn.CircularPad1d(1)), [x4()]),
    "upsample": (nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                               nn.UpsamplingBilinear2d(scale_factor=0.5),
                               nn.Upsample(size=(5, 7), mode="bilinear", align_corners=False),
                               nn.UpsamplingNearest2d(size=(4, 4))), [x4()]),
    "fold": (nn.Sequential(nn.Unfold(2, stride=2), nn.Fold((6, 6), 2, stride=2)), [x4()]),
    # linear / sparse / dropout / distance
    "linear": (nn.Sequential(nn.Identity(), nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 4,
                                                                                   bias=False),
                             nn.AlphaDropout(0.2)), [f32(3, 4)]),
    "dropouts": (nn.Sequential(nn.Dropout1d(0.3), nn.Unflatten(2, (2, 2)), nn.Dropout2d(0.3),
                               nn.Unflatten(3, (1, 2)), nn.Dropout3d(0.3)), [f32(2, 3, 4)]),
    "bilinear": (nn.Bilinear(3, 4, 2), [f32(5, 3), f32(5, 4)]),
    "embedding": (nn.Embedding(7, 4, padding_idx=0), [classes(6, 7).reshape(2, 3)]),
    "pdist": (nn.PairwiseDistance(p=1.5, keepdim=True), [f32(4, 5), f32(4, 5)]),
    "cossim": (nn.CosineSimilarity(dim=1), [f32(4, 5), f32(4, 5)]),
    # loss
    "ce": (nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1),
           [f32(5, 3), classes(5, 3)]),
    "nll": (nn.NLLLoss(reduction="sum", ignore_index=1), [f32(5, 3, low=-3, high=0),
                                                          classes(5, 3)]),
    "mse": (nn.MSELoss(reduction="none"), [f32(3, 4), f32(3, 4)]),
    "l1": (nn.L1Loss(), [f32(3, 4), f32(3, 4)]),
    "smoothl1": (nn.SmoothL1Loss(beta=0.5), [f32(3, 4), f32(3, 4)]),
    "huber": (nn.HuberLoss(delta=0.3), [f32(3, 4), f32(3, 4)]),
    "bce": (nn.BCELoss(), [f32(3, 4, low=0.05, high=0.95), f32(3, 4, low=0, high=1)]),
    "bcelogits": (nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 3.0, 0.5])),
                  [f32(3, 4), f32(3, 4, low=0, high=1)]),
    "kldiv": (nn.KLDivLoss(reduction="batchmean", log_target=True),
              [f32(3, 4, low=-3, high=-0.1), f32(3, 4, low=-3, high=-0.1)]),
    "poisson": (nn.PoissonNLLLoss(), [f32(3, 4), f32(3, 4, low=0, high=3)]),
    "gaussian": (nn.GaussianNLLLoss(), [f32(3, 4), f32(3, 4), f32(3, 4, low=0.1, high=2)]),
    "margin": (nn.MarginRankingLoss(margin=0.2), [f32(6), f32(6), signs(6)]),
    "hinge": (nn.HingeEmbeddingLoss(margin=0.5), [f32(6), signs(6)]),
    "softmargin": (nn.SoftMarginLoss(), [f32(6), signs(6)]),
    "cosemb": (nn.CosineEmbeddingLoss(margin=0.1), [f32(4, 5), f32(4, 5), signs(4)]),
    "triplet": (nn.TripletMarginLoss(margin=0.5, swap=True), [f32(4, 5), f32(4, 5),
                                                               f32(4, 5)]),
    # transformer
    "encoder": (nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, norm_first=True,
                                                                 activation="gelu"), 2,
                                      enable_nested_tensor=False), [f32(5, 2, 8)]),
    "transformer": (nn.Transformer(8, 2, 1, 2, 16, batch_first=True),
                    [f32(2, 5, 8), f32(2, 4, 8)]),
}
# containers: checked by structure and values (they have no forward)
CONTAINERS = {
    "modulelist": nn.ModuleList([nn.Linear(2, 3), nn.ReLU()]),
    "moduledict": nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Tanh()}),
    "paramlist": nn.ParameterList([nn.Parameter(torch.randn(2)), nn.Parameter(torch.randn(3))]),
    "paramdict": nn.ParameterDict({"w": nn.Parameter(torch.randn(2, 2))}),
}


def main():
    arrays = {}
    models = {}
    for name, (module, inputs) in CASES.items():
        module.train()
        if any(isinstance(m, nn.modules.batchnorm._NormBase) for m in module.modules()):
            with torch.no_grad():  # non-trivial running statistics
                module(*[torch.from_numpy(a) for a in inputs])
        module.eval()
        tensors = [torch.from_numpy(a) for a in inputs]
        out = module(*tensors)
        out = out[0] if isinstance(out, tuple) else out
        for k, a in enumerate(inputs):
            arrays[f"{name}/in{k}"] = a
        arrays[f"{name}/out"] = out.detach().numpy()
        if name == "cnn":
            out.sum().backward()
            for pname, p in module.named_parameters():
                arrays[f"cnn/grad/{pname}"] = p.grad.numpy()
            module.zero_grad(set_to_none=True)
        models[name] = module
    for name, module in CONTAINERS.items():
        models[name] = module
        for key, value in module.state_dict().items():
            arrays[f"{name}/state/{key}"] = value.numpy()
    torch.save(models, os.path.join(HERE, "torch_whole_models.pt"))
    np.savez_compressed(os.path.join(HERE, "torch_whole_models.npz"), **arrays)


if __name__ == "__main__":
    main()
