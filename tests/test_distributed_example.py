"""examples/train_digits.py --distributed under the launcher on 2 ranks (shortened)."""

import os
import re

import wgtorch as torch
from dist_helpers import ROOT, launch

SCRIPT = os.path.join(ROOT, "examples", "train_digits.py")


def test_train_digits_distributed_learns_and_saves_a_plain_checkpoint(tmp_path):
    ckpt = str(tmp_path / "digits.pt")
    job = launch(SCRIPT, "--distributed", "--epochs", "2", "--checkpoint", ckpt, via="launcher")
    assert job.returncode == 0, job.describe()
    assert "ranks: 2" in job.output and "of 32 images on each of 2 ranks" in job.output
    assert job.output.count("final test accuracy") == 1  # rank 0 reports
    accuracy = float(re.search(r"final test accuracy ([\d.]+)%", job.output).group(1))
    assert accuracy > 80, job.describe()
    state = torch.load(ckpt)
    assert state["epoch"] == 2 and "conv1.weight" in state["model"]  # no "module." prefix
