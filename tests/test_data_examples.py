"""The examples run (shortened): the seed document's four, and the main job with a
checkpoint and --resume."""

import os
import sys

import pytest

import wgtorch as torch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def test_autograd_and_custom_function_examples_fit_sin(capsys):
    import autograd_polynomial
    import custom_function

    assert autograd_polynomial.main(steps=150) < 300  # from ~10^5 at the start
    assert custom_function.main(steps=150) < 300
    assert "Result: y =" in capsys.readouterr().out


def test_dynamic_graph_example_runs():
    import dynamic_graph

    assert dynamic_graph.main(steps=200) < 1e6


def test_dataset_dataloader_example_memorises():
    import dataset_dataloader

    assert dataset_dataloader.main(epochs=15) > 0.9


def test_train_digits_saves_and_resumes(tmp_path, capsys):
    import train_digits

    ckpt = str(tmp_path / "digits.pt")
    train_digits.main(["--epochs", "1", "--checkpoint", ckpt])
    assert os.path.exists(ckpt)
    accuracy = train_digits.main(["--epochs", "2", "--checkpoint", ckpt, "--resume"])
    out = capsys.readouterr().out
    assert "adapter:" in out and "resumed from" in out and "samples/s" in out
    assert "epoch  1/1" in out and "epoch  2/2" in out and "epoch  1/2" not in out
    assert accuracy > 0.8
    state = torch.load(ckpt)
    assert state["epoch"] == 2 and "conv1.weight" in state["model"]


def test_train_digits_help(capsys):
    import train_digits

    with pytest.raises(SystemExit):
        train_digits.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--epochs", "--batch-size", "--lr", "--device", "--resume", "WGTORCH_ADAPTER"):
        assert flag in out
