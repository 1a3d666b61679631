"""RoboLM's transformer in one file: a small Llama (the default) and a GPT-2 variant to compare.

Read it top to bottom: ModelArgs -> norms -> RoPE -> Attention -> FeedForward -> Block -> Transformer
-> generate() -> load_checkpoint(). Every tensor line carries its shape:
  B batch, T new positions, S positions in the KV cache, D dim, H query heads, K kv heads,
  hd head_dim = D // H, F hidden_dim (feed-forward width), V vocab_size.
State-dict names map one-to-one onto GGUF's llama names (docs/INTERFACES.md), and the same
arithmetic for one position lives in robolm/kernels.py (NumPy) and csrc/kernels.c (C).
"""
import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelArgs:
    arch: str = "llama"          # "llama" (RMSNorm, RoPE, SwiGLU, GQA) or "gpt2" (LayerNorm, learned positions, GELU)
    dim: int = 256               # D: width of the residual stream
    n_layers: int = 4
    n_heads: int = 4             # H: query heads
    n_kv_heads: int = 2          # K: key/value heads (grouped-query attention when K < H)
    hidden_dim: int = 704        # F: width of the feed-forward layer
    vocab_size: int = 8192       # V
    max_seq_len: int = 256       # context length: RoPE table / learned positions
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    dropout: float = 0.0         # residual dropout (training only)

    def __post_init__(self):
        if self.arch not in ("llama", "gpt2"):
            raise ValueError(f"arch must be 'llama' or 'gpt2', got {self.arch!r}")
        if self.dim % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(f"dim ({self.dim}) must divide by n_heads ({self.n_heads}) "
                             f"and n_heads by n_kv_heads ({self.n_kv_heads})")
        if (self.dim // self.n_heads) % 2:
            raise ValueError(f"head_dim {self.dim // self.n_heads} must be even for RoPE")

    @property
    def head_dim(self):
        return self.dim // self.n_heads


# ----------------------------------------------------------------------------- norms

class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight   (no mean subtraction, no bias; kernels.rmsnorm)"""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))                      # (D,)

    def forward(self, x):                                                # x: (B, T, D)
        return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)       # (B, T, D) fused: ~2x faster on CPU

    def forward_naive(self, x):                                          # the same math, spelled out
        xf = x.float()                                                   # (B, T, D) statistics in fp32
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)  # (B, T, D)
        return xf.type_as(x) * self.weight                               # (B, T, D)


# ----------------------------------------------------------------------------- RoPE

def rope_tables(head_dim, max_seq_len, theta=10000.0):
    """cos/sin of pos * theta^(-2i/head_dim) for every position and pair i."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (hd/2,)
    pos = torch.arange(max_seq_len, dtype=torch.float64)                                # (max_seq_len,)
    angle = torch.outer(pos, inv_freq)                                                  # (max_seq_len, hd/2)
    return angle.cos().float(), angle.sin().float()                                     # 2 x (max_seq_len, hd/2)


def apply_rope(x, cos, sin):
    """Rotate ADJACENT pairs (x[2i], x[2i+1]) like llama.cpp's `llama` rope type (kernels.rope).
    Each pair is the complex number x[2i] + i*x[2i+1]; multiplying by cos + i*sin turns it by the angle.
    x: (B, T, heads, hd); cos, sin: (T, hd/2)"""
    if torch.compiler.is_compiling():                                    # the compiler fuses the real form
        return apply_rope_real(x, cos, sin)
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))  # (B, T, heads, hd/2) complex
    turn = torch.complex(cos.float(), sin.float())[None, :, None, :]     # (1, T, 1, hd/2) = e^(i*angle)
    return torch.view_as_real(xc * turn).flatten(-2).type_as(x)          # (B, T, heads, hd) ~4x faster eager


def apply_rope_real(x, cos, sin):
    """The same rotation written with real numbers: (x0, x1) -> (x0*c - x1*s, x0*s + x1*c)."""
    xf = x.float()                                                       # (B, T, heads, hd) rotate in fp32
    x0, x1 = xf[..., 0::2], xf[..., 1::2]                                # (B, T, heads, hd/2) each
    c, s = cos[None, :, None, :], sin[None, :, None, :]                  # (1, T, 1, hd/2)
    out = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)        # (B, T, heads, hd/2, 2)
    return out.flatten(-2).type_as(x)                                    # (B, T, heads, hd) pairs back in place


# ----------------------------------------------------------------------------- attention

class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        bias = args.arch == "gpt2"                                       # GPT-2 has biases, Llama none
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.wq = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=bias)     # (H*hd, D)
        self.wk = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=bias)  # (K*hd, D)
        self.wv = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=bias)  # (K*hd, D)
        self.wo = nn.Linear(args.n_heads * args.head_dim, args.dim, bias=bias)     # (D, H*hd)
        self.use_rope = args.arch == "llama"

    def forward(self, x, cos, sin, start_pos=0, cache=None):             # x: (B, T, D)
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim)           # (B, T, H, hd)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim)        # (B, T, K, hd)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim)        # (B, T, K, hd)
        if self.use_rope:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)      # (B, T, H, hd), (B, T, K, hd)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, hd), (B, K, T, hd) x2
        if cache is not None:                                            # generation: append to the KV cache
            cache_k, cache_v = cache                                     # (B, K, max_seq_len, hd) each
            cache_k[:B, :, start_pos:start_pos + T] = k
            cache_v[:B, :, start_pos:start_pos + T] = v
            k = cache_k[:B, :, :start_pos + T]                           # (B, K, S, hd), S = start_pos + T
            v = cache_v[:B, :, :start_pos + T]                           # (B, K, S, hd)
        if self.n_kv_heads != self.n_heads:                              # GQA: query head h reads kv head h // (H/K)
            rep = self.n_heads // self.n_kv_heads
            k = k.repeat_interleave(rep, dim=1)                          # (B, H, S, hd)
            v = v.repeat_interleave(rep, dim=1)                          # (B, H, S, hd)
        if start_pos == 0 or T == 1:     # causal from the first position, or one new query sees all the cache
            y = F.scaled_dot_product_attention(q, k, v, is_causal=(T > 1))          # (B, H, T, hd)
        else:                            # T new queries after a cache of start_pos: bottom-right causal mask
            S = start_pos + T
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=start_pos)  # (T, S)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)             # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)            # (B, T, H*hd)
        return self.wo(y)                                                # (B, T, D)


# ----------------------------------------------------------------------------- feed-forward

class FeedForward(nn.Module):
    """Llama: w2(silu(w1 x) * w3 x) (SwiGLU; kernels.swiglu).  GPT-2: w2(gelu(w1 x))."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.arch = args.arch
        bias = args.arch == "gpt2"
        self.w1 = nn.Linear(args.dim, args.hidden_dim, bias=bias)       # (F, D) gate
        self.w2 = nn.Linear(args.hidden_dim, args.dim, bias=bias)       # (D, F) down
        if args.arch == "llama":
            self.w3 = nn.Linear(args.dim, args.hidden_dim, bias=False)  # (F, D) up

    def forward(self, x):                                                # x: (B, T, D)
        if self.arch == "llama":
            return self.w2(F.silu(self.w1(x)) * self.w3(x))             # (B, T, F) -> (B, T, D)
        return self.w2(F.gelu(self.w1(x), approximate="tanh"))          # (B, T, F) -> (B, T, D)


# ----------------------------------------------------------------------------- block and model

def make_norm(args: ModelArgs):
    return RMSNorm(args.dim, args.norm_eps) if args.arch == "llama" else nn.LayerNorm(args.dim, args.norm_eps)


class Block(nn.Module):
    """Pre-norm residual block: x + drop(attn(norm(x))), then x + drop(ffn(norm(x)))."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attention_norm = make_norm(args)                            # (D,)
        self.attention = Attention(args)
        self.ffn_norm = make_norm(args)                                  # (D,)
        self.feed_forward = FeedForward(args)
        self.drop = nn.Dropout(args.dropout)

    def forward(self, x, cos, sin, start_pos=0, cache=None):             # x: (B, T, D)
        x = x + self.drop(self.attention(self.attention_norm(x), cos, sin, start_pos, cache))  # (B, T, D)
        return x + self.drop(self.feed_forward(self.ffn_norm(x)))       # (B, T, D)


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)   # (V, D)
        if args.arch == "gpt2":
            self.pos_embeddings = nn.Embedding(args.max_seq_len, args.dim)  # (max_seq_len, D) learned positions
        self.drop = nn.Dropout(args.dropout)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.n_layers))
        self.norm = make_norm(args)                                      # (D,)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)  # (V, D)
        self.output.weight = self.tok_embeddings.weight                  # tied: one tensor, two names
        cos, sin = rope_tables(args.head_dim, args.max_seq_len, args.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)         # (max_seq_len, hd/2)
        self.register_buffer("rope_sin", sin, persistent=False)         # (max_seq_len, hd/2)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():                         # GPT-2: scale the residual projections
            if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * args.n_layers))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, tokens, targets=None, start_pos=0, caches=None):
        """tokens: (B, T) ids; targets: (B, T) next ids or -100 (ignored).  Returns (logits (B, T, V), None),
        or with targets (logits (N, V) of the N positions that have a target, mean cross-entropy): the
        vocabulary head, a third of this model's compute, then skips prompt tokens and padding."""
        B, T = tokens.shape
        if start_pos + T > self.args.max_seq_len:
            raise ValueError(f"sequence of {start_pos + T} tokens exceeds max_seq_len={self.args.max_seq_len}")
        h = self.tok_embeddings(tokens)                                  # (B, T, D)
        if self.args.arch == "gpt2":
            h = h + self.pos_embeddings.weight[start_pos:start_pos + T]  # (B, T, D) + (T, D)
        h = self.drop(h)                                                 # (B, T, D)
        cos = self.rope_cos[start_pos:start_pos + T]                     # (T, hd/2)
        sin = self.rope_sin[start_pos:start_pos + T]                     # (T, hd/2)
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin, start_pos, None if caches is None else caches[i])  # (B, T, D)
        h = self.norm(h)                                                 # (B, T, D)
        if targets is None:
            return self.output(h), None                                  # (B, T, V)
        keep = targets != -100                                           # (B, T) positions with a target
        logits = self.output(h[keep])                                    # (N, V)
        return logits, F.cross_entropy(logits.float(), targets[keep])    # (N, V), (N,) -> scalar

    # ------------------------------------------------------------------------- generation

    def new_caches(self, batch_size):
        """One (k, v) pair per layer, each (B, K, max_seq_len, hd), zero-filled."""
        a, p = self.args, self.tok_embeddings.weight
        shape = (batch_size, a.n_kv_heads, a.max_seq_len, a.head_dim)   # (B, K, max_seq_len, hd)
        return [(torch.zeros(shape, dtype=p.dtype, device=p.device),
                 torch.zeros(shape, dtype=p.dtype, device=p.device)) for _ in range(a.n_layers)]

    @torch.no_grad()
    def generate(self, tokens, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
                 stop_tokens=(), seed=None):
        """Sample up to max_new_tokens after the prompt `tokens` ((B, T) tensor or a list of ids), with a KV cache.
        temperature 0 = greedy. Stops when every row has produced a token from stop_tokens (it is kept;
        rows that stopped early are padded with <pad> = 0).
        When the context fills, the cache is rebuilt from the last max_seq_len // 2 tokens.
        Returns (B, T + n) ids, prompt included."""
        if not torch.is_tensor(tokens):
            tokens = torch.tensor([list(tokens)], dtype=torch.long)     # (1, T)
        tokens = tokens.to(self.tok_embeddings.weight.device)           # (B, T)
        gen = torch.Generator(device=tokens.device)
        if seed is not None:
            gen.manual_seed(seed)
        else:
            gen.seed()
        was_training = self.training
        self.eval()
        B, L = tokens.shape[0], self.args.max_seq_len
        stop = torch.tensor(sorted(set(stop_tokens)) or [-1], device=tokens.device)  # (n_stop,)
        done = torch.zeros(B, dtype=torch.bool, device=tokens.device)   # (B,)
        caches = self.new_caches(B)
        context = tokens[:, -L:]                                         # (B, <=L) what the cache must hold
        logits, _ = self(context, start_pos=0, caches=caches)            # (B, T, V) prefill
        pos = context.shape[1]
        for _ in range(max_new_tokens):
            next_id = sample_next(logits[:, -1, :].float(), temperature, top_k, top_p, gen)  # (B, 1)
            next_id = torch.where(done[:, None], torch.zeros_like(next_id), next_id)  # (B, 1) <pad>=0 after a stop
            tokens = torch.cat((tokens, next_id), dim=1)                 # (B, T + 1)
            done |= torch.isin(next_id[:, 0], stop)                      # (B,)
            if done.all():
                break
            if pos == L:                                                 # context full: slide the window
                context = tokens[:, -(L // 2):]                          # (B, L/2)
                logits, _ = self(context, start_pos=0, caches=caches)    # (B, L/2, V)
                pos = context.shape[1]
            else:
                logits, _ = self(next_id, start_pos=pos, caches=caches)  # (B, 1, V)
                pos += 1
        self.train(was_training)
        return tokens


def sample_next(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Pick the next id from logits (B, V): greedy at temperature 0, else softmax(logits / T)
    restricted to the top_k ids and to the smallest set whose probability reaches top_p."""
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)                       # (B, 1)
    logits = logits / temperature                                        # (B, V)
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]           # (B, 1) the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))         # (B, V)
    if top_p is not None and 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V) each
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)               # (B, V)
        drop = cum - sorted_logits.softmax(dim=-1) >= top_p              # (B, V) mass before this id already >= p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))   # (B, V)
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)  # (B, V)
    probs = logits.softmax(dim=-1)                                       # (B, V)
    return torch.multinomial(probs, 1, generator=generator)              # (B, 1)


# ----------------------------------------------------------------------------- parameters and checkpoints

def count_params(model, show=True):
    """Count each parameter once (the tied head shares the embedding) and print a per-part table."""
    parts = {"embeddings": 0, "positions": 0, "attention": 0, "feed_forward": 0, "norms": 0}
    seen = set()
    for name, p in model.named_parameters():                             # named_parameters skips tied duplicates
        if id(p) in seen:
            continue
        seen.add(id(p))
        part = ("embeddings" if name.startswith(("tok_embeddings", "output")) else
                "positions" if name.startswith("pos_embeddings") else
                "attention" if ".attention." in name else
                "feed_forward" if ".feed_forward." in name else "norms")
        parts[part] += p.numel()
    total = sum(parts.values())
    if show:
        print(f"{'part':<14}{'params':>12}{'share':>8}")
        for part, n in parts.items():
            if n:
                print(f"{part:<14}{n:>12,}{n / total:>8.1%}")
        print(f"{'total':<14}{total:>12,}   (output head tied to the embedding, counted once)")
    return total


def model_args_from_dict(d):
    """ModelArgs from a checkpoint's dict, naming any key this version does not know."""
    known = {f.name for f in fields(ModelArgs)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown model_args {unknown}; known: {sorted(known)}")
    return ModelArgs(**d)


def load_checkpoint(path, device="cpu"):
    """Load out/<run>/ckpt.pt (torch.load with weights_only=True: no code runs) -> (model in eval mode, ckpt dict)."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {path} not found (train one with `python train.py`)") from None
    for key in ("model", "model_args"):
        if key not in ckpt:
            raise ValueError(f"{path}: not a RoboLM checkpoint (missing {key!r})")
    model = Transformer(model_args_from_dict(ckpt["model_args"]))
    state = dict(ckpt["model"])
    state.setdefault("output.weight", state.get("tok_embeddings.weight"))  # tied; a file may omit it
    model.load_state_dict(state)
    model.to(device).eval()
    return model, ckpt


__all__ = ["ModelArgs", "Transformer", "RMSNorm", "rope_tables", "apply_rope", "apply_rope_real", "sample_next",
           "count_params", "model_args_from_dict", "load_checkpoint"]
