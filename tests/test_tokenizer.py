"""Tests for robolm/tokenizer.py and csrc/tokenizer.c (through robolm._native).

Training text: the MicroPython ESP32 stub files (real code, shipped by the installed
micropython-esp32-stubs package) plus tests/data/tokenizer_sentences.txt (two sentences in
each of the 25 languages). Everything is written under tmp_path.
"""
import importlib.metadata as md
import json
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robolm import tokenizer as T
from robolm.tokenizer import Tokenizer, TokenizerFileError

native = pytest.importorskip("robolm._native")
if not hasattr(native, "NativeTokenizer"):
    pytest.skip("robolm._native was built without the tokenizer", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [line.split("\t", 1) for line in
             (Path(__file__).parent / "data" / "tokenizer_sentences.txt").read_text(encoding="utf-8").splitlines()
             if "\t" in line]
CONFIG = ROOT / "configs" / "tokenizers" / "robo-code-8k.yaml"


def stub_texts(limit=None):
    files = sorted(str(f.locate()) for f in md.files("micropython-esp32-stubs") if str(f).endswith(".pyi"))
    return [Path(f).read_text(encoding="utf-8") for f in files[:limit]]


@pytest.fixture(scope="module")
def corpus():
    return stub_texts() + [s for _, s in SENTENCES] * 3


@pytest.fixture(scope="module")
def tok(corpus):
    return Tokenizer.from_config(CONFIG, corpus, vocab_size=3000)


# ------------------------------------------------------------------ contracts
def test_special_ids_are_the_contract():
    st_ = {s: i for i, s in enumerate(T.SPECIAL_TOKENS)}
    assert [st_[s] for s in ["<pad>", "<eos>", "<bos>", "<unk>", "[SYSTEM]", "[/SYSTEM]", "[USER]", "[/USER]",
                             "[CODE]", "[/CODE]", "[HARDWARE]", "[/HARDWARE]"]] == list(range(12))
    assert st_["[LANG:hi]"] == 12 and st_["[LANG:ja]"] == 36 and st_["[LANG:en]"] == 30
    assert st_["[EXPLAIN]"] == 37 and st_["[/EXPLAIN]"] == 38 and T.BYTE_OFFSET == 39
    langs = pytest.importorskip("robolm.languages").LANGUAGES
    assert list(langs)[:25] == T.LANG_CODES


def test_pattern_matches_c_header_and_native():
    assert native.TOK_SPLIT_PATTERN == T.SPLIT_PATTERN
    assert native.TOK_PRE_NAME == T.PRE_NAME == "qwen35"


def test_unicode_tables_are_up_to_date(tmp_path):
    import subprocess, sys
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_unicode_tables.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------------------------------ split
texts_st = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
mixed_st = st.lists(st.sampled_from(["    ", "\n", "\r\n", " ", "\t", "Pin.OUT", "x", "é", "नमस्ते", "்", "ि",
                                     "’", "'s", "'LL", "123", "==", "(", "中文", "😀", "\u200d", "\u0301", "\xa0",
                                     "\u3000", "ـ", "ک", "\x85", "a1", "_", ".", "/"]), max_size=25).map("".join)


def c_split(text: str) -> list[str]:
    b = text.encode()
    out, prev = [], 0
    for e in native.tok_split(b):
        out.append(b[prev:e].decode())
        prev = e
    return out


@settings(max_examples=400, deadline=None)
@given(st.one_of(texts_st, mixed_st))
def test_c_split_equals_python_regex(text):
    assert c_split(text) == T.split(text)


def test_split_keeps_indic_words_whole():
    assert T.split(" नमस्ते दुनिया") == [" नमस्ते", " दुनिया"]       # marks stay in the letter run
    assert T.split("வணக்கம்") == ["வணக்கம்"]
    assert T.split("machine.Pin(2, Pin.OUT)") == ["machine", ".Pin", "(", "2", ",", " Pin", ".OUT", ")"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_c_split_any_bytes_covers_input(data):
    ends = native.tok_split(data)
    assert all(a < b for a, b in zip([0] + ends, ends)) and (ends[-1] if ends else 0) == len(data)


# ------------------------------------------------------------------ encode / decode
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(texts_st, mixed_st))
def test_roundtrip_and_fast_equals_reference(tok, text):
    fast = tok.encode(text)
    assert fast == tok.encode_reference(text)
    assert tok.decode(fast) == text
    assert all(i >= T.BYTE_OFFSET for i in fast)


def test_roundtrip_every_language(tok):
    for lang, s in SENTENCES:
        ids = tok.encode(s)
        assert ids == tok.encode_reference(s), lang
        assert tok.decode(ids) == s, lang


def test_long_pretokens_use_the_heap_path(tok):
    rnd = random.Random(0)
    for s in ["a" * 700, " " * 300 + "x", "中文机器人" * 60, "".join(rnd.choice("ab") for _ in range(500)),
              "=" * 129, "नमस्ते" * 40]:
        assert tok.encode(s) == tok.encode_reference(s)
        assert tok.decode(tok.encode(s)) == s


def test_native_encode_any_bytes_never_crashes(tok):
    rnd = random.Random(1)
    for _ in range(300):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40)))
        ids = tok._native.encode(data)
        assert tok.decode_bytes(ids) == data          # byte-level: exact even for invalid UTF-8


def test_special_token_injection_is_refused(tok):
    for s in T.SPECIAL_TOKENS:
        ids = tok.encode(f"please {s} print('{s}')")
        assert all(i >= T.BYTE_OFFSET for i in ids), s
        assert tok.decode(ids) == f"please {s} print('{s}')"
    assert tok._native.find("[CODE]") == tok.special_tokens["[CODE]"]   # lookup by name still works


def test_decode_skip_special(tok):
    ids = [tok.special_tokens["<bos>"]] + tok.encode("led_on()") + [tok.special_tokens["<eos>"]]
    assert tok.decode(ids) == "<bos>led_on()<eos>"
    assert tok.decode(ids, skip_special=True) == "led_on()"
    assert tok._native.decode_bytes(ids, True) == b"led_on()"
    with pytest.raises(ValueError):
        tok.decode([tok.vocab_size])


def test_forced_and_user_defined_tokens_are_single(tok):
    cfg = yaml.safe_load(CONFIG.read_text())
    singles = [str(s) for group in cfg["single_tokens"].values() for s in group]
    for s in singles + cfg["user_defined"]:
        assert len(tok.encode(s)) == 1, repr(s)
    for s in singles:
        if len(T.split(s)) == 1 and len(s) > 1:
            assert len(tok.encode(" " + s)) == 1, " " + s
    ids = tok.encode("from machine import Pin\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.value(1)\n        time.sleep_ms(500)\n")
    pieces = [tok.decode([i]) for i in ids]
    assert "from machine import" in pieces and "Pin.OUT" in pieces and "    " in pieces and "        " in pieces
    assert "time.sleep_ms" in pieces and "while True:" in pieces


def test_code_compresses_better_than_plain_bpe(corpus):
    """The forced tokens must not cost compression on code (same vocab size, same text)."""
    held_out = stub_texts()[::7]
    plain = Tokenizer.train(corpus, vocab_size=3000, single_tokens=[], user_defined=[])
    code = Tokenizer.from_config(CONFIG, corpus, vocab_size=3000)
    n = sum(len(t.encode()) for t in held_out)
    bpt_plain = n / sum(len(plain.encode(t)) for t in held_out)
    bpt_code = n / sum(len(code.encode(t)) for t in held_out)
    print(f"bytes/token on stubs: plain {bpt_plain:.3f}, code-aware {bpt_code:.3f}")
    assert bpt_code > bpt_plain * 0.97


# ------------------------------------------------------------------ training
def test_native_training_equals_reference():
    texts = stub_texts(5) + [s for _, s in SENTENCES]
    for kw in [dict(vocab_size=800), dict(vocab_size=600, single_tokens=["import", "Pin", "Pin.OUT"], min_count=1),
               dict(vocab_size=500, single_tokens=[], user_defined=[], min_count=3)]:
        a = Tokenizer.train(texts, native=True, **kw)
        b = Tokenizer.train(texts, native=False, **kw)
        assert a.merges == b.merges, kw
        assert a.n_forced_merges == b.n_forced_merges


def test_training_is_deterministic_and_pads_to_vocab_size():
    texts = ["ab ab ab abc abc", "x = 1"]
    a = Tokenizer.train(texts, vocab_size=600, single_tokens=[], user_defined=[])
    b = Tokenizer.train(list(reversed(texts)), vocab_size=600, single_tokens=[], user_defined=[])
    assert a.merges == b.merges and a.vocab_size == 600 and a.n_unused > 0
    assert a.vocab[a.first_merge_id] == b"ab"   # (a, b) is seen 5 times, (" ", a) 4 times


def test_tie_break_rule_by_ids():
    a = Tokenizer.train(["ab cd"], vocab_size=300 + 39, single_tokens=[], user_defined=[], min_count=1)
    # pairs (a,b), ( ,c), (c,d) all seen once: the smallest (left, right) ids win first
    order = [a.vocab[a.first_merge_id + r] for r in range(3)]
    assert order == [b" c", b"ab", b" cd"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="ab c\nनम्े", max_size=30), min_size=1, max_size=6), st.integers(1, 3))
def test_native_training_equals_reference_property(texts, min_count):
    kw = dict(vocab_size=330, single_tokens=[], user_defined=["  "], min_count=min_count)
    assert Tokenizer.train(texts, native=True, **kw).merges == Tokenizer.train(texts, native=False, **kw).merges


# ------------------------------------------------------------------ files
def test_save_load_roundtrip(tok, tmp_path):
    path = tok.save(tmp_path / "robo")
    assert path.name == "tokenizer.json" and (tmp_path / "robo" / "vocab.txt").exists()
    back = Tokenizer.load(tmp_path / "robo")
    assert back.hash == tok.hash and back.vocab == tok.vocab and back.types == tok.types
    s = "robot.move_forward(50)  # आगे चलो"
    assert back.encode(s) == tok.encode(s)
    assert Tokenizer.load(path, native=False).encode(s) == tok.encode(s)
    view = (tmp_path / "robo" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(view) == tok.vocab_size + 1 and view[9].startswith("8\tcontrol\t")


def corrupt_cases(good: str):
    d = json.loads(good)
    wrong_version = dict(d, version=2)
    missing = {k: v for k, v in d.items() if k != "merges"}
    edited = dict(d)
    edited["merges"] = [list(m) for m in d["merges"]]
    edited["merges"][5] = [edited["merges"][5][1], edited["merges"][5][0]]
    return {"truncated": good[: len(good) // 2], "empty": "", "not json": "hello",
            "wrong version": json.dumps(wrong_version), "missing field": json.dumps(missing),
            "edited": json.dumps(edited), "other format": json.dumps({"format": "sentencepiece"})}


def test_bad_files_give_one_line_errors(tok, tmp_path):
    good = tok.save(tmp_path / "good").read_text(encoding="utf-8")
    for name, text in corrupt_cases(good).items():
        p = tmp_path / "bad.json"
        p.write_text(text, encoding="utf-8")
        with pytest.raises(TokenizerFileError) as e:
            Tokenizer.load(p)
        msg = str(e.value)
        assert "\n" not in msg and str(p) in msg, (name, msg)
    with pytest.raises(TokenizerFileError, match="no such"):
        Tokenizer.load(tmp_path / "nowhere")


def test_loads_without_torch(tok, tmp_path):
    import subprocess, sys
    tok.save(tmp_path / "t")
    code = ("import sys; sys.modules['torch'] = None\n"
            "from robolm.tokenizer import Tokenizer\n"
            f"t = Tokenizer.load({str(tmp_path / 't')!r}); print(len(t.encode('Pin.OUT')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


# ------------------------------------------------------------------ C API from GGUF strings
def test_c_tokenizer_from_gguf_strings_matches(tok):
    g = tok.gguf_vocab()
    assert g["pre"] == "qwen35" and len(g["tokens"]) == tok.vocab_size == len(set(g["tokens"]))
    assert g["tokens"][T.BYTE_OFFSET + 32] == "Ġ"
    c = native.NativeTokenizer.from_gguf(g["tokens"], g["token_type"], g["merges"])
    for _, s in SENTENCES[:10] + [("code", stub_texts(3)[2])]:
        assert c.encode(s) == tok.encode(s)


def test_c_build_rejects_bad_input():
    import numpy as np
    toks = [bytes([b]) for b in range(256)]
    with pytest.raises(ValueError, match="same text"):
        native.NativeTokenizer(toks + [b"a"], [1] * 257, np.zeros((0, 2), np.int32))
    with pytest.raises(ValueError, match="out of range"):
        native.NativeTokenizer(toks + [b"ab"], [1] * 257, np.array([[97, 999]], np.int32))
    with pytest.raises(ValueError, match="byte 0x"):
        native.NativeTokenizer(toks[:200], [1] * 200, np.zeros((0, 2), np.int32))
    with pytest.raises(ValueError, match="left right"):
        native.NativeTokenizer.from_gguf([T._B2U[b] for b in range(256)], [], ["ab"])


@pytest.fixture(scope="module")
def overlapping_ud():
    """User-defined tokens that overlap each other (suffix of one = prefix of another), where a
    left-to-right longest-match scan and llama.cpp's token-by-token partition disagree."""
    return Tokenizer.train(["abcd bcd ab cd " * 5], vocab_size=400, single_tokens=[], min_count=1,
                           user_defined=["bcd", "ab", " c", "d  a", "dddd "])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcd ", max_size=40))
def test_user_defined_partition_native_equals_reference(overlapping_ud, text):
    tok = overlapping_ud
    assert tok.encode(text) == tok.encode_reference(text)
    pieces = native.tok_pieces(tok._native, text.encode())
    assert b"".join(p for p, _ in pieces) == text.encode()


def test_user_defined_partition_is_token_by_token(overlapping_ud):
    tok = overlapping_ud
    # "bcd" (3 bytes) is cut before "ab" (2): llama.cpp's order, not a left-to-right scan
    assert [tok.decode([i]) for i in tok.encode("abcd")] == ["a", "bcd"]
    assert [tok.decode([i]) for i in tok.encode("xbcd")][-1] == "bcd"


def test_native_encode_from_many_threads(tok):
    from concurrent.futures import ThreadPoolExecutor
    texts = [s for _, s in SENTENCES] * 8
    want = [tok.encode_reference(s) for s in texts]
    with ThreadPoolExecutor(4) as ex:
        assert list(ex.map(tok.encode, texts)) == want


def test_explain_shows_the_pieces(tok):
    text = "from machine import Pin\n    led = Pin(2, Pin.OUT)"
    pieces = tok.explain(text)
    assert "".join(p for p, _ in pieces) == text
    assert [i for _, ids in pieces for i in ids] == tok.encode(text)
    assert ("from machine import", [tok.encode("from machine import")[0]]) in pieces


def test_native_decode_equals_reference(tok):
    import numpy as np
    ids = tok.encode("robot.beep(440)  # बीप\n" * 3) + [tok.special_tokens["<eos>"]]
    want = tok.decode_bytes_reference(ids)
    for form in (ids, tuple(ids), np.array(ids, dtype=np.int64), np.array(ids, dtype=np.int32), iter(ids)):
        assert tok.decode_bytes(form) == want
    assert tok.decode_bytes(ids, skip_special=True) == tok.decode_bytes_reference(ids, skip_special=True)
    for bad in ([-1], [tok.vocab_size], [2**40]):
        with pytest.raises(ValueError):
            tok.decode_bytes(bad)
        with pytest.raises(ValueError):
            tok.decode_bytes_reference(bad)
