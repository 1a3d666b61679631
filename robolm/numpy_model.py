"""RoboLM in pure NumPy: the readable reference runtime (no torch).

It reads a GGUF file made by export_gguf.py with robolm/gguf.py, runs the Llama forward pass
one token at a time with a KV cache, samples, and generates text. It is the classroom twin of
the C runtime (csrc/runtime.c): the same steps in the same order with the kernel names of
robolm/kernels.py (rmsnorm, rope, matmul, softmax, swiglu), and a shape comment on every line.

    from robolm.numpy_model import NumpyModel
    m = NumpyModel("exports/robolm.gguf")
    ids = m.prompt_ids("blink the LED", lang="en")
    print(m.decode(list(m.generate(ids, max_new_tokens=100))))

Shapes below: D = dim, H = n_heads, KV = n_kv_heads, hd = head_dim = D / H, F = hidden_dim,
V = vocab_size, T = positions so far.
"""
from dataclasses import dataclass

import numpy as np

from robolm import gguf
from robolm.kernels import matmul, rmsnorm, rope, softmax, swiglu


@dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    norm_eps: float
    rope_theta: float

    @property
    def head_dim(self):
        return self.dim // self.n_heads


def _fail(path, what, hint="re-export the checkpoint with export_gguf.py"):
    raise gguf.GGUFError(f"{path}: {what}. Hint: {hint}")


def _int_key(f, key, default=None):
    if key not in f.metadata:
        if default is None:
            _fail(f.path, f"metadata key {key!r} is missing")
        return default
    if f.value_types[key] not in (gguf.UINT8, gguf.INT8, gguf.UINT16, gguf.INT16, gguf.UINT32, gguf.INT32,
                                  gguf.UINT64, gguf.INT64):
        _fail(f.path, f"metadata key {key!r} is not an integer")
    return int(f.metadata[key])


def _float_key(f, key, default=None):
    if key not in f.metadata:
        if default is None:
            _fail(f.path, f"metadata key {key!r} is missing")
        return default
    if f.value_types[key] not in (gguf.FLOAT32, gguf.FLOAT64):
        _fail(f.path, f"metadata key {key!r} is not a float")
    return float(f.metadata[key])


def config_from_gguf(f):
    """Read and cross-check the llama.* hyperparameters (the C loader makes the same checks)."""
    arch = f.require("general.architecture")
    if arch != "llama":
        _fail(f.path, f"general.architecture is {arch!r}; RoboLM runs 'llama'")
    tokens = f.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        _fail(f.path, "tokenizer.ggml.tokens is missing or not a non-empty array of strings")
    g = lambda k: _int_key(f, "llama." + k)  # noqa: E731
    n_heads = g("attention.head_count")
    cfg = Config(dim=g("embedding_length"), hidden_dim=g("feed_forward_length"), n_layers=g("block_count"),
                 n_heads=n_heads, n_kv_heads=_int_key(f, "llama.attention.head_count_kv", n_heads),
                 vocab_size=len(tokens), seq_len=g("context_length"),
                 norm_eps=_float_key(f, "llama.attention.layer_norm_rms_epsilon"),
                 rope_theta=_float_key(f, "llama.rope.freq_base", 10000.0))
    if not 0 < cfg.norm_eps < 1:
        _fail(f.path, f"layer_norm_rms_epsilon {cfg.norm_eps} is not in (0, 1)")
    for name in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"):
        v = getattr(cfg, name)
        if not 0 < v <= (1 << 24):
            _fail(f.path, f"{name} = {v} is absurd")
    if cfg.dim % cfg.n_heads or cfg.head_dim % 2:
        _fail(f.path, f"dim {cfg.dim} does not split into {cfg.n_heads} heads of even size (head counts vs dims)")
    if cfg.n_heads % cfg.n_kv_heads:
        _fail(f.path, f"head_count {cfg.n_heads} is not a multiple of head_count_kv {cfg.n_kv_heads}")
    rope_dims = _int_key(f, "llama.rope.dimension_count", cfg.head_dim)
    if rope_dims != cfg.head_dim:
        _fail(f.path, f"rope.dimension_count {rope_dims} differs from head_dim {cfg.head_dim}")
    if "llama.vocab_size" in f.metadata and _int_key(f, "llama.vocab_size") != cfg.vocab_size:
        _fail(f.path, f"llama.vocab_size {f.metadata['llama.vocab_size']} differs from the "
                      f"{cfg.vocab_size} tokens in tokenizer.ggml.tokens")
    return cfg


def expected_shapes(cfg):
    """GGUF tensor name -> NumPy shape, exactly as export_gguf.py writes them."""
    D, F, V, hd = cfg.dim, cfg.hidden_dim, cfg.vocab_size, cfg.head_dim
    shapes = {"token_embd.weight": (V, D), "output_norm.weight": (D,)}
    for i in range(cfg.n_layers):
        shapes.update({
            f"blk.{i}.attn_norm.weight": (D,),
            f"blk.{i}.attn_q.weight": (cfg.n_heads * hd, D),
            f"blk.{i}.attn_k.weight": (cfg.n_kv_heads * hd, D),
            f"blk.{i}.attn_v.weight": (cfg.n_kv_heads * hd, D),
            f"blk.{i}.attn_output.weight": (D, cfg.n_heads * hd),
            f"blk.{i}.ffn_norm.weight": (D,),
            f"blk.{i}.ffn_gate.weight": (F, D),
            f"blk.{i}.ffn_down.weight": (D, F),
            f"blk.{i}.ffn_up.weight": (F, D),
        })
    return shapes


# ============================================================================ tokens <-> text
def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (tokens are stored in this form)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


_U2B = {c: b for b, c in bytes_to_unicode().items()}


def token_bytes(token, token_type):
    """The bytes a GGUF token stands for: control tokens are their own UTF-8 text, byte-level
    tokens map each character back through GPT-2's table."""
    if token_type in (2, 3, 4, 5) or any(ch not in _U2B for ch in token):
        return token.encode("utf-8")
    return bytes(_U2B[ch] for ch in token)


def load_tokenizer(path_or_file, native=False):
    """robolm.tokenizer.Tokenizer rebuilt from a GGUF file's tokenizer.ggml.* (specials, bytes,
    user-defined tokens, merges) without loading the weights; refused unless it reproduces the
    file's token list exactly. native=True uses the C encoder of robolm._native when built."""
    f = path_or_file if isinstance(path_or_file, gguf.GGUFFile) else gguf.read(path_or_file)
    from robolm.tokenizer import Tokenizer
    tokens = f.require("tokenizer.ggml.tokens")
    types = f.get("tokenizer.ggml.token_type")
    types = [int(t) for t in types] if types is not None else [1] * len(tokens)
    if not isinstance(tokens, list) or len(types) != len(tokens):
        _fail(f.path, "tokenizer.ggml.tokens / token_type are not parallel arrays")
    token_id = {t: i for i, t in enumerate(tokens)}
    ud = [t for t, ty in zip(tokens, types) if ty == 4]
    pairs = []
    for m in f.require("tokenizer.ggml.merges"):
        a, _, b = str(m).partition(" ")
        if a not in token_id or b not in token_id:
            _fail(f.path, f"merge {m!r} joins tokens that are not in the vocabulary")
        pairs.append((token_id[a], token_id[b]))
    try:
        tok = Tokenizer(pairs, ud, vocab_size=len(tokens), native=native)
    except ValueError as e:
        _fail(f.path, f"the tokenizer in the file is inconsistent ({e})")
    if tok.gguf_vocab()["tokens"] != tokens:
        _fail(f.path, "the file's tokens do not follow RoboLM's vocabulary layout",
              "this runtime reads RoboLM exports; use llama.cpp for other GGUF files")
    return tok


# ============================================================================ sampler
class XorShiftRng:
    """xorshift64* (llama2.c's random_u32), so a seed gives the same draws in NumPy and C."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = (int(seed) ^ 0x9E3779B97F4A7C15) & self.MASK or 1

    def u32(self):
        s = self.state
        s ^= s >> 12
        s ^= (s << 25) & self.MASK
        s ^= s >> 27
        self.state = s
        return ((s * 0x2545F4914F6CDD1D) & self.MASK) >> 32

    def uniform(self):
        """A float32 in [0, 1) from the top 24 bits."""
        return np.float32(self.u32() >> 8) / np.float32(16777216.0)


def sample(logits, temperature=0.0, top_k=0, top_p=1.0, rng=None):
    """Pick the next token from logits (V,). Same algorithm as csrc/runtime.c::sample:
    temperature 0 -> argmax; else softmax(logits / temperature), keep the top_k most likely
    (0 = all), then the smallest prefix whose mass reaches top_p (1 = all), draw from the rest."""
    if temperature <= 0:
        return int(np.argmax(logits))                                     # first maximum
    probs = softmax((logits / np.float32(temperature)).astype(np.float32))  # (V,)
    order = np.lexsort((np.arange(len(probs)), -probs))                 # (V,) most likely first, ties by id
    if 0 < top_k < len(order):
        order = order[:top_k]                                           # (k,)
    if 0 < top_p < 1:
        cum = np.cumsum(probs[order], dtype=np.float32)                 # (k,)
        order = order[:int(np.searchsorted(cum, np.float32(top_p))) + 1]
    kept = probs[order]                                                 # (k',)
    r = (rng.uniform() if rng is not None else np.float32(np.random.random())) * kept.sum(dtype=np.float32)
    cdf = np.cumsum(kept, dtype=np.float32)                             # (k',)
    i = int(np.searchsorted(cdf, r, side="right"))
    return int(order[min(i, len(order) - 1)])


# ============================================================================ the model
class NumpyModel:
    """Load a RoboLM GGUF file and run it, one token at a time."""

    def __init__(self, path):
        self.file = f = gguf.read(path)
        self.config = cfg = config_from_gguf(f)
        shapes = expected_shapes(cfg)
        for name, shape in shapes.items():
            if name not in f.tensors:
                _fail(f.path, f"tensor {name!r} is missing")
            if f.tensors[name].shape != shape:
                _fail(f.path, f"tensor {name!r} has shape {f.tensors[name].shape}, the metadata says {shape}"
                              + (" (vocab size vs embedding rows)" if name == "token_embd.weight" else ""))
        w = {name: np.asarray(f.tensor(name), dtype=np.float32) for name in shapes}
        self.tok_embeddings = w["token_embd.weight"]                                 # (V, D)
        self.norm = w["output_norm.weight"]                                          # (D,)
        L = range(cfg.n_layers)
        self.attn_norm = [w[f"blk.{i}.attn_norm.weight"] for i in L]                # L x (D,)
        self.wq = [w[f"blk.{i}.attn_q.weight"] for i in L]                          # L x (H*hd, D)
        self.wk = [w[f"blk.{i}.attn_k.weight"] for i in L]                          # L x (KV*hd, D)
        self.wv = [w[f"blk.{i}.attn_v.weight"] for i in L]                          # L x (KV*hd, D)
        self.wo = [w[f"blk.{i}.attn_output.weight"] for i in L]                     # L x (D, H*hd)
        self.ffn_norm = [w[f"blk.{i}.ffn_norm.weight"] for i in L]                  # L x (D,)
        self.w1 = [w[f"blk.{i}.ffn_gate.weight"] for i in L]                        # L x (F, D)
        self.w2 = [w[f"blk.{i}.ffn_down.weight"] for i in L]                        # L x (D, F)
        self.w3 = [w[f"blk.{i}.ffn_up.weight"] for i in L]                          # L x (F, D)
        # output.weight is tied to tok_embeddings (no separate tensor in the file)
        self.tokens = list(f.require("tokenizer.ggml.tokens"))
        types = f.get("tokenizer.ggml.token_type")
        self.token_types = [int(t) for t in types] if types is not None else [1] * len(self.tokens)
        self.token_id = {t: i for i, t in enumerate(self.tokens)}
        self.reset()

    def reset(self):
        """Empty the KV cache (start a new sequence at position 0)."""
        cfg = self.config
        self.key_cache = np.zeros((cfg.n_layers, cfg.seq_len, cfg.n_kv_heads, cfg.head_dim), np.float32)    # (L, S, KV, hd)
        self.value_cache = np.zeros((cfg.n_layers, cfg.seq_len, cfg.n_kv_heads, cfg.head_dim), np.float32)  # (L, S, KV, hd)

    def forward(self, token, pos):
        """Logits (V,) for the next token, after `token` at position `pos` (cache holds 0..pos-1)."""
        cfg = self.config
        hd, H, KV = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
        if not 0 <= pos < cfg.seq_len:
            raise ValueError(f"position {pos} is outside the context of {cfg.seq_len} tokens")
        if not 0 <= token < cfg.vocab_size:
            raise ValueError(f"token id {token} is outside the vocabulary of {cfg.vocab_size}")
        # h = self.tok_embeddings(tokens)
        x = self.tok_embeddings[token].copy()                                  # (D,)
        for l in range(cfg.n_layers):
            # xb = self.attention_norm(x)
            xb = rmsnorm(x, self.attn_norm[l], cfg.norm_eps)                    # (D,)
            # q, k, v = self.wq(xb), self.wk(xb), self.wv(xb) ; then RoPE on q and k
            q = rope(matmul(xb, self.wq[l]).reshape(H, hd), pos, cfg.rope_theta)   # (H, hd)
            k = rope(matmul(xb, self.wk[l]).reshape(KV, hd), pos, cfg.rope_theta)  # (KV, hd)
            v = matmul(xb, self.wv[l]).reshape(KV, hd)                          # (KV, hd)
            self.key_cache[l, pos] = k
            self.value_cache[l, pos] = v
            # scores = softmax(q @ k.T / sqrt(hd)) over positions 0..pos; out = scores @ v
            keys = self.key_cache[l, :pos + 1]                                  # (T, KV, hd)
            values = self.value_cache[l, :pos + 1]                              # (T, KV, hd)
            out = np.empty((H, hd), np.float32)                                 # (H, hd)
            for h in range(H):
                kvh = h // (H // KV)                                            # the KV head this query head shares
                scores = (keys[:, kvh] @ q[h]) / np.float32(np.sqrt(hd))         # (T,)
                att = softmax(scores.astype(np.float32))                        # (T,)
                out[h] = att @ values[:, kvh]                                   # (hd,)
            # x = x + self.wo(out)
            x = x + matmul(out.reshape(-1), self.wo[l])                         # (D,)
            # x = x + self.w2(F.silu(self.w1(xb)) * self.w3(xb)), xb = self.ffn_norm(x)
            xb = rmsnorm(x, self.ffn_norm[l], cfg.norm_eps)                     # (D,)
            hb = swiglu(matmul(xb, self.w1[l]), matmul(xb, self.w3[l]))          # (F,)
            x = x + matmul(hb, self.w2[l])                                      # (D,)
        # logits = self.output(self.norm(x)), output tied to tok_embeddings
        x = rmsnorm(x, self.norm, cfg.norm_eps)                                 # (D,)
        return matmul(x, self.tok_embeddings)                                   # (V,)

    def forward_all(self, tokens):
        """Logits (T, V) for every position of `tokens`, from an empty cache."""
        self.reset()
        return np.stack([self.forward(t, pos) for pos, t in enumerate(tokens)])    # (T, V)

    def generate(self, prompt_ids, max_new_tokens=200, temperature=0.0, top_k=0, top_p=1.0,
                 seed=None, stop_ids=None):
        """Yield new token ids after the prompt until a stop token, max_new_tokens or the context end.
        The stop token itself is yielded last (callers drop it when printing)."""
        prompt_ids = list(prompt_ids)
        if not prompt_ids:
            raise ValueError("generate needs at least one prompt token (e.g. <bos>)")
        if len(prompt_ids) > self.config.seq_len:
            raise ValueError(f"the prompt has {len(prompt_ids)} tokens, the context only {self.config.seq_len}. "
                             "Hint: shorten the prompt")
        stop_ids = set(self.stop_ids() if stop_ids is None else stop_ids)
        rng = XorShiftRng(0 if seed is None else seed)
        self.reset()
        logits = None
        for pos, t in enumerate(prompt_ids):
            logits = self.forward(t, pos)                                       # (V,)
        pos = len(prompt_ids)
        for _ in range(max_new_tokens):
            nxt = sample(logits, temperature, top_k, top_p, rng)
            yield nxt
            if nxt in stop_ids or pos >= self.config.seq_len:
                return
            logits = self.forward(nxt, pos)
            pos += 1

    # ---- tokens and the prompt format, from the file's metadata
    def special(self, name):
        if name not in self.token_id:
            _fail(self.file.path, f"the vocabulary has no token {name!r}")
        return self.token_id[name]

    def stop_ids(self):
        stops = self.file.get("robolm.stop_token_ids")
        if stops is not None:
            return [int(s) for s in stops]
        return [int(self.file.get("tokenizer.ggml.eos_token_id", self.special("<eos>")))]

    @property
    def tokenizer(self):
        """robolm.tokenizer.Tokenizer rebuilt from the file (see load_tokenizer)."""
        if getattr(self, "_tokenizer", None) is None:
            self._tokenizer = load_tokenizer(self.file)
        return self._tokenizer

    def encode(self, text):
        """Plain text -> ids (never a special token)."""
        return self.tokenizer.encode(text)

    def prompt_ids(self, prompt, lang="en", hardware=""):
        """RoboLM's code-generation prompt (robolm/prompt.py), up to and including [CODE]."""
        from robolm.prompt import build_prompt
        return build_prompt(self.tokenizer, prompt, hardware=hardware, lang=lang)

    def decode(self, ids, skip_special=True):
        """Token ids -> text (special tokens dropped unless skip_special=False)."""
        out = b""
        for i in ids:
            if skip_special and self.token_types[i] in (2, 3):     # <unk> and control tokens
                continue
            out += token_bytes(self.tokens[i], self.token_types[i])
        return out.decode("utf-8", errors="replace")
