"""RoboLM's tokenizer against the libraries people use, side by side in one run, one thread.

    .venv/bin/python bench/tokenizer_bench.py                 # 17.7 MB of code, vocab 8192
    .venv/bin/python bench/tokenizer_bench.py --mb 4 --skip-spm

Corpus (deterministic, offline): the .py files of this venv's site-packages (sorted by path;
every 10th file goes to a held-out slice of --heldout-mb) plus every multilingual text in the
repo (data/raw/docs/*.yaml, tests/data/tokenizer_sentences.txt). All trainers get the same
texts and our split pattern (llama.cpp "qwen35"); vocab --vocab (default 8192).

Peers (benchmark-only; installed into the venv with pip when missing, never a dependency of
robolm): HF tokenizers, rustbpe, sentencepiece (bpe, its own splitting), tiktoken (encoding
with OUR merges, and with rustbpe's). Threads are pinned to 1 (RAYON_NUM_THREADS,
TOKENIZERS_PARALLELISM, sentencepiece num_threads) before the libraries load.
"""
import argparse
import importlib
import yaml
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from robolm import tokenizer as T  # noqa: E402

PEERS = {"tokenizers": "tokenizers", "tiktoken": "tiktoken", "sentencepiece": "sentencepiece", "rustbpe": "rustbpe"}


def ensure_peers(names):
    missing = [p for m, p in PEERS.items() if m in names and importlib.util.find_spec(m) is None]
    if missing:
        print(f"installing benchmark-only peers: {' '.join(missing)}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=False)
    return {m: importlib.util.find_spec(m) is not None for m in names}


def multilingual_texts():
    out = []
    for p in sorted((ROOT / "data" / "raw" / "docs").glob("*.yaml")):
        out.append(p.read_text(encoding="utf-8"))
    sent = ROOT / "tests" / "data" / "tokenizer_sentences.txt"
    out.append("\n".join(line.split("\t", 1)[1] for line in sent.read_text(encoding="utf-8").splitlines() if "\t" in line))
    return out


def code_corpus(mb, heldout_mb):
    import sysconfig
    site = Path(sysconfig.get_paths()["purelib"])
    files = sorted(site.rglob("*.py"))
    train, held, n_train, n_held = [], [], 0, 0
    for i, f in enumerate(files):
        try:
            s = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if i % 10 == 0 and n_held < heldout_mb * 1e6:
            held.append(s)
            n_held += len(s.encode())
        elif n_train < mb * 1e6:
            train.append(s)
            n_train += len(s.encode())
        if n_train >= mb * 1e6 and n_held >= heldout_mb * 1e6:
            break
    return train, held


def micropython_code():
    progs = []
    for p in sorted((ROOT / "data" / "raw" / "tasks").glob("*.yaml")):
        def walk(node):
            if isinstance(node, dict):
                if "code" in node and isinstance(node["code"], list):
                    progs.extend(c["text"] for c in node["code"] if isinstance(c, dict) and "text" in c)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        try:
            walk(yaml.safe_load(p.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            pass
    return "\n".join(progs)



def timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=17.7, help="MB of code to train on")
    ap.add_argument("--heldout-mb", type=float, default=2.0)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--skip-spm", action="store_true", help="skip sentencepiece (slowest to train)")
    ap.add_argument("--no-install", action="store_true", help="do not pip install missing peers")
    args = ap.parse_args()

    have = ({m: importlib.util.find_spec(m) is not None for m in PEERS} if args.no_install
            else ensure_peers(list(PEERS)))
    train_code, held = code_corpus(args.mb, args.heldout_mb)
    multi = multilingual_texts()
    texts = train_code + multi
    held_text = "".join(held)
    held_bytes = held_text.encode()
    multi_text = "\n".join(multi)
    mp_text = micropython_code()  # the MicroPython programs of data/raw/tasks (never trained on)
    mb_train = sum(len(t.encode()) for t in texts) / 1e6
    print(f"corpus: {mb_train:.1f} MB to train ({len(train_code)} code files + {len(multi)} multilingual texts), "
          f"held-out code {len(held_bytes) / 1e6:.1f} MB; vocab {args.vocab}; pattern {T.PRE_NAME}", flush=True)

    rows = []  # (name, train_s, encode MB/s, decode MB/s, bytes/token code, bytes/token multilingual, note)
    mp_bytes = len(mp_text.encode())

    def bpt(n_tokens, nbytes):
        return nbytes / max(n_tokens, 1)

    cfg = ROOT / "configs" / "tokenizers" / "robo-code-8k.yaml"
    t_ours, ours = timed(lambda: T.Tokenizer.from_config(cfg, texts, vocab_size=args.vocab))
    t_plain, plain = timed(lambda: T.Tokenizer.train(texts, vocab_size=args.vocab, single_tokens=[], user_defined=[]))
    for name, tok, t_train in [("robolm (C, code-aware)", ours, t_ours), ("robolm (C, plain BPE)", plain, t_plain)]:
        t_enc, ids = timed(lambda: tok._native.encode_array(held_text), repeat=3)
        t_list, _ = timed(lambda: tok.encode(held_text), repeat=3)
        id_list = ids.tolist()  # decode from a Python list, like the peers
        t_dec, _ = timed(lambda: tok._native.decode_bytes(id_list), repeat=3)
        n_multi = len(tok.encode(multi_text))
        rows.append((name, t_train, len(held_bytes) / 1e6 / t_enc, len(held_bytes) / 1e6 / t_dec,
                     bpt(len(ids), len(held_bytes)), bpt(n_multi, len(multi_text.encode())),
                     f"list output {len(held_bytes) / 1e6 / t_list:.1f} MB/s", bpt(len(tok.encode(mp_text)), mp_bytes)))
        print(rows[-1], flush=True)
    sl = held_text[:100_000]
    t_ref, _ = timed(lambda: ours.encode_reference(sl))
    rows.append(("robolm (pure Python reference)", float("nan"), len(sl.encode()) / 1e6 / t_ref, float("nan"),
                 float("nan"), float("nan"), "encode measured on a 100 KB slice", float("nan")))

    if have.get("tiktoken"):
        import tiktoken

        def tiktoken_from(tok):
            ranks = {bytes([b]): b for b in range(256)}
            for r in range(len(tok.merges)):
                ranks[tok.vocab[tok.first_merge_id + r]] = 256 + r
            special = {s: 256 + len(tok.merges) + i for i, s in enumerate(tok.user_defined)}
            return tiktoken.Encoding(name="robolm", pat_str=T.SPLIT_PATTERN, mergeable_ranks=ranks,
                                     special_tokens=special)
        for name, tok in [("tiktoken (our code-aware merges)", ours), ("tiktoken (our plain merges)", plain)]:
            enc = tiktoken_from(tok)
            allowed = set(tok.user_defined)
            if allowed:  # user-defined tokens as tiktoken special tokens (tiktoken matches them leftmost-first)
                t_enc, ids = timed(lambda: enc.encode(held_text, allowed_special=allowed, disallowed_special=()), repeat=3)
            else:
                t_enc, ids = timed(lambda: enc.encode_ordinary(held_text), repeat=3)
            t_dec, _ = timed(lambda: enc.decode_bytes(ids), repeat=3)
            same = [enc.decode_single_token_bytes(i) for i in ids] == [tok.vocab[i] for i in tok.encode(held_text)]
            rows.append((name, float("nan"), len(held_bytes) / 1e6 / t_enc, len(held_bytes) / 1e6 / t_dec,
                         bpt(len(ids), len(held_bytes)), float("nan"),
                         "same tokens as robolm" if same else "tokens DIFFER from robolm",
                         bpt(len(enc.encode(mp_text, allowed_special=allowed, disallowed_special=()) if allowed
                                 else enc.encode_ordinary(mp_text)), mp_bytes)))
            print(rows[-1], flush=True)

    if have.get("tokenizers"):
        from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
        from tokenizers import Tokenizer as HF

        def hf_train():
            hf = HF(models.BPE())
            hf.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(T.SPLIT_PATTERN), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
            hf.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=args.vocab, min_frequency=2, show_progress=False,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                          special_tokens=list(T.SPECIAL_TOKENS))
            hf.train_from_iterator(texts, trainer)
            return hf
        t_train, hf = timed(hf_train)
        t_enc, enc = timed(lambda: hf.encode(held_text).ids, repeat=3)
        t_dec, _ = timed(lambda: hf.decode(enc), repeat=3)
        rows.append(("HF tokenizers " + importlib.import_module("tokenizers").__version__, t_train,
                     len(held_bytes) / 1e6 / t_enc, len(held_bytes) / 1e6 / t_dec, bpt(len(enc), len(held_bytes)),
                     bpt(len(hf.encode(multi_text).ids), len(multi_text.encode())), "same split pattern",
                     bpt(len(hf.encode(mp_text).ids), mp_bytes)))
        print(rows[-1], flush=True)

    if have.get("rustbpe"):
        import rustbpe

        def rb_train():
            rb = rustbpe.Tokenizer()
            rb.train_from_iterator(iter(texts), args.vocab - len(T.SPECIAL_TOKENS), pattern=T.SPLIT_PATTERN)
            return rb
        t_train, rb = timed(rb_train)
        t_enc, enc = timed(lambda: rb.encode(held_text), repeat=3)
        note = "same split pattern"
        if have.get("tiktoken"):
            import tiktoken
            tk = tiktoken.Encoding(name="rb", pat_str=rb.get_pattern(),
                                   mergeable_ranks={bytes(k): v for k, v in rb.get_mergeable_ranks()}, special_tokens={})
            t_tk, tk_ids = timed(lambda: tk.encode_ordinary(held_text), repeat=3)
            t_tkd, _ = timed(lambda: tk.decode_bytes(tk_ids), repeat=3)
            note += f"; tiktoken with its merges: encode {len(held_bytes) / 1e6 / t_tk:.1f} MB/s, decode {len(held_bytes) / 1e6 / t_tkd:.0f} MB/s"
        rows.append(("rustbpe", t_train, len(held_bytes) / 1e6 / t_enc, float("nan"), bpt(len(enc), len(held_bytes)),
                     bpt(len(rb.encode(multi_text)), len(multi_text.encode())), note, bpt(len(rb.encode(mp_text)), mp_bytes)))
        print(rows[-1], flush=True)

    if have.get("sentencepiece") and not args.skip_spm:
        import sentencepiece as spm
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "train.txt"
            src.write_text("\n".join(texts), encoding="utf-8")

            def spm_train():
                spm.SentencePieceTrainer.train(input=str(src), model_prefix=str(Path(d) / "m"), vocab_size=args.vocab,
                                               model_type="bpe", byte_fallback=True, character_coverage=0.9995,
                                               num_threads=1, max_sentence_length=1 << 16, minloglevel=2,
                                               train_extremely_large_corpus=False)
                return spm.SentencePieceProcessor(model_file=str(Path(d) / "m.model"))
            t_train, sp = timed(spm_train)
            t_enc, enc = timed(lambda: sp.encode(held_text), repeat=3)
            t_dec, _ = timed(lambda: sp.decode(enc), repeat=3)
            rows.append(("sentencepiece (bpe) " + spm.__version__, t_train, len(held_bytes) / 1e6 / t_enc,
                         len(held_bytes) / 1e6 / t_dec, bpt(len(enc), len(held_bytes)),
                         bpt(len(sp.encode(multi_text)), len(multi_text.encode())), "its own splitting",
                         bpt(len(sp.encode(mp_text)), mp_bytes)))
            print(rows[-1], flush=True)

    print(f"\n| library | train s | encode MB/s | decode MB/s | bytes/token Python (held out) | "
          f"bytes/token MicroPython (data/raw/tasks) | bytes/token multilingual | note |")
    print("|---|---|---|---|---|---|---|---|")
    f = lambda x, p: "-" if x != x else f"{x:.{p}f}"  # noqa: E731  (nan -> "-")
    for name, tr, en, de, bc, bm, note, bmp in rows:
        print(f"| {name} | {f(tr, 2)} | {f(en, 1)} | {f(de, 0)} | {f(bc, 2)} | {f(bmp, 2)} | {f(bm, 2)} | {note} |")
    probe = "from machine import Pin\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.value(1)\n    time.sleep_ms(500)\n"
    print(f"\nexample: {probe!r} -> robolm code-aware {len(ours.encode(probe))} tokens, plain {len(plain.encode(probe))}")


if __name__ == "__main__":
    main()
