"""Export a RoboLM checkpoint to GGUF, the file llama.cpp, ollama, LM Studio, the NumPy
reference (robolm/numpy_model.py) and the C runtime (robolm_run) all read.

    python export_gguf.py out/tiny/ckpt.pt exports/robolm.gguf            # F32
    python export_gguf.py out/tiny/ckpt.pt exports/robolm-f16.gguf --type f16
    python export_gguf.py out/tiny/ckpt.pt exports/robolm-q8.gguf --type q8_0

What goes in (see docs/INTERFACES.md and ../shared/ANCHORS.md section 5):
  * general.* and the standard llama.* hyperparameters (uint32 / float32, as llama.cpp writes);
  * the weights under llama.cpp's names (token_embd, blk.N.attn_q, ...), no output.weight
    (the head is tied to the embedding); RoPE on adjacent pairs = llama.cpp's `llama` type,
    so no permutation is needed. Norm vectors stay F32 in every type;
  * the tokenizer in tokenizer.ggml.* (model "gpt2", tokens in GPT-2 bytes_to_unicode form,
    merges "a b", token types, special ids, the `pre` name llama.cpp knows);
  * RoboLM's own keys under robolm.* (special-token roles, languages, prompt format,
    stop tokens, tokenizer hash, training info).
"""
import argparse
import json
import os
import sys

import numpy as np

from robolm import gguf
from robolm.gguf import ARRAY, BOOL, FLOAT32, INT32, STRING, UINT32

FILE_TYPES = {"f32": (gguf.GGML_F32, 0), "f16": (gguf.GGML_F16, 1),
              "q4_0": (gguf.GGML_Q4_0, 2), "q8_0": (gguf.GGML_Q8_0, 7)}   # type -> (ggml type, general.file_type)

# RoboLM state-dict name -> GGUF name ({i} = layer)
TENSOR_NAMES = {
    "tok_embeddings.weight": "token_embd.weight",
    "norm.weight": "output_norm.weight",
    "layers.{i}.attention_norm.weight": "blk.{i}.attn_norm.weight",
    "layers.{i}.attention.wq.weight": "blk.{i}.attn_q.weight",
    "layers.{i}.attention.wk.weight": "blk.{i}.attn_k.weight",
    "layers.{i}.attention.wv.weight": "blk.{i}.attn_v.weight",
    "layers.{i}.attention.wo.weight": "blk.{i}.attn_output.weight",
    "layers.{i}.ffn_norm.weight": "blk.{i}.ffn_norm.weight",
    "layers.{i}.feed_forward.w1.weight": "blk.{i}.ffn_gate.weight",
    "layers.{i}.feed_forward.w2.weight": "blk.{i}.ffn_down.weight",
    "layers.{i}.feed_forward.w3.weight": "blk.{i}.ffn_up.weight",
}

class ExportError(ValueError):
    pass


# ================================================================================ tokenizer
def tokenizer_fields(tok):
    """The tokenizer as GGUF stores it, from robolm/tokenizer.py's gguf_vocab(): a dict with
    tokens (NORMAL ones in GPT-2 bytes_to_unicode form, space -> "Ġ"; control, user-defined
    and unused ones as raw text), token_type, merges ("left right", rank order), pre, and the
    bos/eos/unknown/padding ids. Checked here because llama.cpp needs distinct token texts."""
    if not hasattr(tok, "gguf_vocab"):
        raise ExportError(f"{type(tok).__name__} has no gguf_vocab(); use robolm.tokenizer.Tokenizer")
    g = tok.gguf_vocab()
    tokens, types, merges = list(g["tokens"]), [int(t) for t in g["token_type"]], list(g["merges"])
    if g.get("model", "gpt2") != "gpt2":
        raise ExportError(f"tokenizer model {g.get('model')!r}: RoboLM exports byte-level BPE ('gpt2')")
    if len(types) != len(tokens):
        raise ExportError(f"{len(tokens)} tokens but {len(types)} token types")
    seen = {}
    for i, t in enumerate(tokens):
        if t in seen:
            raise ExportError(f"tokens {seen[t]} and {i} have the same text {t!r}; llama.cpp needs distinct tokens")
        seen[t] = i
    return g, tokens, types, merges


# ================================================================================ weights
def gguf_tensors(state_dict, args, wtype):
    """Yield (gguf_name, numpy float32 array, ggml type) in llama.cpp's order."""
    keep = {k: v for k, v in state_dict.items() if k != "output.weight"}
    if "output.weight" in state_dict and not np.array_equal(_np(state_dict["output.weight"]),
                                                            _np(state_dict["tok_embeddings.weight"])):
        raise ExportError("output.weight differs from tok_embeddings.weight; RoboLM exports tied heads only")
    pairs = [(k.format(i=i), v.format(i=i)) for i in [0] for k, v in TENSOR_NAMES.items() if "{i}" not in k]
    pairs += [(k.format(i=i), v.format(i=i)) for i in range(args["n_layers"]) for k, v in TENSOR_NAMES.items()
              if "{i}" in k]
    missing = [k for k, _ in pairs if k not in keep]
    extra = sorted(set(keep) - {k for k, _ in pairs})
    if missing or extra:
        raise ExportError(f"state dict does not match a Llama with {args['n_layers']} layers: "
                          f"missing {missing[:5]}, unexpected {extra[:5]} (GPT-2 checkpoints cannot be exported to llama GGUF)")
    for k, gname in pairs:
        a = _np(keep[k])
        ttype = gguf.GGML_F32 if a.ndim == 1 else wtype        # norms stay F32
        if ttype in (gguf.GGML_Q4_0, gguf.GGML_Q8_0) and a.shape[-1] % 32:
            raise ExportError(f"{k} has rows of {a.shape[-1]}; {gguf.GGML_TYPES[ttype][0]} needs a multiple of 32 "
                              f"(export as f32/f16 or pick sizes divisible by 32)")
        yield gname, a, ttype


def _np(t):
    if hasattr(t, "detach"):
        t = t.detach().float().cpu().numpy()
    return np.ascontiguousarray(t, dtype=np.float32)


# ================================================================================ writing
def prompt_templates():
    """RoboLM's prompt format as templates with {lang} {prompt} {hardware}, from robolm/prompt.py."""
    from robolm import prompt as P
    code = P.render_pieces(P.codegen_pieces("{prompt}", "{hardware}", "en")).replace("[LANG:en]", "[LANG:{lang}]")
    explain = P.render_pieces(P.explain_pieces("{code}", "en")).replace("[LANG:en]", "[LANG:{lang}]")
    return code, explain


def build_writer(state_dict, model_args, tok, wtype_name="f32", name="robolm", extra=None):
    """A GGUFWriter holding a complete RoboLM model file."""
    if wtype_name not in FILE_TYPES:
        raise ExportError(f"unknown --type {wtype_name!r}; choose one of {', '.join(FILE_TYPES)}")
    wtype, file_type = FILE_TYPES[wtype_name]
    a = dict(model_args)
    if a.get("arch", "llama") != "llama":
        raise ExportError(f"arch {a.get('arch')!r}: only 'llama' checkpoints export to GGUF")
    g, tokens, types, merges = tokenizer_fields(tok)
    if len(tokens) != a["vocab_size"]:
        raise ExportError(f"the tokenizer has {len(tokens)} tokens but the model's vocab_size is {a['vocab_size']} "
                          f"(vocab mismatch: was the checkpoint trained with this tokenizer?)")
    head_dim = a["dim"] // a["n_heads"]

    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama", STRING)
    w.add("general.name", name, STRING)
    w.add("general.file_type", file_type, UINT32)
    if wtype in (gguf.GGML_Q4_0, gguf.GGML_Q8_0):
        w.add("general.quantization_version", 2, UINT32)
    w.add("llama.context_length", a["max_seq_len"], UINT32)
    w.add("llama.embedding_length", a["dim"], UINT32)
    w.add("llama.block_count", a["n_layers"], UINT32)
    w.add("llama.feed_forward_length", a["hidden_dim"], UINT32)
    w.add("llama.rope.dimension_count", head_dim, UINT32)
    w.add("llama.attention.head_count", a["n_heads"], UINT32)
    w.add("llama.attention.head_count_kv", a["n_kv_heads"], UINT32)
    w.add("llama.attention.layer_norm_rms_epsilon", float(a.get("norm_eps", 1e-5)), FLOAT32)
    w.add("llama.rope.freq_base", float(a.get("rope_theta", 10000.0)), FLOAT32)
    w.add("llama.vocab_size", a["vocab_size"], UINT32)

    specials = dict(tok.special_tokens)
    w.add("tokenizer.ggml.model", "gpt2", STRING)
    w.add("tokenizer.ggml.pre", g["pre"], STRING)
    w.add("tokenizer.ggml.tokens", tokens, ARRAY, STRING)
    w.add("tokenizer.ggml.token_type", types, ARRAY, INT32)
    w.add("tokenizer.ggml.merges", merges, ARRAY, STRING)
    for role in ("bos", "eos", "unknown", "padding"):
        if g.get(f"{role}_token_id") is not None:
            w.add(f"tokenizer.ggml.{role}_token_id", int(g[f"{role}_token_id"]), UINT32)
    # the prompt format inserts <bos> itself
    w.add("tokenizer.ggml.add_bos_token", bool(g.get("add_bos_token", False)), BOOL)
    w.add("tokenizer.ggml.add_eos_token", bool(g.get("add_eos_token", False)), BOOL)

    code_tpl, explain_tpl = prompt_templates()
    stops = [specials[t] for t in ("[/CODE]", "<eos>") if t in specials]
    w.add("robolm.format_version", 1, UINT32)
    w.add("robolm.special_token_names", list(specials), ARRAY, STRING)
    w.add("robolm.special_token_ids", [specials[k] for k in specials], ARRAY, UINT32)
    w.add("robolm.languages", [k[6:-1] for k in specials if k.startswith("[LANG:")], ARRAY, STRING)
    w.add("robolm.prompt.template", code_tpl, STRING)
    w.add("robolm.prompt.explain_template", explain_tpl, STRING)
    w.add("robolm.prompt.default_hardware", "", STRING)
    w.add("robolm.stop_token_ids", stops, ARRAY, UINT32)
    w.add("robolm.tokenizer.hash", str(getattr(tok, "hash", "")), STRING)
    w.add("robolm.model_args", json.dumps(a, sort_keys=True), STRING)
    for k, (vtype, v) in (extra or {}).items():
        w.add(k, v, vtype)

    for gname, arr, ttype in gguf_tensors(state_dict, a, wtype):
        if ttype in (gguf.GGML_F32, gguf.GGML_F16):
            w.add_tensor(gname, arr, ttype)
        else:
            from robolm import quant
            w.add_tensor(gname, None, ttype, raw=np.asarray(quant.quantize(arr, ttype)).tobytes(), shape=arr.shape)
    return w


def export(ckpt_path, out_path, wtype_name="f32", tokenizer_path=None):
    """Checkpoint (out/<run>/ckpt.pt) -> GGUF file. Returns the number of bytes written."""
    import torch
    from robolm.tokenizer import Tokenizer
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ExportError(f"checkpoint {ckpt_path} not found (train one with `python train.py`)") from None
    for key in ("model", "model_args"):
        if key not in ckpt:
            raise ExportError(f"{ckpt_path}: not a RoboLM checkpoint (missing {key!r})")
    tok_path = tokenizer_path or ckpt.get("tokenizer_path")
    if not tok_path:
        raise ExportError(f"{ckpt_path} names no tokenizer; pass --tokenizer tokenizers/<name>/tokenizer.json")
    if not os.path.exists(tok_path):     # a path recorded relative to the repository root
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), tok_path)
        tok_path = here if os.path.exists(here) else tok_path
    tok = Tokenizer.load(tok_path)
    if ckpt.get("tokenizer_hash") and getattr(tok, "hash", None) and ckpt["tokenizer_hash"] != tok.hash:
        raise ExportError(f"tokenizer {tok_path} (hash {tok.hash}) is not the one the checkpoint was trained with "
                          f"({ckpt['tokenizer_hash']})")
    extra = {"robolm.training.step": (UINT32, int(ckpt.get("step", 0)))}
    if ckpt.get("config") is not None:
        extra["robolm.training.config"] = (STRING, json.dumps(ckpt["config"], sort_keys=True, default=str))
    w = build_writer(ckpt["model"], ckpt["model_args"], tok, wtype_name,
                     name=os.path.basename(os.path.dirname(os.path.abspath(ckpt_path))) or "robolm", extra=extra)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    n = w.write(tmp)
    os.replace(tmp, out_path)
    return n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="out/<run>/ckpt.pt")
    p.add_argument("output", help="the .gguf file to write")
    p.add_argument("--type", default="f32", choices=list(FILE_TYPES), help="weight type of the matrices (norms stay F32)")
    p.add_argument("--tokenizer", default=None, help="tokenizer.json (default: the one named in the checkpoint)")
    args = p.parse_args(argv)
    try:
        n = export(args.checkpoint, args.output, args.type, args.tokenizer)
    except (ExportError, gguf.GGUFError, ValueError, OSError) as e:
        print(f"export_gguf: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({n / 1e6:.2f} MB, {args.type})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
