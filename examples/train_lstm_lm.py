"""Train a small word-level LSTM language model with wgtorch and print its perplexity.

An ordinary PyTorch script (only the import differs), in the shape of PyTorch's
word_language_model example: embedding -> 2-layer LSTM -> linear decoder over the
vocabulary, truncated backpropagation through time, the hidden state carried (detached)
from one batch to the next. About a minute on lavapipe with the defaults.

Data: generated here, so nothing is downloaded and no licence applies: sentences from a
small probabilistic grammar (determiners, adjectives, nouns, verbs, prepositions, with
number agreement: "the small dogs chase a red ball near the river ."). A model that learns
the grammar gets a validation perplexity far below the vocabulary size (a uniform guess);
the printed "uniform" and "unigram" figures are what knowing nothing, or only word
frequencies, would give.

Usage::

    python examples/train_lstm_lm.py                       # 4 epochs on the best adapter
    python examples/train_lstm_lm.py --epochs 8 --hidden 256 --bptt 48
    python examples/train_lstm_lm.py --help
"""

import argparse
import math
import sys
import time

import numpy as np

import wgtorch as torch
import wgtorch.nn as nn
import wgtorch.nn.functional as F

# ---- data: a tiny grammar ---------------------------------------------------------------

DETERMINERS = {"one": ["the", "a", "this", "every"], "many": ["the", "some", "these", "many"]}
ADJECTIVES = ["small", "big", "red", "old", "quiet", "happy", "dark", "young"]
NOUNS = ["dog", "cat", "bird", "child", "teacher", "ball", "river", "house", "tree", "garden"]
VERBS = {"one": ["sees", "chases", "likes", "finds", "watches", "follows"],
         "many": ["see", "chase", "like", "find", "watch", "follow"]}
PREPOSITIONS = ["near", "behind", "under", "beside", "into"]
ADVERBS = ["quickly", "slowly", "again", "today"]


def noun_phrase(rng, number=None):
    number = number or ("one" if rng.random() < 0.6 else "many")
    words = [rng.choice(DETERMINERS[number])]
    if rng.random() < 0.5:
        words.append(rng.choice(ADJECTIVES))
    noun = rng.choice(NOUNS)
    words.append(noun if number == "one" else noun + "s")
    return words, number


def sentence(rng):
    subject, number = noun_phrase(rng)
    words = subject + [rng.choice(VERBS[number])] + noun_phrase(rng)[0]
    if rng.random() < 0.4:
        words += [rng.choice(PREPOSITIONS)] + noun_phrase(rng)[0]
    if rng.random() < 0.2:
        words.append(rng.choice(ADVERBS))
    return words + ["."]


def make_corpus(sentences, seed):
    """A list of words: ``sentences`` sentences of the grammar above."""
    rng = np.random.default_rng(seed)
    return [w for _ in range(sentences) for w in sentence(rng)]


def batchify(ids, batch_size, device):
    """(steps, batch) columns of consecutive tokens, as in word_language_model."""
    steps = len(ids) // batch_size
    data = torch.tensor(np.asarray(ids[:steps * batch_size]).reshape(batch_size, steps).T)
    return data.to(device)  # (steps, batch) int64


# ---- the model ---------------------------------------------------------------------------


class LanguageModel(nn.Module):
    """embedding -> LSTM -> dropout -> linear decoder (logits over the vocabulary)."""

    def __init__(self, vocab, embed, hidden, layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens, state=None):  # tokens (T, B)
        x = self.drop(self.embed(tokens))  # (T, B, E)
        out, state = self.lstm(x, state)  # (T, B, H)
        return self.decoder(self.drop(out)), state  # (T, B, V)


def detach(state):
    """Truncated BPTT: the next batch starts from this state without its history."""
    return tuple(s.detach() for s in state)


# ---- training ------------------------------------------------------------------------------


def progress(iterable, total, desc):
    """tqdm when it is installed, else a plain one-line bar on a terminal."""
    try:
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)
    except ImportError:
        return _plain_bar(iterable, total, desc)


def _plain_bar(iterable, total, desc):
    shown = sys.stderr.isatty()
    for i, item in enumerate(iterable, 1):
        yield item
        if shown:
            done = 30 * i // total
            print(f"\r{desc} [{'=' * done}{'.' * (30 - done)}] {i}/{total}", end="",
                  file=sys.stderr, flush=True)
    if shown:
        print("\r" + " " * 79 + "\r", end="", file=sys.stderr, flush=True)


def run_epoch(model, data, bptt, optimizer=None, desc=""):
    """Mean cross-entropy per token over ``data``; trains when an optimizer is given."""
    training = optimizer is not None
    model.train(training)
    total = torch.zeros(())
    state = None
    starts = range(0, data.size(0) - 1, bptt)
    with torch.set_grad_enabled(training):
        for start in progress(starts, len(starts), desc) if training else starts:
            n = min(bptt, data.size(0) - 1 - start)
            inputs, targets = data[start:start + n], data[start + 1:start + 1 + n]  # (n, B)
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
            if training:
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                optimizer.step()
            state = detach(state)
            # summed on the GPU: reading the loss each step would make the host wait
            total = total + loss.detach() * n
    return total.item() / (data.size(0) - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a small word-level LSTM language model on generated sentences "
                    "and print its perplexity (WGTORCH_ADAPTER chooses the adapter).")
    parser.add_argument("--epochs", type=int, default=4, help="epochs (default 4)")
    parser.add_argument("--sentences", type=int, default=2500,
                        help="sentences of training text to generate (default 2500)")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--bptt", type=int, default=32,
                        help="time steps per backpropagation window (default 32)")
    parser.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default 128)")
    parser.add_argument("--layers", type=int, default=2, help="LSTM layers (default 2)")
    parser.add_argument("--dropout", type=float, default=0.1, help="dropout (default 0.1)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (3e-3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="device: cuda (= the WebGPU adapter) or cpu (default: cuda)")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    train_words = make_corpus(args.sentences, args.seed)
    valid_words = make_corpus(max(args.sentences // 10, 20), args.seed + 1)
    vocab = sorted(set(train_words) | set(valid_words))
    index = {w: k for k, w in enumerate(vocab)}
    train = batchify([index[w] for w in train_words], args.batch_size, device)
    valid = batchify([index[w] for w in valid_words], args.batch_size, device)
    counts = np.bincount([index[w] for w in train_words], minlength=len(vocab)) + 1
    unigram = math.exp(-np.mean(np.log(counts / counts.sum())[[index[w] for w in valid_words]]))
    print(f"adapter: {torch.cuda.get_device_name()}  device: {device}")
    print(f"data: {len(train_words)} train / {len(valid_words)} validation words, vocabulary "
          f"{len(vocab)}; perplexity of a uniform guess {len(vocab)}, of word frequencies "
          f"{unigram:.1f}")

    model = LanguageModel(len(vocab), args.embed, args.hidden, args.layers, args.dropout)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    valid_ppl = float("nan")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_loss = run_epoch(model, train, args.bptt, optimizer,
                               desc=f"epoch {epoch}/{args.epochs}")
        seconds = time.perf_counter() - start
        valid_loss = run_epoch(model, valid, args.bptt)
        valid_ppl = math.exp(valid_loss)
        print(f"epoch {epoch}/{args.epochs}  train perplexity {math.exp(train_loss):7.2f}  "
              f"validation perplexity {valid_ppl:7.2f}  "
              f"{(train.size(0) - 1) * args.batch_size / seconds:.0f} words/s ({seconds:.1f} s)",
              flush=True)
    print(f"final validation perplexity {valid_ppl:.2f}")
    return valid_ppl


if __name__ == "__main__":
    main()
