"""Generate the golden files of tests/test_serialization.py and tests/test_lr_scheduler.py
with real PyTorch. Run ONCE, then commit the outputs (the tests never need torch):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy safetensors
    /tmp/torchvenv/bin/python tests/data/make_golden.py

Writes, next to this script:
  torch_tensors.pt          dtypes, a non-contiguous view, shared-storage views, nesting
  torch_model_state.pt      a Conv2d + Linear state_dict (OrderedDict with _metadata)
  torch_optim_state.pt      Adam/AdamW/SGD/RMSprop state_dicts after 2 steps, with the next
                            step's gradients and the parameters PyTorch computes from them
  torch_tensors.safetensors written by safetensors.torch (F32, F16, BF16, I64, BOOL, U8)
  golden_expected.npz       the values every test compares against
  lr_sequences.json         learning rates PyTorch's schedulers produce, step by step
"""

import copy
import json
import math
import os
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
expected = {}


def tensors_file():
    base = torch.randn(10)
    wide = torch.randn(5, 6)
    obj = {
        "int64": torch.arange(-5, 7, dtype=torch.int64).reshape(3, 4),
        "float32": torch.randn(2, 3, 4),
        "float16": torch.randn(5).half(),
        "bool": torch.tensor([True, False, True]),
        "uint8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "int32": torch.tensor([-(2**31), 0, 2**31 - 1], dtype=torch.int32),
        "noncontig": torch.randn(4, 6).t(),
        "sliced": wide[1:, ::2],
        "base": base,
        "view": base[2:7],
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "float64": torch.randn(3, dtype=torch.float64),
        "param": torch.nn.Parameter(torch.randn(2)),
        "nested": {"list": [1, 2.5, "s", None, (1, 2)], "t": torch.ones(2, dtype=torch.int64)},
    }
    torch.save(obj, os.path.join(HERE, "torch_tensors.pt"))
    for k, v in obj.items():
        if isinstance(v, torch.Tensor):
            expected[f"tensors/{k}"] = v.detach().numpy()
    expected["tensors/nested.t"] = obj["nested"]["t"].numpy()


def model_file():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                torch.nn.Linear(8, 3))
    sd = model.state_dict()
    torch.save(sd, os.path.join(HERE, "torch_model_state.pt"))
    for k, v in sd.items():
        expected[f"model/{k}"] = v.numpy()


def optim_file():
    configs = {
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99)),
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    }
    out = {}
    for name, make in configs.items():
        w = torch.randn(3, 2, requires_grad=True)
        b = torch.randn(3, requires_grad=True)
        opt = make([{"params": [w]}, {"params": [b], "lr": 0.05}])
        for _ in range(2):
            w.grad, b.grad = torch.randn(3, 2), torch.randn(3)
            opt.step()
        grads = [torch.randn(3, 2), torch.randn(3)]
        # NOTE: state_dict() returns live references that the next step mutates: copy it.
        entry = {"state_dict": copy.deepcopy(opt.state_dict()),
                 "params": [w.detach().clone(), b.detach().clone()], "grads": grads}
        w.grad, b.grad = grads
        opt.step()
        entry["after"] = [w.detach().clone(), b.detach().clone()]
        out[name] = entry
    torch.save(out, os.path.join(HERE, "torch_optim_state.pt"))


def safetensors_file():
    from safetensors.torch import save_file

    tensors = {
        "f32": torch.randn(2, 3),
        "f16": torch.randn(4).half(),
        "bf16": torch.randn(3).bfloat16(),
        "i64": torch.tensor([[1, -2], [3, 2**31 - 1]]),
        "bool": torch.tensor([True, False]),
        "u8": torch.tensor([1, 200], dtype=torch.uint8),
    }
    save_file(tensors, os.path.join(HERE, "torch_tensors.safetensors"), metadata={"format": "pt"})
    for k, v in tensors.items():
        expected[f"safetensors/{k}"] = v.float().numpy() if k == "bf16" else v.numpy()


# ---- learning-rate schedules ---------------------------------------------------------------

S = torch.optim.lr_scheduler


def lr_lambda(epoch):  # the same function is defined in tests/test_lr_scheduler.py
    return 0.95**epoch


SCHEDULES = [
    # (name, optimizer kind, lrs of the param groups, constructor, steps)
    ("StepLR", "sgd", [0.1, 0.01], lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12),
    ("MultiStepLR", "sgd", [0.1],
     lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3), 12),
    ("ExponentialLR", "sgd", [0.1], lambda o: S.ExponentialLR(o, gamma=0.9), 10),
    ("CosineAnnealingLR", "sgd", [0.1],
     lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.001), 25),
    ("LambdaLR", "sgd", [0.1, 0.2], lambda o: S.LambdaLR(o, lr_lambda=lr_lambda), 8),
    ("LinearLR", "sgd", [0.1],
     lambda o: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=4), 8),
    ("ConstantLR", "sgd", [0.1], lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), 6),
    ("PolynomialLR", "sgd", [0.1], lambda o: S.PolynomialLR(o, total_iters=4, power=2.0), 7),
    ("OneCycleLR_cos_sgd", "sgd", [0.1], lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=20), 19),
    ("OneCycleLR_linear_adam_3phase", "adam", [0.1], lambda o: S.OneCycleLR(
        o, max_lr=[0.3], epochs=2, steps_per_epoch=7, anneal_strategy="linear",
        three_phase=True, pct_start=0.25), 13),
    ("SequentialLR", "sgd", [0.1], lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=4), S.CosineAnnealingLR(o, T_max=6)],
        milestones=[4]), 14),
    ("ChainedScheduler", "sgd", [0.1], lambda o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.5, total_iters=2), S.ExponentialLR(o, gamma=0.9)]), 6),
]
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
PLATEAU = [
    ("plateau_min_rel", dict(mode="min", factor=0.5, patience=2)),
    ("plateau_max_abs_cooldown", dict(mode="max", factor=0.1, patience=1, threshold=0.01,
                                      threshold_mode="abs", cooldown=2, min_lr=1e-4)),
]


def make_optimizer(kind, lrs):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def lr_file():
    out = {}
    for name, kind, lrs, make, steps in SCHEDULES:
        opt = make_optimizer(kind, lrs)
        sched = make(opt)
        seq = [list(sched.get_last_lr())]
        momenta = [[g["betas"][0] if kind == "adam" else g["momentum"] for g in opt.param_groups]]
        for _ in range(steps):
            opt.step()
            sched.step()
            seq.append(list(sched.get_last_lr()))
            momenta.append([g["betas"][0] if kind == "adam" else g["momentum"]
                            for g in opt.param_groups])
        out[name] = {"lrs": seq, "momenta": momenta}
    for name, kwargs in PLATEAU:
        opt = make_optimizer("sgd", [0.1, 0.05])
        sched = S.ReduceLROnPlateau(opt, **kwargs)
        seq = []
        for m in PLATEAU_METRICS:
            opt.step()
            sched.step(m)
            seq.append([g["lr"] for g in opt.param_groups])
        out[name] = {"lrs": seq, "metrics": PLATEAU_METRICS, "kwargs": kwargs,
                     "state_dict": {k: v for k, v in sched.state_dict().items()
                                    if not (isinstance(v, float) and math.isinf(v))}}
    with open(os.path.join(HERE, "lr_sequences.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    tensors_file()
    model_file()
    optim_file()
    safetensors_file()
    lr_file()
    np.savez(os.path.join(HERE, "golden_expected.npz"), **expected)
    print("wrote", sorted(os.listdir(HERE)))
