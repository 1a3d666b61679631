"""GPTQ (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers"), from scratch in PyTorch, writing GGUF's standard Q4_0 blocks.

Round-to-nearest (RTN) quantizes every weight on its own. GPTQ quantizes the columns of a
weight matrix W (d_out, d_in) one at a time and pushes each column's rounding error onto the
columns not yet quantized, weighted by the inverse Hessian of the layer's squared output
error, H = 2 X^T X over calibration inputs X (N, d_in). The output X W^T moves less than
with RTN, at the same bits: the file is still plain Q4_0 that llama.cpp runs.

    for each column j (in blocks of 128, lazily updating the rest):
        if j starts a 32-column Q4_0 block: pick d from the current values (Q4_0's rule)
        q_j   = nearest grid point (q - 8) * d of w_j
        err_j = (w_j - q_j) / Hinv[j, j]
        w_k  -= err_j * Hinv[j, k]          for every later column k

Calibration: RoboLM's own validation text (data/processed/val.bin), layer by layer: the
inputs of layer i are computed with layers 0..i-1 already quantized.

    python -m robolm.gptq out/tiny/ckpt.pt exports/robolm-q4_0-gptq.gguf --report
"""
from __future__ import annotations

import argparse
import copy
import math
import sys

import numpy as np
import torch
import torch.nn as nn

from robolm import quant

QK = quant.QK


# ---------------------------------------------------------------- Q4_0 grid
def q4_0_scales(w: torch.Tensor) -> torch.Tensor:
    """Q4_0's scale rule on blocks w (d, 32): d = (signed value of largest |w|) / -8,
    rounded to fp16 as the file stores it. -> (d,)"""
    idx = w.abs().argmax(dim=1, keepdim=True)                           # (d, 1)
    m = torch.gather(w, 1, idx)[:, 0]                                   # (d,)
    return (m / -8.0).to(torch.float16).to(torch.float32)               # (d,)


def q4_0_round(w: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Nearest nibble q in [0, 15] for values w (d,) at scales d (d,), x ~= (q - 8) * d."""
    inv = torch.where(d == 0, torch.zeros_like(d), 1.0 / d)             # (d,)
    return torch.clamp(torch.floor(w * inv + 8.5), 0, 15)               # (d,)


# ---------------------------------------------------------------- one matrix
def gptq_q4_0(W: torch.Tensor, H: torch.Tensor, blocksize: int = 128, percdamp: float = 0.01):
    """GPTQ one weight W (d_out, d_in) with Hessian H (d_in, d_in) -> (Q4_0 bytes (d_out, d_in/32*18)
    as numpy uint8, the dequantized weight (d_out, d_in) as float32 torch)."""
    W = W.detach().to(torch.float64).clone()                             # (d, n)
    d_out, n = W.shape
    if n % QK:
        raise ValueError(f"gptq_q4_0: rows of {n} are not a multiple of {QK} (Q4_0 blocks)")
    blocksize = max(QK, blocksize // QK * QK)                            # whole Q4_0 blocks per GPTQ block
    H = H.detach().to(torch.float64).clone()                             # (n, n)
    dead = torch.diag(H) == 0                                            # inputs never seen: weight unused
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    damp = percdamp * torch.mean(torch.diag(H))
    H += damp * torch.eye(n, dtype=H.dtype)
    # upper Cholesky factor of H^-1: row j holds the update weights for the columns after j
    L = torch.linalg.cholesky(H)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)  # (n, n)

    Q = torch.zeros(d_out, n, dtype=torch.float64)                       # nibbles 0..15
    scales = torch.zeros(d_out, n // QK, dtype=torch.float64)            # (d, n/32)
    for i1 in range(0, n, blocksize):
        i2 = min(i1 + blocksize, n)
        W1 = W[:, i1:i2].clone()                                         # (d, B)
        Err1 = torch.zeros_like(W1)                                      # (d, B)
        Hinv1 = Hinv[i1:i2, i1:i2]                                       # (B, B)
        for i in range(i2 - i1):
            j = i1 + i
            if j % QK == 0:                                              # a new Q4_0 block: its scale from current values
                scales[:, j // QK] = q4_0_scales(W1[:, i:i + QK].float()).double()
            s = scales[:, j // QK]                                       # (d,)
            w = W1[:, i]                                                 # (d,)
            q = q4_0_round(w, s)                                         # (d,)
            Q[:, j] = q
            err = (w - (q - 8) * s) / Hinv1[i, i]                        # (d,)
            W1[:, i:] -= err[:, None] * Hinv1[i, i:][None, :]            # (d, B-i)
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]                             # lazy update of the later blocks

    d16 = scales.to(torch.float32).numpy().astype(np.float16)            # (d, n/32) exact: already fp16 values
    blocks = quant.pack_q4_0(d16, Q.to(torch.uint8).numpy())             # (d, n/32*18)
    deq = torch.from_numpy(quant.dequantize_q4_0(blocks))                # (d, n) exactly what the file holds
    return blocks, deq


# ---------------------------------------------------------------- a whole model
def _linears(module):
    return {name: m for name, m in module.named_modules() if isinstance(m, nn.Linear)}


@torch.no_grad()
def collect_hessians(model, modules: dict, calib: torch.Tensor, batch_size: int = 8):
    """H = 2/N X^T X of the inputs X that each module in `modules` sees while the model runs
    over calib (N, T) token ids. -> {name: (d_in, d_in) float64}"""
    H, count, hooks = {}, {}, []

    def hook_for(name):
        def hook(mod, inputs, output):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()  # (B*T, d_in)
            H[name] = H.get(name, 0) + x.T @ x
            count[name] = count.get(name, 0) + x.shape[0]
        return hook

    for name, m in modules.items():
        hooks.append(m.register_forward_hook(hook_for(name)))
    try:
        for b in range(0, calib.shape[0], batch_size):
            model(calib[b:b + batch_size])
    finally:
        for h in hooks:
            h.remove()
    return {k: 2.0 * v / count[k] for k, v in H.items()}


@torch.no_grad()
def gptq_model(model, calib: torch.Tensor, blocksize: int = 128, percdamp: float = 0.01, log=None):
    """Quantize every matrix of a RoboLM Transformer to Q4_0 with GPTQ, layer by layer.
    -> (dict state-dict name -> Q4_0 bytes (rows, row_bytes), a copy of the model holding the
    dequantized weights). The tied embedding/output matrix is calibrated as the output head."""
    qmodel = copy.deepcopy(model).float().eval()
    out = {}
    for i, layer in enumerate(qmodel.layers):
        lins = _linears(layer)                                           # attention.wq ... feed_forward.w3
        H = collect_hessians(qmodel, lins, calib)
        for name, lin in lins.items():
            blocks, deq = gptq_q4_0(lin.weight, H[name], blocksize, percdamp)
            lin.weight.copy_(deq)
            out[f"layers.{i}.{name}.weight"] = blocks
        if log:
            log(f"gptq: layer {i} done ({len(lins)} matrices)")
    H = collect_hessians(qmodel, {"output": qmodel.output}, calib)
    blocks, deq = gptq_q4_0(qmodel.output.weight, H["output"], blocksize, percdamp)
    qmodel.output.weight.copy_(deq)                                      # tied: the embedding too
    out["tok_embeddings.weight"] = blocks
    return out, qmodel


@torch.no_grad()
def rtn_model(model, wtype: int):
    """A copy of the model with every matrix rounded to nearest as `wtype` (Q8_0 / Q4_0)
    and dequantized back: what a plain `export_gguf.py --type q4_0` file holds."""
    qmodel = copy.deepcopy(model).float().eval()
    for name, p in qmodel.named_parameters():
        if p.ndim == 2:
            p.copy_(torch.from_numpy(quant.dequantize(quant.quantize(p.detach().numpy(), wtype), wtype)))
    return qmodel


@torch.no_grad()
def perplexity(model, tokens: torch.Tensor, batch_size: int = 8) -> float:
    """exp(mean next-token cross-entropy) over windows tokens (N, T+1)."""
    total, n = 0.0, 0
    for b in range(0, tokens.shape[0], batch_size):
        chunk = tokens[b:b + batch_size]
        _, loss = model(chunk[:, :-1], chunk[:, 1:])
        total += loss.item() * chunk[:, 1:].numel()
        n += chunk[:, 1:].numel()
    return math.exp(total / n)


@torch.no_grad()
def output_error(ref_model, qmodel, tokens: torch.Tensor) -> float:
    """Relative error of the logits of qmodel against ref_model on tokens (N, T)."""
    a, _ = ref_model(tokens)
    b, _ = qmodel(tokens)
    return (torch.linalg.norm(b - a) / torch.linalg.norm(a)).item()


def windows(stream: np.ndarray, n: int, length: int, start: int = 0, end: int | None = None) -> torch.Tensor:
    """n evenly spaced windows of `length` tokens from stream[start:end] -> (n, length) int64."""
    s = np.asarray(stream[start:end], dtype=np.int64)
    if s.size < length + 1:
        raise ValueError(f"need at least {length + 1} tokens, have {s.size}")
    starts = np.linspace(0, s.size - length, num=n).astype(np.int64)
    return torch.from_numpy(np.stack([s[p:p + length] for p in starts]))


# ---------------------------------------------------------------- the file
def write_gguf(model, ckpt: dict, gptq_blocks: dict, out_path: str, tok) -> int:
    """Write a Q4_0 GGUF whose matrices hold the GPTQ blocks (everything else as export_gguf.py)."""
    import os

    import export_gguf
    state = {k: v for k, v in ckpt["model"].items()}
    w = export_gguf.build_writer(state, ckpt["model_args"], tok, "q4_0", name="robolm-gptq")
    gguf_of = {}
    for k, g in export_gguf.TENSOR_NAMES.items():
        for i in range(ckpt["model_args"]["n_layers"]):
            gguf_of[k.format(i=i)] = g.format(i=i)
    replaced = 0
    for idx, (name, shape, ggml_type, data) in enumerate(w.tensors):
        src = next((k for k, g in gguf_of.items() if g == name and k in gptq_blocks), None)
        if src is None:
            continue
        blocks = np.ascontiguousarray(gptq_blocks[src], dtype=np.uint8)
        if ggml_type != quant.TYPE_Q4_0 or blocks.nbytes != len(data):
            raise ValueError(f"{name}: writer holds {quant.TYPE_NAMES.get(ggml_type)} {len(data)} bytes, "
                             f"GPTQ made {blocks.nbytes}")
        w.tensors[idx] = (name, shape, ggml_type, blocks.tobytes())
        replaced += 1
    if replaced != len(gptq_blocks):
        raise ValueError(f"placed {replaced} of {len(gptq_blocks)} GPTQ matrices in the file")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    n = w.write(tmp)
    os.replace(tmp, out_path)
    return n


def main(argv=None):
    p = argparse.ArgumentParser(description="GPTQ a RoboLM checkpoint into a standard Q4_0 GGUF file")
    p.add_argument("checkpoint", help="out/<run>/ckpt.pt")
    p.add_argument("output", nargs="?", help="the .gguf file to write (omit with --report to only measure)")
    p.add_argument("--data", default="data/processed/val.bin", help="validation tokens (uint16)")
    p.add_argument("--calib", type=int, default=64, help="calibration windows (first half of the data)")
    p.add_argument("--eval", type=int, default=64, help="held-out windows (second half) for perplexity")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--tokenizer", default=None)
    p.add_argument("--report", action="store_true", help="perplexity of F32, Q8_0, Q4_0 RTN and Q4_0 GPTQ")
    a = p.parse_args(argv)

    from robolm.model import load_checkpoint
    torch.manual_seed(0)
    model, ckpt = load_checkpoint(a.checkpoint)
    model.float().eval()
    stream = np.memmap(a.data, dtype=np.uint16, mode="r")
    T = min(a.seq_len, model.args.max_seq_len)
    half = stream.size // 2
    calib = windows(stream, a.calib, T, 0, half)                         # (calib, T)
    held = windows(stream, a.eval, T + 1, half, None)                    # (eval, T+1) never seen by GPTQ
    print(f"gptq: calibrating on {a.calib} x {T} tokens of {a.data} (first half); "
          f"evaluating on {a.eval} x {T} held-out tokens (second half)")
    blocks, gmodel = gptq_model(model, calib, log=print)
    if a.output:
        from robolm.tokenizer import Tokenizer
        tok = Tokenizer.load(a.tokenizer or ckpt["tokenizer_path"])
        n = write_gguf(model, ckpt, blocks, a.output, tok)
        print(f"gptq: wrote {a.output} ({n / 1e6:.2f} MB, Q4_0 blocks, runs in llama.cpp)")
    if a.report:
        ppl = {"F32": perplexity(model, held),
               "Q8_0": perplexity(rtn_model(model, quant.TYPE_Q8_0), held),
               "Q4_0 round-to-nearest": perplexity(rtn_model(model, quant.TYPE_Q4_0), held),
               "Q4_0 GPTQ": perplexity(gmodel, held)}
        base = ppl["F32"]
        print("| weights | held-out perplexity | vs F32 | seed claim |")
        print("|---|---|---|---|")
        claims = {"Q8_0": ("INT8 within 1%", 0.01), "Q4_0 round-to-nearest": ("INT4 within 3%", 0.03),
                  "Q4_0 GPTQ": ("INT4 within 3%", 0.03)}
        for k, v in ppl.items():
            rel = v / base - 1
            claim = ""
            if k in claims:
                text, lim = claims[k]
                claim = f"{text}: {'holds' if rel <= lim else 'does not hold'}"
            print(f"| {k} | {v:.4f} | {rel * 100:+.2f}% | {claim} |")
        print("(weights quantized and dequantized in PyTorch; the runtimes also quantize activations to Q8_0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
