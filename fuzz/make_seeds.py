"""Seed corpora for the fuzzers: real RoboLM exports of a tiny model (every weight type)
and multilingual text. Writes <out>/{gguf,text}/ (default build/fuzz/corpus, ignored by git).

    .venv/bin/python fuzz/make_seeds.py [out]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_gguf import MULTILINGUAL, make_model, make_tokenizer, write_model_file  # noqa: E402


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "fuzz" / "corpus"
    (out / "gguf").mkdir(parents=True, exist_ok=True)
    (out / "text").mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer()
    n = tok.vocab_size
    model, args = make_model(n, dim=32, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=32, max_seq_len=16)
    for t in ("f32", "f16", "q8_0", "q4_0"):
        write_model_file(out / "gguf" / f"tiny-{t}.gguf", model, args, tok, t)
    for i, text in enumerate(MULTILINGUAL.split(" ")):
        (out / "text" / f"seed{i:02d}.txt").write_text(text)
    (out / "text" / "all.txt").write_text(MULTILINGUAL)
    print(f"seeds in {out}")


if __name__ == "__main__":
    main()
