"""Draw the walkthrough's pictures with matplotlib into docs/figures/ (generated, git-ignored).

    python scripts/make_figures.py                 # all figures that can be made now
    python scripts/make_figures.py --out /tmp/fig  # somewhere else

Always: tokenization.png (a MicroPython line and a Hindi sentence, token by token), rope.png
(RoPE rotations), quant_error.png (Q8_0 vs Q4_0 error histogram). With a trained model in
out/cpu_default_sft/ (or out/cpu_default/): attention.png (heatmap on a real prompt) and
loss.png (loss curves from metrics.jsonl); skipped with a message otherwise.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robolm import quant  # noqa: E402
from robolm.kernels import rope  # noqa: E402

RUNS = [ROOT / "out" / "cpu_default_sft", ROOT / "out" / "cpu_default"]
CODE_LINE = "robot.move_forward(50)\nled = Pin(2, Pin.OUT)"
HINDI = "रोबोट को आगे चलाओ और LED जलाओ"
PROMPT = "blink the LED on pin 2 every half second"


def find_tokenizer():
    """The trained tokenizer (data/processed/metadata.json or a checkpoint), else a tiny one trained now."""
    from robolm.tokenizer import Tokenizer
    candidates = []
    meta = ROOT / "data" / "processed" / "metadata.json"
    if meta.is_file():
        candidates.append(json.loads(meta.read_text()).get("tokenizer_path", ""))
    candidates.append(str(ROOT / "data" / "processed" / "tokenizer"))
    for c in candidates:
        if c and Path(c).exists():
            try:
                return Tokenizer.load(c), f"tokenizer {Path(c).relative_to(ROOT) if Path(c).is_relative_to(ROOT) else c}"
            except (OSError, ValueError) as e:
                print(f"  cannot load tokenizer {c}: {e}")
    print("  no trained tokenizer (run prepare.py): training a tiny one on two sentences")
    texts = [CODE_LINE + "\n", HINDI + "\n", "robot.turn_left(50)\n"] * 5
    return Tokenizer.train(texts, vocab_size=1000), "tiny demo tokenizer (run prepare.py for the real one)"


def devanagari_font():
    """A font that has Devanagari letters (Noto, Lohit, Mangal, Nirmala), or None."""
    from matplotlib import font_manager
    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("Devanagari", "Lohit", "Mangal", "Nirmala", "Gargi", "Kalimati")):
            return f.name
    return None


def fig_tokenization(out, tok, label):
    rows = [("MicroPython", CODE_LINE), ("Hindi", HINDI)]
    font = devanagari_font()
    if font is None:
        print("  no Devanagari font found (e.g. apt-get install fonts-noto-core): Hindi tokens drawn as code points")
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 3.2))
    colors = plt.cm.Pastel1.colors
    for ax, (name, text) in zip(axes, rows):
        ids = tok.encode(text)
        pieces = [tok.decode([i]) for i in ids]
        x = 0.0
        for k, (piece, i) in enumerate(zip(pieces, ids)):
            shown = piece.replace("\n", "\\n")
            if font is None and any(ord(ch) > 0x24F for ch in shown):
                shown = " ".join(f"{ord(ch):04X}" for ch in shown)     # no glyphs: show code points
            w = max(0.6, 0.16 * len(shown) + 0.3)
            ax.add_patch(plt.Rectangle((x, 0.35), w, 0.5, color=colors[k % len(colors)], ec="grey"))
            ax.text(x + w / 2, 0.6, shown, ha="center", va="center", fontsize=9,
                    **({"fontfamily": [font, "DejaVu Sans"]} if font else {}))
            ax.text(x + w / 2, 0.15, str(i), ha="center", va="center", fontsize=7, color="dimgrey")
            x += w + 0.05
        ax.set_xlim(0, max(x, 1))
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.set_title(f"{name}: {len(text.encode('utf-8'))} bytes -> {len(ids)} tokens", loc="left", fontsize=10)
    fig.suptitle(f"Byte-level BPE ({label})", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "tokenization.png", dpi=110)
    plt.close(fig)


def fig_rope(out, head_dim=16, positions=32):
    x = np.zeros((1, head_dim), np.float32)
    x[0, 0::2] = 1.0                                           # every pair starts at (1, 0)
    pts = np.stack([rope(x, p)[0] for p in range(positions)])  # (positions, head_dim)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
    for ax, i in zip(axes, [0, 1, 3, 7]):
        xs, ys = pts[:, 2 * i], pts[:, 2 * i + 1]
        ax.plot(np.cos(np.linspace(0, 2 * np.pi, 100)), np.sin(np.linspace(0, 2 * np.pi, 100)), color="lightgrey")
        ax.scatter(xs, ys, c=np.arange(positions), cmap="viridis", s=18)
        ax.plot(xs[:6], ys[:6], color="tab:red", lw=1)
        ax.set_aspect("equal")
        ax.set_title(f"pair i={i}: {10000 ** (-2 * i / head_dim):.3g} rad/position", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"RoPE: pair (x[2i], x[2i+1]) at positions 0..{positions - 1} (colour = position)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "rope.png", dpi=110)
    plt.close(fig)


def load_model():
    """(model, ckpt, run dir) of the first trained run, or None."""
    for run in RUNS:
        if (run / "ckpt.pt").is_file():
            from robolm.model import load_checkpoint
            try:
                model, ckpt = load_checkpoint(run / "ckpt.pt")
            except (OSError, RuntimeError, ValueError, KeyError) as e:   # e.g. a run still writing it
                print(f"  {run / 'ckpt.pt'} cannot be loaded ({type(e).__name__}: {e}); model figures skipped")
                return None
            return model, ckpt, run
    return None


def fig_quant(out, loaded):
    if loaded:
        model, _, run = loaded
        w = model.layers[0].feed_forward.w1.weight.detach().float().numpy()   # (F, D)
        label = f"layers.0.feed_forward.w1 of {run.name} {tuple(w.shape)}"
    else:
        w = np.random.default_rng(0).normal(0, 0.02, size=(704, 256)).astype(np.float32)
        label = "random normal(0, 0.02) weight (no trained model)"
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, q, dq in [("Q8_0", quant.quantize_q8_0, quant.dequantize_q8_0),
                        ("Q4_0", quant.quantize_q4_0, quant.dequantize_q4_0)]:
        err = (dq(q(w)) - w).ravel()
        ax.hist(err, bins=200, histtype="step", lw=1.5, label=f"{name}: rms error {np.sqrt(np.mean(err ** 2)):.2e}")
    ax.set_yscale("log")
    ax.set_xlabel("dequantized - original")
    ax.set_ylabel("weights")
    ax.set_title(f"Quantization error, {label}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "quant_error.png", dpi=110)
    plt.close(fig)


def attention_maps(model, ids):
    """Attention probabilities (n_layers, H, T, T) for one sequence, computed from the layer inputs."""
    import torch
    from robolm.model import apply_rope
    inputs = []
    hooks = [layer.attention.register_forward_hook(lambda m, args, out: inputs.append(args[0]))
             for layer in model.layers]
    with torch.no_grad():
        model(torch.tensor([ids]))
    for h in hooks:
        h.remove()
    T = len(ids)
    cos, sin = model.rope_cos[:T], model.rope_sin[:T]
    maps = []
    for layer, x in zip(model.layers, inputs):
        a = layer.attention
        q = a.wq(x).view(1, T, a.n_heads, a.head_dim)                            # (1, T, H, hd)
        k = a.wk(x).view(1, T, a.n_kv_heads, a.head_dim)                         # (1, T, K, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k = k.repeat_interleave(a.n_heads // a.n_kv_heads, dim=2)                # (1, T, H, hd)
        scores = torch.einsum("bthd,bshd->bhts", q, k) / a.head_dim ** 0.5       # (1, H, T, T)
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        maps.append(scores.softmax(-1)[0].detach().numpy())
    return np.stack(maps)


def fig_attention(out, loaded, tok):
    if not loaded:
        print("  attention.png skipped: no trained model in out/cpu_default_sft/ or out/cpu_default/ (make train)")
        return
    from robolm.prompt import build_prompt
    from robolm.tokenizer import Tokenizer
    model, ckpt, run = loaded
    try:
        tok = Tokenizer.load(ckpt["tokenizer_path"])
    except (OSError, ValueError, KeyError) as e:
        print(f"  attention.png skipped: the checkpoint's tokenizer cannot be loaded ({e})")
        return
    ids = build_prompt(tok, PROMPT, lang="en")[-40:]                # the prompt (its last 40 tokens), up to [CODE]
    maps = attention_maps(model, ids)                              # (L, H, T, T)
    labels = [tok.decode([i]).replace("\n", "\\n") for i in ids]
    L = maps.shape[0]
    fig, axes = plt.subplots(1, L, figsize=(4.2 * L, 4.6))
    for l, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(maps[l].mean(0), cmap="magma", vmin=0)
        ax.set_title(f"layer {l} (mean of {maps.shape[1]} heads)", fontsize=9)
        ax.set_xticks(range(len(ids)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(ids)), labels, fontsize=6)
    fig.suptitle(f"Attention of {run.name} (step {ckpt.get('step')}) on: {PROMPT!r}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "attention.png", dpi=110)
    plt.close(fig)


def fig_loss(out):
    runs = [r for r in RUNS[::-1] if (r / "metrics.jsonl").is_file()]
    if not runs:
        print("  loss.png skipped: no out/cpu_default*/metrics.jsonl yet (make train)")
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    for run in runs:
        rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln.strip()]
        for key, style in (("loss", "-"), ("val_loss", "o--")):
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                ax.plot(*zip(*pts), style, label=f"{run.name} {key}", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Training loss (pretraining, then instruction fine-tuning)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Draw the walkthrough's figures (docs/figures/).")
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures"), help="output directory")
    ap.add_argument("--no-model", action="store_true", help="skip the figures that need a trained model")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok, label = find_tokenizer()
    fig_tokenization(out, tok, label)
    fig_rope(out)
    loaded = None if args.no_model else load_model()
    fig_quant(out, loaded)
    fig_attention(out, loaded, tok)
    if not args.no_model:
        fig_loss(out)
    for p in sorted(out.glob("*.png")):
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
