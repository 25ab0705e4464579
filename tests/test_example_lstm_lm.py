"""examples/train_lstm_lm.py runs (shortened) and learns: its validation perplexity falls
far below that of word frequencies alone."""

import os
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def test_lstm_language_model_learns_the_grammar(capsys):
    import train_lstm_lm

    ppl = train_lstm_lm.main(["--epochs", "2", "--sentences", "600", "--hidden", "32",
                              "--embed", "16", "--bptt", "16", "--lr", "1e-2"])
    out = capsys.readouterr().out
    unigram = float(out.split("of word frequencies ")[1].split()[0])
    assert "validation perplexity" in out and ppl < 0.6 * unigram
    words = train_lstm_lm.make_corpus(50, 3)
    assert words[-1] == "." and words == train_lstm_lm.make_corpus(50, 3)  # deterministic
