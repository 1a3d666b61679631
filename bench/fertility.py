"""Fertility report: bytes per token and tokens per word, for code and each of the 25 languages,
8K vs 16K vocabulary; a markdown table and a matplotlib bar chart.

    .venv/bin/python bench/fertility.py                    # writes out/fertility/{fertility.md,.png}
    .venv/bin/python bench/fertility.py --mb 2 --out /tmp/f

Training text: --mb MB of Python code from this venv's site-packages + every text in
data/raw/docs/*.yaml (the languages authored so far). Evaluation text, never trained on:
tests/data/tokenizer_sentences.txt (two sentences per language) and the MicroPython programs
of data/raw/tasks/*.yaml. A language without docs yet is "unseen": its numbers show what the
byte-level fallback costs until the corpus has it (the "trained" column says which is which).

"plain BPE 8K" is the same trainer without the code-aware single tokens (what they cost or
gain per language). The last columns justify the split pattern (robolm/tokenizer.py docstring): mean bytes per
pre-token under our "qwen35" split vs llama.cpp's "llama-bpe" (GPT-4-like, no \\p{M} in letter
runs), and, when HF tokenizers is installed, an 8K BPE trained on the same text with the
llama-bpe split. A pre-token is the longest piece BPE can ever merge into one token.
"""
import argparse
import sys
from pathlib import Path

import regex
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from robolm import tokenizer as T  # noqa: E402
from tokenizer_bench import code_corpus, micropython_code  # noqa: E402

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def strings(node):
    """Every string value inside a YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def docs_by_lang():
    out = {}
    for p in sorted((ROOT / "data" / "raw" / "docs").glob("*.yaml")):
        try:
            out[p.stem] = "\n".join(strings(yaml.safe_load(p.read_text(encoding="utf-8"))))
        except yaml.YAMLError:
            print(f"skipping {p} (not valid YAML yet)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="MB of Python code in the training text")
    ap.add_argument("--out", default=str(ROOT / "out" / "fertility"))
    args = ap.parse_args()

    code_train, code_held = code_corpus(args.mb, 0.5)
    docs = docs_by_lang()
    texts = code_train + list(docs.values())
    sentences = {}
    for line in (ROOT / "tests" / "data" / "tokenizer_sentences.txt").read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            lang, s = line.split("\t", 1)
            sentences[lang] = sentences.get(lang, "") + s + "\n"
    evals = {"micropython": micropython_code(), "python": "".join(code_held)}
    evals.update({lang: sentences.get(lang, "") for lang in T.LANG_CODES})

    toks = {}
    for vocab, cfg in [(8192, "robo-code-8k"), (16384, "robo-code-16k")]:
        toks[vocab] = T.Tokenizer.from_config(ROOT / "configs" / "tokenizers" / f"{cfg}.yaml", texts)
        print(toks[vocab], flush=True)
    plain = T.Tokenizer.train(texts, vocab_size=8192, single_tokens=[], user_defined=[])  # no code-aware tokens
    hf = None
    try:
        from tokenizers import Regex, models, pre_tokenizers, trainers
        from tokenizers import Tokenizer as HF
        hf = HF(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
                                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        hf.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=8192, min_frequency=2, show_progress=False,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    except ImportError:
        print("HF tokenizers not installed: no llama-bpe BPE column (pip install tokenizers)")

    rows = []
    for name, text in evals.items():
        if not text:
            continue
        nb, nw = len(text.encode()), max(len(text.split()), 1)
        n8, n16 = len(toks[8192].encode(text)), len(toks[16384].encode(text))
        pre_q = nb / max(len(T.split(text)), 1)
        pre_l = nb / max(len(regex.findall(LLAMA3, text)), 1)
        hf_bpt = nb / len(hf.encode(text).ids) if hf else float("nan")
        trained = "code" if name in ("micropython", "python") else ("yes" if name in docs else "no")
        rows.append((name, trained, nb, nw, nb / n8, nb / n16, n8 / nw, n16 / nw, pre_q, pre_l, hf_bpt,
                     nb / len(plain.encode(text))))

    lines = ["| text | trained on | bytes | words | bytes/token 8K | bytes/token 16K | tokens/word 8K | "
             "tokens/word 16K | bytes/token plain BPE 8K | bytes/pre-token qwen35 | bytes/pre-token llama-bpe | "
             "bytes/token llama-bpe 8K (HF) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} | "
                     f"{r[11]:.2f} | {r[8]:.2f} | {r[9]:.2f} | {'-' if r[10] != r[10] else f'{r[10]:.2f}'} |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fertility.md").write_text(
        f"Training text: {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB ({args.mb} MB code + docs of "
        f"{', '.join(sorted(docs)) or 'no language'}).\n\n{table}\n", encoding="utf-8")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    names = [r[0] for r in rows]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(10, len(names) * 0.55), 4.5))
    ax.bar(x - 0.27, [r[4] for r in rows], 0.27, label="RoboLM 8K")
    ax.bar(x, [r[5] for r in rows], 0.27, label="RoboLM 16K")
    if hf:
        ax.bar(x + 0.27, [r[10] for r in rows], 0.27, label="llama-bpe split, 8K (HF)")
    ax.set_xticks(x, [f"{n}{'*' if r[1] == 'no' else ''}" for n, r in zip(names, rows)], rotation=60)
    ax.set_ylabel("bytes per token (higher = fewer tokens)")
    ax.set_title("Tokenizer fertility (* = language not in the training text yet)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fertility.png", dpi=120)
    print(f"wrote {out / 'fertility.md'} and {out / 'fertility.png'}")


if __name__ == "__main__":
    main()
