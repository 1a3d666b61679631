"""The prompt format: the only code in RoboLM that inserts special tokens.

Code generation (the loss is on the part after [CODE]):
  <bos>[SYSTEM] You are a MicroPython robotics code generator for ESP32. [/SYSTEM][LANG:xx]
  [USER] {prompt} [/USER][HARDWARE] {hardware} [/HARDWARE][CODE]\\n{code}\\n[/CODE]<eos>
Explain code (the loss is on the part after [EXPLAIN]):
  <bos>[CODE]\\n{code}\\n[/CODE][LANG:xx][EXPLAIN] {explanation} [/EXPLAIN]<eos>
(one line each in reality; see docs/INTERFACES.md). The language tag of an explanation sits right
before [EXPLAIN], where the model starts writing in that language: at the start, a whole program
away, a small model ignored it and answered in English.

A prompt is a list of pieces: ("special", "[CODE]") or ("text", "..."). Text pieces go
through `tok.encode` (which never yields a special token, so a user typing "[CODE]" cannot
forge one); special pieces are looked up by name in `tok.special_tokens`. Every builder
returns (ids, mask): mask[i] = 1 when token i is part of the answer the model learns to write.
"""
from .languages import LANGUAGES

SYSTEM_PROMPT = "You are a MicroPython robotics code generator for ESP32."


def _lang_token(lang):
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; valid: {' '.join(LANGUAGES)}")
    return f"[LANG:{lang}]"


def _hardware_text(hardware):
    if hardware is None:
        return ""
    if isinstance(hardware, str):
        return hardware
    return ", ".join(str(h) for h in hardware)


def codegen_pieces(prompt, hardware, lang, code=None):
    """The pieces of a code-generation example; without `code`, the inference prompt that
    ends right after [CODE] (the model then writes "\\n{code}\\n[/CODE]")."""
    pieces = [("special", "<bos>"), ("special", "[SYSTEM]"), ("text", f" {SYSTEM_PROMPT} "),
              ("special", "[/SYSTEM]"), ("special", _lang_token(lang)),
              ("special", "[USER]"), ("text", f" {prompt.strip()} "), ("special", "[/USER]"),
              ("special", "[HARDWARE]"), ("text", f" {_hardware_text(hardware)} "),
              ("special", "[/HARDWARE]"), ("special", "[CODE]")]
    if code is not None:
        pieces += [("answer", f"\n{code.strip(chr(10))}\n"), ("answer-special", "[/CODE]"),
                   ("answer-special", "<eos>")]
    return pieces


def explain_pieces(code, lang, explanation=None):
    """The pieces of an explain-code example; without `explanation`, the inference prompt that
    ends right after [EXPLAIN]."""
    pieces = [("special", "<bos>"), ("special", "[CODE]"), ("text", f"\n{code.strip(chr(10))}\n"),
              ("special", "[/CODE]"), ("special", _lang_token(lang)), ("special", "[EXPLAIN]")]
    if explanation is not None:
        pieces += [("answer", f" {explanation.strip()} "), ("answer-special", "[/EXPLAIN]"),
                   ("answer-special", "<eos>")]
    return pieces


def encode_pieces(tok, pieces):
    """Turn pieces into (ids, mask). Only this function maps special-token names to ids."""
    ids, mask = [], []
    for kind, value in pieces:
        if kind.endswith("special"):
            if value not in tok.special_tokens:
                raise KeyError(f"tokenizer has no special token {value!r}; it must follow "
                               f"docs/INTERFACES.md (retrain it with prepare.py)")
            new = [tok.special_tokens[value]]
        else:
            new = list(tok.encode(value))
        ids += new
        mask += [1 if kind.startswith("answer") else 0] * len(new)
    return ids, mask


def render_pieces(pieces):
    """The human-readable text of pieces (special tokens written by name), for corpus.jsonl."""
    return "".join(value for _, value in pieces)


def build_codegen_example(tok, prompt, code, hardware, lang="en"):
    """(ids, mask) of one code-generation training example; loss only on the code part."""
    return encode_pieces(tok, codegen_pieces(prompt, hardware, lang, code))


def build_explain_example(tok, code, explanation, lang="en"):
    """(ids, mask) of one explain-code training example; loss only on the explanation."""
    return encode_pieces(tok, explain_pieces(code, lang, explanation))


def build_prompt(tok, prompt, hardware="", lang="en"):
    """Token ids for inference: everything up to and including [CODE]."""
    return encode_pieces(tok, codegen_pieces(prompt, hardware, lang))[0]


def build_explain_prompt(tok, code, lang="en"):
    """Token ids for inference of an explanation: everything up to and including [EXPLAIN]."""
    return encode_pieces(tok, explain_pieces(code, lang))[0]
