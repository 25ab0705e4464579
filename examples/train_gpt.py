"""Train a small character-level GPT (nanoGPT's model, shrunk) with wgtorch, then sample.

An ordinary PyTorch script (only the import differs): causal self-attention through
``F.scaled_dot_product_attention(is_causal=True)``, weight tying, AdamW with decay/no-decay
parameter groups, a warmup + cosine learning rate, gradient clipping, a checkpoint, and
``generate()`` with temperature and top-k sampling. The default text is the Zen of Python
(shipped with Python as ``this``); ``--text FILE`` trains on any UTF-8 text. The defaults run
in under a minute on the software adapter (lavapipe) and learn to recite the text.

Usage::

    python examples/train_gpt.py                        # 300 steps, then a sample
    python examples/train_gpt.py --text my.txt --steps 2000 --n-embd 64
    python examples/train_gpt.py --sample-only          # sample from the last checkpoint
"""

import argparse
import codecs
import contextlib
import io
import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

import wgtorch as torch
import wgtorch.nn as nn
import wgtorch.nn.functional as F
from train_digits import progress

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CHECKPOINT = os.path.join(HERE, "..", "checkpoints", "gpt_char.pt")


@dataclass
class GPTConfig:
    block_size: int = 32
    vocab_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 48
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training
                                           else 0.0, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(),
                                 nn.Linear(4 * config.n_embd, config.n_embd),
                                 nn.Dropout(config.dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # (B, T, C)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None  # (B, 1, vocab): the next token only
        logits = self.lm_head(x)  # (B, T, vocab)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.config.block_size \
                else idx[:, -self.config.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # (B, vocab)
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            idx_next = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def load_text(path):
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    with contextlib.redirect_stdout(io.StringIO()):  # importing ``this`` prints the Zen
        import this
    return codecs.decode(this.s, "rot13")


def lr_at(step, steps, max_lr, warmup):
    """Linear warmup, then cosine decay to max_lr / 10 (nanoGPT's schedule)."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    ratio = (step - warmup) / max(1, steps - warmup)
    return max_lr / 10 + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - max_lr / 10)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a character-level GPT (nanoGPT's model, small) with wgtorch and "
                    "sample from it (set WGTORCH_ADAPTER to choose the adapter).")
    parser.add_argument("--text", help="UTF-8 text file to learn (default: the Zen of Python)")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--block-size", type=int, default=32, help="context length (32)")
    parser.add_argument("--n-layer", type=int, default=2, help="transformer blocks (2)")
    parser.add_argument("--n-head", type=int, default=4, help="attention heads (4)")
    parser.add_argument("--n-embd", type=int, default=48, help="embedding width (48)")
    parser.add_argument("--lr", type=float, default=5e-3, help="peak AdamW lr (5e-3)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="device: cuda (= the WebGPU adapter) or cpu (default: cuda)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help="checkpoint file, written at the end of training")
    parser.add_argument("--sample-only", action="store_true",
                        help="skip training: sample from --checkpoint")
    parser.add_argument("--sample-tokens", type=int, default=300,
                        help="characters to sample after training (default 300)")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    parser.add_argument("--top-k", type=int, default=5, help="sample among the k likeliest")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device)
    text = load_text(args.text)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    print(f"adapter: {torch.cuda.get_device_name()}  device: {device}  text: {len(text)} "
          f"characters, {len(chars)} distinct")

    if args.sample_only:
        ckpt = torch.load(args.checkpoint, map_location=device)
        config, chars = GPTConfig(**ckpt["config"]), ckpt["chars"]
        stoi = {c: i for i, c in enumerate(chars)}
        model = GPT(config).to(device)
        model.load_state_dict(ckpt["model"])
        loss = None
    else:
        config = GPTConfig(block_size=args.block_size, vocab_size=len(chars),
                           n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd)
        model = GPT(config).to(device)
        optimizer = model.configure_optimizers(0.1, args.lr, (0.9, 0.95))
        print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters")
        if len(data) <= config.block_size:
            parser.error(f"the text needs more than --block-size={config.block_size} "
                         "characters")
        start = time.perf_counter()
        bar = progress(range(args.steps), args.steps, "train")
        for step in bar:
            ix = rng.integers(0, len(data) - config.block_size, args.batch_size)
            x = torch.from_numpy(np.stack([data[i:i + config.block_size] for i in ix]))
            y = torch.from_numpy(np.stack([data[i + 1:i + 1 + config.block_size] for i in ix]))
            x, y = x.to(device), y.to(device)  # (B, T) int64
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, args.steps, args.lr, warmup=args.steps // 10 + 1)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step % 25 == 0 or step == args.steps - 1:
                bar.set_postfix_str(f"loss {loss.item():.3f}")  # a readback: not every step
        seconds = time.perf_counter() - start
        loss = loss.item()
        print(f"trained {args.steps} steps in {seconds:.1f} s "
              f"({args.steps / seconds:.1f} steps/s), final loss {loss:.3f}")
        os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)), exist_ok=True)
        torch.save({"model": model.state_dict(), "config": asdict(config), "chars": chars},
                   args.checkpoint)

    model.eval()
    prompt = torch.tensor([[stoi.get(text[0], 0)]], dtype=torch.long, device=device)
    out = model.generate(prompt, args.sample_tokens, temperature=args.temperature,
                         top_k=args.top_k)
    print("sample:\n" + "".join(chars[i] for i in out[0].tolist()))
    return loss


if __name__ == "__main__":
    main()
