"""Text program shapes: examples/word_language_model with its Transformer (a subclass of
nn.Transformer), and nanoGPT's model, training loop and sampling."""

import inspect
import math
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from . import Program, accelerator_device


def _corpus(rng, n, vocab):
    """A token stream with structure (a noisy repeating pattern), as int64."""
    pattern = rng.integers(0, vocab, 7)
    stream = np.resize(pattern, n)
    noise = rng.uniform(size=n) < 0.2
    stream[noise] = rng.integers(0, vocab, noise.sum())
    return stream.astype(np.int64)


class WordLMTransformer(Program):
    """word_language_model with --model Transformer: PositionalEncoding (a registered
    buffer), ``TransformerModel(nn.Transformer)`` using only its encoder with a log-tril
    causal mask, NLLLoss, clip_grad_norm_, the manual ``p.data.add_(p.grad, alpha=-lr)``
    update, batchify/get_batch, evaluation, and the checkpoint saved."""

    name = "word_language_model_transformer"
    ntokens, bptt, bsz = 13, 5, 3

    def data(self, rng):
        return {"train": _corpus(rng, 64, self.ntokens), "val": _corpus(rng, 31, self.ntokens)}

    def build(self, torch):
        nn, F = torch.nn, torch.nn.functional

        class PositionalEncoding(nn.Module):
            def __init__(self, d_model, dropout=0.1, max_len=5000):
                super().__init__()
                self.dropout = nn.Dropout(p=dropout)
                pe = torch.zeros(max_len, d_model)
                position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
                div_term = torch.exp(torch.arange(0, d_model, 2).float() *
                                     (-math.log(10000.0) / d_model))
                pe[:, 0::2] = torch.sin(position * div_term)
                pe[:, 1::2] = torch.cos(position * div_term)
                pe = pe.unsqueeze(0).transpose(0, 1)
                self.register_buffer("pe", pe)

            def forward(self, x):
                x = x + self.pe[:x.size(0), :]
                return self.dropout(x)

        class TransformerModel(nn.Transformer):
            def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
                super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead,
                                                       dim_feedforward=nhid,
                                                       num_encoder_layers=nlayers)
                self.model_type = "Transformer"
                self.src_mask = None
                self.pos_encoder = PositionalEncoding(ninp, dropout, max_len=64)
                self.input_emb = nn.Embedding(ntoken, ninp)
                self.ninp = ninp
                self.decoder = nn.Linear(ninp, ntoken)
                self.init_weights()

            def _generate_square_subsequent_mask(self, sz):
                return torch.log(torch.tril(torch.ones(sz, sz)))

            def init_weights(self):
                initrange = 0.1
                nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
                nn.init.zeros_(self.decoder.bias)
                nn.init.uniform_(self.decoder.weight, -initrange, initrange)

            def forward(self, src, has_mask=True):
                if has_mask:
                    device = src.device
                    if self.src_mask is None or self.src_mask.size(0) != len(src):
                        mask = self._generate_square_subsequent_mask(len(src)).to(device)
                        self.src_mask = mask
                else:
                    self.src_mask = None
                src = self.input_emb(src) * math.sqrt(self.ninp)
                src = self.pos_encoder(src)
                output = self.encoder(src, mask=self.src_mask)
                output = self.decoder(output)
                return F.log_softmax(output, dim=-1)

        model = TransformerModel(self.ntokens, 8, 2, 16, 2, 0.2)
        return {"model": model.to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        device = accelerator_device(torch)
        model, ntokens, bptt = parts["model"], self.ntokens, self.bptt

        def batchify(data, bsz):
            nbatch = data.size(0) // bsz
            data = data.narrow(0, 0, nbatch * bsz)
            data = data.view(bsz, -1).t().contiguous()
            return data.to(device)

        def get_batch(source, i):
            seq_len = min(bptt, len(source) - 1 - i)
            return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)

        train_data = batchify(torch.tensor(data["train"]), self.bsz)
        val_data = batchify(torch.tensor(data["val"]), 2)
        criterion = torch.nn.NLLLoss()
        lr, out = 5.0, []

        def evaluate(data_source):
            model.eval()
            total_loss = 0.0
            with torch.no_grad():
                for i in range(0, data_source.size(0) - 1, bptt):
                    data_, targets = get_batch(data_source, i)
                    output = model(data_).view(-1, ntokens)
                    total_loss += len(data_) * criterion(output, targets).item()
            return total_loss / (len(data_source) - 1)

        for epoch in range(2):
            model.train()
            for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
                data_, targets = get_batch(train_data, i)
                model.zero_grad()
                output = model(data_).view(-1, ntokens)
                loss = criterion(output, targets)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
                for p in model.parameters():
                    if p.grad is not None:  # the unused nn.Transformer decoder has none
                        p.data.add_(p.grad, alpha=-lr)
                out.append(loss.item())
            out.append(evaluate(val_data))
            lr /= 4.0
        with open(workdir / "model.pt", "wb") as f:
            torch.save(model.state_dict(), f)
        return out


@dataclass
class GPTConfig:
    block_size: int = 8
    vocab_size: int = 11
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 8
    dropout: float = 0.0
    bias: bool = True


def gpt_classes(torch):
    """nanoGPT's model.py against ``torch``: LayerNorm with optional bias, causal
    self-attention (flash path through F.scaled_dot_product_attention, or the masked
    fallback), MLP, Block, GPT with weight tying, init, configure_optimizers, generate."""
    nn, F = torch.nn, torch.nn.functional

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
            self.flash = hasattr(torch.nn.functional, "scaled_dot_product_attention")
            if not self.flash:
                self.register_buffer("bias", torch.tril(torch.ones(
                    config.block_size, config.block_size)).view(1, 1, config.block_size,
                                                                  config.block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = torch.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                    is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = self.attn_dropout(F.softmax(att, dim=-1))
                y = att @ v  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

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
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            ))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            device = idx.device
            b, t = idx.size()
            assert t <= self.config.block_size
            pos = torch.arange(0, t, dtype=torch.long, device=device)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])  # only the last position
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [{"params": decay_params, "weight_decay": weight_decay},
                            {"params": nodecay_params, "weight_decay": 0.0}]
            fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = (idx if idx.size(1) <= self.config.block_size
                            else idx[:, -self.config.block_size:])
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    return GPT


class NanoGPTTrain(Program):
    """nanoGPT's train.py: batches of int64 windows (``pin_memory().to(non_blocking=True)``
    on cuda), AdamW with decay/no-decay parameter groups, a warmup + cosine learning rate set
    in every param group, gradient accumulation, clip_grad_norm_, estimate_loss under
    no_grad, and the checkpoint dict saved. (Autocast and GradScaler are issue 14: this run
    is float32, as nanoGPT's ``dtype='float32'``.)"""

    name = "nanogpt_train_adamw_groups"
    rtol, atol = 5e-4, 5e-5

    def data(self, rng):
        cfg = GPTConfig()
        train = _corpus(rng, 200, cfg.vocab_size).astype(np.uint16)
        ix = rng.integers(0, len(train) - cfg.block_size, (6, 2, 3))  # (iter, micro, batch)
        return {"train": train, "ix": ix, "eval_ix": rng.integers(0, 150, (2, 3))}

    def build(self, torch):
        return {"model": gpt_classes(torch)(GPTConfig()).to(self.device(torch))}

    @staticmethod
    def device(torch):
        return "cuda" if torch.cuda.is_available() else "cpu"

    def train(self, torch, parts, data, workdir):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        try:
            return self._train(torch, parts, data, workdir)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = False

    def _train(self, torch, parts, data, workdir):
        device = self.device(torch)
        device_type = "cuda" if "cuda" in device else "cpu"
        ctx = nullcontext()
        model, cfg = parts["model"], GPTConfig()
        block_size, learning_rate, min_lr, warmup_iters, lr_decay_iters = 8, 1e-2, 1e-3, 2, 6

        def get_batch(ix):
            train = data["train"]
            x = torch.stack([torch.from_numpy((train[i:i + block_size]).astype(np.int64))
                             for i in ix])
            y = torch.stack([torch.from_numpy((train[i + 1:i + 1 + block_size])
                                              .astype(np.int64)) for i in ix])
            if device_type == "cuda":
                x, y = x.pin_memory().to(device, non_blocking=True), \
                    y.pin_memory().to(device, non_blocking=True)
            else:
                x, y = x.to(device), y.to(device)
            return x, y

        def get_lr(it):
            if it < warmup_iters:
                return learning_rate * (it + 1) / (warmup_iters + 1)
            if it > lr_decay_iters:
                return min_lr
            decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
            coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
            return min_lr + coeff * (learning_rate - min_lr)

        @torch.no_grad()
        def estimate_loss():
            model.eval()
            losses = torch.zeros(len(data["eval_ix"]))
            for k, ix in enumerate(data["eval_ix"]):
                X, Y = get_batch(ix)
                with ctx:
                    logits, loss = model(X, Y)
                losses[k] = loss.item()
            model.train()
            return losses.mean()

        optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), device_type)
        assert model.get_num_params() == sum(p.numel() for p in model.parameters()) - 8 * 8
        out = [estimate_loss().item()]
        for iter_num, micro in enumerate(data["ix"]):
            lr = get_lr(iter_num)
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            for micro_step, ix in enumerate(micro):
                X, Y = get_batch(ix)
                with ctx:
                    logits, loss = model(X, Y)
                    loss = loss / len(micro)
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            out.append(loss.item() * len(micro))
        out.append(estimate_loss().item())
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "model_args": dict(GPTConfig().__dict__), "iter_num": len(data["ix"]),
                      "best_val_loss": out[-1]}
        torch.save(checkpoint, workdir / "ckpt.pt")
        return out


class NanoGPTSample(Program):
    """nanoGPT's sample.py: the checkpoint loaded with map_location, the ``_orig_mod.``
    prefix stripped, eval mode, generate() with temperature and top-k under no_grad. With
    top_k=1 the sample is deterministic and must equal PyTorch's token for token; a top_k=4
    multinomial sample is checked for shape and vocabulary range."""

    name = "nanogpt_sample"

    def build(self, torch):
        return {"model": gpt_classes(torch)(GPTConfig())}

    def train(self, torch, parts, data, workdir):
        device = "cuda" if torch.cuda.is_available() else "cpu"
        unwanted_prefix = "_orig_mod."
        state = {unwanted_prefix + k: v for k, v in parts["model"].state_dict().items()}
        torch.save({"model": state, "model_args": dict(GPTConfig().__dict__)},
                   workdir / "ckpt.pt")
        checkpoint = torch.load(workdir / "ckpt.pt", map_location=device)
        model = gpt_classes(torch)(GPTConfig(**checkpoint["model_args"]))
        state_dict = checkpoint["model"]
        for k, v in list(state_dict.items()):
            if k.startswith(unwanted_prefix):
                state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
        model.load_state_dict(state_dict)
        model.eval()
        model.to(device)
        start_ids = [1, 5, 3]
        x = torch.tensor(start_ids, dtype=torch.long, device=device)[None, ...]
        torch.manual_seed(1337)
        with torch.no_grad():
            greedy = model.generate(x, 9, temperature=0.8, top_k=1)
            sampled = model.generate(x.repeat(2, 1), 6, temperature=1.0, top_k=4)
        assert tuple(sampled.shape) == (2, 9)
        assert 0 <= sampled.min().item() and sampled.max().item() < GPTConfig.vocab_size
        assert sampled[:, :3].tolist() == [start_ids, start_ids]
        return greedy[0].tolist()
