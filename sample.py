"""Ask RoboLM for MicroPython, in your language.

    python sample.py --prompt "blink the LED on pin 2 every half second"
    python sample.py --prompt "पिन 2 पर LED को हर आधे सेकंड में ब्लिंक करो" --explain hi
    python sample.py --prompt "..." --backend native --model exports/robolm-q8_0.gguf

It builds RoboLM's prompt format, streams the code as the model writes it, and checks it
with the real MicroPython compiler and the robot API checker (robolm/validate.py). If the
code is invalid, or ignores a number of the prompt ("pin 4", "500 ms"), a text it quotes
("Good morning") or a part of --hardware (a buzzer request answered without the buzzer), it
samples again, up to --candidates times, showing why, and keeps the first program that passes
both (or the one with the fewest errors, then the fewest ignored numbers and parts).
`--explain xx` then asks the model to explain that program in language xx, the same way: up to
--candidates texts, the first that is in language xx and mentions no number the program lacks
is kept.

Three engines run the same weights: torch (the training checkpoint, robolm/model.py),
numpy (robolm/numpy_model.py on a GGUF file) and native (the C runtime through
robolm._native on a GGUF file).
"""
import argparse
import os
import sys
import unicodedata

DEFAULT_CKPT = "out/cpu_default_sft/ckpt.pt"     # written by `make train` (pretraining + fine-tuning)
DEFAULT_GGUF = "exports/robolm-f32.gguf"         # written by `make export`
MAX_PROMPT_CHARS = 2000


def fail(msg):
    """One line on stderr and exit 2: bad input never ends in a traceback."""
    print(f"sample.py: {msg}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------------- input checks

def clean_prompt(text):
    """Strip control characters (keeping newlines and tabs) and refuse empty or huge prompts."""
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if not text:
        fail("the prompt is empty; say what the robot should do, e.g. --prompt \"blink the LED on pin 2\"")
    if len(text) > MAX_PROMPT_CHARS:
        fail(f"the prompt has {len(text)} characters; keep it under {MAX_PROMPT_CHARS} (one task at a time)")
    return text


def detect_language(text):
    """The prompt's language from its script and a few telltale letters and words
    (robolm/languages.py: guess_language); English when nothing points elsewhere."""
    from robolm.languages import guess_language
    return guess_language(text)


# ----------------------------------------------------------------------------- engines

class TorchEngine:
    """The training checkpoint in PyTorch (robolm/model.py), streaming one token at a time."""

    def __init__(self, path):
        import torch
        from robolm.model import load_checkpoint
        from robolm.tokenizer import Tokenizer
        self.torch = torch
        self.model, ckpt = load_checkpoint(path)
        tok_path = ckpt.get("tokenizer_path")
        if not tok_path or not os.path.exists(tok_path):
            fail(f"{path} names tokenizer {tok_path!r}, which is missing; run `python prepare.py`")
        self.tok = Tokenizer.load(tok_path)
        if ckpt.get("tokenizer_hash") and ckpt["tokenizer_hash"] != self.tok.hash:
            fail(f"{path} was trained with another tokenizer than {tok_path} (hash mismatch); "
                 "re-run `python prepare.py` and `python train.py`, or pass the matching --model")
        self.context = self.model.args.max_seq_len

    def stream(self, ids, max_new_tokens, temperature, top_k, top_p, seed, stop_ids):
        from robolm.model import sample_next
        torch = self.torch
        gen = torch.Generator().manual_seed(seed)
        caches = self.model.new_caches(1)
        with torch.no_grad():
            logits, _ = self.model(torch.tensor([ids]), start_pos=0, caches=caches)   # (1, T, V)
            pos = len(ids)
            for _ in range(max_new_tokens):
                nxt = int(sample_next(logits[:, -1, :].float(), temperature, top_k or None,
                                      top_p if top_p < 1 else None, gen))
                yield nxt
                if nxt in stop_ids or pos >= self.context:
                    return
                logits, _ = self.model(torch.tensor([[nxt]]), start_pos=pos, caches=caches)  # (1, 1, V)
                pos += 1


class NumpyEngine:
    """The pure-NumPy reference runtime on a GGUF file."""

    def __init__(self, path):
        from robolm.numpy_model import NumpyModel
        self.model = NumpyModel(path)
        self.tok = self.model.tokenizer
        self.context = self.model.config.seq_len

    def stream(self, ids, max_new_tokens, temperature, top_k, top_p, seed, stop_ids):
        yield from self.model.generate(ids, max_new_tokens, temperature, top_k, top_p, seed, list(stop_ids))


class NativeEngine:
    """The C runtime (csrc/runtime.c) through robolm._native, streaming through a callback."""

    def __init__(self, path):
        from robolm import _native
        from robolm.numpy_model import load_tokenizer
        self.model = _native.Model(path)
        self.tok = load_tokenizer(path, native=True)      # the same tokenizer, rebuilt from the file
        self.context = self.model.config["seq_len"]

    def stream(self, ids, max_new_tokens, temperature, top_k, top_p, seed, stop_ids):
        # The C loop calls on_token as each id is sampled; a small queue turns that into a generator.
        import queue
        import threading
        q = queue.Queue()
        def work():
            try:
                self.model.generate(ids, max_new_tokens, temperature, top_k, top_p, seed, list(stop_ids),
                                    on_token=q.put)
            finally:
                q.put(None)
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            while (t := q.get()) is not None:
                yield t
        finally:    # closed early: let the C loop finish (it stops at max_new_tokens), never exit under it
            worker.join()


ENGINES = {"torch": TorchEngine, "numpy": NumpyEngine, "native": NativeEngine}


def load_engine(backend, path):
    if path is None:
        path = DEFAULT_CKPT if backend == "torch" else DEFAULT_GGUF
    if not os.path.exists(path):
        hint = "`make train`" if backend == "torch" else "`make export` (export_gguf.py)"
        fail(f"model file {path} not found; build it with {hint} or pass --model PATH")
    want_gguf = backend != "torch"
    if want_gguf != path.endswith(".gguf"):
        fail(f"the {backend} backend needs a {'.gguf' if want_gguf else '.pt checkpoint'} file, got {path}")
    try:
        return ENGINES[backend](path)
    except (ValueError, KeyError, RuntimeError, OSError) as e:
        fail(f"cannot load {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


# ----------------------------------------------------------------------------- generation

def run(engine, ids, args, stop_names, echo):
    """Generate after `ids`, echoing text as it arrives; return the text before the stop token."""
    tok = engine.tok
    if len(ids) + 16 > engine.context:
        fail(f"the prompt is {len(ids)} tokens with RoboLM's format, the model's context is {engine.context}; "
             "shorten the prompt (or the code to explain)")
    stop_ids = {tok.special_tokens[name] for name in stop_names} | {tok.special_tokens["<eos>"]}
    out, shown = [], 0
    for t in engine.stream(ids, args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                           args.seed, stop_ids):
        if t in stop_ids:
            break
        out.append(t)
        if echo:
            text = tok.decode(out, skip_special=True)
            safe = text[:-1] if text.endswith("\ufffd") else text   # wait for a split UTF-8 character
            print(safe[shown:], end="", flush=True)
            shown = len(safe)
    text = tok.decode(out, skip_special=True)
    if echo:
        print(text[shown:], flush=True)
    return text


def generate_code(engine, prompt, hardware, lang, args, echo=True):
    """Validation-guided generation: up to args.candidates programs; the first that is valid and
    uses every number and listed part of the request wins, else the one with the fewest errors,
    then the fewest ignored numbers and parts."""
    from robolm.prompt import build_prompt
    from robolm.validate import check_candidate
    ids = build_prompt(engine.tok, prompt, hardware or "", lang)
    best = None
    for k in range(args.candidates):
        if echo:
            print(f"--- candidate {k + 1}/{args.candidates}")
        code = run(engine, ids, args, ["[/CODE]"], echo).strip("\n")
        report, missing, rank = check_candidate(code, prompt, hardware or "")
        errors = [d for d in report.diagnostics if getattr(d, "severity", "error") == "error"]
        if echo:
            print("--- valid MicroPython (compiler and robot API)" if report.ok else
                  "--- invalid:\n" + "\n".join(f"  line {d.line}: [{d.kind}] {d.message}"
                                               + (f" ({d.suggestion})" if d.suggestion else "")
                                               for d in errors))
            if missing:
                print(f"--- the code does not use {', '.join(missing)} from the request")
        if best is None or rank < best[2]:
            best = (code, report, rank, k)
        if report.ok and not missing:
            break
        args.seed += 1          # a fresh sample next time
        if args.temperature == 0:
            args.temperature = 0.7   # greedy would repeat itself; resample with some temperature
    if echo and best[3] != k:
        print(f"--- keeping candidate {best[3] + 1} (fewest errors, then fewest ignored numbers and parts):\n{best[0]}")
    return best[0], best[1]


def explain_code(engine, code, lang, args, echo=True):
    """Validation-guided explanation: up to args.candidates texts (greedy first, then sampled at
    0.7 unless --temperature says otherwise); the first in the requested language that mentions
    no number the program lacks wins, else the one with the fewest problems. (robolm/evaluate.py
    runs the same loop without streaming and without the context guard of run().)"""
    from robolm.prompt import build_explain_prompt
    from robolm.validate import explanation_problems
    ids = build_explain_prompt(engine.tok, code, lang)
    sampling = argparse.Namespace(**vars(args))       # a copy: the caller's seed and temperature stay
    best = None
    for k in range(args.candidates):
        text = run(engine, ids, sampling, ["[/EXPLAIN]"], echo).strip()
        problems = explanation_problems(text, code, lang)
        if best is None or len(problems) < len(best[1]):
            best = (text, problems, k)
        if not problems:
            break
        if echo:
            print(f"--- explanation {k + 1}/{args.candidates}: {'; '.join(problems)}"
                  + ("; again" if k + 1 < args.candidates else ""))
        sampling.seed += 1
        if sampling.temperature == 0:
            sampling.temperature = 0.7
    if echo and best[2] != k:
        print(f"--- keeping explanation {best[2] + 1} (fewest problems):\n {best[0]}")
    return best[0]


def write_blocks(code, path):
    """The program as a Blockly workspace (robolm/blocks.py); lines without a block are listed."""
    import json
    from robolm.blocks import code_to_blocks
    result = code_to_blocks(code)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result.workspace, f, indent=1)
    print(f"--- blocks written to {path}" + ("" if result.ok else
          " (these lines have no block:)\n" + result.message()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompt", required=True, help="what the robot should do, in any of the 25 languages")
    p.add_argument("--lang", help="language code of the prompt (default: detected from its script)")
    p.add_argument("--hardware", default="", help="the parts connected, e.g. \"LED, button\"")
    p.add_argument("--backend", choices=sorted(ENGINES), default="torch")
    p.add_argument("--model", help=f"checkpoint (.pt, torch) or GGUF file (numpy/native); "
                                   f"default {DEFAULT_CKPT} or {DEFAULT_GGUF}")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--max-new-tokens", type=int, default=400)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--candidates", type=int, default=4,
                   help="programs to try until one is valid and uses the prompt's numbers")
    p.add_argument("--explain", metavar="LANG", help="then explain the code in this language")
    p.add_argument("--blocks", metavar="FILE", help="also write the program as a Blockly workspace (JSON) "
                                                     "to open in the block editor (tools/blockly/editor.html)")
    args = p.parse_args(argv)

    from robolm.languages import LANGUAGES
    prompt = clean_prompt(args.prompt)
    for name, code in (("--lang", args.lang), ("--explain", args.explain)):
        if code is not None and code not in LANGUAGES:
            fail(f"{name} {code!r} is not a configured language; choose one of: {' '.join(LANGUAGES)}")
    if args.candidates < 1 or args.max_new_tokens < 1:
        fail("--candidates and --max-new-tokens must be at least 1")
    if not 0.0 < args.top_p <= 1.0 or args.temperature < 0:
        fail("--top-p must be in (0, 1] and --temperature >= 0")
    lang = args.lang or detect_language(prompt)
    engine = load_engine(args.backend, args.model)
    print(f"[{args.backend}] language: {lang} ({LANGUAGES[lang].name})")
    asked = argparse.Namespace(**vars(args))          # generate_code moves seed and temperature on resampling
    code, report = generate_code(engine, prompt, clean_prompt(args.hardware) if args.hardware.strip() else "",
                                 lang, args)
    if not report.ok:
        print("No valid program after all candidates; the one with the fewest errors is shown above.")
    if args.blocks:
        write_blocks(code, args.blocks)
    if args.explain:
        print(f"--- explanation ({LANGUAGES[args.explain].name})")
        explain_code(engine, code, args.explain, asked)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
