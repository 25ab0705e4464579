"""examples/train_gpt.py runs (shortened): trains, checkpoints, samples, resamples from the
checkpoint, and documents its flags."""

import os
import sys

import pytest

import wgtorch as torch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def test_train_gpt_learns_saves_and_samples(tmp_path, capsys):
    import train_gpt

    text = tmp_path / "abc.txt"
    text.write_text("abcabcabcabd " * 20, encoding="utf-8")
    ckpt = str(tmp_path / "gpt.pt")
    args = ["--text", str(text), "--steps", "40", "--block-size", "8", "--n-embd", "16",
            "--n-head", "2", "--n-layer", "1", "--checkpoint", ckpt, "--sample-tokens", "12"]
    loss = train_gpt.main(args)
    assert loss < 1.0  # from ln(5) = 1.6 at the start: the pattern is being learnt
    out = capsys.readouterr().out
    assert "adapter:" in out and "steps/s" in out and "sample:" in out
    state = torch.load(ckpt)
    assert state["chars"] == [" ", "a", "b", "c", "d"] and state["config"]["n_embd"] == 16
    assert state["model"]["lm_head.weight"].device == torch.device("wgpu")
    train_gpt.main(args + ["--sample-only"])
    sample = capsys.readouterr().out.split("sample:\n", 1)[1]
    assert len(sample.rstrip("\n")) == 13 and set(sample.strip()) <= set("abcd ")


def test_train_gpt_help(capsys):
    import train_gpt

    with pytest.raises(SystemExit):
        train_gpt.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--text", "--steps", "--n-embd", "--sample-only", "--top-k", "WGTORCH_ADAPTER"):
        assert flag in out
