"""Byte-level BPE for RoboLM: how the model reads text.

    tok = Tokenizer.train(texts, vocab_size=8192)        # or Tokenizer.from_config(yaml)
    ids = tok.encode("from machine import Pin")           # plain text -> ids (never specials)
    tok.decode(ids)                                       # ids -> the same text
    tok.save("tokenizers/robo-code-8k"); Tokenizer.load("tokenizers/robo-code-8k")

How a text becomes ids (the same four steps in csrc/tokenizer.c and in llama.cpp):
 1. USER-DEFINED tokens are cut out of the text first, longest first: "Pin.OUT", "Pin.PULL_UP",
    "ADC.ATTN_11DB", indentation runs of 4/8/12/16/20 spaces... (llama.cpp does this for
    GGUF token_type 4 in `tokenizer_st_partition`). Each one is a single id.
 2. The rest is cut into PRE-TOKENS by the regex SPLIT_PATTERN; no token crosses a cut.
 3. Each pre-token's UTF-8 bytes start as byte tokens and are MERGED by BPE: repeatedly join
    the adjacent pair with the lowest merge rank (leftmost first on ties).
 4. Special tokens (<bos>, [CODE], [LANG:hi] ...) never come out of encode(): a learner who
    types "[CODE]" gets the bytes "[CODE]". Only robolm/prompt.py inserts special ids.

The split pattern, and why. llama.cpp only tokenizes GGUF files the same way if their
`tokenizer.ggml.pre` names a split it implements, so we train with one of its patterns:
"qwen35", which llama.cpp implements by hand (unicode_regex_split_custom_qwen35):
    (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+
    |\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+
 * Letter runs include combining marks \\p{M}. Devanagari vowel signs and the virama (and their
   Tamil, Bengali, Telugu ... cousins) are marks, not letters: with GPT-2's or GPT-4's ` ?\\p{L}+`
   the Hindi word "नमस्ते" falls apart at every sign ("नमस", "्", "त", "े") and BPE can never
   learn whole syllables. bench/fertility.py measures it (default run: 4 MB of Python + the
   docs authored so far, 8K vocabulary, BPE trained with each split): bytes/token llama-bpe ->
   qwen35 went 3.77 -> 4.10 on Hindi, 4.03 -> 4.59 Bengali, 4.27 -> 4.98 Tamil, 4.54 -> 5.65
   Malayalam; mean bytes per pre-token (the most one token can hold): Hindi 5.05 -> 10.25,
   Tamil 5.49 -> 17.62.
 * Why not "gpt-4o" (o200k), which also has \\p{M}? Because llama.cpp does NOT run that regex
   as written: it rewrites it for std::regex with ASCII-only case classes and without marks in
   letter runs, so a GGUF trained on the Python o200k regex would tokenize differently there.
   "qwen35" is implemented exactly, class by class.
 * Digits are split one by one (\\p{N}): 115200 is 6 tokens, but every number is spelled the
   same way, which helps a small model with pin numbers, angles and delays. It costs about 4%
   on MicroPython (plain BPE 2.98 bytes/token vs 3.10 with llama-bpe's \\p{N}{1,3}); the
   code-aware tokens below win that back (3.13).
 * Code: " ?[^\\s\\p{L}\\p{M}\\p{N}]+" keeps operator runs ("==", "+=", "):") together and
   "\\s+(?!\\S)" keeps runs of spaces; indentation is taken out as user-defined tokens first.
The C split (csrc/tokenizer.c) is written by hand from the same classes (tables generated from
the `regex` module by scripts/gen_unicode_tables.py); tests check it equals regex.findall.

Code-aware vocabulary (configs/tokenizers/robo-code-*.yaml, `single_tokens:`). Each string
that must be one token is checked against the split: if it is ONE pre-token ("import", "Pin",
"machine", " while") it becomes FORCED MERGES at the head of the merge list, built left to
right from the tokens it already has (ordinary BPE merges, so llama.cpp replays them); if it
spans several pre-tokens ("Pin.OUT", "time.sleep_ms") it becomes a USER-DEFINED token.
With `space_variants: true` each single-pre-token word also gets its " word" form.

Vocabulary layout (ids):
    0..38                 special tokens, fixed by docs/INTERFACES.md (SPECIAL_TOKENS)
    39..294               the 256 bytes: id = 39 + byte
    295..295+U-1          user-defined tokens (U of them, in file order)
    then                  one token per merge, in rank order: forced merges, then learned ones
    then                  "<unused:k>" padding if the corpus ran out of pairs, so vocab_size is exact

Training (Tokenizer.train): texts -> user-defined cut -> split -> distinct pre-tokens with
counts -> forced merges -> BPE: each step merges the pair with the highest count; TIES go to
the smaller (left id, right id); a pair whose string is already a token is skipped; stop at
vocab_size or when the best count is below min_count. The C trainer (incremental pair counts,
a lazy max-heap, word lists per pair) and _train_reference (plain recount, kept to be read)
give identical merges: tests/test_tokenizer.py checks it.

File format (tokenizer.json, version 1; never pickle). Fields:
    format "robolm-bpe", version 1, name, pre (llama.cpp name), pattern, vocab_size,
    special_tokens {name: id}, byte_offset 39, user_defined [str], forced [str],
    n_forced_merges, merges [[left, right], ...] (merge r makes id byte_offset+256+U+r),
    n_unused, train {settings, for the record}, hash "sha256:..." of all the other fields.
Token strings are not stored: they follow from bytes + merges, so the file cannot disagree with
itself. vocab.txt beside it is the human view (id, kind, text). A file of another version, with
a missing field, truncated, or edited (hash) fails to load with a one-line TokenizerFileError.

For GGUF (tokenizer.ggml.*): Tokenizer.gguf_vocab() gives model "gpt2", pre "qwen35", tokens
(normal ones in GPT-2 bytes_to_unicode form, special/user-defined/unused as raw text),
token_type (3 control, 2 for <unk>, 1 normal, 4 user-defined, 5 unused), merges "a b".
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterable

import regex

FORMAT = "robolm-bpe"
VERSION = 1
PRE_NAME = "qwen35"
SPLIT_PATTERN = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+"
                 r"|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT_RE = regex.compile(SPLIT_PATTERN)

# the seed's languages, in the seed's order (ids 12..36); robolm/languages.py has the details
LANG_CODES = ("hi bn ta te mr gu kn ml pa or as mai sa ur sd ks ne kok en zh es fr ar pt ja").split()
SPECIAL_TOKENS = (["<pad>", "<eos>", "<bos>", "<unk>", "[SYSTEM]", "[/SYSTEM]", "[USER]", "[/USER]",
                   "[CODE]", "[/CODE]", "[HARDWARE]", "[/HARDWARE]"]
                  + [f"[LANG:{c}]" for c in LANG_CODES] + ["[EXPLAIN]", "[/EXPLAIN]"])
BYTE_OFFSET = len(SPECIAL_TOKENS)  # 39

# GGUF token types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED = 1, 2, 3, 4, 5
_KIND = {NORMAL: "normal", UNKNOWN: "unknown", CONTROL: "control", USER_DEFINED: "user", UNUSED: "unused"}

# The defaults of configs/tokenizers/robo-code-8k.yaml (kept here so train() works without it).
PYTHON_KEYWORDS = ("False None True and as assert async await break class continue def del elif else "
                   "except finally for from global if import in is lambda nonlocal not or pass raise "
                   "return try while with yield").split()
MICROPYTHON_NAMES = ("machine Pin PWM ADC I2C SPI UART time network neopixel dht ssd1306 utime "
                     "sleep freq duty value read write irq print range len int float str self robot Robot").split()
USER_DEFINED_DEFAULT = ["Pin.OUT", "Pin.IN", "Pin.PULL_UP", "Pin.PULL_DOWN", "Pin.IRQ_FALLING",
                        "Pin.IRQ_RISING", "ADC.ATTN_11DB", "ADC.WIDTH_12BIT", "time.sleep",
                        "time.sleep_ms", "time.sleep_us", "time.ticks_ms", "time.ticks_diff",
                        "from machine import", "import time", "robot = Robot()", "while True:",
                        "    ", "        ", "            ", "                ", "                    "]


class TokenizerFileError(ValueError):
    """A tokenizer.json that cannot be used; the message is one line and names the file."""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map, used for GGUF token texts (space -> 'Ġ')."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


_B2U = bytes_to_unicode()


def split(text: str) -> list[str]:
    """Pre-tokenize: the pieces that BPE works on, one by one (the reference for tok_split)."""
    return _SPLIT_RE.findall(text)


def _native():
    try:
        from robolm import _native
        return _native if hasattr(_native, "NativeTokenizer") else None
    except ImportError:
        return None


class Tokenizer:
    """A trained byte-level BPE. Build with train(), from_config() or load()."""

    def __init__(self, merges: list[tuple[int, int]], user_defined: list[str] = (), *,
                 vocab_size: int | None = None, forced: list[str] = (), n_forced_merges: int = 0,
                 name: str = "robolm-bpe", train_info: dict | None = None, native: bool = True):
        self.name = name
        self.user_defined = list(user_defined)
        self.forced = list(forced)
        self.n_forced_merges = n_forced_merges
        self.train_info = dict(train_info or {})
        self.special_tokens = {s: i for i, s in enumerate(SPECIAL_TOKENS)}
        # id -> bytes and type: specials, bytes, user-defined, merges, padding
        vocab = [s.encode() for s in SPECIAL_TOKENS] + [bytes([b]) for b in range(256)]
        types = [CONTROL] * BYTE_OFFSET + [NORMAL] * 256
        types[self.special_tokens["<unk>"]] = UNKNOWN
        for s in self.user_defined:
            if not s:
                raise ValueError("user-defined tokens must not be empty")
            vocab.append(s.encode())
            types.append(USER_DEFINED)
        self.first_merge_id = len(vocab)
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.ranks: dict[tuple[int, int], int] = {}
        for r, (a, b) in enumerate(self.merges):
            if not (0 <= a < len(vocab) and 0 <= b < len(vocab)) or types[a] != NORMAL or types[b] != NORMAL:
                raise ValueError(f"merge {r} ({a}, {b}) does not join two earlier normal tokens")
            self.ranks.setdefault((a, b), r)
            vocab.append(vocab[a] + vocab[b])
            types.append(NORMAL)
        n = len(vocab)
        self.n_unused = 0 if vocab_size is None else vocab_size - n
        if self.n_unused < 0:
            raise ValueError(f"vocab_size {vocab_size} is smaller than the {n} tokens the merges make")
        for k in range(self.n_unused):
            vocab.append(f"<unused:{k}>".encode())
            types.append(UNUSED)
        self.vocab, self.types = vocab, types
        self._ud_order = sorted(range(len(self.user_defined)),
                                key=lambda i: (-len(self.user_defined[i].encode()), i))
        seen = {}
        for i, (b, t) in enumerate(zip(vocab, types)):
            if t in (NORMAL, USER_DEFINED):
                if b in seen:
                    raise ValueError(f"tokens {seen[b]} and {i} have the same text {b!r}")
                seen[b] = i
        self._native = None
        lib = _native() if native else None
        if lib is not None:
            import numpy as np
            self._native = lib.NativeTokenizer(vocab, types, np.array(self.merges, dtype=np.int32).reshape(-1, 2))

    # ---------------------------------------------------------------- basics
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def native(self) -> bool:
        return self._native is not None

    def token_bytes(self, i: int) -> bytes:
        return self.vocab[i]

    # ---------------------------------------------------------------- encode / decode
    def encode(self, text: str) -> list[int]:
        """Plain text -> ids. Never yields a special token (injection safe)."""
        if not isinstance(text, str):
            raise TypeError(f"encode() takes str, not {type(text).__name__}")
        if self._native is not None:
            return self._native.encode(text)
        return self.encode_reference(text)

    def encode_array(self, text: str):
        """Like encode(), as an int32 NumPy array (fast for big texts, e.g. prepare.py)."""
        import numpy as np
        if self._native is not None:
            return self._native.encode_array(text)
        return np.array(self.encode_reference(text), dtype=np.int32)

    def encode_reference(self, text: str) -> list[int]:
        """The pure-Python path: the four steps of the module docstring, written to be read."""
        ids: list[int] = []
        for piece in self._partition(text):
            if isinstance(piece, int):          # a user-defined token
                ids.append(piece)
                continue
            for chunk in split(piece):
                ids.extend(self._bpe(chunk.encode("utf-8")))
        return ids

    def _partition(self, text: str) -> list:
        """Cut user-defined tokens out of text, longest first (llama.cpp tokenizer_st_partition):
        for each token, split every remaining text fragment at its occurrences, left to right."""
        pieces: list = [text] if text else []
        for i in self._ud_order:
            s, tid = self.user_defined[i], self.first_merge_id - len(self.user_defined) + i
            out = []
            for p in pieces:
                if isinstance(p, int):
                    out.append(p)
                    continue
                for k, part in enumerate(p.split(s)):
                    if k:
                        out.append(tid)
                    if part:
                        out.append(part)
            pieces = out
        return pieces

    def _bpe(self, chunk: bytes) -> list[int]:
        """Merge the byte tokens of one pre-token: lowest rank first, leftmost on ties."""
        ids = [BYTE_OFFSET + b for b in chunk]
        while len(ids) >= 2:
            # (rank, position) of every adjacent pair that has a merge
            candidates = [(self.ranks[pair], k) for k, pair in enumerate(zip(ids, ids[1:])) if pair in self.ranks]
            if not candidates:
                break
            rank, k = min(candidates)  # the lowest rank; the leftmost on ties
            ids[k:k + 2] = [self.first_merge_id + rank]
        return ids

    def explain(self, text: str) -> list[tuple[str, list[int]]]:
        """For teaching: the pieces encode() works on and the ids of each, e.g.
        [('from machine import', [300]), (' Pin', [512]), ('\\n', [49]), ...]."""
        out = []
        for piece in self._partition(text):
            if isinstance(piece, int):
                out.append((self.vocab[piece].decode(), [piece]))
            else:
                out += [(chunk, self._bpe(chunk.encode("utf-8"))) for chunk in split(piece)]
        return out

    def decode_bytes(self, ids: Iterable[int], skip_special: bool = False) -> bytes:
        """ids -> the exact bytes (CONTROL/UNKNOWN/UNUSED tokens dropped with skip_special)."""
        if self._native is not None:
            return self._native.decode_bytes(ids, skip_special)  # list, NumPy array or any iterable
        return self.decode_bytes_reference(ids, skip_special)

    def decode_bytes_reference(self, ids: Iterable[int], skip_special: bool = False) -> bytes:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"token id {i} is out of range (vocab size {len(self.vocab)})")
            if skip_special and self.types[i] in (CONTROL, UNKNOWN, UNUSED):
                continue
            out.append(self.vocab[i])
        return b"".join(out)

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """ids -> text; bytes that are not valid UTF-8 (a cut mid-character) become U+FFFD."""
        return self.decode_bytes(ids, skip_special).decode("utf-8", errors="replace")

    # ---------------------------------------------------------------- training
    @classmethod
    def from_config(cls, path: str | os.PathLike, texts: Iterable[str], **overrides) -> "Tokenizer":
        """Train with the settings of a configs/tokenizers/*.yaml file."""
        import yaml
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f) or {}
        known = {"name", "vocab_size", "min_count", "single_tokens", "user_defined", "space_variants"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(known)}")
        single = []
        for group in (cfg.get("single_tokens") or {}).values():
            single += [str(s) for s in group]
        args = dict(name=cfg.get("name", Path(path).stem), vocab_size=int(cfg["vocab_size"]),
                    min_count=int(cfg.get("min_count", 2)), single_tokens=single,
                    user_defined=[str(s) for s in cfg.get("user_defined") or []],
                    space_variants=bool(cfg.get("space_variants", True)))
        args.update(overrides)
        return cls.train(texts, **args)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8192, *, single_tokens: list[str] | None = None,
              user_defined: list[str] | None = None, space_variants: bool = True, min_count: int = 2,
              name: str = "robolm-bpe", native: bool | None = None) -> "Tokenizer":
        """Learn a tokenizer from texts (an iterable of str: documents, files, examples).

        vocab_size counts everything (specials, bytes, user-defined, merges); single_tokens are
        strings that must be one token (see module docstring), user_defined extra strings cut out
        before the split. native=None uses the C trainer when robolm._native is built."""
        single = list(PYTHON_KEYWORDS + MICROPYTHON_NAMES) if single_tokens is None else list(single_tokens)
        ud = list(USER_DEFINED_DEFAULT) if user_defined is None else list(user_defined)
        forced = []
        for s in single:  # one pre-token -> forced merges; several -> user-defined
            variants = [s] + ([" " + s] if space_variants and not s.startswith(" ") else [])
            for v in variants:
                if len(split(v)) == 1 and len(v.encode()) > 1:
                    forced.append(v)
                elif len(split(v)) > 1 and v == s:
                    ud.append(v)
        ud = list(dict.fromkeys(ud))
        for i, x in enumerate(ud):  # llama.cpp orders equal-length tokens arbitrarily: forbid overlaps
            for y in ud[i + 1:]:
                bx, by = x.encode(), y.encode()
                if len(bx) == len(by) and any(bx[k:] == by[:len(by) - k] or by[k:] == bx[:len(bx) - k]
                                              for k in range(1, len(bx))):
                    raise ValueError(f"user-defined tokens {x!r} and {y!r} have the same length and can overlap")
        forced = sorted(dict.fromkeys(forced), key=lambda v: (len(v.encode()), forced.index(v)))
        base = cls([], ud, name=name, native=False)     # specials + bytes + user-defined
        n_merges = vocab_size - base.vocab_size
        if n_merges < 0:
            raise ValueError(f"vocab_size {vocab_size} < {base.vocab_size} (specials + bytes + user-defined)")
        forced_pairs = base._forced_merges(forced)
        if len(forced_pairs) > n_merges:
            raise ValueError(f"vocab_size {vocab_size} leaves no room for {len(forced_pairs)} forced merges")
        # distinct pre-tokens with counts, after the user-defined cut
        texts = list(texts)
        lib = _native() if native in (None, True) else None
        if native and lib is None:
            raise RuntimeError("native=True but robolm._native is not built (pip install -e .)")
        if lib is not None:
            import numpy as np
            base_c = lib.NativeTokenizer(base.vocab, base.types, np.zeros((0, 2), dtype=np.int32))
            ids, offsets, counts = lib.tok_count_words(texts, base_c, BYTE_OFFSET)
            merges = lib.tok_train_bpe(ids, offsets, counts, base.vocab,
                                       np.array(forced_pairs, dtype=np.int32).reshape(-1, 2),
                                       n_merges, min_count).tolist()
        else:
            fragments = [p for t in texts for p in base._partition(t) if isinstance(p, str)]
            words = Counter(chunk for f in fragments for chunk in split(f))
            merges = _train_reference(words, list(base.vocab), forced_pairs, n_merges, min_count)
        info = {"vocab_size": vocab_size, "min_count": min_count, "space_variants": space_variants,
                "n_learned_merges": len(merges) - len(forced_pairs), "trainer": "c" if lib else "python"}
        return cls([tuple(m) for m in merges], ud, vocab_size=vocab_size, forced=forced,
                   n_forced_merges=len(forced_pairs), name=name, train_info=info)

    def _forced_merges(self, forced: list[str]) -> list[tuple[int, int]]:
        """Merges that make each forced string one token, built left to right on top of the
        tokens it already has (earlier forced strings included)."""
        vocab = list(self.vocab)
        index = {b: i for i, b in enumerate(vocab) if self.types[i] == NORMAL}
        pairs: list[tuple[int, int]] = []
        tmp = Tokenizer([], self.user_defined, native=False)
        for s in forced:
            tmp.merges, tmp.ranks = pairs, {p: r for r, p in enumerate(pairs)}
            tmp.vocab = vocab
            ids = tmp._bpe(s.encode())
            while len(ids) > 1:
                joined = vocab[ids[0]] + vocab[ids[1]]
                if joined in index:
                    raise ValueError(f"forced token {s!r}: {joined!r} already exists but BPE does not make it; "
                                     "reorder or drop one of the forced strings")
                pairs.append((ids[0], ids[1]))
                index[joined] = len(vocab)
                vocab.append(joined)
                ids = [len(vocab) - 1] + ids[2:]
        return pairs

    # ---------------------------------------------------------------- files
    def to_dict(self) -> dict:
        d = {"format": FORMAT, "version": VERSION, "name": self.name, "pre": PRE_NAME,
             "pattern": SPLIT_PATTERN, "vocab_size": self.vocab_size,
             "special_tokens": dict(self.special_tokens), "byte_offset": BYTE_OFFSET,
             "user_defined": self.user_defined, "forced": self.forced,
             "n_forced_merges": self.n_forced_merges, "merges": [list(m) for m in self.merges],
             "n_unused": self.n_unused, "train": self.train_info}
        d["hash"] = _hash_of(d)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the file's content (what checkpoints record as tokenizer_hash)."""
        return self.to_dict()["hash"]

    def save(self, path: str | os.PathLike) -> Path:
        """Write <path>/tokenizer.json and <path>/vocab.txt (path is a directory); returns the json path."""
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        out = d / "tokenizer.json"
        tmp = d / "tokenizer.json.tmp"
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, out)
        lines = [f"# {self.name}: {self.vocab_size} tokens; id, kind, text (Python repr of the bytes)"]
        for i, (b, t) in enumerate(zip(self.vocab, self.types)):
            shown = b.decode("utf-8") if _is_text(b) else repr(b)
            lines.append(f"{i}\t{_KIND[t]}\t{json.dumps(shown, ensure_ascii=False)}")
        (d / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, native: bool = True) -> "Tokenizer":
        """Read tokenizer.json (or a directory holding one). Raises TokenizerFileError."""
        p = Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TokenizerFileError(f"{p}: no such tokenizer file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise TokenizerFileError(f"{p}: cannot read tokenizer file ({e.__class__.__name__})") from None
        try:
            d = json.loads(raw)
        except json.JSONDecodeError as e:
            raise TokenizerFileError(f"{p}: truncated or not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise TokenizerFileError(f"{p}: not a RoboLM tokenizer file (format is not {FORMAT!r})")
        if d.get("version") != VERSION:
            raise TokenizerFileError(f"{p}: tokenizer file version {d.get('version')!r}, this code reads version {VERSION}")
        need = ["name", "pre", "pattern", "vocab_size", "special_tokens", "byte_offset", "user_defined",
                "forced", "n_forced_merges", "merges", "n_unused", "hash"]
        missing = [k for k in need if k not in d]
        if missing:
            raise TokenizerFileError(f"{p}: missing field(s) {', '.join(missing)}")
        if d["hash"] != _hash_of(d):
            raise TokenizerFileError(f"{p}: hash mismatch: the file was corrupted or edited by hand")
        if d["pre"] != PRE_NAME or d["pattern"] != SPLIT_PATTERN:
            raise TokenizerFileError(f"{p}: split pattern {d['pre']!r} differs from this code's {PRE_NAME!r}")
        if d["special_tokens"] != {s: i for i, s in enumerate(SPECIAL_TOKENS)} or d["byte_offset"] != BYTE_OFFSET:
            raise TokenizerFileError(f"{p}: special tokens differ from the fixed ids of docs/INTERFACES.md")
        try:
            tok = cls([tuple(m) for m in d["merges"]], d["user_defined"], vocab_size=d["vocab_size"],
                      forced=d["forced"], n_forced_merges=d["n_forced_merges"], name=d["name"],
                      train_info=d.get("train"), native=native)
        except (ValueError, TypeError) as e:
            raise TokenizerFileError(f"{p}: inconsistent tokenizer: {e}") from None
        if tok.n_unused != d["n_unused"]:
            raise TokenizerFileError(f"{p}: vocab_size {d['vocab_size']} disagrees with the merges")
        return tok

    def gguf_vocab(self) -> dict:
        """What a GGUF writer needs for tokenizer.ggml.* (see the module docstring)."""
        tokens = []
        for b, t in zip(self.vocab, self.types):
            tokens.append("".join(_B2U[x] for x in b) if t == NORMAL else b.decode("utf-8"))
        merges = []
        for a, b in self.merges:
            merges.append(tokens[a] + " " + tokens[b])
        st = self.special_tokens
        return {"model": "gpt2", "pre": PRE_NAME, "tokens": tokens, "token_type": list(self.types),
                "merges": merges, "bos_token_id": st["<bos>"], "eos_token_id": st["<eos>"],
                "unknown_token_id": st["<unk>"], "padding_token_id": st["<pad>"],
                "add_bos_token": False, "add_eos_token": False}

    def __repr__(self) -> str:
        return (f"Tokenizer({self.name!r}, vocab_size={self.vocab_size}, user_defined={len(self.user_defined)}, "
                f"merges={len(self.merges)} ({self.n_forced_merges} forced), native={self.native})")


def _is_text(b: bytes) -> bool:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return s.isprintable() or s.strip() == ""


def _hash_of(d: dict) -> str:
    body = {k: v for k, v in d.items() if k != "hash"}
    blob = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _train_reference(words: Counter, vocab: list[bytes], forced: list[tuple[int, int]],
                     n_merges: int, min_count: int) -> list[tuple[int, int]]:
    """The readable BPE trainer (slow: it recounts every pair for every merge).

    words: distinct pre-tokens (str) with counts. Returns the merges in rank order."""
    seqs = {tuple(BYTE_OFFSET + b for b in w.encode("utf-8")): c for w, c in words.items()}
    known = set(vocab)
    banned: set[tuple[int, int]] = set()
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges:
        if len(merges) < len(forced):
            pair = forced[len(merges)]
        else:
            counts: Counter = Counter()
            for seq, c in seqs.items():
                for p in zip(seq, seq[1:]):
                    counts[p] += c
            pair = None
            # highest count first; ties: smaller (left id, right id)
            for p, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                if p in banned:
                    continue
                if c < min_count:
                    break
                if vocab[p[0]] + vocab[p[1]] in known:
                    banned.add(p)
                    continue
                pair = p
                break
            if pair is None:
                break
        new_id = len(vocab)
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        known.add(vocab[-1])
        merges.append(pair)
        seqs = {_merge(seq, pair, new_id): c for seq, c in seqs.items()}
    return merges


def _merge(seq: tuple, pair: tuple[int, int], new_id: int) -> tuple:
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == pair[0] and seq[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return tuple(out)
